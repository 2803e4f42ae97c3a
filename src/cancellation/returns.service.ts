import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, In, type EntityManager } from 'typeorm';
import { CisError } from '../cis';
import { AuditService, type AuditActor } from '../common/audit.service';
import type { ActorRole } from '../common/audit-event.entity';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { ESD_OPTIONS } from '../constants';
import type { Money } from '../host/ports';
import { LicenseEntity } from '../licenses/license.entity';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { InstancesService } from '../settings/instances.service';
import { newId } from '../storage/entity-columns';
import { decidedNotification } from './cancellation-notifications';
import { CancellationRequestEntity } from './cancellation-request.entity';
import type { Eligibility } from './eligibility';
import { EligibilityService } from './eligibility.service';
import { LicenseReturnEntity, type ReturnStatus } from './return.entity';
import { ReturnsQueue } from './returns-queue';

/** How long a new return waits before the sweeper may think its job was lost. */
const FIRST_ATTEMPT_GRACE_MS = 60_000;
/** How long a finished return's hand-over (event, notifications) may take before the sweeper takes it up. */
export const HANDOVER_GRACE_MS = 2 * 60_000;
/** How often a caller waiting for a return's outcome looks at it. */
const POLL_MS = 100;

/** Microsoft's refusals of a return, as the plugin's eligibility reasons name them. */
const VENDOR_REFUSALS: Partial<Record<EsdErrorCode, EsdErrorCode>> = {
  [EsdErrorCode.CIS_TOKEN_REDEEMED]: EsdErrorCode.TOKEN_REDEEMED,
  [EsdErrorCode.CIS_RETURN_WINDOW_EXPIRED]: EsdErrorCode.RETURN_WINDOW_EXPIRED,
  [EsdErrorCode.CIS_NOT_RETURNABLE]: EsdErrorCode.NOT_RETURNABLE,
};

/** Who starts a cancellation, with the comment kept on the request and in the audit. */
export interface StartReturnInput {
  licenseId: string;
  actor: AuditActor;
  comment: string | null;
  /** The storefront request being accepted; it must still be pending. */
  requestId?: string;
}

export type StartReturnResult =
  /** A return is under way: a new one, or the one already in flight (`joined`). */
  | { outcome: 'started'; returnId: string; joined: boolean }
  /** The plugin refused before asking Microsoft. */
  | { outcome: 'refused'; eligibility: Eligibility };

/** How one attempt of `execute-return` ended, for the processor. */
export type ReturnAttemptOutcome =
  | { outcome: 'finished'; status: Exclude<ReturnStatus, 'Pending'>; code: string | null }
  | { outcome: 'announced' }
  /** Transient: the return stays Pending; the processor rethrows so Bull retries with backoff. */
  | { outcome: 'retry'; error: Error }
  | { outcome: 'skipped'; reason: string };

/** What the vendor's answer (or the lack of one) makes of a return. */
interface ReturnFinish {
  status: Exclude<ReturnStatus, 'Pending'>;
  vendorReturnId: string | null;
  reason: { code: string; message: string } | null;
}

/** The full amount charged for the license: what a return gives back (no partial returns). */
export function creditOf(license: Pick<LicenseEntity, 'priceAmountMinor' | 'priceCurrency'>): Money {
  return { amountMinor: license.priceAmountMinor, currency: license.priceCurrency };
}

/**
 * Returns of license tokens to Microsoft (ARCHITECTURE.md §1.6, §2) — the one execution path of an accepted
 * storefront request, an immediate cancel and the `cancel` hook:
 * - {@link start} judges eligibility on a freshly refreshed token status and, in one transaction holding the
 *   license's row, writes the return with its own `clientTransactionId` *before* Microsoft is called; a return
 *   already in flight is joined, never doubled (the `active_license_id` key backs this);
 * - {@link execute} (the `execute-return` job) sends that same id on every attempt, so a retry after a timeout or a
 *   dropped answer is replayed by Microsoft, not repeated; transient failures are retried by Bull;
 * - the outcome (license cancelled, or the vendor's refusal with its reason) is written in one transaction, then
 *   handed to the host: `licenseCancelled` with the credit, and the requester's notification. A finished return
 *   keeps `next_attempt_at` set until that hand-over is done, so the sweeper redoes a lost one (same ids: the host
 *   dedupes).
 */
