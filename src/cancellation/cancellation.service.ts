import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuditActor } from '../common/audit.service';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { inputProblem } from '../common/http/input-guard';
import { ESD_OPTIONS } from '../constants';
import type { CancelRequest, CancelResult, Violation } from '../host/hooks';
import type { Money } from '../host/ports';
import type { EsdRole } from '../host/principal';
import { LicenseEntity } from '../licenses/license.entity';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { COMMENT_MAX_LENGTH } from './cancellation.dto';
import type { Eligibility } from './eligibility';
import { EligibilityService } from './eligibility.service';
import { LicenseReturnEntity } from './return.entity';
import { creditOf, ReturnsService } from './returns.service';

/** What the hook tells the host to wait before asking again, when Microsoft has not answered yet. */
const RETRY_AFTER_SECONDS = 5;

/** The outcome of an immediate cancel, as the hook and the admin route report it. */
export type CancelOutcome =
  | { outcome: 'done'; credit: Money; returnId: string }
  | { outcome: 'pending'; retryAfterSeconds: number; returnId: string }
  /** Refused by the plugin before Microsoft was asked (`returnId` null, `eligibility` set) or by Microsoft. */
  | { outcome: 'failed'; code: string; message: string; returnId: string | null; eligibility?: Eligibility };

/** A `cancel` hook input that passed the checks. */
interface ValidCancelRequest {
  licenseId: string;
  actor: AuditActor;
  comment: string | null;
}

const ROLES: readonly EsdRole[] = ['admin', 'reseller', 'customer'];

/**
 * The provider's immediate cancel — `POST /licenses/:id/cancel` and the `cancel` hook (host-contract.md §4) — on the
 * same path as an accepted storefront request ({@link ReturnsService.start}), waiting a bounded time
 * (`orderWaitMs`) for Microsoft's answer. Idempotent: a license already taken back answers `done` with its credit,
 * and a return in flight is joined, so calling again never makes a second return.
 */
@Injectable()
export class CancellationService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly eligibility: EligibilityService,
    private readonly returns: ReturnsService,
  ) {}

  /** Throws `NOT_FOUND` for an unknown license; every other outcome is a value. */
  async cancelNow(actor: AuditActor, licenseId: string, comment: string | null): Promise<CancelOutcome> {
    const previous = await this.successfulReturn(licenseId);
    if (previous) return previous;
    const started = await this.returns.start({ licenseId, actor, comment });
    if (started.outcome === 'refused') {
      // A concurrent call may have taken the license back between the first look and the start: the same done.
      const finished = await this.successfulReturn(licenseId);
      if (finished) return finished;
      const { reasons } = started.eligibility;
      return {
        outcome: 'failed',
        code: reasons[0].code,
        message: reasons.map((r) => r.message).join(' '),
        returnId: null,
        eligibility: started.eligibility,
      };
    }
    const ret = await this.returns.awaitOutcome(started.returnId, this.options.orderWaitMs);
    switch (ret.status) {
      case 'Pending':
        return { outcome: 'pending', retryAfterSeconds: RETRY_AFTER_SECONDS, returnId: ret.id };
      case 'Successful':
        return { outcome: 'done', credit: await this.creditFor(licenseId), returnId: ret.id };
      case 'Rejected':
      case 'Failed':
        return {
          outcome: 'failed',
          code: ret.reasonCode ?? EsdErrorCode.INTERNAL,
          message: ret.reasonMessage ?? '',
          returnId: ret.id,
        };
    }
  }

  /** The `cancel` hook: the host's decision, executed now. */
  async cancelHook(input: unknown): Promise<CancelResult> {
    const checked = checkCancelRequest(input);
    if ('violation' in checked) return { outcome: 'failed', ...checked.violation };
    try {
      const outcome = await this.cancelNow(checked.actor, checked.licenseId, checked.comment);
      switch (outcome.outcome) {
        case 'done':
          return { outcome: 'done', credit: outcome.credit };
        case 'pending':
          return { outcome: 'pending', retryAfterSeconds: outcome.retryAfterSeconds };
        case 'failed':
          return { outcome: 'failed', code: outcome.code, message: outcome.message };
      }
    } catch (error) {
      if (error instanceof EsdError && error.code === EsdErrorCode.NOT_FOUND) {
        return { outcome: 'failed', code: error.code, message: 'No license with this id exists.' };
      }
      throw error;
    }
  }

  /** `precheck({ action: 'cancel' })`: every reason the cancel would be refused now; no side effects. */
  async precheck(input: unknown): Promise<Violation[]> {
    const checked = checkCancelRequest(input);
    if ('violation' in checked) return [checked.violation];
    const judged = await this.eligibility.judge(checked.licenseId, 'execute');
    if (!judged) return [{ code: EsdErrorCode.NOT_FOUND, message: 'No license with this id exists.' }];
    return judged.eligibility.reasons.map((r) => ({ code: r.code, message: r.message }));
  }

  /** A license Microsoft already took back through one of our returns: the same `done` again. */
  private async successfulReturn(licenseId: string): Promise<CancelOutcome | null> {
    const license = await this.dataSource
      .getRepository(LicenseEntity)
      .findOne({ select: { id: true, status: true }, where: { id: licenseId } });
    if (!license) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No license with this id exists for you.');
    if (license.status !== 'cancelled') return null;
    const ret = await this.dataSource
      .getRepository(LicenseReturnEntity)
      .findOne({ where: { licenseId, status: 'Successful' }, order: { finishedAt: 'DESC' } });
    if (!ret) return null;
    return { outcome: 'done', credit: await this.creditFor(licenseId), returnId: ret.id };
  }

  private async creditFor(licenseId: string): Promise<Money> {
    return creditOf(
      await this.dataSource.getRepository(LicenseEntity).findOneOrFail({
        select: { id: true, priceAmountMinor: true, priceCurrency: true },
        where: { id: licenseId },
      }),
    );
  }
}

