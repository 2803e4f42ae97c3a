/**
 * The ports a host implements for the plugin (host contract §3). The plugin calls them; it never reaches into
 * the host's own tables.
 */

/** Money in integer minor units (cents) and an ISO 4217 currency. */
export interface Money {
  amountMinor: number;
  currency: string;
}

/** The catalog status a plugin run gave a product. */
export type CatalogStatus = 'new' | 'updated' | 'discontinued' | 'current';

/** The product type the plugin sells: one drop-down property listing the ESD offer URIs. */
export interface ProductTypeDefinition {
  /** `MICROSOFT_ESD`. */
  code: string;
  name: string;
  billing: 'one-time';
  quantityPerItem: number;
  returnable: boolean;
  properties: Array<{ code: string; name: string; kind: 'drop-down'; values: string[] }>;
}

/**
 * A product the plugin pushes into the host catalog. Products are per instance: the same offer sold in two
 * markets is two products.
 */
export interface HostProductInput {
  /** The plugin instance (market) the product belongs to; the host hands it back in every hook. */
  instanceId: string;
  /** The ESD offer ID. */
  code: string;
  /** The offer's name in the instance's language. */
  name: string;
  /** Short description, offer URI and minimum / maximum quantity. */
  description: string;
  productType: string;
  /** The value of the product type's drop-down (the offer URI). */
  properties: Record<string, string>;
  charge: 'one-time-prepaid';
  /** The host's default currency, unless the market says otherwise. */
  currency: string;
  returnable: boolean;
  minQuantity: number;
  maxQuantity: number;
  catalogStatus: CatalogStatus;
  /**
   * Only honoured when the host creates the product: new products start at prices 0, inactive and
   * unpublished. Updates never overwrite what the admin owns (prices, active, published).
   */
  defaults: { priceMinor: 0; active: false; published: false };
}

/** A reference to a product the plugin pushed earlier. */
export interface HostProductRef {
  instanceId: string;
  code: string;
}

/** What the host did with a pushed product. */
export interface HostProductResult extends HostProductRef {
  /** The host's own id of the product. */
  hostProductId: string;
  created: boolean;
}

/** The host catalog, as the plugin sees it. */
export interface HostCatalog {
  /** Creates or updates the Microsoft ESD product type (idempotent). */
  upsertProductType(definition: ProductTypeDefinition): Promise<void>;
  /** Creates new products and updates what the plugin owns on existing ones (idempotent, one batch). */
  upsertProducts(items: HostProductInput[]): Promise<HostProductResult[]>;
  /**
   * Marks products `discontinued` (unsellable whatever their active/published flags; never deleted) or gives
   * them another catalog status.
   */
  setProductsStatus(
    refs: HostProductRef[],
    status: { catalogStatus: CatalogStatus; sellable: boolean },
  ): Promise<void>;
}

/** The notification templates the plugin asks the host to send. */
export type NotificationTemplate = 'esd.welcome' | 'esd.cancellation.requested' | 'esd.cancellation.decided';

/** A notification the plugin asks the host to send. */
export interface HostNotification {
  template: NotificationTemplate;
  to: { accountId: string; email?: string; name?: string };
  locale: string;
  /** Template data; `esd.welcome` carries `licenseId`, `productName`, `productKey`, `activationLink`. */
  data: Record<string, unknown>;
  /**
   * Delivery is at-least-once: the same notification may be handed over again after a crash. The host should
   * send a given dedupe key once.
   */
  dedupeKey: string;
}

/** The host's outgoing mail / messaging. */
export interface HostNotifier {
  send(notification: HostNotification): Promise<void>;
}

/** The events the plugin raises, with their payloads. */
export interface HostEventPayloads {
  licenseProvisioned: { licenseId: string; hostOrderId: string; hostOrderItemId: string; instanceId: string };
  licenseProvisioningFailed: {
    licenseId: string;
    hostOrderId: string;
    hostOrderItemId: string;
    instanceId: string;
    code: string;
    message: string;
  };
  /** `credit` is the full amount charged for the license: the host issues it (e.g. a credit note). */
  licenseCancelled: { licenseId: string; hostOrderId: string; accountId: string; credit: Money };
  catalogRunFinished: {
    runId: string;
    instanceId: string;
    status: 'succeeded' | 'failed';
    counts: Record<string, number>;
  };
}
export type HostEventName = keyof HostEventPayloads;

/** An event the plugin raises. `id` is stable across re-deliveries, for dedupe. */
export interface HostEvent<N extends HostEventName = HostEventName> {
  id: string;
  name: N;
  occurredAt: string;
  payload: HostEventPayloads[N];
}

/** The host's event intake. */
export interface HostEvents {
  publish(event: HostEvent): Promise<void>;
}