@Injectable()
export class ReturnsService {
  private readonly logger = new Logger(ReturnsService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly instances: InstancesService,
    private readonly eligibility: EligibilityService,
    private readonly audit: AuditService,
    private readonly queue: ReturnsQueue,
  ) {}

  /**
   * Starts (or joins) the license's return. Throws `NOT_FOUND` for an unknown license and `REQUEST_NOT_PENDING`
   * when the request was decided or withdrawn meanwhile (nothing is written then).
   */
  async start(input: StartReturnInput): Promise<StartReturnResult> {
    await this.eligibility.refreshTokenStatus(input.licenseId);
    const result = await this.dataSource.transaction(async (m): Promise<StartReturnResult> => {
      // Every start holds the license's row first, so two starts on one license run one after the other.
      if (!(await lockLicense(m, input.licenseId))) {
        throw new EsdError(EsdErrorCode.NOT_FOUND, 'No license with this id exists for you.');
      }
      const decidedAt = new Date();
      const decision = { ...decider(input.actor), decisionComment: input.comment, decidedAt };
      if (input.requestId !== undefined) {
        const accepted = await m
          .createQueryBuilder()
          .update(CancellationRequestEntity)
          .set({ status: 'accepted', activeLicenseId: null, ...decision })
          .where("id = :id AND license_id = :licenseId AND status = 'pending'", {
            id: input.requestId,
            licenseId: input.licenseId,
          })
          .execute();
        if ((accepted.affected ?? 0) === 0) throw new EsdError(EsdErrorCode.REQUEST_NOT_PENDING);
      }

      const judged = (await this.eligibility.judge(input.licenseId, 'execute', m))!;
      if (!judged.eligibility.eligible) {
        await this.eligibility.recordRefusal(m, input.licenseId, judged.eligibility);
        if (input.requestId !== undefined) {
          await m.update(CancellationRequestEntity, { id: input.requestId }, { status: 'failed' });
        }
        await this.audit.record(
          {
            actor: input.actor,
            action: 'license.cancel_refused',
            subjectType: 'license',
            subjectId: input.licenseId,
            details: {
              requestId: input.requestId ?? null,
              reasons: judged.eligibility.reasons.map((r) => r.code),
            },
          },
          m,
        );
        return { outcome: 'refused', eligibility: judged.eligibility };
      }

      const inFlight = await m.findOneBy(LicenseReturnEntity, { activeLicenseId: input.licenseId });
      const returnId = inFlight?.id ?? newId();
      if (!inFlight) {
        await m.insert(LicenseReturnEntity, {
          id: returnId,
          licenseId: input.licenseId,
          clientTransactionId: randomUUID(),
          status: 'Pending',
          activeLicenseId: input.licenseId,
          attempts: 0,
          nextAttemptAt: new Date(Date.now() + FIRST_ATTEMPT_GRACE_MS),
        });
      }
      // A storefront request still waiting is settled by the provider's cancellation: it follows this return.
      await m
        .createQueryBuilder()
        .update(CancellationRequestEntity)
        .set({ status: 'accepted', activeLicenseId: null, returnId, ...decision })
        .where("license_id = :licenseId AND status = 'pending'", { licenseId: input.licenseId })
        .execute();
      if (input.requestId !== undefined) {
        await m.update(CancellationRequestEntity, { id: input.requestId }, { returnId });
      }
      await markReturnPending(m, input.licenseId);
      await this.audit.record(
        {
          actor: input.actor,
          action: inFlight ? 'license.return_joined' : 'license.return_started',
          subjectType: 'license',
          subjectId: input.licenseId,
          details: { returnId, requestId: input.requestId ?? null, comment: input.comment },
        },
        m,
      );
      return { outcome: 'started', returnId, joined: inFlight !== null };
    });
    if (result.outcome === 'started') await this.enqueueQuietly(result.returnId);
    return result;
  }

