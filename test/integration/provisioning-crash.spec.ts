/**
 * A worker process killed with SIGKILL after Microsoft answered and before the license was saved: after a
 * restart, exactly one token for that license (ARCHITECTURE.md §2, "Exactly one token per license, whatever
 * fails").
 *
 * This process owns the database (PostgreSQL), the CIS sandbox and a web-only plugin app whose `order` hook creates
 * the license; the worker is the compiled reference host in a child process (`npm run build` first), on the same
 * database, Redis database and sealing key. The worker is stopped exactly between Microsoft's answer and the save:
 * the token request sits at the sandbox (a latency fault) while the test takes a row lock on the license, so the
 * worker's save waits on it once Microsoft has answered; the test then sees the token counted at the sandbox and
 * the save waiting in PostgreSQL, and kills the worker. Recovery is the plugin's own: Bull finds the dead worker's
 * job stalled once its lock expires (lockDuration and stalledInterval 30 s) and a restarted worker runs it again.
 * That takes about a minute (up to two on a busy machine), so this suite is slow on purpose.
 *
 * Its counterpart: a token request Microsoft refused with a 429 created nothing, so the retry sends it again without
 * looking the transaction up (a look-up is one more call against the rate limit).
 */
import { randomBytes } from 'node:crypto';
import { HostEventRow, HostNotificationRow } from '../../sandbox/host/host.entities';
import type { OrderRequest } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { instanceHelpers, type Json } from '../support/instances';
import { orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl, sandboxStats, type SandboxStatsAnswer } from '../support/sandbox-control';
import { requireService } from '../support/services';
import { idleRedisDb, startWorkerProcess, type WorkerProcess } from '../support/worker-process';

const MARKET = { country: 'GR', language: 'el-GR' };
/** How long the token request sits at the sandbox: time for the test to take its row lock after the claim. */
const TOKEN_LATENCY_MS = 5_000;
/**
 * Bull's stall detection: the dead worker's job lock lapses within 30 s, and a job is moved back to wait by the second
 * stalled-job check (every 30 s, cluster-wide) that finds it active and unlocked — some 60 s, more when a check
 * lands just before the previous one's gate lapses and is skipped, or the machine is busy.
 */
const RECOVERY_TIMEOUT_MS = 240_000;
/** The token routes as the sandbox counts them. */
const TOKEN_ROUTE = 'POST /channels/:channelId/tokens';
const LOOKUP_ROUTE = 'GET /channels/:channelId/tokens/:clientTransactionId';

