/**
 * The license record after the sale, for the provider, the reseller and the end customer (PostgreSQL, Redis,
 * the CIS sandbox over HTTPS): every field and action of the record as each role sees it, who may see what
 * (enumerated from the router, so a new license route cannot slip past), reveal and resend with their audit
 * events, token status from Microsoft, and keyset pagination under filters.
 */
import { randomInt } from 'node:crypto';
import request from 'supertest';
import { HostNotificationRow } from '../../sandbox/host/host.entities';
import { principalFromRequest } from '../../sandbox/host/principal';
import { AuditEventEntity } from '../../src/common/audit-event.entity';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { EsdPrincipal } from '../../src/host/principal';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { TokenStatusService } from '../../src/licenses/token-status.service';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { licenseRow, orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';

const MARKET = { country: 'GR', language: 'el-GR' };
/** An admin who may read licenses but not reveal or manage them. */
const READ_ONLY_ADMIN = 'admin-readonly';

function principal(req: unknown): EsdPrincipal | undefined {
  const header = (req as { headers: Record<string, string | undefined> }).headers['x-principal'];
  if (header === READ_ONLY_ADMIN) {
    return { role: 'admin', accountId: 'provider', userId: 'auditor', permissions: ['esd.licenses.read'] };
  }
  return principalFromRequest(req);
}

describe('License records (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offers: VendorOffer[];
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const licenses = () => env.dataSource.getRepository(LicenseEntity);
  const offerFor = (quantity: number) =>
    offers.find((o) => o.minQuantity <= quantity && o.maxQuantity >= quantity)!;

  /** The story's accounts: reseller R1 with customers C1 and C2, reseller R2 with C3, and C4 buying directly. */
  const R1 = `r1${randomInt(1e6)}`;
  const R2 = `r2${randomInt(1e6)}`;
  const C1 = `c1${randomInt(1e6)}`;
  const C2 = `c2${randomInt(1e6)}`;
  const C3 = `c3${randomInt(1e6)}`;
  const C4 = `c4${randomInt(1e6)}`;
  let c1Licenses: string[];
  let c3License: string;
  let c4License: string;
  let failedLicense: string;

  async function buy(customer: string, reseller: string | null, quantity: number): Promise<string[]> {
    const base = orderRequest(instance.id, offerFor(quantity), quantity);
    const result = await hooks.order({
      ...base,
      customer: {
        ...base.customer,
        accountId: customer,
        ...(reseller ? { resellerAccountId: reseller } : {}),
      },
      billTo: { accountId: reseller ?? customer },
    });
    if (!('licenses' in result) || !result.licenses) throw new Error(`order: ${JSON.stringify(result)}`);
    return result.licenses.map((l) => l.id);
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: {
        principal,
        orderWaitMs: 15_000,
        jobRetry: { attempts: 3, baseMs: 50, maxMs: 200 },
      },
    });
    hooks = env.app.get(EsdHooksService);
    instance = await readyInstance({}, MARKET);
    offers = (await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 20)).filter(
      (o) => o.status === 'Active',
    );
    c1Licenses = await buy(C1, R1, 2);
    [c3License] = await buy(C3, R2, 1);
    [c4License] = await buy(C4, null, 1);
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 400,
      code: 'InvalidRequest',
      times: 1,
    });
    [failedLicense] = await buy(C2, R1, 1);
  }, 90_000);

  afterAll(async () => {
    await env?.close();
  });

  describe('the record as each role sees it', () => {
    it('admin: every field, the client transaction id, and the admin’s actions', async () => {
      const row = await licenses().findOneByOrFail({ id: c1Licenses[0] });
      const res = await call('get', `/esd/licenses/${row.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: row.id,
        instanceId: instance.id,
        productCode: row.productCode,
        productName: row.productName,
        customerAccountId: C1,
        customerName: row.customerName,
        billToAccountId: R1,
        resellerAccountId: R1,
        status: 'active',
        hostOrderId: row.hostOrderId,
        hostOrderItemId: row.hostOrderItemId,
        unitIndex: 0,
        purchaseDate: row.purchaseDate.toISOString(),
        price: { amountMinor: 14900, currency: 'EUR' },
        provisioningStatus: 'Synchronized',
        provisioningError: null,
        tokenMasked: `*****-*****-*****-*****-${row.tokenLastGroup}`,
        tokenStatus: 'Activated',
        tokenStatusCheckedAt: row.tokenStatusCheckedAt!.toISOString(),
        redeemedAt: null,
        returnStatus: 'None',
        returnReason: null,
        actions: ['reveal', 'resend', 'refresh-status', 'cancel'],
        clientTransactionId: row.clientTransactionId,
      });
    });

    it('admin without reveal or manage permissions: no such actions, and reveal is refused', async () => {
      const res = await call('get', `/esd/licenses/${c1Licenses[0]}`, undefined, READ_ONLY_ADMIN);
      expect(res.status).toBe(200);
      expect(res.body.actions).toEqual([]);
      const reveal = await call('post', `/esd/licenses/${c1Licenses[0]}/reveal`, undefined, READ_ONLY_ADMIN);
      expect(reveal.status).toBe(403);
      expect(reveal.body.code).toBe(EsdErrorCode.FORBIDDEN);
    });

    it('a failed license shows the reason and offers re-sync, not reveal', async () => {
      const res = await call('get', `/esd/licenses/${failedLicense}`);
      expect(res.body).toMatchObject({
        provisioningStatus: 'Failed',
        provisioningError: { code: 'InvalidRequest', message: expect.stringMatching(/refused/) },
        tokenMasked: null,
        tokenStatus: null,
        actions: ['resync'],
      });
      const reveal = await call('post', `/esd/licenses/${failedLicense}/reveal`);
      expect(reveal.status).toBe(409);
      expect(reveal.body.code).toBe(EsdErrorCode.LICENSE_NOT_PROVISIONED);
    });

    it('end customer: their own record, masked, without the transaction id, may reveal', async () => {
      const res = await call('get', `/esd/my/licenses/${c1Licenses[1]}`, undefined, `customer:${C1}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: c1Licenses[1],
        customerAccountId: C1,
        provisioningStatus: 'Synchronized',
        actions: ['reveal', 'request-cancellation'],
      });
      expect(res.body).not.toHaveProperty('clientTransactionId');
      expect(res.body.tokenMasked).toMatch(/^\*{5}-\*{5}-\*{5}-\*{5}-[0-9A-Z]{5}$/);
    });

    it('reseller: its customers’ licenses and those billed to it; never another reseller’s', async () => {
      const mine = await call('get', '/esd/my/licenses?limit=500', undefined, `reseller:${R1}`);
      expect(mine.status).toBe(200);
      const ids = (mine.body.items as Json[]).map((l) => l.id as string).sort();
      expect(ids).toEqual([...c1Licenses, failedLicense].sort());
      const c4 = await call('get', '/esd/my/licenses', undefined, `customer:${C4}`);
      expect((c4.body.items as Json[]).map((l) => l.id)).toEqual([c4License]);
    });

    it('roles on the wrong routes: 403; no principal: 401', async () => {
      expect((await call('get', '/esd/licenses', undefined, `customer:${C1}`)).status).toBe(403);
      expect((await call('get', '/esd/my/licenses', undefined, 'admin')).status).toBe(403);
      expect((await call('get', '/esd/my/licenses', undefined, '')).status).toBe(401);
    });
  });

  describe('who sees what, for every license route', () => {
    /** Every route of the plugin with a license id in its path, read from the Express router. */
    function licenseRoutes(): Array<{ method: string; path: string }> {
      const express = env.app.getHttpAdapter().getInstance() as unknown as {
        router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
      };
      return express.router.stack
        .flatMap((layer) =>
          layer.route
            ? Object.keys(layer.route.methods).map((method) => ({ method, path: layer.route!.path }))
            : [],
        )
        .filter((r) => /\/licenses\/:id/.test(r.path));
    }

    it('enumerates the license routes it checks', () => {
      const routes = licenseRoutes().map((r) => `${r.method.toUpperCase()} ${r.path}`);
      expect(routes).toEqual(
        expect.arrayContaining([
          'GET /esd/licenses/:id',
          'POST /esd/licenses/:id/reveal',
          'GET /esd/my/licenses/:id',
          'POST /esd/my/licenses/:id/reveal',
        ]),
      );
    });

    it('another customer, or another reseller, gets exactly what a license that does not exist gets', async () => {
      const routes = licenseRoutes();
      expect(routes.length).toBeGreaterThanOrEqual(6);
      const outsiders = [`customer:${C3}`, `reseller:${R2}`];
      for (const route of routes) {
        for (const who of outsiders) {
          const send = (id: string) => {
            const agent = request(env.app.getHttpServer());
            const method = route.method as 'get' | 'post' | 'delete';
            const req = agent[method](route.path.replace(':id', id)).set('x-principal', who);
            return route.method === 'get' ? req : req.send({});
          };
          const theirs = await send(c1Licenses[0]);
          const missing = await send(newId());
          const label = `${route.method.toUpperCase()} ${route.path} as ${who}`;
          expect({ label, status: theirs.status, code: theirs.body.code }).toEqual({
            label,
            status: missing.status,
            code: missing.body.code,
          });
          expect([403, 404]).toContain(theirs.status);
          if (route.path.includes('/my/'))
            expect({ label, status: theirs.status }).toEqual({ label, status: 404 });
        }
      }
      // And the owner gets through where the outsiders did not.
      expect((await call('get', `/esd/my/licenses/${c3License}`, undefined, `customer:${C3}`)).status).toBe(
        200,
      );
    });
  });

  describe('reveal and resend', () => {
    it('reveal: the full key and link, exactly one audit event; masked views never carry them', async () => {
      const id = c1Licenses[0];
      const audits = () =>
        env.dataSource.getRepository(AuditEventEntity).countBy({ subjectId: id, action: 'license.reveal' });
      const before = await audits();
      const res = await call('post', `/esd/my/licenses/${id}/reveal`, undefined, `customer:${C1}`);
      expect(res.status).toBe(200);
      expect(res.body.licenseId).toBe(id);
      expect(res.body.productKey).toMatch(/^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$/);
      const row = await licenses().findOneByOrFail({ id });
      expect(new URL(res.body.activationLink as string).searchParams.get('ctid')).toBe(
        row.clientTransactionId,
      );
      expect(await audits()).toBe(before + 1);
      const event = await env.dataSource
        .getRepository(AuditEventEntity)
        .findOneByOrFail({ subjectId: id, action: 'license.reveal' });
      expect(event).toMatchObject({ actorRole: 'customer', actorAccountId: C1 });
      const trail = await call('get', `/esd/licenses/${id}/audit`);
      expect(trail.status).toBe(200);
      expect(trail.body.items[0]).toMatchObject({
        action: 'license.reveal',
        actor: { role: 'customer', accountId: C1 },
      });
      expect(trail.text.includes(res.body.productKey as string)).toBe(false);

      const { productKey, activationLink } = res.body as { productKey: string; activationLink: string };
      const views = [
        await call('get', `/esd/licenses/${id}`),
        await call('get', '/esd/licenses?limit=500'),
        await call('get', `/esd/my/licenses/${id}`, undefined, `customer:${C1}`),
        await call('get', '/esd/my/licenses', undefined, `reseller:${R1}`),
        await call('post', `/esd/licenses/${id}/refresh-status`),
      ];
      for (const view of views) {
        expect(view.status).toBe(200);
        expect(view.text.includes(productKey)).toBe(false);
        expect(view.text.includes(activationLink)).toBe(false);
      }
      const hookView = JSON.stringify(await hooks.status(id));
      expect(hookView.includes(productKey)).toBe(false);
    });

    it('resend: the welcome notification again, under a new dedupe key, audited', async () => {
      const id = c4License;
      const welcomes = async () =>
        (await env.dataSource.getRepository(HostNotificationRow).findBy({ template: 'esd.welcome' })).filter(
          (n) => (JSON.parse(n.data) as { licenseId: string }).licenseId === id,
        );
      expect(await welcomes()).toHaveLength(1);
      const res = await call('post', `/esd/licenses/${id}/resend`);
      expect(res.status).toBe(200);
      const sent = await welcomes();
      expect(sent).toHaveLength(2);
      expect(new Set(sent.map((n) => n.dedupeKey)).size).toBe(2);
      const [first, second] = sent.map((n) => JSON.parse(n.data) as { productKey: string });
      expect(second.productKey === first.productKey).toBe(true);
      expect(
        await env.dataSource
          .getRepository(AuditEventEntity)
          .countBy({ subjectId: id, action: 'license.resend' }),
      ).toBe(1);
      expect((await call('post', `/esd/licenses/${failedLicense}/resend`)).status).toBe(409);
    });
  });

  describe('token status', () => {
    it('a token redeemed at the sandbox shows Redeemed after the scheduled status sync', async () => {
      const id = c1Licenses[1];
      const row = await licenses().findOneByOrFail({ id });
      await sandboxControl(env.sandbox, 'post', `/__sandbox/tokens/${row.clientTransactionId}/redeem`);
      expect((await call('get', `/esd/licenses/${id}`)).body.tokenStatus).toBe('Activated');

      const result = await env.app.get(TokenStatusService).syncActivated();
      expect(result.redeemed).toContain(id);
      const after = await call('get', `/esd/licenses/${id}`);
      expect(after.body.tokenStatus).toBe('Redeemed');
      expect(Date.parse(after.body.redeemedAt as string)).not.toBeNaN();
      // Redeemed tokens are no longer asked about.
      expect((await env.app.get(TokenStatusService).syncActivated()).redeemed).not.toContain(id);
    });

    it('refresh-status asks Microsoft now, for one license', async () => {
      const row = await licenses().findOneByOrFail({ id: c3License });
      await sandboxControl(env.sandbox, 'post', `/__sandbox/tokens/${row.clientTransactionId}/redeem`);
      const res = await call('post', `/esd/licenses/${c3License}/refresh-status`);
      expect(res.status).toBe(200);
      expect(res.body.tokenStatus).toBe('Redeemed');
    });
  });

  describe('pagination over 1,000 licenses', () => {
    const PAGE_CUSTOMERS = ['pg-a', 'pg-b', 'pg-c'];
    const PAGE_RESELLER = `pg-r${randomInt(1e6)}`;
    const DAYS = ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'];
    let rows: Array<Partial<LicenseEntity>>;

    beforeAll(async () => {
      const suffix = randomInt(1e6).toString();
      rows = Array.from({ length: 1000 }, (_, i) =>
        licenseRow(instance.id, {
          customerAccountId: `${PAGE_CUSTOMERS[i % 3]}-${suffix}`,
          billToAccountId: i % 2 === 0 ? PAGE_RESELLER : `${PAGE_CUSTOMERS[i % 3]}-${suffix}`,
          resellerAccountId: i % 2 === 0 ? PAGE_RESELLER : null,
          productCode: `PG-OFFER-${i % 4}`,
          status: i % 7 === 0 ? 'cancelled' : 'active',
          provisioningStatus: (['Synchronized', 'Unsynchronised', 'Failed'] as const)[
            i % 3 === 0 ? 0 : (i % 5) % 3
          ],
          tokenStatus: i % 3 === 0 ? (i % 2 === 0 ? 'Redeemed' : 'Activated') : null,
          // Many licenses share a purchase date: the id breaks the tie.
          purchaseDate: new Date(DAYS[i % 3]),
        }),
      );
      for (let i = 0; i < rows.length; i += 200) await licenses().insert(rows.slice(i, i + 200));
    });

    /** Every id a list gives, following the cursor; fails on a repeated id. */
    async function walk(path: string, who = 'admin', limit = 37): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const sep = path.includes('?') ? '&' : '?';
        const res: request.Response = await call(
          'get',
          `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
          undefined,
          who,
        );
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        ids.push(...(res.body.items as Json[]).map((l) => l.id as string));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(new Set(ids).size).toBe(ids.length);
      return ids;
    }

    const customer = (i: number) => rows[i].customerAccountId!;
    const combos: Array<[string, Record<string, string>, (r: Partial<LicenseEntity>) => boolean]> = [
      ['offer only', { offerId: 'PG-OFFER-1' }, (r) => r.productCode === 'PG-OFFER-1'],
      [
        'status + offer',
        { status: 'cancelled', offerId: 'PG-OFFER-2' },
        (r) => r.status === 'cancelled' && r.productCode === 'PG-OFFER-2',
      ],
      [
        'provisioning + token status',
        { provisioningStatus: 'Synchronized', tokenStatus: 'Redeemed' },
        (r) => r.provisioningStatus === 'Synchronized' && r.tokenStatus === 'Redeemed',
      ],
      ['customer', { customerAccountId: 'CUSTOMER_0' }, (r) => r.customerAccountId === customer(0)],
      [
        'purchase date range + offer',
        { purchasedFrom: DAYS[1], purchasedTo: DAYS[2], offerId: 'PG-OFFER-3' },
        (r) => r.purchaseDate!.getTime() === Date.parse(DAYS[1]) && r.productCode === 'PG-OFFER-3',
      ],
    ];

    it.each(combos)(
      'admin, %s: each license exactly once, newest first',
      async (_name, filters, expected) => {
        const query = new URLSearchParams(
          Object.fromEntries(
            Object.entries(filters).map(([k, v]) => [k, v === 'CUSTOMER_0' ? customer(0) : v]),
          ),
        ).toString();
        const ids = await walk(`/esd/licenses?${query}`);
        // Every license in the database that matches, the story's own included.
        const all = await licenses().find();
        const want = all.filter(expected).map((r) => r.id);
        expect(want.length).toBeGreaterThan(0);
        expect([...ids].sort()).toEqual([...want].sort());
        const byId = new Map(all.map((r) => [r.id, r.purchaseDate.getTime()]));
        const dates = ids.map((id) => byId.get(id)!);
        expect(dates).toEqual([...dates].sort((a, b) => b - a));
      },
    );

    it('storefront: the reseller walks its 500 licenses, a customer its own, each exactly once', async () => {
      const resellerIds = await walk('/esd/my/licenses', `reseller:${PAGE_RESELLER}`, 50);
      expect([...resellerIds].sort()).toEqual(
        rows
          .filter((r) => r.billToAccountId === PAGE_RESELLER)
          .map((r) => r.id!)
          .sort(),
      );
      const customerIds = await walk(`/esd/my/licenses?status=active`, `customer:${customer(1)}`, 23);
      expect([...customerIds].sort()).toEqual(
        rows
          .filter((r) => r.customerAccountId === customer(1) && r.status === 'active')
          .map((r) => r.id!)
          .sort(),
      );
    });

    it('bad filters and cursors: 400 with the field named', async () => {
      for (const query of ['status=gone', 'purchasedFrom=yesterday', 'limit=0', 'limit=501', 'cursor=xyz']) {
        const res = await call('get', `/esd/licenses?${query}`);
        expect({ query, status: res.status, code: res.body.code }).toEqual({
          query,
          status: 400,
          code: EsdErrorCode.VALIDATION_FAILED,
        });
      }
    });
  });
});