  /** One attempt of `execute-return`; never throws for the return's own failures (see {@link ReturnAttemptOutcome}). */
  async execute(returnId: string, attempt: { final: boolean }): Promise<ReturnAttemptOutcome> {
    const ret = await this.dataSource.getRepository(LicenseReturnEntity).findOneBy({ id: returnId });
    if (!ret) return { outcome: 'skipped', reason: `no return ${returnId}` };
    if (ret.status !== 'Pending') {
      if (ret.nextAttemptAt === null) {
        return { outcome: 'skipped', reason: `return ${returnId} is ${ret.status} and handed over` };
      }
      await this.handOver(returnId);
      return { outcome: 'announced' };
    }
    const license = await this.dataSource.getRepository(LicenseEntity).findOneBy({ id: ret.licenseId });
    if (!license) return { outcome: 'skipped', reason: `no license ${ret.licenseId}` };

    await this.claimAttempt(ret);
    let finish: ReturnFinish;
    try {
      const { client } = await this.instances.clientForInstance(license.instanceId);
      // The same return id on every attempt: after an unknown outcome Microsoft replays what it did.
      const answer = await client.createReturn({
        clientTransactionId: ret.clientTransactionId,
        tokenClientTransactionId: license.clientTransactionId,
      });
      finish = { status: 'Successful', vendorReturnId: answer.returnId, reason: null };
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const decided = classify(failure, attempt.final);
      if (!decided) {
        this.logger.warn(
          `Return ${ret.id} of license ${license.id}: attempt ${ret.attempts + 1} failed (${codeOf(failure)}); it is retried with the same return id.`,
        );
        return { outcome: 'retry', error: failure };
      }
      finish =
        decided.reason?.code === EsdErrorCode.RETURN_ATTEMPTS_EXHAUSTED
          ? await this.settleUnanswered(license.id, decided)
          : decided;
    }
    if (!(await this.finish(ret, finish))) {
      return { outcome: 'skipped', reason: `return ${returnId} was finished by another attempt` };
    }
    // A failed hand-over throws: Bull retries the job, and past its attempts the sweeper finds it still owed.
    await this.handOver(returnId);
    return { outcome: 'finished', status: finish.status, code: finish.reason?.code ?? null };
  }

  /**
   * The last attempt ended without Microsoft's answer — perhaps after it took the key back (a lost answer, a
   * timeout after the write). The token's status, refreshed and recorded on the license, settles it:
   * `ReturnAccepted` means the return happened (it is finished as Successful, like a token another return already
   * took back); `Activated` means it did not (the failure says so). When Microsoft cannot be asked either, the
   * return fails as exhausted.
   */
  private async settleUnanswered(licenseId: string, exhausted: ReturnFinish): Promise<ReturnFinish> {
    if (!(await this.eligibility.refreshTokenStatus(licenseId))) return exhausted;
    const { tokenStatus } = await this.dataSource
      .getRepository(LicenseEntity)
      .findOneOrFail({ select: { id: true, tokenStatus: true }, where: { id: licenseId } });
    if (tokenStatus === 'ReturnAccepted') return { status: 'Successful', vendorReturnId: null, reason: null };
    if (tokenStatus === 'Activated' && exhausted.reason !== null) {
      return {
        ...exhausted,
        reason: {
          code: exhausted.reason.code,
          message: `${exhausted.reason.message} Microsoft's token status shows the product key still active: nothing was returned.`,
        },
      };
    }
    return exhausted;
  }

