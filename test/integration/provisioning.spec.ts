/**
 * Ordering and provisioning end to end on PostgreSQL and Redis, against the CIS sandbox over real HTTPS: the
 * `precheck` and `order` hooks as the host calls them, the Bull worker requesting tokens, the reference host's
 * notifier and event intake storing what the plugin handed over. What Microsoft did is read from the sandbox's
 * stats, never from the code under test.
 */
import { randomInt } from 'node:crypto';
import { HostEventRow, HostNotificationRow } from '../../sandbox/host/host.entities';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { OrderResult } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { SweeperService } from '../../src/maintenance/sweeper.service';
import { instanceHelpers, type Json } from '../support/instances';
import { orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';

const MARKET = { country: 'GR', language: 'el-GR' };

interface SandboxStats {
  tokensCreated: number;
  tokenRequestsByClientTransactionId: Record<string, number>;
  callsByRoute: Record<string, number>;
}

describe('Ordering and provisioning (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offers: VendorOffer[];
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const control = <T>(method: 'get' | 'post' | 'delete', path: string, body?: unknown) =>
    sandboxControl<T>(env.sandbox, method, path, body);
  const stats = () => control<SandboxStats>('get', '/__sandbox/stats');
  const licenses = () => env.dataSource.getRepository(LicenseEntity);
  /** An offer that sells `quantity` in one order item. */
  const offerFor = (quantity: number) =>
    offers.find((o) => o.minQuantity <= quantity && o.maxQuantity >= quantity && o.status === 'Active')!;

  async function licensesOf(hostOrderItemId: string): Promise<LicenseEntity[]> {
    return licenses().find({ where: { hostOrderItemId }, order: { unitIndex: 'ASC' } });
  }

  /** Polls until every license of the item is Synchronized and announced (welcome and event handed over). */
  async function announced(hostOrderItemId: string): Promise<LicenseEntity[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await licensesOf(hostOrderItemId);
      if (rows.length > 0 && rows.every((r) => r.welcomeSentAt !== null)) return rows;
      if (Date.now() > deadline) throw new Error('licenses not announced in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Polls until every license of the item left Unsynchronised (the worker finishes in the background). */
  async function settled(hostOrderItemId: string, timeoutMs = 20_000): Promise<LicenseEntity[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await licensesOf(hostOrderItemId);
      if (rows.length > 0 && rows.every((r) => r.provisioningStatus !== 'Unsynchronised')) return rows;
      if (Date.now() > deadline) {
        throw new Error(`licenses still pending: ${rows.map((r) => r.provisioningStatus).join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Polls `read` until it answers `count` items (or 5 s pass), for what follows a row's change. */
  async function eventually<T>(read: () => Promise<T[]>, count = 1): Promise<T[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = await read();
      if (found.length >= count || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * The welcome notifications of these licenses, once `count` of them arrived (or 5 s passed): they follow the
   * row's change to Synchronized, which the hook may report first.
   */
  async function welcomes(licenseIds: string[], count = licenseIds.length): Promise<HostNotificationRow[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const rows = (await env.dataSource.getRepository(HostNotificationRow).find()).filter((n) =>
        licenseIds.includes((JSON.parse(n.data) as { licenseId: string }).licenseId),
      );
      if (rows.length >= count || Date.now() > deadline) return rows;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: { orderWaitMs: 15_000, jobRetry: { attempts: 5, baseMs: 50, maxMs: 200 } },
    });
    hooks = env.app.get(EsdHooksService);
    instance = await readyInstance({}, MARKET);
    offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 40);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  afterEach(async () => {
    await control('delete', '/__sandbox/faults');
  });

  it('an order of 3: three licenses Synchronized, three welcomes each with its own key and link, three tokens', async () => {
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(3), 3);
    const result = await hooks.order(request);

    expect(result.outcome).toBe('done');
    const done = result as Extract<OrderResult, { outcome: 'done' }>;
    expect(done.licenses.map((l) => l.unitIndex)).toEqual([0, 1, 2]);
    for (const license of done.licenses) {
      expect(license.provisioningStatus).toBe('Synchronized');
      expect(license.tokenMasked).toMatch(/^\*{5}-\*{5}-\*{5}-\*{5}-[0-9A-Z]{5}$/);
    }
    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(3);

    const rows = await announced(request.hostOrderItemId);
    expect(new Set(rows.map((r) => r.clientTransactionId)).size).toBe(3);
    const notes = await welcomes(rows.map((r) => r.id));
    expect(notes).toHaveLength(3);
    const data = notes.map((n) => JSON.parse(n.data) as Record<string, string>);
    expect(new Set(data.map((d) => d.productKey)).size).toBe(3);
    expect(new Set(data.map((d) => d.activationLink)).size).toBe(3);
    for (const row of rows) {
      const note = notes.find((n) => (JSON.parse(n.data) as { licenseId: string }).licenseId === row.id)!;
      const d = JSON.parse(note.data) as Record<string, string>;
      expect(note.template).toBe('esd.welcome');
      expect(note.dedupeKey).toBe(`esd.welcome:${row.id}`);
      expect(note.toAccountId).toBe(request.customer.accountId);
      expect(d.productName).toBe(row.productName);
      expect(d.productKey).toMatch(/^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$/);
      expect(d.productKey.endsWith(row.tokenLastGroup!)).toBe(true);
      expect(new URL(d.activationLink).searchParams.get('ctid')).toBe(row.clientTransactionId);
      expect(row.welcomeSentAt).not.toBeNull();
      expect(row.tokenStatus).toBe('Activated');
    }
    // Sealed at rest: the key is nowhere in the row's columns.
    const raw = await env.dataSource.query<Record<string, unknown>[]>(
      'SELECT * FROM esd_license WHERE host_order_item_id = $1',
      [request.hostOrderItemId],
    );
    for (const d of data) expect(JSON.stringify(raw)).not.toContain(d.productKey);

    const mine = await eventually(
      async () =>
        (await env.dataSource.getRepository(HostEventRow).findBy({ name: 'licenseProvisioned' })).filter(
          (e) => rows.some((r) => e.id === `licenseProvisioned:${r.id}`),
        ),
      3,
    );
    expect(mine).toHaveLength(3);

    // The same call again answers the same licenses and asks Microsoft for nothing.
    const again = await hooks.order(request);
    expect(again).toEqual(result);
    expect((await stats()).tokensCreated).toBe(after.tokensCreated);
  });

  it('50 concurrent identical order calls make one set of licenses and as many tokens as units', async () => {
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(4), 4);
    const results = await Promise.all(Array.from({ length: 50 }, () => hooks.order(request)));
    const ids = new Set(
      results.flatMap((r) => ('licenses' in r && r.licenses ? r.licenses.map((l) => l.id) : [])),
    );
    expect(ids.size).toBe(4);
    const rows = await settled(request.hostOrderItemId);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.provisioningStatus === 'Synchronized')).toBe(true);
    expect((await stats()).tokensCreated - before.tokensCreated).toBe(4);
    expect(await welcomes(rows.map((r) => r.id))).toHaveLength(4);
  });

  it('a dropped answer after Microsoft committed: the worker finds the token and asks no second time', async () => {
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      dropAfterCommit: true,
      times: 1,
    });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    const result = await hooks.order(request);
    expect(result.outcome).toBe('done');
    const [row] = await licensesOf(request.hostOrderItemId);
    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
    expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBe(1);
    expect(row.attempts).toBe(2);
    expect(await welcomes([row.id])).toHaveLength(1);
  });

  it('503, 503, 503, then success: Synchronized', async () => {
    await control('post', '/__sandbox/faults', { method: 'POST', path: '/tokens$', status: 503, times: 3 });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    const result = await hooks.order(request);
    expect(result.outcome).toBe('done');
    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
  });

  it('a vendor 400: Failed with the vendor’s code and a readable message, an event, and a re-sync that works', async () => {
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 400,
      code: 'InvalidRequest',
      times: 1,
    });
    const request = orderRequest(instance.id, offerFor(1), 1);
    const result = await hooks.order(request);
    expect(result).toMatchObject({ outcome: 'failed', code: 'InvalidRequest' });
    const [row] = await licensesOf(request.hostOrderItemId);
    expect(row.provisioningStatus).toBe('Failed');
    expect(row.provisioningErrorCode).toBe('InvalidRequest');
    expect(row.provisioningErrorMessage).toMatch(/Microsoft CIS API refused the request as invalid/);
    // The event follows the row's change (the hook may answer in between).
    const mine = await eventually(async () =>
      (await env.dataSource.getRepository(HostEventRow).findBy({ name: 'licenseProvisioningFailed' })).filter(
        (e) => (JSON.parse(e.payload) as { licenseId: string }).licenseId === row.id,
      ),
    );
    expect(mine).toHaveLength(1);
    expect(JSON.parse(mine[0].payload)).toMatchObject({
      code: 'InvalidRequest',
      hostOrderId: request.hostOrderId,
    });
    expect(await welcomes([row.id], 0)).toHaveLength(0);

    // Re-sync: back in line, then Synchronized with its one token.
    const notFailed = await call('post', `/esd/licenses/${row.id}/resync`);
    expect(notFailed.status).toBe(200);
    expect(notFailed.body.provisioningStatus).toMatch(/Unsynchronised|Synchronized/);
    const [done] = await settled(request.hostOrderItemId);
    expect(done.provisioningStatus).toBe('Synchronized');
    expect(done.provisioningErrorCode).toBeNull();
    const again = await call('post', `/esd/licenses/${row.id}/resync`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe(EsdErrorCode.LICENSE_NOT_FAILED);
  });

  it('Redis flushed with licenses pending: the sweeper completes them', async () => {
    // This node's worker stops taking jobs, so the licenses are still pending when the queue is wiped.
    await env.queues.provisioning.pause(true);
    const request = orderRequest(instance.id, offerFor(3), 3);
    const answer = hooks.order(request);
    let rows = await licensesOf(request.hostOrderItemId);
    while (rows.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await licensesOf(request.hostOrderItemId);
    }
    await env.queues.provisioning.obliterate({ force: true });
    await env.queues.provisioning.resume(true);
    expect((await env.queues.provisioning.getJobCounts()).waiting).toBe(0);
    expect(rows.every((r) => r.provisioningStatus === 'Unsynchronised')).toBe(true);

    const sweeper = env.app.get(SweeperService);
    // A license is due once its first-attempt grace has passed: sweep as of later rather than sleeping.
    const swept = await sweeper.sweepLicenses(new Date(Date.now() + 10 * 60_000));
    expect(swept.requeued).toEqual(expect.arrayContaining(rows.map((r) => r.id)));
    const done = await announced(request.hostOrderItemId);
    expect(done.every((r) => r.provisioningStatus === 'Synchronized')).toBe(true);
    expect(await welcomes(done.map((r) => r.id))).toHaveLength(3);
    // The hook, still waiting, sees them done.
    expect((await answer).outcome).toBe('done');
    // A second sweep finds nothing of theirs left to do.
    const again = await sweeper.sweepLicenses(new Date(Date.now() + 10 * 60_000));
    expect(again.requeued.filter((id) => rows.some((r) => r.id === id))).toEqual([]);
  });

  it('metrics: provisioning outcomes, vendor call latency by route and status, retries, queue depth', async () => {
    const res = await call('get', '/esd/metrics', undefined, '');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const value = (pattern: RegExp): number => {
      const line = res.text.split('\n').find((l) => pattern.test(l));
      return line === undefined ? Number.NaN : Number(line.split(' ').pop());
    };
    // The tests above provisioned licenses, reconciled one, failed one, and retried after 503s.
    expect(value(/^esd_provisioning_outcomes_total\{outcome="synchronized"\}/)).toBeGreaterThanOrEqual(8);
    expect(value(/^esd_provisioning_outcomes_total\{outcome="reconciled"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^esd_provisioning_outcomes_total\{outcome="failed"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^esd_provisioning_outcomes_total\{outcome="retry"\}/)).toBeGreaterThanOrEqual(1);
    expect(
      value(
        /^esd_cis_call_duration_seconds_count\{route="POST \/channels\/:channelId\/tokens",status="201"\}/,
      ),
    ).toBeGreaterThanOrEqual(8);
    expect(
      value(
        /^esd_cis_call_duration_seconds_count\{route="POST \/channels\/:channelId\/tokens",status="503"\}/,
      ),
    ).toBeGreaterThanOrEqual(3);
    expect(value(/^esd_queue_jobs\{queue="esd-provisioning",state="waiting"\}/)).toBe(0);
    expect(res.text).not.toMatch(/[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/);
  });

  describe('bad input: a violation or refusal, and no rows written', () => {
    const cases: Array<[string, (offer: VendorOffer) => unknown, EsdErrorCode]> = [
      [
        'unknown product',
        () => orderRequest(instance.id, { offerId: 'NO-SUCH-OFFER' }, 1),
        EsdErrorCode.OFFER_UNKNOWN,
      ],
      ['quantity 0', (o) => orderRequest(instance.id, o, 0), EsdErrorCode.ORDER_INVALID],
      [
        'quantity above the offer’s max',
        (o) => orderRequest(instance.id, o, o.maxQuantity + 1),
        EsdErrorCode.QUANTITY_OUT_OF_RANGE,
      ],
      [
        'missing customer email',
        (o) => {
          const r = orderRequest(instance.id, o, 1);
          return { ...r, customer: { ...r.customer, email: undefined } };
        },
        EsdErrorCode.CUSTOMER_DATA_MISSING,
      ],
      ['malformed body', () => ({ hostOrderItemId: 42, quantity: 'three' }), EsdErrorCode.ORDER_INVALID],
      [
        'an unknown field',
        (o) => ({ ...orderRequest(instance.id, o, 1), discount: 100 }),
        EsdErrorCode.ORDER_INVALID,
      ],
      ['not an object', () => 'order', EsdErrorCode.ORDER_INVALID],
    ];

    it.each(cases)('%s', async (_name, build, code) => {
      const count = await licenses().count();
      const input = build(offerFor(1));
      const precheck = await hooks.precheck({ action: 'order', request: input as never });
      expect(precheck.ok).toBe(false);
      if (!precheck.ok) expect(precheck.violations.map((v) => v.code)).toContain(code);
      const result = await hooks.order(input as never);
      expect(result).toMatchObject({ outcome: 'failed', code });
      if (result.outcome === 'failed') expect(result.message.length).toBeGreaterThan(10);
      expect(await licenses().count()).toBe(count);
    });

    it('precheck of a good order is ok and writes nothing', async () => {
      const count = await licenses().count();
      const before = await stats();
      expect(
        await hooks.precheck({ action: 'order', request: orderRequest(instance.id, offerFor(2), 2) }),
      ).toEqual({
        ok: true,
      });
      expect(await licenses().count()).toBe(count);
      expect((await stats()).tokensCreated).toBe(before.tokensCreated);
    });

    it('the same order item with other contents: ORDER_ITEM_CONFLICT, the first licenses untouched', async () => {
      const request = orderRequest(instance.id, offerFor(2), 2);
      expect((await hooks.order(request)).outcome).toBe('done');
      const result = await hooks.order({ ...request, quantity: 1 });
      expect(result).toMatchObject({ outcome: 'failed', code: EsdErrorCode.ORDER_ITEM_CONFLICT });
      expect(await licensesOf(request.hostOrderItemId)).toHaveLength(2);
    });
  });
});
