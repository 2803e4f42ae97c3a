/**
 * The storefront's accounts in tests: principal headers as the reference host reads them (`x-principal`), fresh
 * account ids, and order items placed by a reseller for one of its customers (billed to the reseller or to the
 * customer), so a suite can say who bought, who pays and who sells without repeating the order's shape.
 */
import type { OrderRequest } from '../../src/host/hooks';
import { unique } from './factories';

/** The reference host's admin (every permission of the manifest). */
export const ADMIN = 'admin';

/** The `x-principal` header of an end customer. */
export const asCustomer = (accountId: string): string => `customer:${accountId}`;

/** The `x-principal` header of a reseller. */
export const asReseller = (accountId: string): string => `reseller:${accountId}`;

/** A fresh account id the reference host accepts in a principal header (`[A-Za-z0-9_-]{1,36}`). */
export const newAccount = (prefix: string): string => unique(prefix).slice(0, 36);

/** Who an order item is for, sold by whom, billed to whom. */
export interface OrderParties {
  /** The end customer's account. */
  customer: string;
  /** The reseller that sold it, if any. */
  reseller?: string | null;
  /** The Bill-To account: default the reseller when there is one, else the customer. */
  billTo?: string;
}

/**
 * `order` with the customer, reseller and Bill-To accounts of `parties` (the customer's name, e-mail and country
 * stay those of `order`; the e-mail follows the customer's account).
 */
export function withParties(order: OrderRequest, parties: OrderParties): OrderRequest {
  const reseller = parties.reseller ?? null;
  const { resellerAccountId: _dropped, ...customer } = order.customer;
  return {
    ...order,
    customer: {
      ...customer,
      accountId: parties.customer,
      email: `${parties.customer}@example.test`,
      ...(reseller === null ? {} : { resellerAccountId: reseller }),
    },
    billTo: { accountId: parties.billTo ?? reseller ?? parties.customer },
  };
}
