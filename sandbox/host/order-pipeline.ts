import { HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, In } from 'typeorm';
import type { EsdHooks, HookLicense, OrderRequest, OrderResult, Violation } from '../../src/host/hooks';
import type { PluginManifest } from '../../src/host/manifest';
import type { EsdPrincipal } from '../../src/host/principal';
import {
  HostAccountRow,
  HostInvoiceRow,
  HostOrderItemRow,
  HostOrderRow,
  HostProductRow,
  type HostOrderItemOutcome,
} from './host.entities';
import { hostError } from './host-http';
import { issueOrderInvoice, type InvoiceLine } from './invoices';
import { defaultPluginRoot } from './plugin-loader';

/**
 * The product types the loaded plugin sells, from its manifest: the host routes an order item to the plugin's
 * hooks by its product's type, as a host with several service managers would.
 */
const PLUGIN_PRODUCT_TYPES: readonly string[] = (
  JSON.parse(
    fs.readFileSync(path.join(defaultPluginRoot(), 'plugin.manifest.json'), 'utf8'),
  ) as PluginManifest
).productTypes.map((type) => type.code);

export interface PlaceOrder {
  customerAccountId: string;
  billToAccountId?: string;
  items: Array<{ productId: string; quantity: number }>;
}

export interface OrderItemView {
  /** The `hostOrderItemId` the plugin got. */
  id: string;
  productId: string;
  instanceId: string;
  productCode: string;
  productName: string;
  quantity: number;
  unitPrice: { amountMinor: number; currency: string };
  /** What the plugin's `order` hook answered. */
  outcome: HostOrderItemOutcome;
  licenseIds: string[];
  /** Only when the hook answered `pending`: when to look again. */
  retryAfterSeconds?: number;
  failure: { code: string; message: string } | null;
}

export interface OrderView {
  id: string;
  customerAccountId: string;
  billToAccountId: string;
  placedBy: { role: string; accountId: string };
  createdAt: string;
  items: OrderItemView[];
  /** The invoice issued with the order; null when every item failed (nothing to bill). */
  invoiceId: string | null;
}

/** The reasons one item of a refused order was refused. */
export interface ItemViolations {
  index: number;
  productId: string;
  violations: Violation[];
}

/**
 * The reference host's order pipeline (host contract §6, `POST /host/orders`): the host checks what it owns (the
 * customer, who may order for whom, the products on sale and their prices), asks the plugin's `precheck` for
 * every item before anything is written, then records the order and calls `order` per item, and bills what the
 * plugin delivered or is delivering.
 */
export class OrderPipeline {
  private readonly logger = new Logger('ReferenceHostOrders');

  constructor(
    private readonly dataSource: DataSource,
    private readonly hooks: EsdHooks,
  ) {}

  async place(principal: EsdPrincipal, input: PlaceOrder): Promise<OrderView> {
    const customer = await this.customerFor(principal, input.customerAccountId);
    const billToAccountId = this.billTo(principal, customer, input.billToAccountId);
    const products = await this.dataSource
      .getRepository(HostProductRow)
      .findBy({ id: In([...new Set(input.items.map((item) => item.productId))]) });
    const byId = new Map(products.map((product) => [product.id, product]));

    const orderId = randomUUID();
    const placedAt = new Date().toISOString();
    const refused: ItemViolations[] = [];
    const lines: Array<{ product: HostProductRow; request: OrderRequest }> = [];
    const orderCurrency = byId.get(input.items[0].productId)?.currency;
    // Every item is checked, so one answer names every problem of the order.
    for (const [index, item] of input.items.entries()) {
      const product = byId.get(item.productId);
      const own = this.productViolations(product, orderCurrency);
      // Only a product of the plugin's type means anything to the plugin's precheck.
      if (!product || !PLUGIN_PRODUCT_TYPES.includes(product.productType)) {
        refused.push({ index, productId: item.productId, violations: own });
        continue;
      }
      const request: OrderRequest = {
        hostOrderId: orderId,
        hostOrderItemId: randomUUID(),
        instanceId: product.instanceId,
        productCode: product.code,
        quantity: item.quantity,
        unitPrice: { amountMinor: product.priceMinor, currency: product.currency },
        customer: {
          accountId: customer.id,
          name: customer.name,
          email: customer.email,
          country: customer.country,
          locale: customer.locale,
          ...(customer.resellerAccountId ? { resellerAccountId: customer.resellerAccountId } : {}),
        },
        billTo: { accountId: billToAccountId },
        placedAt,
      };
      const precheck = await this.hooks.precheck({ action: 'order', request });
      const violations = [...own, ...(precheck.ok ? [] : precheck.violations)];
      if (violations.length > 0) refused.push({ index, productId: item.productId, violations });
      else lines.push({ product, request });
    }
    if (refused.length > 0) {
      throw hostError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'ORDER_REFUSED',
        `The order cannot be placed: ${refused
          .map((r) => `item ${r.index + 1}: ${r.violations.map((v) => v.message).join(' ')}`)
          .join('; ')}`,
        { items: refused },
      );
    }