/** Checks the hook's input at the door, as the order hook does; the host's requester becomes the audit actor. */
function checkCancelRequest(input: unknown): ValidCancelRequest | { violation: Violation } {
  const bad = (message: string) => ({
    violation: { code: EsdErrorCode.VALIDATION_FAILED, message: `cancel: ${message}` },
  });
  if (typeof input !== 'object' || input === null) return bad('the request must be an object.');
  const found = inputProblem(input);
  if (found) return bad(`${found.field || 'the request'} ${found.problem}.`);
  const { licenseId, requestedBy, comment } = input as Partial<Record<keyof CancelRequest, unknown>>;
  if (typeof licenseId !== 'string' || licenseId === '' || licenseId.length > 36) {
    return bad('licenseId must be the id of a license.');
  }
  if (typeof requestedBy !== 'object' || requestedBy === null) {
    return bad('requestedBy must name who decided ({ role, accountId, userId? }).');
  }
  const { role, accountId, userId } = requestedBy as Record<string, unknown>;
  if (typeof accountId !== 'string' || accountId === '' || accountId.length > 100) {
    return bad('requestedBy.accountId must be an account id.');
  }
  if (userId !== undefined && (typeof userId !== 'string' || userId.length > 100)) {
    return bad('requestedBy.userId must be a user id.');
  }
  if (
    comment !== undefined &&
    comment !== null &&
    (typeof comment !== 'string' || comment.length > COMMENT_MAX_LENGTH)
  ) {
    return bad(`comment must be text of at most ${COMMENT_MAX_LENGTH} characters.`);
  }
  return {
    licenseId,
    // The hook is the provider's decision: a role the plugin does not know is recorded as the provider's.
    actor: {
      role: ROLES.includes(role as EsdRole) ? (role as EsdRole) : 'admin',
      accountId,
      ...(typeof userId === 'string' ? { userId } : {}),
      permissions: [],
    },
    comment: typeof comment === 'string' ? comment : null,
  };
}
