/**
 * The reference host's order pipeline and billing end to end on PostgreSQL and Redis, against the CIS sandbox
 * over real HTTPS: `POST /host/orders` checking what the host owns, asking the plugin's `precheck` and `order`
 * hooks, and issuing the invoice; `licenseCancelled` turned into one credit note however often it arrives; who
 * sees which order and invoice. What the plugin made is read from its tables, never from the host's answer alone.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  HOST_ENTITIES,
  HostEventRow,
  HostInvoiceLineRow,
  HostInvoiceRow,
  HostOrderItemRow,
  HostOrderRow,
} from '../../sandbox/host/host.entities';
import { ReferenceHostEvents } from '../../sandbox/host/host-ports';
import type { InvoiceView } from '../../sandbox/host/invoices';
import { HOST_MIGRATIONS } from '../../sandbox/host/migrations';
import type { OrderView } from '../../sandbox/host/order-pipeline';
import type { HostEvent } from '../../src/host/ports';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../support/databases';
import { instanceHelpers, type Json } from '../support/instances';
import { pushToHostCatalog, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';

const MARKET = { country: 'GR', language: 'el-GR' };
const PRICE = 14900;

describe('Reference host: orders, invoices and credit notes (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let instance: Json;
  let offers: VendorOffer[];
  /** Host product id by offer id. */
  const productOf = new Map<string, string>();
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const reseller = `R-${randomBytes(4).toString('hex')}`;
  const otherReseller = `R-${randomBytes(4).toString('hex')}`;
  let customer: string;
  let othersCustomer: string;

  const asReseller = `reseller:${reseller}`;
  const counts = async () => ({
    orders: await env.dataSource.getRepository(HostOrderRow).count(),
    items: await env.dataSource.getRepository(HostOrderItemRow).count(),
    invoices: await env.dataSource.getRepository(HostInvoiceRow).count(),
    licenses: await env.dataSource.getRepository(LicenseEntity).count(),
  });
  /** An active offer selling `quantity` at a time, other than `not`. */
  const offerFor = (quantity: number, not: VendorOffer[] = []) =>
    offers.find(
      (o) =>
        o.status === 'Active' && o.minQuantity <= quantity && o.maxQuantity >= quantity && !not.includes(o),
    )!;

  async function putOnSale(offer: VendorOffer, priceMinor = PRICE): Promise<string> {
    const productId = productOf.get(offer.offerId)!;
    const res = await call(
      'patch',
      `/host/products/${productId}`,
      { active: true, published: true, priceMinor },
      'admin',
    );
    expect(res.status).toBe(200);
    return productId;
  }

  async function account(who: string, name: string): Promise<string> {
    const res = await call(
      'post',
      '/host/accounts',
      { name, email: `${randomBytes(4).toString('hex')}@example.test`, country: 'GR', locale: 'el-GR' },
      who,
    );
    expect(res.status).toBe(201);
    return (res.body as { accountId: string }).accountId;
  }

  async function invoicesOf(who: string, query = ''): Promise<InvoiceView[]> {
    const res = await call('get', `/host/invoices?limit=500${query}`, undefined, who);
    expect(res.status).toBe(200);
    return (res.body as { items: InvoiceView[] }).items;
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: { orderWaitMs: 15_000, jobRetry: { attempts: 5, baseMs: 50, maxMs: 200 } },
    });
    instance = await readyInstance({}, MARKET);
    offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 12);
    // The products a Get Services Definition run would push, through the host's own catalog port.
    for (const [code, id] of await pushToHostCatalog(env.dataSource, instance.id, offers))
      productOf.set(code, id);
    customer = await account(asReseller, 'Μαρία Παπαδοπούλου');
    othersCustomer = await account(`reseller:${otherReseller}`, 'Νίκος Γεωργίου');
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  afterEach(async () => {
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
  });

  it('a reseller orders 3 for its customer: 201, done, 3 licenses, and one invoice of 3 lines at the price', async () => {
    const offer = offerFor(3);
    const productId = await putOnSale(offer);
    const before = await counts();

    const res = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, items: [{ productId, quantity: 3 }] },
      asReseller,
    );
    expect(res.status).toBe(201);
    const order = res.body as OrderView;
    expect(order).toMatchObject({
      customerAccountId: customer,
      billToAccountId: reseller,
      placedBy: { role: 'reseller', accountId: reseller },
    });
    expect(order.items).toHaveLength(1);
    const [item] = order.items;
    expect(item).toMatchObject({
      productId,
      instanceId: instance.id,
      productCode: offer.offerId,
      quantity: 3,
      unitPrice: { amountMinor: PRICE, currency: 'EUR' },
      outcome: 'done',
      failure: null,
    });
    expect(new Set(item.licenseIds).size).toBe(3);

    // The plugin made exactly these licenses, for this order item, at the host's price.
    const licenses = await env.dataSource
      .getRepository(LicenseEntity)
      .find({ where: { hostOrderId: order.id }, order: { unitIndex: 'ASC' } });
    expect(licenses.map((l) => l.id)).toEqual(item.licenseIds);
    for (const license of licenses) {
      expect(license).toMatchObject({
        hostOrderItemId: item.id,
        customerAccountId: customer,
        billToAccountId: reseller,
        resellerAccountId: reseller,
        priceAmountMinor: PRICE,
        priceCurrency: 'EUR',
        provisioningStatus: 'Synchronized',
      });
    }

    // One invoice, billed to the reseller: a line per license, the product's name and price.
    expect((await counts()).invoices - before.invoices).toBe(1);
    const invoices = (await invoicesOf(asReseller, '&type=invoice')).filter((i) => i.orderId === order.id);
    expect(invoices).toHaveLength(1);
    const [invoice] = invoices;
    expect(order.invoiceId).toBe(invoice.id);
    expect(invoice).toMatchObject({
      type: 'invoice',
      accountId: reseller,
      currency: 'EUR',
      totalMinor: 3 * PRICE,
    });
    expect(invoice.lines).toHaveLength(3);
    expect(invoice.lines.map((l) => l.licenseId).sort()).toEqual([...item.licenseIds].sort());
    for (const line of invoice.lines) {
      expect(line).toMatchObject({ description: offer.name, amountMinor: PRICE, currency: 'EUR' });
    }

    // The order reads back the same; its customer sees it, another customer does not.
    const read = await call('get', `/host/orders/${order.id}`, undefined, `customer:${customer}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(order);
    expect(
      (await call('get', `/host/orders/${order.id}`, undefined, `customer:${othersCustomer}`)).status,
    ).toBe(404);
    expect(
      (await call('get', `/host/orders/${order.id}`, undefined, `reseller:${otherReseller}`)).status,
    ).toBe(404);
    expect((await call('get', `/host/orders/${order.id}`, undefined, 'admin')).status).toBe(200);

    // The invoice is the reseller's: not its customer's, not another reseller's; the admin sees it.
    expect((await invoicesOf(`customer:${customer}`)).map((i) => i.id)).not.toContain(invoice.id);
    expect((await invoicesOf(`reseller:${otherReseller}`)).map((i) => i.id)).not.toContain(invoice.id);
    expect((await invoicesOf('admin', `&accountId=${reseller}`)).map((i) => i.id)).toContain(invoice.id);
  });

  it('a customer orders for itself and is billed; an item whose hook failed is left off the invoice', async () => {
    const offer = offerFor(1);
    const productId = await putOnSale(offer);
    const ok = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, items: [{ productId, quantity: 1 }] },
      `customer:${customer}`,
    );
    expect(ok.status).toBe(201);
    expect((ok.body as OrderView).billToAccountId).toBe(customer);
    const mine = await invoicesOf(`customer:${customer}`);
    expect(mine.filter((i) => i.orderId === (ok.body as OrderView).id)).toMatchObject([
      { accountId: customer, totalMinor: PRICE, lines: [{ amountMinor: PRICE }] },
    ]);
    // The reseller sees its customer's invoice too.
    expect((await invoicesOf(asReseller)).map((i) => i.id)).toContain((ok.body as OrderView).invoiceId);

    // Microsoft refuses the token for good: the item fails, nothing is billed.
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 400,
      code: 'InvalidRequest',
      times: 1,
    });
    const before = await counts();
    const failed = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, items: [{ productId, quantity: 1 }] },
      asReseller,
    );
    expect(failed.status).toBe(201);
    const order = failed.body as OrderView;
    expect(order.items[0]).toMatchObject({
      outcome: 'failed',
      failure: { code: 'InvalidRequest' },
    });
    expect(order.items[0].licenseIds).toHaveLength(1);
    expect(order.invoiceId).toBeNull();
    const after = await counts();
    expect(after.invoices).toBe(before.invoices);
    expect(after.orders - before.orders).toBe(1);
    const stored = await env.dataSource
      .getRepository(HostOrderItemRow)
      .findOneByOrFail({ id: order.items[0].id });
    expect(stored).toMatchObject({ outcome: 'failed', failureCode: 'InvalidRequest' });
  });

  it('a precheck violation (quantity above the offer’s max): 422 per item, and nothing written anywhere', async () => {
    const offer = offerFor(1);
    const productId = await putOnSale(offer);
    const before = await counts();
    const res = await call(
      'post',
      '/host/orders',
      {
        customerAccountId: customer,
        items: [
          { productId, quantity: 1 },
          { productId, quantity: offer.maxQuantity + 1 },
        ],
      },
      asReseller,
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ statusCode: 422, code: 'ORDER_REFUSED' });
    expect(res.body.details.items).toEqual([
      {
        index: 1,
        productId,
        violations: [expect.objectContaining({ code: 'QUANTITY_OUT_OF_RANGE' })],
      },
    ]);
    expect(await counts()).toEqual(before);
  });

  it('a product the provider has not put on sale: the host’s own 422, and nothing written', async () => {
    const onSale = await putOnSale(offerFor(1));
    // An offer no other test puts on sale: its product is as the catalog pushed it (inactive, unpublished, 0).
    const hidden = [...offers]
      .reverse()
      .find((o) => o.status === 'Active' && o.minQuantity === 1 && o !== offerFor(1) && o !== offerFor(3))!;
    const hiddenId = productOf.get(hidden.offerId)!;
    const before = await counts();
    const res = await call(
      'post',
      '/host/orders',
      {
        customerAccountId: customer,
        items: [
          { productId: onSale, quantity: 1 },
          { productId: hiddenId, quantity: 1 },
          { productId: 'no-such-product', quantity: 1 },
        ],
      },
      asReseller,
    );
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('ORDER_REFUSED');
    const refused = res.body.details.items as Array<{ index: number; violations: Array<{ code: string }> }>;
    expect(refused.map((r) => r.index)).toEqual([1, 2]);
    expect(refused[0].violations.map((v) => v.code)).toEqual(['PRODUCT_NOT_ON_SALE', 'PRODUCT_NOT_PRICED']);
    expect(refused[1].violations.map((v) => v.code)).toEqual(['PRODUCT_NOT_FOUND']);
    expect(await counts()).toEqual(before);
  });

  it('a malformed body: 400 with a code, and nothing written', async () => {
    const productId = await putOnSale(offerFor(1));
    const before = await counts();
    const bodies: unknown[] = [
      {},
      { customerAccountId: customer },
      { customerAccountId: customer, items: [] },
      { customerAccountId: customer, items: [{ productId, quantity: 0 }] },
      { customerAccountId: customer, items: [{ productId, quantity: '3' }] },
      { customerAccountId: customer, items: [{ productId, quantity: 1.5 }] },
      { customerAccountId: customer, items: [{ productId }] },
      { customerAccountId: customer, items: [{ productId, quantity: 1, price: 1 }] },
      { customerAccountId: customer, items: [{ productId, quantity: 1 }], discount: 50 },
      { customerAccountId: customer, items: ['x'] },
      { customerAccountId: 7, items: [{ productId, quantity: 1 }] },
    ];
    for (const body of bodies) {
      const res = await call('post', '/host/orders', body, asReseller);
      expect({ body, status: res.status, code: res.body.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect((await call('post', '/host/orders', { customerAccountId: customer, items: [] }, '')).status).toBe(
      401,
    );
    expect(await counts()).toEqual(before);
  });

  it('who may order for whom: a customer for another → 403, a reseller for another’s customer → 404', async () => {
    const productId = await putOnSale(offerFor(1));
    const item = [{ productId, quantity: 1 }];
    const before = await counts();
    const asOtherCustomer = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, items: item },
      `customer:${othersCustomer}`,
    );
    expect(asOtherCustomer.status).toBe(403);
    expect(asOtherCustomer.body.code).toBe('FORBIDDEN');
    const notMyCustomer = await call(
      'post',
      '/host/orders',
      { customerAccountId: othersCustomer, items: item },
      asReseller,
    );
    expect(notMyCustomer.status).toBe(404);
    expect(notMyCustomer.body.code).toBe('ACCOUNT_NOT_FOUND');
    const unknown = await call('post', '/host/orders', { customerAccountId: 'nobody', items: item }, 'admin');
    expect(unknown.status).toBe(404);
    const thirdParty = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, billToAccountId: othersCustomer, items: item },
      asReseller,
    );
    expect(thirdParty.status).toBe(422);
    expect(thirdParty.body.code).toBe('BILL_TO_NOT_ALLOWED');
    expect(await counts()).toEqual(before);
  });

  it('licenseCancelled published twice (and twice at once): one credit note for the credit', async () => {
    const offer = offerFor(1);
    const productId = await putOnSale(offer);
    const placed = await call(
      'post',
      '/host/orders',
      { customerAccountId: customer, items: [{ productId, quantity: 1 }] },
      asReseller,
    );
    expect(placed.status).toBe(201);
    const order = placed.body as OrderView;
    const [licenseId] = order.items[0].licenseIds;
    const event: HostEvent<'licenseCancelled'> = {
      id: `licenseCancelled:${licenseId}`,
      name: 'licenseCancelled',
      occurredAt: new Date().toISOString(),
      payload: {
        licenseId,
        hostOrderId: order.id,
        accountId: reseller,
        credit: { amountMinor: PRICE, currency: 'EUR' },
      },
    };
    const events = new ReferenceHostEvents(env.dataSource);
    await Promise.all([events.publish(event), events.publish(event)]);
    await events.publish(event);

    expect(await env.dataSource.getRepository(HostEventRow).countBy({ id: event.id })).toBe(1);
    const notes = (await invoicesOf(asReseller, '&type=credit-note')).filter((n) => n.orderId === order.id);
    expect(notes).toEqual([
      {
        id: expect.any(String),
        type: 'credit-note',
        accountId: reseller,
        orderId: order.id,
        lines: [{ description: `Cancelled: ${offer.name}`, licenseId, amountMinor: PRICE, currency: 'EUR' }],
        totalMinor: PRICE,
        currency: 'EUR',
        createdAt: expect.any(String),
      },
    ]);
    // The type filter keeps the two kinds apart.
    const invoices = await invoicesOf(asReseller, '&type=invoice');
    expect(invoices.every((i) => i.type === 'invoice')).toBe(true);
    expect(invoices.map((i) => i.id)).toContain(order.invoiceId);
    expect(invoices.map((i) => i.id)).not.toContain(notes[0].id);
  });

  it('GET /host/invoices pages with the host’s cursor, refuses limits outside 1–500 and foreign cursors', async () => {
    const all = await invoicesOf('admin');
    expect(all.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(
        'get',
        `/host/invoices?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        'admin',
      );
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(1);
      seen.push(...(res.body.items as InvoiceView[]).map((i) => i.id));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual(all.map((i) => i.id));
    for (const query of ['limit=0', 'limit=501', 'cursor=bm90LW91cnM', 'type=refund', 'extra=1']) {
      const res = await call('get', `/host/invoices?${query}`, undefined, 'admin');
      expect({ query, status: res.status, code: res.body.code }).toEqual({
        query,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect((await call('get', '/host/invoices', undefined, '')).status).toBe(401);
  });
});