    const order: HostOrderRow = {
      id: orderId,
      customerAccountId: customer.id,
      billToAccountId,
      placedByRole: principal.role,
      placedByAccountId: principal.accountId,
      createdAt: placedAt,
    };
    const items: HostOrderItemRow[] = lines.map(({ product, request }, lineNo) => ({
      id: request.hostOrderItemId,
      orderId,
      lineNo,
      productId: product.id,
      instanceId: product.instanceId,
      productCode: product.code,
      productName: product.name,
      quantity: request.quantity,
      unitPriceMinor: product.priceMinor,
      currency: product.currency,
      outcome: 'requested',
      licenseIds: '[]',
      failureCode: null,
      failureMessage: null,
    }));
    // The order is recorded before the plugin is asked: a crash in between leaves items `requested`, which the
    // idempotent hook can be asked again for, never licenses the host knows nothing about.
    await this.dataSource.transaction(async (em) => {
      await em.getRepository(HostOrderRow).insert(order);
      await em.getRepository(HostOrderItemRow).insert(items);
    });

    const results = await Promise.all(lines.map(({ request }) => this.callOrder(request)));
    const retryAfter = new Map<string, number>();
    const invoiceLines: InvoiceLine[] = [];
    const invoiceId = await this.dataSource.transaction(async (em) => {
      for (const [i, result] of results.entries()) {
        const item = items[i];
        const licenses: HookLicense[] = result.licenses ?? [];
        item.outcome = result.outcome;
        item.licenseIds = JSON.stringify(licenses.map((l) => l.id));
        if (result.outcome === 'failed') {
          item.failureCode = result.code;
          item.failureMessage = result.message;
        } else {
          if (result.outcome === 'pending') retryAfter.set(item.id, result.retryAfterSeconds);
          // Billed: every license the plugin is delivering; one that already failed is not.
          for (const license of licenses) {
            if (license.provisioningStatus === 'Failed') continue;
            invoiceLines.push({
              description: item.productName,
              licenseId: license.id,
              amountMinor: item.unitPriceMinor,
              currency: item.currency,
            });
          }
        }
        await em.getRepository(HostOrderItemRow).update(
          { id: item.id },
          {
            outcome: item.outcome,
            licenseIds: item.licenseIds,
            failureCode: item.failureCode,
            failureMessage: item.failureMessage,
          },
        );
      }
      if (invoiceLines.length === 0) return null;
      return (await issueOrderInvoice(em, order, invoiceLines[0].currency, invoiceLines)).id;
    });
    return orderView(order, items, invoiceId, retryAfter);
  }

  /** The order, if `principal` may see it: its customer, the account billed, that customer's reseller, or admin. */
  async get(principal: EsdPrincipal, orderId: string): Promise<OrderView> {
    const order = await this.dataSource.getRepository(HostOrderRow).findOneBy({ id: orderId });
    if (!order || !(await this.mayView(principal, order)))
      throw hostError(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'No order with this id exists for you.');
    const items = await this.dataSource
      .getRepository(HostOrderItemRow)
      .find({ where: { orderId }, order: { lineNo: 'ASC' } });
    const invoice = await this.dataSource
      .getRepository(HostInvoiceRow)
      .findOneBy({ orderId, type: 'invoice' });
    return orderView(order, items, invoice?.id ?? null, new Map());
  }

  private async mayView(principal: EsdPrincipal, order: HostOrderRow): Promise<boolean> {
    if (principal.role === 'admin') return true;
    const mine = [order.customerAccountId, order.billToAccountId].includes(principal.accountId);
    if (mine || principal.role !== 'reseller') return mine;
    const customer = await this.dataSource
      .getRepository(HostAccountRow)
      .findOneBy({ id: order.customerAccountId });
    return customer?.resellerAccountId === principal.accountId;
  }

  /**
   * The customer account the order is for. A customer orders for itself; a reseller for its own customers
   * (another reseller's customer is "not found", never "not yours"); the admin for anyone.
   */
  private async customerFor(principal: EsdPrincipal, customerAccountId: string): Promise<HostAccountRow> {
    if (principal.role === 'customer' && customerAccountId !== principal.accountId) {
      throw hostError(
        HttpStatus.FORBIDDEN,
        'FORBIDDEN',
        'A customer places orders for its own account only.',
      );
    }
    const customer = await this.dataSource.getRepository(HostAccountRow).findOneBy({ id: customerAccountId });
    if (!customer || (principal.role === 'reseller' && customer.resellerAccountId !== principal.accountId)) {
      throw hostError(
        HttpStatus.NOT_FOUND,
        'ACCOUNT_NOT_FOUND',
        'No customer account with this id exists for you.',
      );
    }
    return customer;
  }

  /** The account billed: the calling reseller by default, else the customer; never a third party. */
  private billTo(principal: EsdPrincipal, customer: HostAccountRow, requested: string | undefined): string {
    if (requested === undefined) return principal.role === 'reseller' ? principal.accountId : customer.id;
    const allowed =
      requested === customer.id ||
      (principal.role !== 'customer' && requested === customer.resellerAccountId);
    if (!allowed) {
      throw hostError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'BILL_TO_NOT_ALLOWED',
        'An order is billed to its customer or to that customer’s reseller.',
      );
    }
    return requested;
  }

  /** What the host itself refuses to sell, before the plugin is asked. */
  private productViolations(
    product: HostProductRow | undefined,
    orderCurrency: string | undefined,
  ): Violation[] {
    if (!product) return [{ code: 'PRODUCT_NOT_FOUND', message: 'No product with this id exists.' }];
    const violations: Violation[] = [];
    if (!PLUGIN_PRODUCT_TYPES.includes(product.productType)) {
      violations.push({
        code: 'PRODUCT_TYPE_NOT_SOLD_HERE',
        message: `${product.name} is a ${product.productType} product; this pipeline sells ${PLUGIN_PRODUCT_TYPES.join(', ')}.`,
      });
    }
    if (!product.sellable) {
      violations.push({
        code: 'PRODUCT_NOT_SELLABLE',
        message: `${product.name} is discontinued: it cannot be sold whatever its flags say.`,
      });
    }
    if (!product.active || !product.published) {
      violations.push({
        code: 'PRODUCT_NOT_ON_SALE',
        message: `${product.name} is not on sale: the provider has not made it active and published.`,
      });
    }
    if (product.priceMinor <= 0) {
      violations.push({
        code: 'PRODUCT_NOT_PRICED',
        message: `${product.name} has no price yet: the provider sets one before it is sold.`,
      });
    }
    if (orderCurrency !== undefined && product.currency !== orderCurrency) {
      violations.push({
        code: 'CURRENCY_MISMATCH',
        message: `${product.name} is priced in ${product.currency}; one order is invoiced in one currency (${orderCurrency}).`,
      });
    }
    return violations;
  }

  /**
   * The `order` hook for one item. The hook answers business outcomes as values; a throw is the plugin failing
   * (its database, its queue), recorded as the item's failure so the rest of the order still completes.
   */
  private async callOrder(request: OrderRequest): Promise<OrderResult> {
    try {
      return await this.hooks.order(request);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`Order item ${request.hostOrderItemId}: the order hook failed: ${message}`);
      return {
        outcome: 'failed',
        code: 'ORDER_HOOK_ERROR',
        message: `The plugin could not take the item: ${message}`,
      };
    }
  }
}

function orderView(
  order: HostOrderRow,
  items: HostOrderItemRow[],
  invoiceId: string | null,
  retryAfter: Map<string, number>,
): OrderView {
  return {
    id: order.id,
    customerAccountId: order.customerAccountId,
    billToAccountId: order.billToAccountId,
    placedBy: { role: order.placedByRole, accountId: order.placedByAccountId },
    createdAt: order.createdAt,
    items: items.map((item) => ({
      id: item.id,
      productId: item.productId,
      instanceId: item.instanceId,
      productCode: item.productCode,
      productName: item.productName,
      quantity: item.quantity,
      unitPrice: { amountMinor: item.unitPriceMinor, currency: item.currency },
      outcome: item.outcome,
      licenseIds: JSON.parse(item.licenseIds) as string[],
      ...(retryAfter.has(item.id) ? { retryAfterSeconds: retryAfter.get(item.id) } : {}),
      failure:
        item.failureCode === null ? null : { code: item.failureCode, message: item.failureMessage ?? '' },
    })),
    invoiceId,
  };
}
