/**
 * The provisioning hooks the host's order pipeline calls (host contract §4). Every hook is idempotent: the
 * same input again gives the same outcome, never a second license or a second return.
 */
import type { Money } from './ports';

/** The end customer of an order. */
export interface OrderCustomer {
  accountId: string;
  name: string;
  email: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** BCP 47, e.g. `el-GR`. */
  locale: string;
  resellerAccountId?: string;
}

/** One order item of the Microsoft ESD product type. */
export interface OrderRequest {
  hostOrderId: string;
  /** Unique per item across the host: the idempotency key of the hook. */
  hostOrderItemId: string;
  instanceId: string;
  /** The product code, i.e. the ESD offer ID. */
  productCode: string;
  quantity: number;
  unitPrice: Money;
  customer: OrderCustomer;
  billTo: { accountId: string };
  /** ISO 8601. */
  placedAt: string;
}

/** The provider's decision to cancel a license, executed immediately. */
export interface CancelRequest {
  licenseId: string;
  requestedBy: { role: string; accountId: string; userId?: string };
  comment?: string;
}

export type PrecheckRequest =
  { action: 'order'; request: OrderRequest } | { action: 'cancel'; request: CancelRequest };

/** A reason the plugin would refuse a request, with a code and a sentence. */
export interface Violation {
  code: string;
  message: string;
}

export type PrecheckResult = { ok: true } | { ok: false; violations: Violation[] };

/** A license as the hooks report it (the key is always masked). */
export interface HookLicense {
  id: string;
  unitIndex: number;
  provisioningStatus: 'Unsynchronised' | 'Synchronized' | 'Failed';
  tokenMasked: string | null;
  error?: { code: string; message: string } | null;
}

export type OrderResult =
  | { outcome: 'done'; licenses: HookLicense[] }
  | { outcome: 'pending'; retryAfterSeconds: number; licenses: HookLicense[] }
  | { outcome: 'failed'; code: string; message: string; licenses?: HookLicense[] };

export type CancelResult =
  | { outcome: 'done'; credit: Money }
  | { outcome: 'pending'; retryAfterSeconds: number }
  | { outcome: 'failed'; code: string; message: string };

/** The hooks the plugin offers; the host resolves this service from the module and calls it. */
export interface EsdHooks {
  precheck(request: PrecheckRequest): Promise<PrecheckResult>;
  order(request: OrderRequest): Promise<OrderResult>;
  cancel(request: CancelRequest): Promise<CancelResult>;
  status(licenseId: string): Promise<unknown>;
}