  /** Polls the return until Microsoft's outcome is stored or `waitMs` has passed; answers the row as it stands. */
  async awaitOutcome(returnId: string, waitMs: number): Promise<LicenseReturnEntity> {
    const repo = this.dataSource.getRepository(LicenseReturnEntity);
    const deadline = Date.now() + waitMs;
    let row = await repo.findOneByOrFail({ id: returnId });
    while (row.status === 'Pending' && Date.now() < deadline) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(POLL_MS, Math.max(deadline - Date.now(), 0))),
      );
      row = await repo.findOneByOrFail({ id: returnId });
    }
    return row;
  }

  /**
   * Returns that failed without Microsoft's answer (RETURN_ATTEMPTS_EXHAUSTED) on a license whose token Microsoft
   * has since reported `ReturnAccepted` (the token status sync) while the license is still active: the return did
   * happen, and nothing else can finish it (the license is no longer eligible for a new one). The license's latest
   * such return is made Pending again, due at `now`, with its storefront request accepted again: its next attempt
   * sends the same return id, Microsoft replays the return (or answers that the key was taken back already), and
   * it finishes as any return does — license cancelled, credit event, the requester told. For the sweeper, which
   * enqueues what this reopens; answers the return ids reopened.
   */
  async reopenTakenBack(now: Date, limit: number): Promise<string[]> {
    const candidates = await this.dataSource
      .getRepository(LicenseReturnEntity)
      .createQueryBuilder('r')
      .innerJoin(LicenseEntity, 'l', 'l.id = r.licenseId')
      .select(['r.id', 'r.licenseId', 'r.createdAt'])
      .where("r.status = 'Failed' AND r.reasonCode = :exhausted", {
        exhausted: EsdErrorCode.RETURN_ATTEMPTS_EXHAUSTED,
      })
      .andWhere("l.tokenStatus = 'ReturnAccepted' AND l.status <> 'cancelled'")
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(limit)
      .getMany();
    const latest = new Map<string, string>();
    for (const r of candidates) if (!latest.has(r.licenseId)) latest.set(r.licenseId, r.id);
    const reopened: string[] = [];
    for (const [licenseId, returnId] of latest) {
      try {
        if (await this.reopen(returnId, licenseId, now)) reopened.push(returnId);
      } catch (error) {
        // Another node reopened a return of this license at the same time (one active return per license).
        this.logger.warn(
          `Return ${returnId} of license ${licenseId} could not be reopened now (${error instanceof Error ? error.message : String(error)}); the next sweep looks again.`,
        );
      }
    }
    if (reopened.length > 0) {
      this.logger.warn(
        `${reopened.length} returns whose answers were lost are taken up again: Microsoft reports their licenses' keys taken back.`,
      );
    }
    return reopened;
  }

  private reopen(returnId: string, licenseId: string, now: Date): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      // A return already under way for the license settles it on its own.
      if (await m.findOneBy(LicenseReturnEntity, { activeLicenseId: licenseId })) return false;
      const updated = await m
        .createQueryBuilder()
        .update(LicenseReturnEntity)
        .set({
          status: 'Pending',
          activeLicenseId: licenseId,
          reasonCode: null,
          reasonMessage: null,
          finishedAt: null,
          nextAttemptAt: now,
        })
        .where("id = :id AND status = 'Failed' AND reason_code = :exhausted", {
          id: returnId,
          exhausted: EsdErrorCode.RETURN_ATTEMPTS_EXHAUSTED,
        })
        .execute();
      if ((updated.affected ?? 0) === 0) return false;
      await markReturnPending(m, licenseId);
      await m
        .createQueryBuilder()
        .update(CancellationRequestEntity)
        .set({ status: 'accepted' })
        .where("return_id = :returnId AND status = 'failed'", { returnId })
        .execute();
      await this.audit.record(
        {
          actor: 'system',
          action: 'license.return_reopened',
          subjectType: 'license',
          subjectId: licenseId,
          details: { returnId, reason: 'Microsoft reports the product key taken back' },
        },
        m,
      );
      return true;
    });
  }

  /** Puts a return in line again (the sweeper); answers whether a job was added. */
  requeue(returnId: string): Promise<boolean> {
    return this.queue.enqueue(returnId);
  }

  private async enqueueQuietly(returnId: string): Promise<void> {
    try {
      await this.queue.enqueue(returnId);
    } catch (error) {
      // The row is the truth: the sweeper enqueues it once the queue is back.
      this.logger.warn(
        `Return ${returnId} could not be enqueued now (${error instanceof Error ? error.message : String(error)}); the sweeper will.`,
      );
    }
  }

  /**
   * Counts the attempt before Microsoft is called and pushes `next_attempt_at` past it, so the sweeper leaves a
   * live attempt alone: a call's timeout with its in-call retries, plus the longest backoff.
   */
  private async claimAttempt(ret: LicenseReturnEntity): Promise<void> {
    const lease = this.options.cisTimeoutMs * 4 + this.options.jobRetry.maxMs;
    await this.dataSource
      .createQueryBuilder()
      .update(LicenseReturnEntity)
      .set({ attempts: () => 'attempts + 1', nextAttemptAt: new Date(Date.now() + lease) })
      .where("id = :id AND status = 'Pending'", { id: ret.id })
      .execute();
  }

  /**
   * Writes the outcome once, in one transaction: the return (leaving its active key), the license, the requests
   * that followed it, the audit. Answers false when another attempt got there first.
   */
  private async finish(ret: LicenseReturnEntity, finish: ReturnFinish): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const now = new Date();
      const updated = await m
        .createQueryBuilder()
        .update(LicenseReturnEntity)
        .set({
          status: finish.status,
          activeLicenseId: null,
          vendorReturnId: finish.vendorReturnId,
          reasonCode: finish.reason?.code.slice(0, 100) ?? null,
          reasonMessage: finish.reason?.message.slice(0, 1000) ?? null,
          finishedAt: now,
          nextAttemptAt: new Date(now.getTime() + HANDOVER_GRACE_MS),
        })
        .where("id = :id AND status = 'Pending'", { id: ret.id })
        .execute();
      if ((updated.affected ?? 0) === 0) return false;

      await m
        .createQueryBuilder()
        .update(LicenseEntity)
        .set(
          finish.status === 'Successful'
            ? {
                status: 'cancelled',
                tokenStatus: 'ReturnAccepted',
                returnStatus: 'Successful',
                returnReasonCode: null,
                returnReasonMessage: null,
              }
            : {
                returnStatus: finish.status,
                returnReasonCode: finish.reason?.code.slice(0, 100) ?? null,
                returnReasonMessage: finish.reason?.message.slice(0, 1000) ?? null,
                // Microsoft's refusal is news about the key: keep the record in step until the next sync.
                ...(finish.reason?.code === EsdErrorCode.TOKEN_REDEEMED
                  ? { tokenStatus: 'Redeemed' as const }
                  : {}),
              },
        )
        .where('id = :id', { id: ret.licenseId })
        .execute();
      await m
        .createQueryBuilder()
        .update(CancellationRequestEntity)
        .set({ status: finish.status === 'Successful' ? 'executed' : 'failed' })
        .where("return_id = :returnId AND status = 'accepted'", { returnId: ret.id })
        .execute();
      await this.audit.record(
        {
          actor: 'system',
          action: `license.return_${finish.status.toLowerCase()}`,
          subjectType: 'license',
          subjectId: ret.licenseId,
          details: {
            returnId: ret.id,
            vendorReturnId: finish.vendorReturnId,
            code: finish.reason?.code ?? null,
          },
        },
        m,
      );
      return true;
    });
  }

  /**
   * Hands a finished return to the host — `licenseCancelled` with the credit for a successful one, the decided
   * notification to each requester — then marks it handed over. Ids and dedupe keys are fixed per license and
   * request, so doing it again after a crash gives the host nothing twice.
   */
  async handOver(returnId: string): Promise<void> {
    const ret = await this.dataSource.getRepository(LicenseReturnEntity).findOneBy({ id: returnId });
    if (!ret || ret.status === 'Pending' || ret.nextAttemptAt === null) return;
    const license = await this.dataSource.getRepository(LicenseEntity).findOneByOrFail({ id: ret.licenseId });
    const credit = creditOf(license);
    if (ret.status === 'Successful') {
      await this.options.events.publish({
        id: `licenseCancelled:${license.id}`,
        name: 'licenseCancelled',
        occurredAt: (ret.finishedAt ?? new Date()).toISOString(),
        payload: {
          licenseId: license.id,
          hostOrderId: license.hostOrderId,
          accountId: license.billToAccountId,
          credit,
        },
      });
    }
    const requests = await this.dataSource.getRepository(CancellationRequestEntity).findBy({
      returnId: ret.id,
      status: In(['executed', 'failed']),
    });
    for (const request of requests) {
      await this.options.notifier.send(
        decidedNotification(license, request, {
          decision: 'accepted',
          outcome: request.status === 'executed' ? 'executed' : 'failed',
          reason: ret.reasonCode === null ? null : { code: ret.reasonCode, message: ret.reasonMessage ?? '' },
          credit: request.status === 'executed' ? credit : null,
        }),
      );
    }
    await this.dataSource
      .createQueryBuilder()
      .update(LicenseReturnEntity)
      .set({ nextAttemptAt: null })
      .where("id = :id AND status <> 'Pending'", { id: ret.id })
      .execute();
  }
}

