/**
 * Ordering and provisioning end to end on PostgreSQL and Redis, against the CIS sandbox over real HTTPS: the
 * `precheck` and `order` hooks as the host calls them, the Bull worker requesting tokens, the reference host's
 * notifier and event intake storing what the plugin handed over. What Microsoft did is read from the sandbox's
 * stats, never from the code under test.
 */
import { randomUUID } from 'node:crypto';
import type { ActiveFault } from '../../sandbox/cis/fault-injector';
import { HostEventRow, HostNotificationRow } from '../../sandbox/host/host.entities';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { OrderResult } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { ProvisioningQueue } from '../../src/licenses/provisioning-queue';
import { SweeperService } from '../../src/maintenance/sweeper.service';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';
import { sample } from '../support/metrics';

const MARKET = { country: 'GR', language: 'el-GR' };
/** Bull attempts of a provisioning job in this suite (`jobRetry.attempts`), short backoff so exhaustion is quick. */
const JOB_ATTEMPTS = 5;
const JOB_RETRY = { attempts: JOB_ATTEMPTS, baseMs: 50, maxMs: 200 };
/** The token routes as the sandbox counts them and the plugin labels its metrics. */
const TOKEN_ROUTE = 'POST /channels/:channelId/tokens';
const LOOKUP_ROUTE = 'GET /channels/:channelId/tokens/:clientTransactionId';

interface SandboxStats {
  tokensCreated: number;
  tokenRequestsByClientTransactionId: Record<string, number>;
  callsByRoute: Record<string, number>;
}

