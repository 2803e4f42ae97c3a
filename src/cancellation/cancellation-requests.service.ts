import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../common/audit.service';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { decodeTimeCursor, pageOf, type Page } from '../common/pagination';
import { ESD_OPTIONS } from '../constants';
import type { HostNotification } from '../host/ports';
import type { EsdPrincipal } from '../host/principal';
import { maySee } from '../licenses/license-access';
import { LicenseEntity } from '../licenses/license.entity';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { InstanceEntity } from '../settings/instance.entity';
import { isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import type { CancellationRequestsQueryDto } from './cancellation.dto';
import { decidedNotification, requestedNotification } from './cancellation-notifications';
import { CancellationRequestEntity, cancellationRequestActiveKey } from './cancellation-request.entity';
import {
  toEligibilityView,
  toRequestView,
  type CancellationRequestView,
  type EligibilityView,
} from './cancellation-view';
import type { Eligibility } from './eligibility';
import { EligibilityService } from './eligibility.service';
import { LicenseReturnEntity } from './return.entity';
import { decider, ReturnsService } from './returns.service';

/**
 * Storefront cancellation requests (ARCHITECTURE.md §1.6, §4): a customer or reseller asks, may withdraw until the
 * provider decides, and the provider accepts (a return, through {@link ReturnsService.start}) or rejects. At most one
 * request per license is pending — the `active_license_id` unique key says so, not this code — and a decision
 * changes a request only while it is still pending, so two deciders get one decision and one 409.
 */
@Injectable()
export class CancellationRequestsService {
  private readonly logger = new Logger(CancellationRequestsService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly eligibility: EligibilityService,
    private readonly returns: ReturnsService,
    private readonly audit: AuditService,
  ) {}

  /** `GET /my/licenses/:id/cancellation`: from the stored facts (the token status sync keeps them fresh). */
  async eligibilityFor(viewer: EsdPrincipal, licenseId: string): Promise<EligibilityView> {
    const judged = await this.eligibility.judge(licenseId, 'request');
    if (!judged || !maySee(viewer, judged.license)) throw licenseNotFound();
    const latest = await this.dataSource.getRepository(CancellationRequestEntity).findOne({
      where: { licenseId },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    return toEligibilityView(judged.eligibility, latest ? await this.view(latest) : null);
  }

  /**
   * `POST /my/licenses/:id/cancellation-request`: an eligible license gets a pending request (a second one
   * answers 409 `REQUEST_PENDING`); an ineligible one answers the first reason, with every reason in the details.
   * The requester is told it was received; an instance that accepts on its own accepts it at once.
   */
  async request(
    viewer: EsdPrincipal,
    licenseId: string,
    comment: string | null,
  ): Promise<CancellationRequestView> {
    const visible = await this.dataSource.getRepository(LicenseEntity).findOneBy({ id: licenseId });
    if (!visible || !maySee(viewer, visible)) throw licenseNotFound();
    await this.eligibility.refreshTokenStatus(licenseId);

    let outcome: { refused: Eligibility } | { created: CancellationRequestEntity };
    try {
      outcome = await this.dataSource.transaction(async (m) => {
        const judged = (await this.eligibility.judge(licenseId, 'request', m))!;
        if (!judged.eligibility.eligible) {
          await this.eligibility.recordRefusal(m, licenseId, judged.eligibility);
          return { refused: judged.eligibility };
        }
        const row = m.create(CancellationRequestEntity, {
          id: newId(),
          licenseId,
          status: 'pending',
          activeLicenseId: cancellationRequestActiveKey('pending', licenseId),
          requestedByRole: viewer.role,
          requestedByAccountId: viewer.accountId,
          requestedByUserId: viewer.userId ?? null,
          comment,
          decidedByRole: null,
          decidedByAccountId: null,
          decidedByUserId: null,
          decisionComment: null,
          returnId: null,
          decidedAt: null,
        });
        await m.insert(CancellationRequestEntity, row);
        await this.audit.record(
          {
            actor: viewer,
            action: 'cancellation_request.create',
            subjectType: 'cancellation_request',
            subjectId: row.id,
            details: { licenseId, comment },
          },
          m,
        );
        return { created: row };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'UQ_esd_cancellation_request_active_license')) {
        throw new EsdError(EsdErrorCode.REQUEST_PENDING);
      }
      throw error;
    }
    if ('refused' in outcome) throw refusal(outcome.refused);

    const created = await this.reload(outcome.created.id);
    await this.notify(requestedNotification(visible, created));
    const instance = await this.dataSource
      .getRepository(InstanceEntity)
      .findOne({ select: { id: true, autoAcceptCancellations: true }, where: { id: visible.instanceId } });
    if (instance?.autoAcceptCancellations) {
      try {
        return await this.accept('system', created.id, null);
      } catch (error) {
        // Withdrawn in the meantime, or already decided: the request answers as it stands.
        if (!(error instanceof EsdError && error.code === EsdErrorCode.REQUEST_NOT_PENDING)) throw error;
      }
    }
    return this.view(await this.reload(created.id));
  }

  /**
   * `DELETE /my/licenses/:id/cancellation-request`: the pending request is withdrawn. Once decided it cannot be:
   * 409 `REQUEST_NOT_PENDING`; with no request at all, 404.
   */
  async withdraw(viewer: EsdPrincipal, licenseId: string): Promise<CancellationRequestView> {
    const license = await this.dataSource.getRepository(LicenseEntity).findOneBy({ id: licenseId });
    if (!license || !maySee(viewer, license)) throw licenseNotFound();
    const withdrawn = await this.dataSource.transaction(async (m) => {
      const pending = await m.findOneBy(CancellationRequestEntity, { activeLicenseId: licenseId });
      if (!pending) return null;
      const result = await m
        .createQueryBuilder()
        .update(CancellationRequestEntity)
        .set({ status: 'withdrawn', activeLicenseId: null })
        .where("id = :id AND status = 'pending'", { id: pending.id })
        .execute();
      if ((result.affected ?? 0) === 0) return null;
      await this.audit.record(
        {
          actor: viewer,
          action: 'cancellation_request.withdraw',
          subjectType: 'cancellation_request',
          subjectId: pending.id,
          details: { licenseId },
        },
        m,
      );
      return pending.id;
    });
    if (withdrawn !== null) return this.view(await this.reload(withdrawn));
    const latest = await this.dataSource.getRepository(CancellationRequestEntity).findOne({
      where: { licenseId },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    if (!latest) {
      throw new EsdError(EsdErrorCode.NOT_FOUND, 'This license has no cancellation request to withdraw.');
    }
    throw new EsdError(
      EsdErrorCode.REQUEST_NOT_PENDING,
      `The cancellation request is ${latest.status} and can no longer be withdrawn.`,
      { requestId: latest.id, status: latest.status },
    );
  }

  /** `GET /cancellation-requests`: newest first, filtered by status, instance or license. */
  async list(query: CancellationRequestsQueryDto): Promise<Page<CancellationRequestView>> {
    const limit = query.limit ?? 50;
    const q = this.dataSource
      .getRepository(CancellationRequestEntity)
      .createQueryBuilder('r')
      .innerJoinAndSelect('r.license', 'l')
      .leftJoinAndSelect('r.licenseReturn', 'ret');
    if (query.status !== undefined) q.andWhere('r.status = :status', { status: query.status });
    if (query.instanceId !== undefined)
      q.andWhere('l.instanceId = :instanceId', { instanceId: query.instanceId });
    if (query.licenseId !== undefined) q.andWhere('r.licenseId = :licenseId', { licenseId: query.licenseId });
    if (query.cursor !== undefined) {
      const { at, id } = decodeTimeCursor(query.cursor);
      q.andWhere('(r.createdAt < :at OR (r.createdAt = :at AND r.id < :id))', { at, id });
    }
    const rows = await q
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    return pageOf(
      rows,
      limit,
      (row) => toRequestView(row, row.license ?? null, row.licenseReturn ?? null),
      (row) => [row.createdAt.toISOString(), row.id],
    );
  }

  /**
   * `POST /cancellation-requests/:id/accept`: the one execution path, on a fresh token status. A refusal found
   * now (the key was redeemed since the request) closes the request `failed` with its reason, and the requester
   * hears of it; otherwise the return runs and the requester hears its outcome.
   */
  async accept(
    actor: EsdPrincipal | 'system',
    requestId: string,
    comment: string | null,
  ): Promise<CancellationRequestView> {
    const request = await this.find(requestId);
    // Settled already: answer before asking Microsoft for anything (the start checks again, under the lock).
    if (request.status !== 'pending') throw new EsdError(EsdErrorCode.REQUEST_NOT_PENDING);
    const started = await this.returns.start({
      licenseId: request.licenseId,
      actor,
      comment,
      requestId,
    });
    const decided = await this.reload(requestId);
    if (started.outcome === 'refused') {
      const license = await this.dataSource
        .getRepository(LicenseEntity)
        .findOneByOrFail({ id: request.licenseId });
      const reason = started.eligibility.reasons[0];
      await this.notify(
        decidedNotification(license, decided, {
          decision: 'accepted',
          outcome: 'failed',
          reason: reason ? { code: reason.code, message: reason.message } : null,
          credit: null,
        }),
      );
    }
    return this.view(decided);
  }

  /** `POST /cancellation-requests/:id/reject`: the request closes, the license stays as it is. */
  async reject(
    actor: EsdPrincipal,
    requestId: string,
    comment: string | null,
  ): Promise<CancellationRequestView> {
    const request = await this.find(requestId);
    await this.dataSource.transaction(async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(CancellationRequestEntity)
        .set({
          status: 'rejected',
          activeLicenseId: null,
          ...decider(actor),
          decisionComment: comment,
          decidedAt: new Date(),
        })
        .where("id = :id AND status = 'pending'", { id: requestId })
        .execute();
      if ((result.affected ?? 0) === 0) throw new EsdError(EsdErrorCode.REQUEST_NOT_PENDING);
      await this.audit.record(
        {
          actor,
          action: 'cancellation_request.reject',
          subjectType: 'cancellation_request',
          subjectId: requestId,
          details: { licenseId: request.licenseId, comment },
        },
        m,
      );
    });
    const decided = await this.reload(requestId);
    const license = await this.dataSource
      .getRepository(LicenseEntity)
      .findOneByOrFail({ id: request.licenseId });
    await this.notify(
      decidedNotification(license, decided, {
        decision: 'rejected',
        outcome: null,
        reason: null,
        credit: null,
      }),
    );
    return this.view(decided);
  }

  /** The request as the wire shows it, with its license and return. */
  async view(row: CancellationRequestEntity): Promise<CancellationRequestView> {
    const license = await this.dataSource.getRepository(LicenseEntity).findOneBy({ id: row.licenseId });
    const linked =
      row.returnId === null
        ? null
        : await this.dataSource.getRepository(LicenseReturnEntity).findOneBy({ id: row.returnId });
    return toRequestView(row, license, linked);
  }

  private async find(requestId: string): Promise<CancellationRequestEntity> {
    const row = await this.dataSource.getRepository(CancellationRequestEntity).findOneBy({ id: requestId });
    if (!row) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No cancellation request with this id exists.');
    return row;
  }

  private reload(requestId: string): Promise<CancellationRequestEntity> {
    return this.dataSource.getRepository(CancellationRequestEntity).findOneByOrFail({ id: requestId });
  }

  /**
   * Hands a notification to the host. The request or decision it reports is already stored; a host that cannot
   * take it now must not undo that, so a failure is logged for the operator rather than answered.
   */
  private async notify(notification: HostNotification): Promise<void> {
    try {
      await this.options.notifier.send(notification);
    } catch (error) {
      this.logger.warn(
        `${notification.template} (${notification.dedupeKey}) could not be handed to the host: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

function licenseNotFound(): EsdError {
  return new EsdError(EsdErrorCode.NOT_FOUND, 'No license with this id exists for you.');
}

/** The plugin's refusal as an error: the first reason's code and every reason's sentence, the deadline in details. */
export function refusal(eligibility: Eligibility): EsdError {
  const [first] = eligibility.reasons;
  return new EsdError(EsdErrorCode[first.code], eligibility.reasons.map((r) => r.message).join(' '), {
    reasons: eligibility.reasons,
    deadline: eligibility.deadline?.toISOString() ?? null,
  });
}
