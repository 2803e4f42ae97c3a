import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { OfferEntity } from '../catalog/offer.entity';
import type { EsdClock } from '../common/clock';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ESD_CLOCK } from '../constants';
import { LicenseEntity } from '../licenses/license.entity';
import { TokenStatusService } from '../licenses/token-status.service';
import { InstanceEntity } from '../settings/instance.entity';
import { CancellationRequestEntity } from './cancellation-request.entity';
import { evaluateEligibility, LICENSE_REFUSAL_CODES, type Eligibility } from './eligibility';
import { LicenseReturnEntity } from './return.entity';

/**
 * What the decision is for: a new storefront request must not meet another cancellation under way; an execution
 * (an accepted request, an immediate cancel) joins the one under way instead.
 */
export type EligibilityPurpose = 'request' | 'execute';

/** A license with its eligibility, as read in one transaction. */
export interface JudgedLicense {
  license: LicenseEntity;
  eligibility: Eligibility;
}

/**
 * Reads the facts {@link evaluateEligibility} needs — the license, its offer's returnability, its instance's return
 * window, what is under way — and the plugin clock's now, so every entry point judges the same way.
 */
@Injectable()
export class EligibilityService {
  private readonly logger = new Logger(EligibilityService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_CLOCK) private readonly clock: EsdClock,
    private readonly tokenStatus: TokenStatusService,
  ) {}

  /** The license and its eligibility, read through `manager` (a transaction's, or the default). */
  async judge(
    licenseId: string,
    purpose: EligibilityPurpose,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<JudgedLicense | null> {
    const license = await manager.findOneBy(LicenseEntity, { id: licenseId });
    if (!license) return null;
    // One after another: in a transaction the queries share one connection.
    const offer =
      license.offerRefId === null
        ? null
        : await manager.findOne(OfferEntity, {
            select: { id: true, isReturnable: true },
            where: { id: license.offerRefId },
          });
    const instance = await manager.findOne(InstanceEntity, {
      select: { id: true, returnWindowDays: true },
      where: { id: license.instanceId },
    });
    const underWay = purpose === 'request' && (await this.cancellationUnderWay(manager, licenseId));
    return {
      license,
      eligibility: evaluateEligibility({
        license,
        returnable: offer?.isReturnable ?? null,
        returnWindowDays: instance?.returnWindowDays ?? 30,
        cancellationUnderWay: underWay,
        now: this.clock.now(),
      }),
    };
  }

  /**
   * Asks Microsoft for the token's status before a decision is executed, so a key redeemed since the last sync is
   * refused here rather than sent to Microsoft. Best effort: when Microsoft cannot be asked now, the stored status
   * stands and Microsoft, the final judge, refuses a redeemed key on its own. Answers whether Microsoft answered.
   */
  async refreshTokenStatus(licenseId: string): Promise<boolean> {
    try {
      return (await this.tokenStatus.refresh([licenseId])).checked > 0;
    } catch (error) {
      this.logger.warn(
        `License ${licenseId}: the token status could not be refreshed for its cancellation (${error instanceof Error ? error.message : String(error)}); the stored status is used.`,
      );
      return false;
    }
  }

  /**
   * Keeps the plugin's refusal on the license (`returnReason`, return status unchanged) when it is about the license
   * itself — not returnable, redeemed, window passed — so the asset record says why it was not cancelled.
   */
  async recordRefusal(manager: EntityManager, licenseId: string, eligibility: Eligibility): Promise<void> {
    const reason = eligibility.reasons.find((r) => LICENSE_REFUSAL_CODES.has(r.code));
    if (!reason) return;
    await manager
      .createQueryBuilder()
      .update(LicenseEntity)
      .set({ returnReasonCode: reason.code, returnReasonMessage: reason.message.slice(0, 1000) })
      .where("id = :id AND status = 'active'", { id: licenseId })
      .execute();
  }

  private async cancellationUnderWay(manager: EntityManager, licenseId: string): Promise<boolean> {
    const requests = await manager.countBy(CancellationRequestEntity, { activeLicenseId: licenseId });
    const returns = await manager.countBy(LicenseReturnEntity, { activeLicenseId: licenseId });
    return requests + returns > 0;
  }
}