/** Calls the sandbox counted on `route` between two stats readings (faulted calls included). */
const callsSince = (before: SandboxStats, after: SandboxStats, route: string): number =>
  (after.callsByRoute[route] ?? 0) - (before.callsByRoute[route] ?? 0);

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

  /**
   * Polls until the provisioning jobs of these licenses are no longer waiting, delayed or running: the processor
   * counts an attempt's outcome after the row changed, so the hook may answer before the job has finished.
   */
  async function jobsFinished(licenseIds: string[]): Promise<void> {
    const queue = env.app.get(ProvisioningQueue);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const live = await Promise.all(licenseIds.map((id) => queue.isLive(id)));
      if (!live.some(Boolean)) return;
      if (Date.now() > deadline) throw new Error('provisioning jobs still live');
      await new Promise((resolve) => setTimeout(resolve, 50));
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
      // A Redis database no other suite uses right now: another suite's worker must not take these jobs.
      redisDb: await idleRedisDb(await requireService('redis')),
      options: { orderWaitMs: 15_000, jobRetry: JOB_RETRY },
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
    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(4);
    // One job per license (its id derives from the license), not 50 jobs the sandbox happened to answer
    // idempotently: each transaction was asked for once, and never looked up.
    for (const row of rows) {
      expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBe(1);
      expect(row.attempts).toBe(1);
    }
    expect(callsSince(before, after, TOKEN_ROUTE)).toBe(4);
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(0);
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

  it('a garbled answer to the token request: an unknown outcome, looked up on the next attempt, one token', async () => {
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      malformed: true,
      times: 1,
    });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    expect((await hooks.order(request)).outcome).toBe('done');
    const [row] = await licensesOf(request.hostOrderItemId);
    const after = await stats();
    expect(row).toMatchObject({
      provisioningStatus: 'Synchronized',
      attempts: 2,
      provisioningErrorCode: null,
    });
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
    expect(callsSince(before, after, TOKEN_ROUTE)).toBe(2);
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(1);
    expect(await welcomes([row.id])).toHaveLength(1);
  });

  it('503, 503, 503, then success: Synchronized, each 503 absorbed by one job attempt that looks the transaction up first', async () => {
    const fault = await control<ActiveFault>('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 503,
      times: 3,
    });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    const result = await hooks.order(request);
    expect(result.outcome).toBe('done');
    const [row] = await licensesOf(request.hostOrderItemId);
    const after = await stats();
    expect(row.provisioningStatus).toBe('Synchronized');
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
    // The fault fired its three times (the sandbox drops a fault once it has), each on a token request.
    const active = await control<{ items: ActiveFault[] }>('get', '/__sandbox/faults');
    expect(active.items.find((f) => f.id === fault.id)).toBeUndefined();
    expect(callsSince(before, after, TOKEN_ROUTE)).toBe(4);
    // A 503 on a write may have been acted on, so the client does not send it again in-call: Bull retries the
    // job, and each later attempt looks the transaction up before asking again. Four attempts on the row.
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(3);
    expect(row.attempts).toBe(4);
    // The 503s were answered before the handler: Microsoft saw the transaction once.
    expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBe(1);
    expect(await welcomes([row.id])).toHaveLength(1);
  });

  it('503 on every attempt: Failed with PROVISIONING_ATTEMPTS_EXHAUSTED, licenseProvisioningFailed, no token', async () => {
    // No `times`: every token request of every attempt answers 503, so the job's attempts run out.
    const fault = await control<ActiveFault>('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 503,
    });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    const result = await hooks.order(request);
    expect(result).toMatchObject({
      outcome: 'failed',
      code: EsdErrorCode.PROVISIONING_ATTEMPTS_EXHAUSTED,
    });
    const [row] = await licensesOf(request.hostOrderItemId);
    expect(row.provisioningStatus).toBe('Failed');
    expect(row.provisioningErrorCode).toBe(EsdErrorCode.PROVISIONING_ATTEMPTS_EXHAUSTED);
    expect(row.provisioningErrorMessage).toMatch(/after every retry.*Last error: /s);
    expect(row.attempts).toBe(JOB_ATTEMPTS);
    expect(row.tokenLastGroup).toBeNull();
    expect(row.nextAttemptAt).toBeNull();

    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(0);
    expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBeUndefined();
    // One request per attempt, no more: the fault fired exactly as often as the job had attempts.
    const active = await control<{ items: ActiveFault[] }>('get', '/__sandbox/faults');
    expect(active.items.find((f) => f.id === fault.id)?.fired).toBe(JOB_ATTEMPTS);
    expect(callsSince(before, after, TOKEN_ROUTE)).toBe(JOB_ATTEMPTS);
    // Every attempt after the first looks the transaction up first, and so does the last one before it gives up.
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(JOB_ATTEMPTS);

    const mine = await eventually(async () =>
      (await env.dataSource.getRepository(HostEventRow).findBy({ name: 'licenseProvisioningFailed' })).filter(
        (e) => (JSON.parse(e.payload) as { licenseId: string }).licenseId === row.id,
      ),
    );
    expect(mine).toHaveLength(1);
    expect(JSON.parse(mine[0].payload)).toMatchObject({
      code: EsdErrorCode.PROVISIONING_ATTEMPTS_EXHAUSTED,
      hostOrderId: request.hostOrderId,
      hostOrderItemId: request.hostOrderItemId,
    });
    expect(await welcomes([row.id], 0)).toHaveLength(0);
    // Nothing left to run: the job finishes, and no later attempt asks Microsoft again.
    await jobsFinished([row.id]);
    expect(callsSince(before, await stats(), TOKEN_ROUTE)).toBe(JOB_ATTEMPTS);
  });

  it('the last attempt’s answer dropped after Microsoft committed: looked up before giving up, Synchronized, one token', async () => {
    // 503 on every attempt but the last, whose token Microsoft creates and whose answer is lost on the way back.
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 503,
      times: JOB_ATTEMPTS - 1,
    });
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      dropAfterCommit: true,
      times: 1,
    });
    const before = await stats();
    const request = orderRequest(instance.id, offerFor(1), 1);
    expect((await hooks.order(request)).outcome).toBe('done');
    const [row] = await licensesOf(request.hostOrderItemId);
    expect(row).toMatchObject({
      provisioningStatus: 'Synchronized',
      provisioningErrorCode: null,
      attempts: JOB_ATTEMPTS,
    });
    const after = await stats();
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
    expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBe(1);
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(JOB_ATTEMPTS);
    expect(await welcomes([row.id])).toHaveLength(1);
    const failedEvents = (
      await env.dataSource.getRepository(HostEventRow).findBy({ name: 'licenseProvisioningFailed' })
    ).filter((e) => (JSON.parse(e.payload) as { licenseId: string }).licenseId === row.id);
    expect(failedEvents).toEqual([]);
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
    const scrape = async (): Promise<string> => {
      const res = await call('get', '/esd/metrics', undefined, '');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      return res.text;
    };
    const outcome = (text: string, name: string) =>
      sample(text, 'esd_provisioning_outcomes_total', { outcome: name });
    const calls = (text: string, route: string, status: string) =>
      sample(text, 'esd_cis_call_duration_seconds_count', { route, status });
    const retries = (text: string, route: string) => sample(text, 'esd_cis_retries_total', { route });
    const before = await scrape();

    // 1. A 503 on the token request (the job retries), then a 503 on the next attempt's look-up (a read: the
    //    client retries it in-call), then the token.
    await control('post', '/__sandbox/faults', { method: 'POST', path: '/tokens$', status: 503, times: 1 });
    await control('post', '/__sandbox/faults', {
      method: 'GET',
      path: '/tokens/[^/]+$',
      status: 503,
      times: 1,
    });
    const retried = orderRequest(instance.id, offerFor(1), 1);
    expect((await hooks.order(retried)).outcome).toBe('done');
    expect((await control<{ items: ActiveFault[] }>('get', '/__sandbox/faults')).items).toEqual([]);
    // 2. The answer dropped after Microsoft committed: the next attempt finds the token (reconciled).
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      dropAfterCommit: true,
      times: 1,
    });
    const dropped = orderRequest(instance.id, offerFor(1), 1);
    expect((await hooks.order(dropped)).outcome).toBe('done');
    // 3. A vendor 400: failed for good.
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      status: 400,
      code: 'InvalidRequest',
      times: 1,
    });
    const refused = orderRequest(instance.id, offerFor(1), 1);
    expect((await hooks.order(refused)).outcome).toBe('failed');
    // The processor counts an outcome once the attempt returns, after the row changed: wait for the jobs.
    const ids = [];
    for (const item of [retried, dropped, refused]) ids.push(...(await licensesOf(item.hostOrderItemId)));
    await jobsFinished(ids.map((r) => r.id));

    const after = await scrape();
    const delta = (read: (text: string) => number) => read(after) - read(before);
    expect(delta((t) => outcome(t, 'synchronized'))).toBe(1);
    expect(delta((t) => outcome(t, 'reconciled'))).toBe(1);
    expect(delta((t) => outcome(t, 'failed'))).toBe(1);
    // The 503'd attempt and the dropped one.
    expect(delta((t) => outcome(t, 'retry'))).toBe(2);
    expect(delta((t) => calls(t, TOKEN_ROUTE, '201'))).toBe(1);
    expect(delta((t) => calls(t, TOKEN_ROUTE, '503'))).toBe(1);
    expect(delta((t) => calls(t, TOKEN_ROUTE, '400'))).toBe(1);
    expect(delta((t) => calls(t, LOOKUP_ROUTE, '503'))).toBe(1);
    // After the 503 the look-up was asked again and found nothing; the reconciling look-up found the token.
    expect(delta((t) => calls(t, LOOKUP_ROUTE, '404'))).toBe(1);
    expect(delta((t) => calls(t, LOOKUP_ROUTE, '200'))).toBe(1);
    // The look-up's 503 was retried within the call: one retry counted on its route.
    expect(delta((t) => retries(t, LOOKUP_ROUTE))).toBe(1);
    expect(sample(after, 'esd_queue_jobs', { queue: 'esd-provisioning', state: 'waiting' })).toBe(0);
    expect(after).not.toMatch(/[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/);
  });

  it.each([
    [
      'Microsoft lists it Discontinued',
      { vendorStatus: 'Discontinued' as const, catalogStatus: 'current' as const },
    ],
    [
      'the last catalog run found it gone',
      { vendorStatus: 'Active' as const, catalogStatus: 'discontinued' as const },
    ],
  ])(
    'a discontinued offer (%s): precheck and order refuse it with OFFER_DISCONTINUED, no rows, no token',
    async (_name, status) => {
      const offerId = `DISC-${randomUUID()}`;
      await env.dataSource.getRepository(OfferEntity).insert({
        id: newId(),
        instanceId: instance.id,
        offerId,
        offerUri: `https://cis.example.test/offers/${offerId}`,
        name: 'Office Discontinued 2019',
        shortDescription: null,
        productFamily: null,
        minQuantity: 1,
        maxQuantity: 10,
        isReturnable: true,
        ...status,
        lastModified: null,
        contentHash: '0'.repeat(64),
        firstSeenRunId: null,
        lastChangedRunId: null,
        hostProductRef: null,
        missingSince: null,
      });
      const count = await licenses().count();
      const before = await stats();
      const request = orderRequest(instance.id, { offerId }, 1);

      const precheck = await hooks.precheck({ action: 'order', request });
      expect(precheck.ok).toBe(false);
      if (!precheck.ok) {
        expect(precheck.violations.map((v) => v.code)).toEqual([EsdErrorCode.OFFER_DISCONTINUED]);
        expect(precheck.violations[0].message).toMatch(/discontinued/);
      }
      expect(await licenses().count()).toBe(count);

      const result = await hooks.order(request);
      expect(result).toMatchObject({ outcome: 'failed', code: EsdErrorCode.OFFER_DISCONTINUED });
      expect(await licenses().count()).toBe(count);
      expect(await licensesOf(request.hostOrderItemId)).toEqual([]);
      const after = await stats();
      expect(after.tokensCreated).toBe(before.tokensCreated);
      expect(callsSince(before, after, TOKEN_ROUTE)).toBe(0);
    },
  );

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

