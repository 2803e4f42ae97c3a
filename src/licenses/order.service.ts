import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { OfferEntity } from '../catalog/offer.entity';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdErrorCode } from '../common/error-codes';
import { ESD_OPTIONS } from '../constants';
import type { OrderResult, Violation } from '../host/hooks';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { InstanceEntity } from '../settings/instance.entity';
import { isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import { LicenseEntity } from './license.entity';
import { LICENSE_VIEW_SELECT, toHookLicense, type LicenseViewRow } from './license-view';
import { checkOrderRequest, violation, type ValidOrderRequest } from './order-request.dto';
import { ProvisioningQueue } from './provisioning-queue';

/** Licenses inserted per statement. */
const INSERT_BATCH = 200;
/** How often the hook looks at its licenses while it waits for their tokens. */
const POLL_MS = 100;
/** What the hook tells the host to wait before asking again, when tokens are still coming. */
const RETRY_AFTER_SECONDS = 5;
/** How long a new license waits before the sweeper may think its job was lost. */
const FIRST_ATTEMPT_GRACE_MS = 60_000;

/**
 * The `precheck` and `order` hooks (host-contract.md §4): one license row per unit, created in one transaction
 * and unique on `(hostOrderItemId, unitIndex)` so any number of calls for one order item make one set; then one
 * provisioning job per license, and a bounded wait for their tokens.
 */
@Injectable()
export class OrderService {
  private readonly logger = new Logger(OrderService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly queue: ProvisioningQueue,
  ) {}

  /** Every reason the order item would be refused; no side effects. */
  async precheck(input: unknown): Promise<Violation[]> {
    const checked = checkOrderRequest(input);
    if (!checked.ok) return checked.violations;
    return (await this.sellable(checked.request)).violations;
  }

  async order(input: unknown): Promise<OrderResult> {
    const checked = checkOrderRequest(input);
    if (!checked.ok) return refusal(checked.violations);
    const request = checked.request;

    // A repeated call answers what the first one made, even if the offer changed since.
    let licenses = await this.licensesOf(request.hostOrderItemId);
    if (licenses.length === 0) {
      const { violations, offer, instance } = await this.sellable(request);
      if (violations.length > 0) return refusal(violations);
      licenses = await this.create(request, instance!, offer!);
    }
    const conflict = conflictWith(request, licenses);
    if (conflict) return refusal([conflict]);

    const pending = licenses.filter((l) => l.provisioningStatus === 'Unsynchronised').map((l) => l.id);
    try {
      await this.queue.enqueue(pending);
    } catch (error) {
      // The rows are the truth: the sweeper enqueues them once the queue is back.
      this.logger.warn(
        `Order item ${request.hostOrderItemId}: provisioning could not be enqueued now (${error instanceof Error ? error.message : String(error)}); the sweeper will.`,
      );
    }
    return outcomeOf(await this.waitForTokens(request.hostOrderItemId, licenses));
  }

  /** The instance can sell, the offer is known and sold, the quantity is within the offer's bounds. */
  private async sellable(request: ValidOrderRequest): Promise<{
    violations: Violation[];
    instance?: InstanceEntity;
    offer?: OfferEntity;
  }> {
    const instance = await this.dataSource
      .getRepository(InstanceEntity)
      .findOneBy({ id: request.instanceId });
    if (!instance || instance.state !== 'ready' || !instance.country || !instance.language) {
      return {
        violations: [
          violation(
            EsdErrorCode.INSTANCE_NOT_READY,
            instance
              ? `The Microsoft ESD instance ${instance.systemName} is ${instance.state}: it cannot sell until it is ready.`
              : 'No Microsoft ESD instance with this id exists.',
          ),
        ],
      };
    }
    const offer = await this.dataSource
      .getRepository(OfferEntity)
      .findOneBy({ instanceId: instance.id, offerId: request.productCode });
    if (!offer) return { violations: [violation(EsdErrorCode.OFFER_UNKNOWN)] };
    const violations: Violation[] = [];
    if (offer.catalogStatus === 'discontinued' || offer.vendorStatus !== 'Active') {
      violations.push(
        violation(
          EsdErrorCode.OFFER_DISCONTINUED,
          `Microsoft has discontinued ${offer.name}: it can no longer be sold.`,
        ),
      );
    }
    if (request.quantity < offer.minQuantity || request.quantity > offer.maxQuantity) {
      violations.push(
        violation(
          EsdErrorCode.QUANTITY_OUT_OF_RANGE,
          `${offer.name} is sold ${offer.minQuantity} to ${offer.maxQuantity} at a time; ${request.quantity} were asked for.`,
        ),
      );
    }
    return { violations, instance, offer };
  }

  /** One row per unit in one transaction; a concurrent call that got there first wins, and its rows are answered. */
  private async create(
    request: ValidOrderRequest,
    instance: InstanceEntity,
    offer: OfferEntity,
  ): Promise<LicenseViewRow[]> {
    const now = Date.now();
    const rows = Array.from({ length: request.quantity }, (_, unitIndex) => ({
      id: newId(),
      instanceId: instance.id,
      offerRefId: offer.id,
      productCode: offer.offerId,
      productName: offer.name,
      country: instance.country!,
      language: instance.language!,
      customerAccountId: request.customer.accountId,
      customerName: request.customer.name,
      customerEmail: request.customer.email,
      customerCountry: request.customer.country,
      customerLocale: request.customer.locale,
      billToAccountId: request.billTo.accountId,
      resellerAccountId: request.customer.resellerAccountId ?? null,
      hostOrderId: request.hostOrderId,
      hostOrderItemId: request.hostOrderItemId,
      unitIndex,
      clientTransactionId: randomUUID(),
      status: 'active' as const,
      purchaseDate: new Date(request.placedAt),
      priceAmountMinor: request.unitPrice.amountMinor,
      priceCurrency: request.unitPrice.currency,
      provisioningStatus: 'Unsynchronised' as const,
      attempts: 0,
      nextAttemptAt: new Date(now + FIRST_ATTEMPT_GRACE_MS),
      returnStatus: 'None' as const,
    }));
    try {
      await this.dataSource.transaction(async (m: EntityManager) => {
        for (let i = 0; i < rows.length; i += INSERT_BATCH) {
          await m.insert(LicenseEntity, rows.slice(i, i + INSERT_BATCH));
        }
      });
    } catch (error) {
      if (!isUniqueViolation(error, 'UQ_esd_license_order_item_unit')) throw error;
    }
    return this.licensesOf(request.hostOrderItemId);
  }

  private licensesOf(hostOrderItemId: string): Promise<LicenseViewRow[]> {
    return this.dataSource.getRepository(LicenseEntity).find({
      select: LICENSE_VIEW_SELECT,
      where: { hostOrderItemId },
      order: { unitIndex: 'ASC' },
    });
  }

  /** Polls the item's licenses until none is Unsynchronised or `orderWaitMs` has passed. */
  private async waitForTokens(
    hostOrderItemId: string,
    licenses: LicenseViewRow[],
  ): Promise<LicenseViewRow[]> {
    const deadline = Date.now() + this.options.orderWaitMs;
    let current = licenses;
    while (current.some((l) => l.provisioningStatus === 'Unsynchronised') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, deadline - Date.now())));
      current = await this.licensesOf(hostOrderItemId);
    }
    return current;
  }
}