/** The license shows a return under way: return status Pending, an earlier return's reason cleared. */
async function markReturnPending(m: EntityManager, licenseId: string): Promise<void> {
  await m
    .createQueryBuilder()
    .update(LicenseEntity)
    .set({ returnStatus: 'Pending', returnReasonCode: null, returnReasonMessage: null })
    .where('id = :id', { id: licenseId })
    .execute();
}

/**
 * Takes the license's row for the rest of the transaction (an update that changes nothing the record shows; the
 * version column moves). Portable where `SELECT … FOR UPDATE` is not: SQLite locks the database on it too.
 */
export async function lockLicense(m: EntityManager, licenseId: string): Promise<boolean> {
  const locked = await m
    .createQueryBuilder()
    .update(LicenseEntity)
    .set({ returnStatus: () => 'return_status' })
    .where('id = :id', { id: licenseId })
    .execute();
  return (locked.affected ?? 0) > 0;
}

/** The decider's columns of a request. */
export function decider(actor: AuditActor): {
  decidedByRole: ActorRole;
  decidedByAccountId: string | null;
  decidedByUserId: string | null;
} {
  return actor === 'system'
    ? { decidedByRole: 'system', decidedByAccountId: null, decidedByUserId: null }
    : {
        decidedByRole: actor.role,
        decidedByAccountId: actor.accountId,
        decidedByUserId: actor.userId ?? null,
      };
}

