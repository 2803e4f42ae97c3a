/**
 * The license record after the sale, for the provider, the reseller and the end customer (PostgreSQL, Redis,
 * the CIS sandbox over HTTPS): every field and action of the record as each role sees it, who may see what
 * (enumerated from the router, so a new license route cannot slip past), reveal and resend with their audit
 * events, token status from Microsoft, and keyset pagination under filters.
 */
import { randomInt } from 'node:crypto';
import request from 'supertest';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { HostNotificationRow } from '../../sandbox/host/host.entities';
import { principalFromRequest } from '../../sandbox/host/principal';
import { AuditEventEntity } from '../../src/common/audit-event.entity';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { EsdPrincipal } from '../../src/host/principal';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { TokenStatusService, type TokenStatusSyncResult } from '../../src/licenses/token-status.service';
import { TOKEN_STATUS_SYNC_JOB } from '../../src/constants';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { licenseRow, orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';
import { asCustomer, asReseller, withParties } from '../support/roles';
import { redeemSandboxToken, sandboxControl, sandboxStats } from '../support/sandbox-control';

const MARKET = { country: 'GR', language: 'el-GR' };
/** An admin who may read licenses but not reveal or manage them. */
const READ_ONLY_ADMIN = 'admin-readonly';
/** The sandbox's stats label of the token status route. */
const STATUS_ROUTE = 'POST /channels/:channelId/tokens/status';

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

  /**
   * The story's accounts: reseller R1 with customers C1 and C2 (billed to R1) and C5 (billed to C5 itself), and
   * C6 whose license R1 pays for without having sold it; reseller R2 with C3; and C4 buying directly.
   */
  const R1 = `r1${randomInt(1e6)}`;
  const R2 = `r2${randomInt(1e6)}`;
  const C1 = `c1${randomInt(1e6)}`;
  const C2 = `c2${randomInt(1e6)}`;
  const C3 = `c3${randomInt(1e6)}`;
  const C4 = `c4${randomInt(1e6)}`;
  const C5 = `c5${randomInt(1e6)}`;
  const C6 = `c6${randomInt(1e6)}`;
  let c1Licenses: string[];
  let c3License: string;
  let c4License: string;
  /** Sold by R1, billed to the customer: R1 sees it only as its reseller (`resellerAccountId`). */
  let c5License: string;
  /** Billed to R1, with no reseller on the order: R1 sees it only as its Bill-To account. */
  let c6License: string;
  let failedLicense: string;

  /** `quantity` licenses for `customer`, sold by `reseller`, billed to `billTo` (default the reseller, else the customer). */
  async function buy(
    customer: string,
    reseller: string | null,
    quantity: number,
    billTo?: string,
  ): Promise<string[]> {
    const base = orderRequest(instance.id, offerFor(quantity), quantity);
    const result = await hooks.order(withParties(base, { customer, reseller, billTo }));
    if (!('licenses' in result) || !result.licenses) throw new Error(`order: ${JSON.stringify(result)}`);
    return result.licenses.map((l) => l.id);
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: await idleRedisDb(await requireService('redis')),
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
    [c5License] = await buy(C5, R1, 1, C5);
    [c6License] = await buy(C6, null, 1, R1);
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
      expect(ids).toEqual([...c1Licenses, failedLicense, c5License, c6License].sort());
      const c4 = await call('get', '/esd/my/licenses', undefined, `customer:${C4}`);
      expect((c4.body.items as Json[]).map((l) => l.id)).toEqual([c4License]);
    });

    it('reseller: its customer’s license billed to the customer — in its list and its record; another reseller gets 404', async () => {
      const row = await licenses().findOneByOrFail({ id: c5License });
      // The story's premise: R1 is this license's reseller, not its Bill-To account.
      expect([row.customerAccountId, row.billToAccountId, row.resellerAccountId]).toEqual([C5, C5, R1]);

      const list = await call('get', '/esd/my/licenses?limit=500', undefined, asReseller(R1));
      expect((list.body.items as Json[]).map((l) => l.id)).toContain(c5License);
      const filtered = await call(
        'get',
        `/esd/my/licenses?customerAccountId=${C5}`,
        undefined,
        asReseller(R1),
      );
      expect(filtered.status).toBe(200);
      expect((filtered.body.items as Json[]).map((l) => l.id)).toEqual([c5License]);
      const record = await call('get', `/esd/my/licenses/${c5License}`, undefined, asReseller(R1));
      expect(record.status).toBe(200);
      expect(record.body.id).toBe(c5License);
      const eligibility = await call(
        'get',
        `/esd/my/licenses/${c5License}/cancellation`,
        undefined,
        asReseller(R1),
      );
      expect(eligibility.status).toBe(200);
      // The customer sees it too.
      expect((await call('get', `/esd/my/licenses/${c5License}`, undefined, asCustomer(C5))).status).toBe(
        200,
      );

      // Another reseller: not in its list, and 404 on the record, the reveal and the eligibility.
      const theirs = await call('get', '/esd/my/licenses?limit=500', undefined, asReseller(R2));
      expect(theirs.status).toBe(200);
      expect((theirs.body.items as Json[]).map((l) => l.id)).toEqual([c3License]);
      const theirFiltered = await call(
        'get',
        `/esd/my/licenses?customerAccountId=${C5}`,
        undefined,
        asReseller(R2),
      );
      expect(theirFiltered.body.items).toEqual([]);
      for (const [method, path] of [
        ['get', `/esd/my/licenses/${c5License}`],
        ['post', `/esd/my/licenses/${c5License}/reveal`],
        ['get', `/esd/my/licenses/${c5License}/cancellation`],
      ] as const) {
        const res = await call(method, path, method === 'post' ? {} : undefined, asReseller(R2));
        expect({ path, status: res.status, code: res.body.code }).toEqual({
          path,
          status: 404,
          code: 'NOT_FOUND',
        });
      }
    });

    it('reseller: a license billed to it without a reseller on the order — in its list and its record', async () => {
      const row = await licenses().findOneByOrFail({ id: c6License });
      expect([row.customerAccountId, row.billToAccountId, row.resellerAccountId]).toEqual([C6, R1, null]);
      const filtered = await call(
        'get',
        `/esd/my/licenses?customerAccountId=${C6}`,
        undefined,
        asReseller(R1),
      );
      expect((filtered.body.items as Json[]).map((l) => l.id)).toEqual([c6License]);
      expect((await call('get', `/esd/my/licenses/${c6License}`, undefined, asReseller(R1))).status).toBe(
        200,
      );
      expect((await call('get', `/esd/my/licenses/${c6License}`, undefined, asReseller(R2))).status).toBe(
        404,
      );
    });

    it('reseller: its customer’s record, every field, without the transaction id, with the storefront’s actions', async () => {
      const row = await licenses().findOneByOrFail({ id: c5License });
      const res = await call('get', `/esd/my/licenses/${c5License}`, undefined, asReseller(R1));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: c5License,
        instanceId: instance.id,
        productCode: row.productCode,
        productName: row.productName,
        customerAccountId: C5,
        customerName: 'Μαρία Παπαδοπούλου',
        billToAccountId: C5,
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
        actions: ['reveal', 'request-cancellation'],
      });
      expect(row.tokenLastGroup).toMatch(/^[0-9A-Z]{5}$/);
      expect(row.productCode).toBe(offerFor(1).offerId);
    });

    it('roles on the wrong routes: 403; no principal: 401', async () => {
      expect((await call('get', '/esd/licenses', undefined, `customer:${C1}`)).status).toBe(403);
      expect((await call('get', '/esd/my/licenses', undefined, 'admin')).status).toBe(403);
      expect((await call('get', '/esd/my/licenses', undefined, '')).status).toBe(401);
    });
  });

  describe('who sees what, for every license route', () => {
    /**
     * Every route of the plugin under `/esd/licenses/` or `/esd/my/licenses/` with a path parameter (whatever
     * its name), read from the Express router.
     */
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
        .filter((r) => LICENSE_ROUTE_WITH_PARAM.test(r.path));
    }
    const LICENSE_ROUTE_WITH_PARAM = /^\/esd\/(?:my\/)?licenses\/(?:.*\/)?:[A-Za-z_]/;
    /** Every path parameter of `path`, whatever its name, set to `id`. */
    const withId = (path: string, id: string) => path.replace(/:[A-Za-z_][A-Za-z0-9_]*/g, id);
    /** The license routes with a parameter the plugin has today; a new one adds to this list, never hides. */
    const KNOWN_LICENSE_ROUTES = [
      'GET /esd/licenses/:id',
      'GET /esd/licenses/:id/audit',
      'POST /esd/licenses/:id/reveal',
      'POST /esd/licenses/:id/resend',
      'POST /esd/licenses/:id/refresh-status',
      'POST /esd/licenses/:id/resync',
      'POST /esd/licenses/:id/cancel',
      'GET /esd/my/licenses/:id',
      'POST /esd/my/licenses/:id/reveal',
      'GET /esd/my/licenses/:id/cancellation',
      'POST /esd/my/licenses/:id/cancellation-request',
      'DELETE /esd/my/licenses/:id/cancellation-request',
    ];

    it('enumerates the license routes it checks: any parameter name, nothing without one', () => {
      // The filter itself: a parameter of any name under either prefix is caught; the lists are not.
      for (const path of [
        '/esd/licenses/:licenseId',
        '/esd/my/licenses/:license_id/notes/:noteId',
        '/esd/licenses/:id/anything',
      ]) {
        expect({ path, caught: LICENSE_ROUTE_WITH_PARAM.test(path) }).toEqual({ path, caught: true });
      }
      for (const path of ['/esd/licenses', '/esd/my/licenses', '/esd/instances/:id']) {
        expect({ path, caught: LICENSE_ROUTE_WITH_PARAM.test(path) }).toEqual({ path, caught: false });
      }
      expect(withId('/esd/my/licenses/:license_id/notes/:noteId', 'X')).toBe('/esd/my/licenses/X/notes/X');

      const routes = licenseRoutes().map((r) => `${r.method.toUpperCase()} ${r.path}`);
      expect(routes).toEqual(expect.arrayContaining(KNOWN_LICENSE_ROUTES));
      expect(new Set(routes).size).toBe(routes.length);
      for (const route of routes) expect(route).toMatch(/:[A-Za-z_]/);
    });

    it('another customer, or another reseller, gets exactly what a license that does not exist gets', async () => {
      const routes = licenseRoutes();
      expect(routes.length).toBeGreaterThanOrEqual(KNOWN_LICENSE_ROUTES.length);
      const outsiders = [`customer:${C3}`, `reseller:${R2}`];
      // R1's license billed to R1, and C5's billed to C5 (R1 its reseller): neither is R2's business.
      for (const license of [c1Licenses[0], c5License]) {
        for (const route of routes) {
          for (const who of outsiders) {
            const send = (id: string) => {
              const agent = request(env.app.getHttpServer());
              const method = route.method as 'get' | 'post' | 'delete';
              const req = agent[method](withId(route.path, id)).set('x-principal', who);
              return route.method === 'get' ? req : req.send({});
            };
            const theirs = await send(license);
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

    it('reseller reveals its customer’s key (billed to the customer): exactly one audit event, the key only in that answer', async () => {
      const id = c5License;
      const auditRepo = env.dataSource.getRepository(AuditEventEntity);
      expect(await auditRepo.countBy({ subjectId: id })).toBe(0);

      const res = await call('post', `/esd/my/licenses/${id}/reveal`, {}, asReseller(R1));
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as Json).sort()).toEqual(['activationLink', 'licenseId', 'productKey']);
      expect(res.body.licenseId).toBe(id);
      const { productKey, activationLink } = res.body as { productKey: string; activationLink: string };
      expect(productKey).toMatch(/^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$/);
      const row = await licenses().findOneByOrFail({ id });
      expect(productKey.slice(-5)).toBe(row.tokenLastGroup);
      expect(new URL(activationLink).searchParams.get('ctid')).toBe(row.clientTransactionId);

      const events = await auditRepo.findBy({ subjectId: id });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: 'license.reveal',
        subjectType: 'license',
        actorRole: 'reseller',
        actorAccountId: R1,
      });
      expect(JSON.stringify(events[0]).includes(productKey)).toBe(false);

      // Every other view of it, the reseller's own included, shows the key masked.
      const views = [
        await call('get', `/esd/my/licenses/${id}`, undefined, asReseller(R1)),
        await call('get', '/esd/my/licenses?limit=500', undefined, asReseller(R1)),
        await call('get', `/esd/my/licenses/${id}`, undefined, asCustomer(C5)),
        await call('get', `/esd/my/licenses/${id}/cancellation`, undefined, asReseller(R1)),
        await call('get', `/esd/licenses/${id}`),
        await call('get', `/esd/licenses/${id}/audit`),
      ];
      for (const view of views) {
        expect(view.status).toBe(200);
        expect(view.text.includes(productKey)).toBe(false);
        expect(view.text.includes(activationLink)).toBe(false);
      }
      // Reading the record, the list and the trail wrote nothing more.
      expect(await auditRepo.countBy({ subjectId: id })).toBe(1);
      // Another reseller cannot reveal it, and that is not audited either.
      expect((await call('post', `/esd/my/licenses/${id}/reveal`, {}, asReseller(R2))).status).toBe(404);
      expect(await auditRepo.countBy({ subjectId: id })).toBe(1);
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

  describe('admin actions by state', () => {
    /** One fresh license of a direct customer, Synchronized. */
    async function fresh(): Promise<{ id: string; customer: string }> {
      const customer = `ca${randomInt(1e9)}`;
      const [id] = await buy(customer, null, 1);
      expect((await licenses().findOneByOrFail({ id })).provisioningStatus).toBe('Synchronized');
      return { id, customer };
    }
    const actionsOf = async (id: string, who = 'admin') => {
      const path =
        who === 'admin' || who === READ_ONLY_ADMIN ? `/esd/licenses/${id}` : `/esd/my/licenses/${id}`;
      const res = await call('get', path, undefined, who);
      expect(res.status).toBe(200);
      return res.body.actions as string[];
    };

    it('Failed: re-sync only; the storefront may do nothing', async () => {
      expect(await actionsOf(failedLicense)).toEqual(['resync']);
      expect(await actionsOf(failedLicense, READ_ONLY_ADMIN)).toEqual([]);
      expect(await actionsOf(failedLicense, asReseller(R1))).toEqual([]);
      expect(await actionsOf(failedLicense, asCustomer(C2))).toEqual([]);
      // The routes agree with the hint.
      expect((await call('post', `/esd/licenses/${failedLicense}/refresh-status`)).body.code).toBe(
        EsdErrorCode.LICENSE_NOT_PROVISIONED,
      );
      const cancel = await call('post', `/esd/licenses/${failedLicense}/cancel`, {});
      expect([cancel.status, cancel.body.code]).toEqual([409, 'NOT_PROVISIONED']);
    });

    it('Redeemed: reveal, resend and refresh-status, but no cancel; the storefront may only reveal', async () => {
      const { id, customer } = await fresh();
      const row = await licenses().findOneByOrFail({ id });
      await redeemSandboxToken(env.sandbox, row.clientTransactionId);
      const refreshed = await call('post', `/esd/licenses/${id}/refresh-status`);
      expect(refreshed.status).toBe(200);
      expect([refreshed.body.status, refreshed.body.tokenStatus]).toEqual(['active', 'Redeemed']);
      expect(refreshed.body.actions).toEqual(['reveal', 'resend', 'refresh-status']);
      expect(await actionsOf(id)).toEqual(['reveal', 'resend', 'refresh-status']);
      expect(await actionsOf(id, READ_ONLY_ADMIN)).toEqual([]);
      expect(await actionsOf(id, asCustomer(customer))).toEqual(['reveal']);
      // The routes agree with the hint.
      const cancel = await call('post', `/esd/licenses/${id}/cancel`, {});
      expect([cancel.status, cancel.body.code]).toEqual([422, 'TOKEN_REDEEMED']);
      const resync = await call('post', `/esd/licenses/${id}/resync`);
      expect([resync.status, resync.body.code]).toEqual([409, EsdErrorCode.LICENSE_NOT_FAILED]);
    });

    it('cancelled (returned to Microsoft): reveal and refresh-status for the admin; the storefront may do nothing', async () => {
      const { id, customer } = await fresh();
      expect(
        await hooks.cancel({ licenseId: id, requestedBy: { role: 'admin', accountId: 'provider' } }),
      ).toEqual({ outcome: 'done', credit: { amountMinor: 14900, currency: 'EUR' } });
      const res = await call('get', `/esd/licenses/${id}`);
      expect([res.body.status, res.body.tokenStatus, res.body.returnStatus]).toEqual([
        'cancelled',
        'ReturnAccepted',
        'Successful',
      ]);
      expect(res.body.actions).toEqual(['reveal', 'refresh-status']);
      expect(await actionsOf(id, READ_ONLY_ADMIN)).toEqual([]);
      expect(await actionsOf(id, asCustomer(customer))).toEqual([]);
      // The routes agree with the hint: the customer is refused the key Microsoft took back, unaudited; the admin
      // may still see it (support), audited.
      const audits = () =>
        env.dataSource.getRepository(AuditEventEntity).countBy({ subjectId: id, action: 'license.reveal' });
      const before = await audits();
      const mine = await call('post', `/esd/my/licenses/${id}/reveal`, {}, asCustomer(customer));
      expect([mine.status, mine.body.code]).toEqual([409, EsdErrorCode.ALREADY_CANCELLED]);
      expect(JSON.stringify(mine.body)).not.toMatch(/productKey|activationLink/);
      expect(await audits()).toBe(before);
      const admin = await call('post', `/esd/licenses/${id}/reveal`, {});
      expect(admin.status).toBe(200);
      expect(Object.keys(admin.body).sort()).toEqual(['activationLink', 'licenseId', 'productKey']);
      expect(await audits()).toBe(before + 1);
      const resync = await call('post', `/esd/licenses/${id}/resync`);
      expect([resync.status, resync.body.code]).toEqual([409, EsdErrorCode.LICENSE_NOT_FAILED]);
      // The key Microsoft took back is never sent again: no resend, no notification, no audit event.
      const notes = await env.dataSource.getRepository(HostNotificationRow).count();
      const resend = await call('post', `/esd/licenses/${id}/resend`);
      expect([resend.status, resend.body.code]).toEqual([409, EsdErrorCode.ALREADY_CANCELLED]);
      expect(await env.dataSource.getRepository(HostNotificationRow).count()).toBe(notes);
    });
  });

  describe('token status', () => {
    it('a token redeemed at the sandbox shows Redeemed after the scheduled status sync', async () => {
      const id = c1Licenses[1];
      const row = await licenses().findOneByOrFail({ id });
      await sandboxControl(env.sandbox, 'post', `/__sandbox/tokens/${row.clientTransactionId}/redeem`);
      expect((await call('get', `/esd/licenses/${id}`)).body.tokenStatus).toBe('Activated');

      // As the schedule fires it: the job on the maintenance queue, run by this node's worker.
      const job = await env.queues.maintenance.add(TOKEN_STATUS_SYNC_JOB, {});
      const result = (await job.finished()) as TokenStatusSyncResult;
      expect(result.redeemed).toContain(id);
      const after = await call('get', `/esd/licenses/${id}`);
      expect(after.body.tokenStatus).toBe('Redeemed');
      expect(Date.parse(after.body.redeemedAt as string)).not.toBeNaN();
    });

    it('a second sync does not ask Microsoft about a token it knows is Redeemed (counted by the sandbox)', async () => {
      // An instance on a sandbox of its own, holding one license: its status calls are this license's alone.
      const own = await CisSandbox.start({ rateLimitPerMinute: 0 });
      try {
        const helpers = instanceHelpers(
          () => env.app,
          () => own,
        );
        const onOwn = await helpers.readyInstance({}, MARKET);
        const ownOffers = await seedOffers(env.dataSource, own, onOwn.id, MARKET, 20);
        const offer = ownOffers.find((o) => o.status === 'Active' && o.minQuantity <= 1)!;
        const ordered = await hooks.order(orderRequest(onOwn.id, offer, 1));
        expect(ordered.outcome).toBe('done');
        const id = ordered.licenses![0].id;
        const row = await licenses().findOneByOrFail({ id });
        await redeemSandboxToken(own, row.clientTransactionId);
        const asked = async () => (await sandboxStats(own)).callsByRoute[STATUS_ROUTE] ?? 0;
        const sync = () => env.app.get(TokenStatusService).syncActivated();

        const before = await asked();
        const first = await sync();
        expect(first.skippedInstances).not.toContain(onOwn.id);
        expect(first.redeemed).toContain(id);
        expect(await asked()).toBe(before + 1);
        expect((await licenses().findOneByOrFail({ id })).tokenStatus).toBe('Redeemed');

        const second = await sync();
        expect(second.skippedInstances).not.toContain(onOwn.id);
        // The sandbox was not asked again: the Redeemed token is out of the scheduled sync.
        expect(await asked()).toBe(before + 1);
        // Asking on demand still reaches it, so the count above would have seen a call.
        expect((await call('post', `/esd/licenses/${id}/refresh-status`)).status).toBe(200);
        expect(await asked()).toBe(before + 2);
      } finally {
        await own.close();
      }
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
