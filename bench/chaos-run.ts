/**
 * The chaos run (issue 9, item 1), shared by `bench/chaos.ts` (`npm run test:chaos`) and
 * `test/integration/chaos.spec.ts` (CI size).
 *
 * This process is the web node: the reference host's order pipeline with the plugin mounted `worker: false`, on a
 * fresh PostgreSQL schema and an idle Redis database, with the CIS sandbox; two worker nodes run in child processes
 * (`dist/bench/chaos-worker.js`, short CIS timeout, small retry backoff). N licenses are ordered over HTTP —
 * `POST /host/orders` by a reseller for its customers, items of 1–5, a bounded number at a time — so every answer
 * the host gives its caller is counted, while the sandbox injects faults on the token routes, a worker is SIGKILLed
 * and restarted now and then, and the plugin's Redis database is flushed once. Nothing stands in for the plugin's
 * own recovery: the workers' repeatable `sweeper` job (every minute) finds the work the flush lost, and the workers
 * add back the schedules the flush forgot (`scheduleCheckMs`, 5 s here).
 */
import Redis from 'ioredis';
import { randomBytes, randomInt } from 'node:crypto';
import type { Server } from 'node:http';
import request from 'supertest';
import { HostNotificationRow } from '../sandbox/host/host.entities';
import type { OrderView } from '../sandbox/host/order-pipeline';
import { LicenseEntity } from '../src/licenses/license.entity';
import { WELCOME_TEMPLATE } from '../src/licenses/welcome';
import { startChaosNode, type ChaosNode, type ChaosNodeSetup } from '../test/support/chaos-node';
import { instanceHelpers } from '../test/support/instances';
import { pushToHostCatalog, seedOffers } from '../test/support/licensing';
import { startPluginApp, type PluginApp } from '../test/support/plugin-app';
import { sandboxControl, sandboxStats } from '../test/support/sandbox-control';
import { requireService } from '../test/support/services';
import { idleRedisDb } from '../test/support/worker-process';

