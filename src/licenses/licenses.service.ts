import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService } from '../common/audit.service';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { decodeTimeCursor, pageOf, type Page } from '../common/pagination';
import { ESD_OPTIONS } from '../constants';
import type { EsdPrincipal } from '../host/principal';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { maySee, scopeQuery } from './license-access';
import type { LicensesQueryDto, RevealView } from './license.dto';
import { LicenseEntity } from './license.entity';
import { LICENSE_VIEW_SELECT, toLicenseView, type LicenseView, type LicenseViewRow } from './license-view';
import { ProvisioningQueue } from './provisioning-queue';
import { TokenStatusService } from './token-status.service';
import { LicenseSecretsReader, WELCOME_TEMPLATE, welcomeNotification } from './welcome';

/** Who reads: a principal of a plugin route, or the host through the `status` hook. */
export type LicenseViewer = EsdPrincipal | 'host';

/**
 * The license records (ARCHITECTURE.md §1.5): lists and the record for each role, reveal, resend, token status on
 * demand, and re-sync. A license the caller may not see answers exactly as one that does not exist.
 */
@Injectable()
export class LicensesService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly audit: AuditService,
    private readonly queue: ProvisioningQueue,
    private readonly tokenStatus: TokenStatusService,
    private readonly secrets: LicenseSecretsReader,
  ) {}

  /** Newest purchase first, then by id: a stable order for the cursor. */
  async list(viewer: EsdPrincipal, query: LicensesQueryDto): Promise<Page<LicenseView>> {
    const limit = query.limit ?? 50;
    const q = scopeQuery(
      this.dataSource
        .getRepository(LicenseEntity)
        .createQueryBuilder('l')
        .select(Object.keys(LICENSE_VIEW_SELECT).map((c) => `l.${c}`)),
      viewer,
    );
    const filters: Array<[keyof LicensesQueryDto, string]> = [
      ['status', 'l.status = :status'],
      ['provisioningStatus', 'l.provisioningStatus = :provisioningStatus'],
      ['tokenStatus', 'l.tokenStatus = :tokenStatus'],
      ['customerAccountId', 'l.customerAccountId = :customerAccountId'],
      ['offerId', 'l.productCode = :offerId'],
      ['instanceId', 'l.instanceId = :instanceId'],
    ];
    for (const [field, condition] of filters) {
      if (query[field] !== undefined) q.andWhere(condition, { [field]: query[field] });
    }
    if (query.purchasedFrom !== undefined) {
      q.andWhere('l.purchaseDate >= :from', { from: new Date(query.purchasedFrom) });
    }
    if (query.purchasedTo !== undefined) {
      q.andWhere('l.purchaseDate < :to', { to: new Date(query.purchasedTo) });
    }
    if (query.cursor !== undefined) {
      const { at, id } = decodeTimeCursor(query.cursor);
      q.andWhere('(l.purchaseDate < :at OR (l.purchaseDate = :at AND l.id < :id))', { at, id });
    }
    const rows = await q
      .orderBy('l.purchaseDate', 'DESC')
      .addOrderBy('l.id', 'DESC')
      .take(limit + 1)
      .getMany();
    return pageOf(
      rows,
      limit,
      (row) => toLicenseView(row, viewer),
      (row) => [row.purchaseDate.toISOString(), row.id],
    );
  }

  async get(viewer: LicenseViewer, id: string): Promise<LicenseView> {
    return toLicenseView(await this.visible(viewer, id), viewer);
  }

  /**
   * The full key and activation link, audited (who, when, which license). The route decides who may ask: an admin
   * with `esd.licenses.reveal`, or the license's own customer or reseller. A cancelled license's key was taken back
   * by Microsoft: the storefront no longer shows it (409 ALREADY_CANCELLED); an admin still may, for support.
   */
  async reveal(viewer: EsdPrincipal, id: string): Promise<RevealView> {
    const license = await this.visible(viewer, id);
    requireProvisioned(license);
    if (viewer.role !== 'admin' && license.status !== 'active') {
      throw new EsdError(
        EsdErrorCode.ALREADY_CANCELLED,
        'This license is cancelled: Microsoft took its product key back, so the key is no longer shown.',
      );
    }
    const secrets = await this.secrets.open(id);
    await this.audit.record({
      actor: viewer,
      action: 'license.reveal',
      subjectType: 'license',
      subjectId: id,
    });
    return { licenseId: id, ...secrets };
  }

  /** The welcome notification again, under a fresh dedupe key (the host would drop the first one's), audited. */
  async resend(viewer: EsdPrincipal, id: string): Promise<LicenseView> {
    const license = await this.dataSource.getRepository(LicenseEntity).findOneBy({ id });
    if (!license || !maySee(viewer, license)) throw notFound();
    requireProvisioned(license);
    // Microsoft took a cancelled license's key back: sending it again would hand the customer a dead key.
    if (license.status !== 'active') throw new EsdError(EsdErrorCode.ALREADY_CANCELLED);
    const resendId = randomUUID();
    await this.options.notifier.send(
      welcomeNotification(
        license,
        await this.secrets.open(id),
        `${WELCOME_TEMPLATE}:${id}:resend:${resendId}`,
      ),
    );
    await this.audit.record({
      actor: viewer,
      action: 'license.resend',
      subjectType: 'license',
      subjectId: id,
      details: { resendId },
    });
    return this.get(viewer, id);
  }

  /** Asks Microsoft for the token's status now. */
  async refreshStatus(viewer: EsdPrincipal, id: string): Promise<LicenseView> {
    requireProvisioned(await this.visible(viewer, id));
    await this.tokenStatus.refresh([id]);
    return this.get(viewer, id);
  }

  /**
   * `POST /licenses/:id/resync`: Failed → Unsynchronised, audited, and its job enqueued again. The attempt count
   * is kept, so the next attempt looks the transaction up at Microsoft before it submits anything.
   * 409 `LICENSE_NOT_FAILED` for a license in any other state.
   */
  async resync(viewer: EsdPrincipal, id: string): Promise<LicenseView> {
    const before = await this.visible(viewer, id);
    await this.dataSource.transaction(async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(LicenseEntity)
        .set({
          provisioningStatus: 'Unsynchronised',
          provisioningErrorCode: null,
          provisioningErrorMessage: null,
          nextAttemptAt: new Date(),
        })
        .where('id = :id AND provisioning_status = :status', { id, status: 'Failed' })
        .execute();
      if ((result.affected ?? 0) === 0) {
        throw new EsdError(EsdErrorCode.LICENSE_NOT_FAILED, undefined, {
          provisioningStatus: before.provisioningStatus,
        });
      }
      await this.audit.record(
        {
          actor: viewer,
          action: 'license.resync',
          subjectType: 'license',
          subjectId: id,
          details: { previousError: before.provisioningErrorCode },
        },
        m,
      );
    });
    try {
      await this.queue.requeue(id);
    } catch {
      // Unsynchronised and due: the sweeper enqueues it once the queue is back.
    }
    return this.get(viewer, id);
  }

  /** The row if the viewer may see it; else the same 404 as for an id that does not exist. */
  private async visible(viewer: LicenseViewer, id: string): Promise<LicenseViewRow> {
    const row = await this.dataSource
      .getRepository(LicenseEntity)
      .findOne({ select: LICENSE_VIEW_SELECT, where: { id } });
    if (!row || (viewer !== 'host' && !maySee(viewer, row))) throw notFound();
    return row;
  }
}

function notFound(): EsdError {
  return new EsdError(EsdErrorCode.NOT_FOUND, 'No license with this id exists for you.');
}

function requireProvisioned(license: Pick<LicenseEntity, 'provisioningStatus'>): void {
  if (license.provisioningStatus !== 'Synchronized') {
    throw new EsdError(EsdErrorCode.LICENSE_NOT_PROVISIONED, undefined, {
      provisioningStatus: license.provisioningStatus,
    });
  }
}
