/**
 * The chaos run (issue 9, item 1), shared by `bench/chaos.ts` (`npm run test:chaos`) and
 * `test/integration/chaos.spec.ts` (CI size).
 *
 * This process is the web node: the plugin with `worker: false` on a fresh PostgreSQL schema and an idle Redis
 * database, with the CIS sandbox; two worker nodes run in child processes (`dist/bench/chaos-worker.js`, short CIS
 * timeout, small retry backoff). N licenses are ordered through the `order` hook in items of 1–5 with bounded
 * concurrency while the sandbox injects faults on the token routes, a worker is SIGKILLed and restarted now and
 * then, and the plugin's Redis database is flushed once. The sweeper runs as its repeatable job would, but every
 * few seconds instead of every minute: `SweeperService.sweepLicenses(now + ANNOUNCE_GRACE_MS)` from the web node,
 * which is what the maintenance job calls (with the grace moved so an unannounced license is picked up at once).
 */
import { randomBytes, randomInt } from 'node:crypto';
import Redis from 'ioredis';
import { HostNotificationRow } from '../sandbox/host/host.entities';
import { EsdHooksService } from '../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../src/licenses/license.entity';
import { WELCOME_TEMPLATE } from '../src/licenses/welcome';
import { ANNOUNCE_GRACE_MS, SweeperService } from '../src/maintenance/sweeper.service';
import { startChaosNode, type ChaosNode, type ChaosNodeSetup } from '../test/support/chaos-node';
import { instanceHelpers } from '../test/support/instances';
import { orderRequest, seedOffers } from '../test/support/licensing';
import { startPluginApp, type PluginApp } from '../test/support/plugin-app';
import { sandboxControl, sandboxStats } from '../test/support/sandbox-control';
import { requireService } from '../test/support/services';
import { idleRedisDb } from '../test/support/worker-process';

export interface ChaosOptions {
  licenses: number;
  /** Order hook calls in flight at once. */
  concurrency?: number;
  /** SIGKILL + restart of a worker, at random moments of the ordering phase. */
  kills?: number;
  cisTimeoutMs?: number;
  /** Give up converging after this long (from the first order). */
  convergeTimeoutMs?: number;
  sweepEveryMs?: number;
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
  hookAnswers: Record<string, number>;
  synchronized: number;
  failed: number;
  tokensCreated: number;
  /** Token requests that reached the sandbox's handler more than once for one clientTransactionId (replays). */
  ctidsRequestedTwice: number;
  welcomeNotifications: number;
  licensesWithoutOneWelcome: number;
  kills: number;
  redisFlushed: boolean;
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
  const sweepEveryMs = options.sweepEveryMs ?? 3000;
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
      options: { worker: false, secretKey, orderWaitMs: 0, cisTimeoutMs },
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
    const hooks = app.get(EsdHooksService);
    const sweeper = app.get(SweeperService);

    const nodeSetup: ChaosNodeSetup = {
      databaseUrl: env.databaseUrl,
      redisUrl: env.redisUrl,
      secretKey,
      cisTimeoutMs,
      jobRetry: { attempts: 30, baseMs: 200, maxMs: 3000 },
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
    const burstIds: number[] = [];
    let chaosOn = true;
    let lastChaosAt = Date.now();

    // 429 bursts with Retry-After: 1, every few seconds until the run converges.
    // A burst is added only once the previous one has fired out: bursts piling up faster than the (slowed) traffic
    // consumes them would answer 429 to everything for ever — a storm no retry policy converges through.
    const burst = async () => {
      if (!chaosOn) return;
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

    // The sweeper, as the maintenance job runs it.
    let sweeps = 0;
    let sweptRequeued = 0;
    let sweeping = false;
    timers.push(
      setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        sweeper
          .sweepLicenses(new Date(Date.now() + ANNOUNCE_GRACE_MS))
          .then((r) => {
            sweeps += 1;
            sweptRequeued += r.requeued.length;
          })
          .catch((error: unknown) => log(`chaos: sweep failed: ${String(error)}`))
          .finally(() => (sweeping = false));
      }, sweepEveryMs),
    );

    // Orders.
    const sizes = itemSizes(N);
    const hookAnswers: Record<string, number> = {};
    const answer = (key: string) => (hookAnswers[key] = (hookAnswers[key] ?? 0) + 1);
    let next = 0;
    let ordered = 0;
    const started = Date.now();
    const orderLoop = async () => {
      while (next < sizes.length) {
        const q = sizes[next++];
        const offer = offers[randomInt(0, offers.length)];
        try {
          const result = await hooks.order(orderRequest(instance.id as string, offer, q));
          answer(result.outcome);
        } catch (error: unknown) {
          // The host would answer its caller 5xx for a hook that throws.
          answer('threw');
          log(`chaos: order hook threw: ${error instanceof Error ? error.message : String(error)}`);
        }
        ordered += q;
      }
    };

    // Kills and the Redis flush, at random moments of the provisioning (by the share of licenses Synchronized, so
    // they land while the workers are busy, whatever the machine's speed).
    const licenses = env.dataSource.getRepository(LicenseEntity);
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
    while (sweeping) await sleep(50);

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
        name: 'no 5xx answered to the host',
        ok: (hookAnswers.threw ?? 0) === 0,
        detail: JSON.stringify(hookAnswers),
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
      hookAnswers,
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
    `  hook answers:          ${JSON.stringify(report.hookAnswers)}`,
    `  synchronized:          ${report.synchronized} (failed ${report.failed})`,
    `  tokens created:        ${report.tokensCreated}`,
    `  ctids replayed:        ${report.ctidsRequestedTwice} (requested again, answered as replays, no new token)`,
    `  welcome notifications: ${report.welcomeNotifications} (licenses without exactly one: ${report.licensesWithoutOneWelcome})`,
    `  chaos:                 ${report.kills} worker SIGKILLs + restarts, Redis flushed: ${report.redisFlushed}`,
    `  faults fired:          ${JSON.stringify(report.faultsFired)}`,
    `  sweeps:                ${report.sweeps} (licenses re-enqueued: ${report.sweptRequeued})`,
    `  ordering took          ${s(report.orderingMs)}`,
    `  converged in           ${s(report.convergeMs)} from the first order, ${s(report.convergeAfterLastChaosMs)} after the last chaos event`,
    ...report.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
}