/** Polls `probe` until it answers a value other than `undefined`; fails naming `what` after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Whether an earlier attempt reached Microsoft (PostgreSQL, Redis, worker processes)', () => {
  const secretKey = randomBytes(32).toString('base64');
  const workers: WorkerProcess[] = [];
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offers: VendorOffer[];
  const { readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const licenses = () => env.dataSource.getRepository(LicenseEntity);
  const oneUnitOffer = () =>
    offers.find((o) => o.status === 'Active' && o.minQuantity <= 1 && o.maxQuantity >= 1)!;
  const callsSince = (before: SandboxStatsAnswer, after: SandboxStatsAnswer, route: string) =>
    (after.callsByRoute[route] ?? 0) - (before.callsByRoute[route] ?? 0);

  async function startWorker(): Promise<WorkerProcess> {
    const worker = await startWorkerProcess({
      databaseUrl: env.databaseUrl,
      redisUrl: env.redisUrl,
      secretKey,
      cisUrl: env.sandbox.url,
    });
    workers.push(worker);
    return worker;
  }

  /** Backends of other sessions waiting on a lock `pid` holds, with what they run. */
  function blockedBy(pid: number): Promise<Array<{ pid: number; query: string }>> {
    return env.dataSource.query(
      'SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [pid],
    );
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: await idleRedisDb(await requireService('redis')),
      options: { worker: false, secretKey, orderWaitMs: 500 },
    });
    hooks = env.app.get(EsdHooksService);
    instance = await readyInstance({}, MARKET);
    offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 20);
  }, 60_000);

  afterEach(async () => {
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
  });

  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await env?.close();
  });

  it(
    'SIGKILL after Microsoft answered, before the save: the restarted worker looks the token up, one token, one welcome',
    async () => {
      const request: OrderRequest = orderRequest(instance.id, oneUnitOffer(), 1);
      const killed = await startWorker();
      await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
        method: 'POST',
        path: '/tokens$',
        latencyMs: TOKEN_LATENCY_MS,
        times: 1,
      });
      const before = await sandboxStats(env.sandbox);

      // This node only enqueues: the hook gives up waiting and answers pending.
      expect((await hooks.order(request)).outcome).toBe('pending');
      const [license] = await licenses().findBy({ hostOrderItemId: request.hostOrderItemId });
      const ctid = license.clientTransactionId;

      // The worker claimed its attempt and its token request sits at the sandbox: lock the row under it.
      await until('the attempt claimed', async () => {
        const row = await licenses().findOneByOrFail({ id: license.id });
        return row.attempts === 1 ? row : undefined;
      });
      const lock = env.dataSource.createQueryRunner();
      await lock.connect();
      await lock.startTransaction();
      try {
        await lock.query('SELECT id FROM esd_license WHERE id = $1 FOR UPDATE', [license.id]);
        const [{ pid: lockPid }] = (await lock.query('SELECT pg_backend_pid() AS pid')) as Array<{
          pid: number;
        }>;

        // Microsoft answered: the token exists at the sandbox, and the worker's save waits on the lock.
        await until('the token created at the sandbox', async () => {
          const s = await sandboxStats(env.sandbox);
          return s.tokensCreated > before.tokensCreated ? s : undefined;
        });
        const waiting = await until('the worker’s save waiting on the row lock', async () => {
          const found = (await blockedBy(lockPid)).filter((b) =>
            /^UPDATE .*"vendor_transaction_id"/s.test(b.query),
          );
          return found.length > 0 ? found : undefined;
        });
        const answered = await sandboxStats(env.sandbox);
        expect(answered.tokensCreated - before.tokensCreated).toBe(1);
        expect(answered.tokenRequestsByClientTransactionId[ctid]).toBe(1);

        await killed.kill('SIGKILL');
        // PostgreSQL learns a client is gone only when it writes to it: the dead worker's UPDATE, left waiting, would
        // commit the moment the lock goes. End its session as the server does once it notices (as with
        // client_connection_check_interval), so the save dies with the process.
        await env.dataSource.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [
          waiting.map((w) => w.pid),
        ]);
        await until('the dead worker’s save ended', async () =>
          (await blockedBy(lockPid)).length === 0 ? true : undefined,
        );
      } finally {
        await lock.rollbackTransaction();
        await lock.release();
      }

      const orphan = await licenses().findOneByOrFail({ id: license.id });
      expect(orphan).toMatchObject({
        provisioningStatus: 'Unsynchronised',
        attempts: 1,
        vendorTransactionId: null,
      });

      // Restart: a new worker process, and the system recovers by itself.
      const killedAt = Date.now();
      const restarted = await startWorker();
      const restartedAt = Date.now();
      const done = await until(
        'the license Synchronized after the restart',
        async () => {
          const row = await licenses().findOneByOrFail({ id: license.id });
          return row.provisioningStatus !== 'Unsynchronised' && row.welcomeSentAt !== null ? row : undefined;
        },
        RECOVERY_TIMEOUT_MS,
      );
      const recoveredMs = Date.now() - restartedAt;

      expect(done.provisioningStatus).toBe('Synchronized');
      expect(done.attempts).toBe(2);
      expect(done.vendorTransactionId).not.toBeNull();
      const after = await sandboxStats(env.sandbox);
      expect(after.tokensCreated - before.tokensCreated).toBe(1);
      // The restart looked the transaction up and never asked for a token again.
      expect(after.tokenRequestsByClientTransactionId[ctid]).toBe(1);
      expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(1);

      const notes = (await env.dataSource.getRepository(HostNotificationRow).find()).filter(
        (n) => (JSON.parse(n.data) as { licenseId: string }).licenseId === license.id,
      );
      expect(notes).toHaveLength(1);
      const welcome = JSON.parse(notes[0].data) as { productKey: string; activationLink: string };
      expect(welcome.productKey.endsWith(done.tokenLastGroup!)).toBe(true);
      expect(new URL(welcome.activationLink).searchParams.get('ctid')).toBe(ctid);
      const events = await env.dataSource
        .getRepository(HostEventRow)
        .findBy({ id: `licenseProvisioned:${license.id}` });
      expect(events).toHaveLength(1);
      // The hook, asked again, answers the license done.
      expect((await hooks.order(request)).outcome).toBe('done');

      // Neither process wrote the product key, the sealing key or the client's private key anywhere.
      for (const worker of [killed, restarted]) {
        const output = worker.output();
        expect(output).not.toContain(welcome.productKey);
        expect(output).not.toContain(secretKey);
        expect(output).not.toContain(env.sandbox.credentials.privateKeyPem.split('\n')[1]);
      }
      process.stdout.write(
        `provisioning-crash: the new worker booted in ${((restartedAt - killedAt) / 1000).toFixed(1)} s and ` +
          `recovered the license ${(recoveredMs / 1000).toFixed(1)} s later (Bull's stalled-job check)\n`,
      );
    },
    RECOVERY_TIMEOUT_MS + 60_000,
  );

  it('a token request refused with 429 created nothing: the retry sends it again without a look-up', async () => {
    if (!workers.some((w) => w.alive())) await startWorker();
    // More 429s than the client sits out in one call, so the job itself fails and Bull retries it.
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens$',
      retryAfter: 1,
      times: 3,
    });
    const before = await sandboxStats(env.sandbox);
    const request = orderRequest(instance.id, oneUnitOffer(), 1);
    await hooks.order(request);
    const [license] = await licenses().findBy({ hostOrderItemId: request.hostOrderItemId });
    const done = await until(
      'the license Synchronized',
      async () => {
        const row = await licenses().findOneByOrFail({ id: license.id });
        return row.provisioningStatus !== 'Unsynchronised' && row.welcomeSentAt !== null ? row : undefined;
      },
      60_000,
    );

    expect(done.provisioningStatus).toBe('Synchronized');
    expect(done.attempts).toBe(2);
    const after = await sandboxStats(env.sandbox);
    expect(after.tokensCreated - before.tokensCreated).toBe(1);
    expect(callsSince(before, after, TOKEN_ROUTE)).toBe(4);
    expect(callsSince(before, after, LOOKUP_ROUTE)).toBe(0);
  }, 90_000);
});