/**
 * `done` when every license has its token, `failed` when every one failed, else `pending` — each license listed
 * with its own status.
 */
function outcomeOf(licenses: LicenseViewRow[]): OrderResult {
  const hook = licenses.map(toHookLicense);
  if (licenses.every((l) => l.provisioningStatus === 'Synchronized'))
    return { outcome: 'done', licenses: hook };
  if (licenses.every((l) => l.provisioningStatus === 'Failed')) {
    const first = licenses[0];
    return {
      outcome: 'failed',
      code: first.provisioningErrorCode ?? EsdErrorCode.INTERNAL,
      message: first.provisioningErrorMessage ?? '',
      licenses: hook,
    };
  }
  return { outcome: 'pending', retryAfterSeconds: RETRY_AFTER_SECONDS, licenses: hook };
}

function refusal(violations: Violation[]): OrderResult {
  const [first, ...rest] = violations;
  return {
    outcome: 'failed',
    code: first.code,
    message: [first, ...rest].map((v) => v.message).join(' '),
  };
}

/** The same order item id with other contents is a host bug, never a second set of licenses. */
function conflictWith(request: ValidOrderRequest, licenses: LicenseViewRow[]): Violation | null {
  const first = licenses[0];
  const same =
    licenses.length === request.quantity &&
    first.instanceId === request.instanceId &&
    first.productCode === request.productCode &&
    first.hostOrderId === request.hostOrderId &&
    first.customerAccountId === request.customer.accountId;
  return same ? null : violation(EsdErrorCode.ORDER_ITEM_CONFLICT);
}