describe('A hook that stops waiting (short orderWaitMs, PostgreSQL, Redis, CIS sandbox)', () => {
  /** How long the token request sits at the sandbox: well past the hook's wait. */
  const TOKEN_LATENCY_MS = 2_000;
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offers: VendorOffer[];
  const { readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const control = <T>(method: 'get' | 'post' | 'delete', path: string, body?: unknown) =>
    sandboxControl<T>(env.sandbox, method, path, body);

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: await idleRedisDb(await requireService('redis')),
      options: { orderWaitMs: 300, jobRetry: JOB_RETRY },
    });
    hooks = env.app.get(EsdHooksService);
    instance = await readyInstance({}, MARKET);
    offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 10);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  afterEach(async () => {
    await control('delete', '/__sandbox/faults');
  });

  it('tokens still on their way: pending with a positive retryAfterSeconds; asked again once they came, done', async () => {
    await control('post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      latencyMs: TOKEN_LATENCY_MS,
      times: 2,
    });
    const offer = offers.find((o) => o.status === 'Active' && o.minQuantity <= 2 && o.maxQuantity >= 2)!;
    const before = await control<SandboxStats>('get', '/__sandbox/stats');
    const request = orderRequest(instance.id, offer, 2);

    const result = await hooks.order(request);
    expect(result.outcome).toBe('pending');
    const pending = result as Extract<OrderResult, { outcome: 'pending' }>;
    expect(Number.isInteger(pending.retryAfterSeconds)).toBe(true);
    expect(pending.retryAfterSeconds).toBeGreaterThan(0);
    expect(pending.licenses.map((l) => l.unitIndex)).toEqual([0, 1]);
    for (const license of pending.licenses) {
      expect(license.provisioningStatus).toBe('Unsynchronised');
      expect(license.tokenMasked).toBeNull();
      expect(license.error).toBeNull();
    }

    // The worker goes on without the hook: asked again after the tokens came, the hook answers the same licenses.
    const repo = env.dataSource.getRepository(LicenseEntity);
    const deadline = Date.now() + 20_000;
    let rows = await repo.findBy({ hostOrderItemId: request.hostOrderItemId });
    while (rows.some((r) => r.provisioningStatus !== 'Synchronized')) {
      if (Date.now() > deadline) throw new Error('licenses not synchronized in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await repo.findBy({ hostOrderItemId: request.hostOrderItemId });
    }
    const again = await hooks.order(request);
    expect(again.outcome).toBe('done');
    expect(again.licenses?.map((l) => l.id)).toEqual(pending.licenses.map((l) => l.id));
    const after = await control<SandboxStats>('get', '/__sandbox/stats');
    expect(after.tokensCreated - before.tokensCreated).toBe(2);
    for (const row of rows) expect(after.tokenRequestsByClientTransactionId[row.clientTransactionId]).toBe(1);
  });
});