describe.each(DATABASE_KINDS)('reference host migrations on %s', (kind) => {
  let db: TestDatabase;
  let ds: DataSource;
  const BASE_TABLES = [
    'host_account',
    'host_event',
    'host_notification',
    'host_product',
    'host_product_type',
  ];
  const ORDER_TABLES = ['host_invoice', 'host_invoice_line', 'host_order', 'host_order_item'];

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    ds = new DataSource({ ...db.dataSourceOptions, entities: HOST_ENTITIES, migrations: HOST_MIGRATIONS });
    await ds.initialize();
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  /** Which of the host's tables exist (asked by name: the server holds other schemas' tables too). */
  async function hostTables(): Promise<string[]> {
    const qr = ds.createQueryRunner();
    try {
      const present: string[] = [];
      for (const name of [...BASE_TABLES, ...ORDER_TABLES]) if (await qr.hasTable(name)) present.push(name);
      return present.sort();
    } finally {
      await qr.release();
    }
  }

  it('go up, down one at a time and up again; every entity column maps onto a migrated column', async () => {
    await ds.runMigrations({ transaction: 'each' });
    expect(await hostTables()).toEqual([...BASE_TABLES, ...ORDER_TABLES].sort());
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await hostTables()).toEqual(BASE_TABLES);
    await ds.runMigrations({ transaction: 'each' });
    expect(await hostTables()).toEqual([...BASE_TABLES, ...ORDER_TABLES].sort());

    const qr = ds.createQueryRunner();
    try {
      for (const entity of HOST_ENTITIES) {
        const metadata = ds.getMetadata(entity);
        const table = await qr.getTable(metadata.tableName);
        const migrated = (table?.columns ?? []).map((c) => `${c.name}${c.isNullable ? '?' : ''}`).sort();
        const mapped = metadata.columns.map((c) => `${c.databaseName}${c.isNullable ? '?' : ''}`).sort();
        expect({ table: metadata.tableName, columns: mapped }).toEqual({
          table: metadata.tableName,
          columns: migrated,
        });
      }
      const item = await qr.getTable('host_order_item');
      expect(item?.foreignKeys.map((fk) => `${fk.columnNames.join()}:${fk.onDelete ?? ''}`)).toEqual([
        'order_id:CASCADE',
      ]);
    } finally {
      await qr.release();
    }

    // A total beyond 2^31 minor units reads back as the number it was.
    await ds.getRepository(HostInvoiceRow).insert({
      id: 'inv-big',
      type: 'invoice',
      accountId: 'A1',
      orderId: null,
      sourceKey: 'order:big',
      totalMinor: 5_000_000_000,
      currency: 'EUR',
      createdAt: new Date().toISOString(),
    });
    await ds.getRepository(HostInvoiceLineRow).insert({
      id: 'line-big',
      invoiceId: 'inv-big',
      lineNo: 0,
      description: 'x',
      licenseId: null,
      amountMinor: 1,
      currency: 'EUR',
    });
    expect((await ds.getRepository(HostInvoiceRow).findOneByOrFail({ id: 'inv-big' })).totalMinor).toBe(
      5_000_000_000,
    );
    await expect(
      ds.getRepository(HostInvoiceRow).insert({
        id: 'inv-again',
        type: 'invoice',
        accountId: 'A1',
        orderId: null,
        sourceKey: 'order:big',
        totalMinor: 1,
        currency: 'EUR',
        createdAt: new Date().toISOString(),
      }),
    ).rejects.toThrow();
  });
});
