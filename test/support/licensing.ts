/**
 * Fixtures for ordering: a market's offers (the sandbox's catalog, stored as a finished catalog run would store
 * them, so ordering tests do not depend on the catalog run), and order-hook inputs.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { CatalogEntry } from '../../sandbox/cis/catalog-generator';
import type { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { ReferenceHostCatalog } from '../../sandbox/host/host-ports';
import { OfferEntity } from '../../src/catalog/offer.entity';
import type { OrderRequest } from '../../src/host/hooks';
import type { LicenseEntity } from '../../src/licenses/license.entity';
import { newId } from '../../src/storage/entity-columns';
import { unique } from './factories';
import { sandboxControl } from './sandbox-control';

/** A generated (valid) vendor offer, as the sandbox lists it. */
export interface VendorOffer {
  offerId: string;
  offerUri: string;
  name: string;
  shortDescription: string | null;
  productFamily: string | null;
  minQuantity: number;
  maxQuantity: number;
  isReturnable: boolean;
  status: 'Active' | 'Discontinued';
}

/** Gives the sandbox market `count` offers and stores them for the instance; answers the vendor's offers. */
export async function seedOffers(
  dataSource: DataSource,
  sandbox: CisSandbox,
  instanceId: string,
  market: { country: string; language: string },
  count: number,
): Promise<VendorOffer[]> {
  const answer = await sandboxControl<{ offers: CatalogEntry[] }>(sandbox, 'post', '/__sandbox/catalog', {
    ...market,
    count,
    seed: randomInt(1, 1_000_000),
  });
  const offers = answer.offers as unknown as VendorOffer[];
  await dataSource.getRepository(OfferEntity).insert(
    offers.map((o) => ({
      id: newId(),
      instanceId,
      offerId: o.offerId,
      offerUri: o.offerUri,
      name: o.name,
      shortDescription: o.shortDescription ?? null,
      productFamily: o.productFamily ?? null,
      minQuantity: o.minQuantity,
      maxQuantity: o.maxQuantity,
      isReturnable: o.isReturnable,
      vendorStatus: o.status,
      catalogStatus: 'current' as const,
      lastModified: null,
      contentHash: '0'.repeat(64),
      firstSeenRunId: null,
      lastChangedRunId: null,
      hostProductRef: null,
      missingSince: null,
    })),
  );
  return offers;
}

/**
 * The host products a Get Services Definition run would push for `offers` (inactive, unpublished, price 0), through
 * the reference host's own catalog port; answers the host product id by offer id.
 */
export async function pushToHostCatalog(
  dataSource: DataSource,
  instanceId: string,
  offers: readonly VendorOffer[],
): Promise<Map<string, string>> {
  const pushed = await new ReferenceHostCatalog(dataSource, 'EUR').upsertProducts(
    offers.map((o) => ({
      instanceId,
      code: o.offerId,
      name: o.name,
      description: o.shortDescription ?? '',
      productType: 'MICROSOFT_ESD',
      properties: { offerUri: o.offerUri },
      charge: 'one-time-prepaid' as const,
      currency: 'EUR',
      returnable: o.isReturnable,
      minQuantity: o.minQuantity,
      maxQuantity: o.maxQuantity,
      catalogStatus: 'new' as const,
      defaults: { priceMinor: 0, active: false, published: false },
    })),
  );
  return new Map(pushed.map((p) => [p.code, p.hostProductId]));
}

/** An order item for `quantity` units of `offer` by a fresh customer, with `patch` on top. */
export function orderRequest(
  instanceId: string,
  offer: Pick<VendorOffer, 'offerId'>,
  quantity: number,
  patch: Partial<OrderRequest> = {},
): OrderRequest {
  const customer = unique('cust');
  return {
    hostOrderId: unique('order'),
    hostOrderItemId: unique('item'),
    instanceId,
    productCode: offer.offerId,
    quantity,
    unitPrice: { amountMinor: 14900, currency: 'EUR' },
    customer: {
      accountId: customer,
      name: 'Μαρία Παπαδοπούλου',
      email: `${customer}@example.test`,
      country: 'GR',
      locale: 'el-GR',
    },
    billTo: { accountId: customer },
    placedAt: new Date().toISOString(),
    ...patch,
  };
}

/** A license row as the order hook would store it (Unsynchronised, no token), with `patch` on top. */
export function licenseRow(instanceId: string, patch: Partial<LicenseEntity> = {}): Partial<LicenseEntity> {
  const customer = patch.customerAccountId ?? unique('cust');
  return {
    id: newId(),
    instanceId,
    offerRefId: null,
    productCode: 'OFFER-1',
    productName: 'Office Home 2024',
    country: 'GR',
    language: 'el-GR',
    customerAccountId: customer,
    customerName: 'Customer',
    customerEmail: `${customer}@example.test`,
    customerCountry: 'GR',
    customerLocale: 'el-GR',
    billToAccountId: customer,
    resellerAccountId: null,
    hostOrderId: unique('order'),
    hostOrderItemId: unique('item'),
    unitIndex: 0,
    clientTransactionId: randomUUID(),
    status: 'active',
    purchaseDate: new Date(),
    priceAmountMinor: 14900,
    priceCurrency: 'EUR',
    provisioningStatus: 'Unsynchronised',
    attempts: 0,
    nextAttemptAt: null,
    returnStatus: 'None',
    tokenStatus: null,
    tokenLastGroup: null,
    ...patch,
  };
}