/**
 * What a failed call makes of the return, or null to retry it. Microsoft's refusals (redeemed, window passed, not
 * returnable) reject it with the plugin's reason; a token another return already took back is the outcome we
 * wanted (Microsoft took it back and refunds once); other business errors, an instance that cannot call, and the
 * last attempt of a transient failure fail it.
 */
function classify(error: Error, final: boolean): ReturnFinish | null {
  if (error instanceof CisError) {
    if (error.code === EsdErrorCode.CIS_TOKEN_ALREADY_RETURNED) {
      return { status: 'Successful', vendorReturnId: null, reason: null };
    }
    const refusal = VENDOR_REFUSALS[error.code];
    if (refusal) {
      return {
        status: 'Rejected',
        vendorReturnId: null,
        reason: { code: refusal, message: withVendorWords(ERROR_DESCRIPTIONS[refusal].message, error) },
      };
    }
    if (!error.transient && !error.outcomeUnknown) {
      return {
        status: 'Failed',
        vendorReturnId: null,
        reason: { code: error.vendorCode ?? error.code, message: withVendorWords(error.message, error) },
      };
    }
  } else if (
    error instanceof EsdError &&
    (error.code === EsdErrorCode.INSTANCE_NOT_READY || error.code === EsdErrorCode.NOT_FOUND)
  ) {
    return { status: 'Failed', vendorReturnId: null, reason: { code: error.code, message: error.message } };
  }
  if (!final) return null;
  return {
    status: 'Failed',
    vendorReturnId: null,
    reason: {
      code: EsdErrorCode.RETURN_ATTEMPTS_EXHAUSTED,
      message: `${ERROR_DESCRIPTIONS.RETURN_ATTEMPTS_EXHAUSTED.message} Last error: ${error instanceof EsdError ? error.message : ERROR_DESCRIPTIONS.INTERNAL.message}`,
    },
  };
}

function codeOf(error: Error): string {
  return error instanceof EsdError ? error.code : EsdErrorCode.INTERNAL;
}

/** The plugin's sentence, with Microsoft's own words after it when it gave some. */
function withVendorWords(sentence: string, error: CisError): string {
  const vendor = error.details?.vendorMessage;
  return typeof vendor === 'string' && vendor !== '' ? `${sentence} Microsoft said: ${vendor}` : sentence;
}