export interface ChaosOptions {
  licenses: number;
  /** Orders in flight at once. */
  concurrency?: number;
  /** SIGKILL + restart of a worker, at random moments of the ordering phase. */
  kills?: number;
  cisTimeoutMs?: number;
  /** Give up converging after this long (from the first order). */
  convergeTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ChaosCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosReport {
  licenses: number;
  items: number;
  /** What the host answered its caller for each order: `<HTTP status> <outcome of the item>`. */
  hostAnswers: Record<string, number>;
  synchronized: number;
  failed: number;
  tokensCreated: number;
  /** Token requests that reached the sandbox's handler more than once for one clientTransactionId (replays). */
  ctidsRequestedTwice: number;
  welcomeNotifications: number;
  licensesWithoutOneWelcome: number;
  kills: number;
  redisFlushed: boolean;
  /** Sweeper jobs that ran on the workers, and the licenses they enqueued again. */
  sweeps: number;
  sweptRequeued: number;
  faultsFired: Record<string, number>;
  orderingMs: number;
  convergeMs: number;
  /** From the last chaos event (kill, restart, flush) to convergence. */
  convergeAfterLastChaosMs: number;
  converged: boolean;
  checks: ChaosCheck[];
}

const MARKET = { country: 'GR', language: 'el-GR' };
/** Short waits so a run converges in minutes; many attempts, since a fifth of the calls fail on purpose. */
const CHAOS_JOB_RETRY = { attempts: 30, baseMs: 200, maxMs: 3000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits `total` into item quantities of 1–5. */
function itemSizes(total: number): number[] {
  const sizes: number[] = [];
  let left = total;
  while (left > 0) {
    const q = Math.min(left, randomInt(1, 6));
    sizes.push(q);
    left -= q;
  }
  return sizes;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const N = options.licenses;
  const concurrency = options.concurrency ?? 8;
  const cisTimeoutMs = options.cisTimeoutMs ?? 2000;
  const plannedKills = options.kills ?? 3;
  const convergeTimeoutMs = options.convergeTimeoutMs ?? 15 * 60_000;
  const secretKey = randomBytes(32).toString('base64');
  const redisBase = await requireService('redis');
  const redisDb = await idleRedisDb(redisBase);

  let env: PluginApp | undefined;
  const workers: ChaosNode[] = [];
  const retired: ChaosNode[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    env = await startPluginApp({
      redisDb,
      // The same retry settings as the workers: the node that enqueues a job sets its attempts.
      options: { worker: false, secretKey, orderWaitMs: 0, cisTimeoutMs, jobRetry: CHAOS_JOB_RETRY },
    });
    const app = env.app;
    const sandbox = env.sandbox;
    const { readyInstance } = instanceHelpers(
      () => app,
      () => sandbox,
    );
    const instance = await readyInstance({}, MARKET);
    const offers = (await seedOffers(env.dataSource, env.sandbox, instance.id as string, MARKET, 30)).filter(
      (o) => o.status === 'Active' && o.minQuantity <= 1 && o.maxQuantity >= 5,
    );
    if (offers.length === 0) throw new Error('no Active offer orderable in quantities 1–5');
    // The administrator put them on sale; a reseller signs up its customers.
    const productOf = await pushToHostCatalog(env.dataSource, instance.id as string, offers);
    const server = app.getHttpServer() as Server;
    const host = (method: 'post' | 'patch', path: string, who: string, body: object) =>
      (method === 'post' ? request(server).post(path) : request(server).patch(path))
        .set('x-principal', who)
        .send(body);
    for (const productId of productOf.values()) {
      const res = await host('patch', `/host/products/${productId}`, 'admin', {
        active: true,
        published: true,
        priceMinor: 14900,
      });
      if (res.status !== 200)
        throw new Error(`could not put ${productId} on sale: ${res.status} ${res.text}`);
    }
    const reseller = `reseller:R-${randomBytes(4).toString('hex')}`;
    const customers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await host('post', '/host/accounts', reseller, {
        name: `Πελάτης ${i + 1}`,
        email: `chaos-${randomBytes(4).toString('hex')}@example.test`,
        country: 'GR',
        locale: 'el-GR',
      });
      if (res.status !== 201) throw new Error(`could not add a customer: ${res.status} ${res.text}`);
      customers.push((res.body as { accountId: string }).accountId);
    }

    const nodeSetup: ChaosNodeSetup = {
      databaseUrl: env.databaseUrl,
      redisUrl: env.redisUrl,
      secretKey,
      cisTimeoutMs,
      jobRetry: CHAOS_JOB_RETRY,
      scheduleCheckMs: 5000,
    };
    log(`chaos: starting 2 worker processes (Redis db ${redisDb})`);
    workers.push(...(await Promise.all([startChaosNode(nodeSetup), startChaosNode(nodeSetup)])));

    // Faults on the token routes (POST /channels/:c/tokens and the lookup GET …/tokens/:ctid): the first fault
    // that matches and whose rate rolls wins, so the effective rates are a little under the nominal ones.
    const tokenRoutes = '/tokens(/[^/]+)?$';
    const faults: Array<[string, Record<string, unknown>]> = [
      ['latency past the client timeout', { path: tokenRoutes, latencyMs: cisTimeoutMs + 1500, rate: 0.02 }],
      ['dropAfterCommit', { method: 'POST', path: '/tokens$', dropAfterCommit: true, rate: 0.05 }],
      ['503', { path: tokenRoutes, status: 503, rate: 0.2 }],
    ];
    const faultIds = new Map<number, string>();
    for (const [name, spec] of faults) {
      const added = await sandboxControl<{ id: number }>(sandbox, 'post', '/__sandbox/faults', spec);
      faultIds.set(added.id, name);
    }
    const licenses = env.dataSource.getRepository(LicenseEntity);
    const burstIds: number[] = [];
    let chaosOn = true;
    let lastChaosAt = Date.now();

    // 429 bursts with Retry-After: 1, every few seconds while at least a tenth of the licenses still wait. A burst is
    // added only once the previous one has fired out, and none near the end: with few licenses left, the same few
    // would take every 429 of every burst — no longer a burst but a refusal to serve them, which ends, by design,
    // in their retries running out.
    const burst = async () => {
      if (!chaosOn) return;
      if ((await licenses.countBy({ provisioningStatus: 'Synchronized' })) > 0.9 * N) return;
      const { items } = await sandboxControl<{ items: Array<{ id: number }> }>(
        sandbox,
        'get',
        '/__sandbox/faults',
      );
      if (items.some((f) => burstIds.includes(f.id))) return;
      const added = await sandboxControl<{ id: number }>(sandbox, 'post', '/__sandbox/faults', {
        path: tokenRoutes,
        retryAfter: 1,
        times: 10,
      });
      burstIds.push(added.id);
    };
    timers.push(setInterval(() => void burst().catch(() => undefined), 4000));

    // Orders.
    const sizes = itemSizes(N);
    const hostAnswers: Record<string, number> = {};
    const answer = (key: string) => (hostAnswers[key] = (hostAnswers[key] ?? 0) + 1);
    let next = 0;
    let ordered = 0;
    const started = Date.now();
    const orderLoop = async () => {
      while (next < sizes.length) {
        const q = sizes[next++];
        const offer = offers[randomInt(0, offers.length)];
        try {
          const res = await host('post', '/host/orders', reseller, {
            customerAccountId: customers[randomInt(0, customers.length)],
            items: [{ productId: productOf.get(offer.offerId), quantity: q }],
          });
          const items = (res.body as Partial<OrderView>).items ?? [];
          answer(`${res.status} ${items.map((item) => item.outcome).join(',') || 'no items'}`);
          if (res.status >= 500) log(`chaos: the host answered ${res.status}: ${res.text}`);
        } catch (error: unknown) {
          answer('no answer');
          log(`chaos: an order got no answer: ${error instanceof Error ? error.message : String(error)}`);
        }
        ordered += q;
      }
    };

    // Kills and the Redis flush, at random moments of the provisioning (by the share of licenses Synchronized, so
    // they land while the workers are busy, whatever the machine's speed).
    let kills = 0;
    let redisFlushed = false;
    const killPoints = Array.from({ length: plannedKills }, () => randomInt(5, 80) / 100).sort();
    const flushPoint = randomInt(30, 60) / 100;
    const chaosLoop = async () => {
      while (chaosOn && (killPoints.length > 0 || !redisFlushed)) {
        await sleep(500);
        const progress = (await licenses.countBy({ provisioningStatus: 'Synchronized' })) / N;
        if (!redisFlushed && progress >= flushPoint) {
          const redis = new Redis(redisBase, { db: redisDb, lazyConnect: true, maxRetriesPerRequest: 1 });
          await redis.connect();
          await redis.flushdb();
          redis.disconnect();
          redisFlushed = true;
          lastChaosAt = Date.now();
          log(
            `chaos: FLUSHDB on Redis db ${redisDb} at ${(progress * 100).toFixed(0)}% synchronized, ${ordered}/${N} ordered`,
          );
        }
        if (killPoints.length > 0 && progress >= killPoints[0]) {
          killPoints.shift();
          const index = randomInt(0, workers.length);
          const victim = workers[index];
          await victim.kill('SIGKILL');
          retired.push(victim);
          kills += 1;
          lastChaosAt = Date.now();
          log(
            `chaos: SIGKILL worker ${victim.pid} at ${(progress * 100).toFixed(0)}% synchronized, ${ordered}/${N} ordered; restarting`,
          );
          workers[index] = await startChaosNode(nodeSetup);
          lastChaosAt = Date.now();
        }
        if (Date.now() - started > convergeTimeoutMs) break;
      }
    };
    let chaosError: string | undefined;
    const chaosDone = chaosLoop().catch((error: unknown) => {
      chaosError = error instanceof Error ? error.message : String(error);
      log(`chaos: the chaos loop failed: ${chaosError}`);
    });
    await Promise.all(Array.from({ length: concurrency }, orderLoop));
    const orderingMs = Date.now() - started;
    log(`chaos: ${N} licenses ordered in ${sizes.length} items in ${(orderingMs / 1000).toFixed(1)} s`);

    // Converge: every license Synchronized and announced (the chaos loop goes on meanwhile until it is done).
    let converged = false;
    let lastLog = 0;
    for (;;) {
      const done = await licenses
        .createQueryBuilder('l')
        .where("l.provisioningStatus = 'Synchronized' AND l.welcomeSentAt IS NOT NULL")
        .getCount();
      if (done >= N) {
        converged = true;
        break;
      }
      if (Date.now() - started > convergeTimeoutMs) break;
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        const counts = await env.queues.provisioning.getJobCounts();
        log(
          `chaos: ${done}/${N} synchronized and announced after ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
            `provisioning queue ${JSON.stringify(counts)}`,
        );
      }
      await sleep(500);
    }
    const convergedAt = Date.now();
    if (!converged) {
      for (const worker of [...retired, ...workers]) {
        const lines = worker
          .output()
          .split('\n')
          .filter((line) => line && !line.startsWith('chaos-worker '));
        log(`chaos: worker ${worker.pid} said:\n${lines.slice(-40).join('\n')}`);
      }
    }
    chaosOn = false;
    await chaosDone;
    for (const timer of timers) clearInterval(timer);
    const swept = [...retired, ...workers].flatMap((w) => w.sweeps());
    const sweeps = swept.length;
    const sweptRequeued = swept.reduce((a, b) => a + b, 0);

    // Figures.
    const rows = await licenses.find({
      select: {
        id: true,
        provisioningStatus: true,
        clientTransactionId: true,
        provisioningErrorCode: true,
        provisioningErrorMessage: true,
      },
    });
    const stats = await sandboxStats(sandbox);
    const active = await sandboxControl<{ items: Array<{ id: number; fired: number }> }>(
      sandbox,
      'get',
      '/__sandbox/faults',
    );
    const faultsFired: Record<string, number> = { '429 bursts (10 each)': burstIds.length };
    for (const f of active.items) {
      const name =
        faultIds.get(f.id) ?? (burstIds.includes(f.id) ? '429 (last burst, unfinished)' : `fault ${f.id}`);
      faultsFired[name] = (faultsFired[name] ?? 0) + f.fired;
    }
    const notes = await env.dataSource
      .getRepository(HostNotificationRow)
      .find({ where: { template: WELCOME_TEMPLATE }, select: { id: true, data: true, dedupeKey: true } });
    const perLicense = new Map<string, number>();
    for (const note of notes) {
      const { licenseId } = JSON.parse(note.data) as { licenseId: string };
      perLicense.set(licenseId, (perLicense.get(licenseId) ?? 0) + 1);
    }
    const licensesWithoutOneWelcome = rows.filter((r) => perLicense.get(r.id) !== 1).length;
    const dedupeKeys = new Set(notes.map((n) => n.dedupeKey)).size;
    const ctids = new Set(rows.map((r) => r.clientTransactionId));
    const ctidsRequestedTwice = Object.values(stats.tokenRequestsByClientTransactionId).filter(
      (n) => n > 1,
    ).length;
    const ctidsRequested = rows.filter(
      (r) => (stats.tokenRequestsByClientTransactionId[r.clientTransactionId] ?? 0) >= 1,
    ).length;
    const synchronized = rows.filter((r) => r.provisioningStatus === 'Synchronized').length;
    const failedRows = rows.filter((r) => r.provisioningStatus === 'Failed');
    const failed = failedRows.length;
    const failedCodes = [
      ...new Set(failedRows.map((r) => `${r.provisioningErrorCode}: ${r.provisioningErrorMessage}`)),
    ];

    const checks: ChaosCheck[] = [
      { name: 'licenses stored = ordered', ok: rows.length === N, detail: `${rows.length} / ${N}` },
      {
        name: 'every license Synchronized',
        ok: synchronized === N,
        detail: `${synchronized} / ${N} (${failed} Failed${failed > 0 ? `: ${failedCodes.join('; ')}` : ''})`,
      },
      {
        name: 'tokens created at the sandbox = licenses',
        ok: stats.tokensCreated === N,
        detail: `${stats.tokensCreated} / ${N}`,
      },
      {
        name: 'no clientTransactionId created twice',
        // Distinct tokens = licenses, one distinct clientTransactionId per license, and each reached the sandbox:
        // a second token for one id would make tokensCreated exceed the licenses.
        ok:
          ctids.size === rows.length && ctidsRequested === rows.length && stats.tokensCreated === rows.length,
        detail:
          `${ctids.size} distinct ids for ${rows.length} licenses, ${ctidsRequested} reached the sandbox; ` +
          `${ctidsRequestedTwice} requested again and answered as replays`,
      },
      {
        name: 'exactly one welcome notification per license',
        ok: licensesWithoutOneWelcome === 0 && notes.length === N && dedupeKeys === N,
        detail: `${notes.length} rows, ${dedupeKeys} dedupe keys, ${licensesWithoutOneWelcome} licenses without exactly one`,
      },
      {
        name: 'no 5xx answered by the host, every order placed',
        ok: Object.entries(hostAnswers).every(([key]) => /^201 /.test(key)),
        detail: JSON.stringify(hostAnswers),
      },
      {
        name: 'chaos applied',
        ok: chaosError === undefined && kills === plannedKills && redisFlushed,
        detail: chaosError ?? `${kills} / ${plannedKills} kills, Redis flushed: ${redisFlushed}`,
      },
      { name: 'converged', ok: converged, detail: `${((convergedAt - started) / 1000).toFixed(1)} s` },
    ];
    return {
      licenses: N,
      items: sizes.length,
      hostAnswers,
      synchronized,
      failed,
      tokensCreated: stats.tokensCreated,
      ctidsRequestedTwice,
      welcomeNotifications: notes.length,
      licensesWithoutOneWelcome,
      kills,
      redisFlushed,
      sweeps,
      sweptRequeued,
      faultsFired,
      orderingMs,
      convergeMs: convergedAt - started,
      convergeAfterLastChaosMs: convergedAt - lastChaosAt,
      converged,
      checks,
    };
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const worker of workers) await worker.stop().catch(() => undefined);
    await env?.close().catch(() => undefined);
  }
}

/** The report as printed lines. */
export function formatChaosReport(report: ChaosReport): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    `chaos run: ${report.licenses} licenses in ${report.items} items`,
    `  host answers:          ${JSON.stringify(report.hostAnswers)}`,
    `  synchronized:          ${report.synchronized} (failed ${report.failed})`,
    `  tokens created:        ${report.tokensCreated}`,
    `  ctids replayed:        ${report.ctidsRequestedTwice} (requested again, answered as replays, no new token)`,
    `  welcome notifications: ${report.welcomeNotifications} (licenses without exactly one: ${report.licensesWithoutOneWelcome})`,
    `  chaos:                 ${report.kills} worker SIGKILLs + restarts, Redis flushed: ${report.redisFlushed}`,
    `  faults fired:          ${JSON.stringify(report.faultsFired)}`,
    `  sweeper jobs:          ${report.sweeps} (licenses re-enqueued: ${report.sweptRequeued})`,
    `  ordering took          ${s(report.orderingMs)}`,
    `  converged in           ${s(report.convergeMs)} from the first order, ${s(report.convergeAfterLastChaosMs)} after the last chaos event`,
    ...report.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
}
