import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, In, MoreThan } from 'typeorm';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { InstancesService } from '../settings/instances.service';
import { LicenseEntity } from './license.entity';

/** Licenses asked about per batch (the client splits them into calls of 100). */
const SYNC_BATCH = 500;

/** What one status sync found. */
export interface TokenStatusSyncResult {
  checked: number;
  /** Licenses whose token Microsoft now reports Redeemed. */
  redeemed: string[];
  /** Instances that could not be asked (not ready, Microsoft away); their licenses wait for the next sync. */
  skippedInstances: string[];
}

/**
 * Token status from Microsoft (`POST /tokens/status`): on demand for one license, and for every Activated token
 * on a schedule, so a return is judged on fresh facts. Microsoft's answer is recorded as it is; a token Microsoft
 * does not know is left as it was.
 */
@Injectable()
export class TokenStatusService {
  private readonly logger = new Logger(TokenStatusService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly instances: InstancesService,
  ) {}

  /** Asks about these licenses (all of one instance or not) and records the answers. */
  async refresh(licenseIds: readonly string[]): Promise<TokenStatusSyncResult> {
    const rows = await this.dataSource.getRepository(LicenseEntity).find({
      select: { id: true, instanceId: true, clientTransactionId: true, tokenStatus: true },
      where: { id: In([...licenseIds]), provisioningStatus: 'Synchronized' },
    });
    const result: TokenStatusSyncResult = { checked: 0, redeemed: [], skippedInstances: [] };
    const byInstance = new Map<string, typeof rows>();
    for (const row of rows) byInstance.set(row.instanceId, [...(byInstance.get(row.instanceId) ?? []), row]);
    for (const [instanceId, licenses] of byInstance) {
      const { client } = await this.instances.clientForInstance(instanceId);
      const answers = await client.getTokenStatuses(licenses.map((l) => l.clientTransactionId));
      const byTransaction = new Map(answers.map((a) => [a.clientTransactionId, a]));
      const checkedAt = new Date();
      await this.dataSource.transaction(async (m) => {
        for (const license of licenses) {
          const answer = byTransaction.get(license.clientTransactionId);
          if (!answer) continue;
          result.checked += 1;
          if (answer.tokenStatus === 'Redeemed' && license.tokenStatus !== 'Redeemed') {
            result.redeemed.push(license.id);
          }
          await m.update(
            LicenseEntity,
            { id: license.id },
            {
              tokenStatus: answer.tokenStatus,
              redeemedAt: answer.redeemedAt,
              tokenStatusCheckedAt: checkedAt,
            },
          );
        }
      });
    }
    return result;
  }

  /** The scheduled sync: every active license whose token is Activated, in batches by id. */
  async syncActivated(): Promise<TokenStatusSyncResult> {
    const total: TokenStatusSyncResult = { checked: 0, redeemed: [], skippedInstances: [] };
    const skipped = new Set<string>();
    let after = '';
    for (;;) {
      const batch = await this.dataSource.getRepository(LicenseEntity).find({
        select: { id: true, instanceId: true },
        where: {
          id: MoreThan(after),
          provisioningStatus: 'Synchronized',
          status: 'active',
          tokenStatus: 'Activated',
        },
        order: { id: 'ASC' },
        take: SYNC_BATCH,
      });
      if (batch.length === 0) break;
      after = batch[batch.length - 1].id;
      const askable = batch.filter((l) => !skipped.has(l.instanceId));
      for (const instanceId of new Set(askable.map((l) => l.instanceId))) {
        try {
          const part = await this.refresh(
            askable.filter((l) => l.instanceId === instanceId).map((l) => l.id),
          );
          total.checked += part.checked;
          total.redeemed.push(...part.redeemed);
        } catch (error) {
          skipped.add(instanceId);
          this.logger.warn(
            `Token status sync: instance ${instanceId} could not be asked (${error instanceof Error ? error.message : String(error)}); its licenses wait for the next sync.`,
          );
        }
      }
    }
    total.skippedInstances = [...skipped];
    return total;
  }
}
