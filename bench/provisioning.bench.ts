/**
 * provisioning: 2,000 licenses ordered through the `order` hook (400 order items of 5 units, a bounded number of
 * calls at a time) and provisioned by the plugin's Bull worker against the CIS sandbox at 20 ms latency and a rate
 * limit of 6,000 requests a minute per channel — the limit is what bounds the throughput, so the token rate is
 * printed as a ratio to it (100 tokens/s if every request were a token request; sign-ins and lookups count too).
 * Measured in one run: the token rate at the sandbox (its own creation stamps, first to last), every CIS request
 * by route, the hook's p50/p99 latency, duplicates (must be 0: the run fails otherwise), 429s and retries, and
 * the time until every license is Synchronized and announced.
 *
 * This process is one host node — the order hook's caller and the plugin's worker. The CIS sandbox runs in a process
 * of its own (`dist/sandbox/cis/main.js`), as Microsoft would on another machine: its CPU is not the plugin's. The
 * host's notifier and event intake are in-memory counters, for the same reason. The node's CPU time per token and
 * the machine's load average are printed beside the rates: on a shared machine they explain a slow run.
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) gets a scratch schema, dropped at the end;
 * REDIS_URL (default redis://127.0.0.1:6379) a Redis database holding no keys, whose queues are emptied at the end.
 */
import { getQueueToken } from '@nestjs/bull';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import type { CatalogEntry } from '../sandbox/cis/catalog-generator';
import { principalFromRequest } from '../sandbox/host/principal';
import { OfferEntity } from '../src/catalog/offer.entity';
import { QUEUES } from '../src/constants';
import type { OrderRequest, OrderResult } from '../src/host/hooks';
import type { HostEvent, HostEvents, HostNotification, HostNotifier } from '../src/host/ports';
import { EsdHooksService } from '../src/licenses/esd-hooks.service';
import { PROVISIONING_CONCURRENCY } from '../src/licenses/provisioning.processor';
import { MicrosoftEsdModule } from '../src/microsoft-esd.module';
import { newId } from '../src/storage/entity-columns';
import { benchDatabase, closeBenchApp, readyInstance } from './plugin-api';
import { sandboxCall, startSandboxProcess, type SandboxProcess } from './sandbox-process';

const ITEMS = 400;
const UNITS = 5;
const LICENSES = ITEMS * UNITS;
/** Order hook calls in flight at once: a busy shop's checkouts. */
const HOOK_CONCURRENCY = 20;
/**
 * `PROVISIONING_BENCH_RATE_LIMIT` (requests a minute) lowers the limit: 2,000 tokens never fill a 6,000-request
 * minute, so on a machine that cannot reach it a lower limit is how to see the plugin meet the limit (its 429s).
 */
const SANDBOX = {
  latencyMs: 20,
  rateLimitPerMinute: Number(process.env.PROVISIONING_BENCH_RATE_LIMIT ?? 6000),
};
const MARKET = { country: 'GR', language: 'el-GR' };
/** How long the run may take before it is called stuck (8 job attempts' worst backoff fits well inside). */
const CONVERGE_LIMIT_MS = 15 * 60_000;
const TOKEN_ROUTE = 'POST /channels/:channelId/tokens';
const LOOKUP_ROUTE = 'GET /channels/:channelId/tokens/:clientTransactionId';

interface SandboxStats {
  tokensCreated: number;
  tokenRequestsByClientTransactionId: Record<string, number>;
  accessTokensIssued: number;
  callsByRoute: Record<string, number>;
}

/** The host's side, counted per dedupe key / event id: a key handed over twice shows up here. */
class CountingHost implements HostNotifier, HostEvents {
  readonly welcomes = new Map<string, number>();
  readonly events = new Map<string, number>();

  async send(notification: HostNotification): Promise<void> {
    this.welcomes.set(notification.dedupeKey, (this.welcomes.get(notification.dedupeKey) ?? 0) + 1);
  }

  async publish(event: HostEvent): Promise<void> {
    this.events.set(event.id, (this.events.get(event.id) ?? 0) + 1);
  }
}

/** One offer the market sells in fives, stored for the instance as a finished catalog run would store it. */
async function sellableOffer(
  dataSource: DataSource,
  sandbox: SandboxProcess,
  instanceId: string,
): Promise<string> {
  const { offers } = await sandboxCall<{ offers: CatalogEntry[] }>(sandbox, 'POST', '/__sandbox/catalog', {
    ...MARKET,
    count: 50,
    seed: 7,
  });
  const offer = offers.find(
    (o) => o.status === 'Active' && Number(o.minQuantity) <= UNITS && Number(o.maxQuantity) >= UNITS,
  );
  if (!offer) throw new Error(`the generated market sells no offer in lots of ${UNITS}`);
  await dataSource.getRepository(OfferEntity).insert({
    id: newId(),
    instanceId,
    offerId: String(offer.offerId),
    offerUri: String(offer.offerUri),
    name: String(offer.name),
    shortDescription: null,
    productFamily: null,
    minQuantity: Number(offer.minQuantity),
    maxQuantity: Number(offer.maxQuantity),
    isReturnable: offer.isReturnable === true,
    vendorStatus: 'Active',
    catalogStatus: 'current',
    lastModified: null,
    contentHash: '0'.repeat(64),
    firstSeenRunId: null,
    lastChangedRunId: null,
    hostProductRef: null,
    missingSince: null,
  });
  return String(offer.offerId);
}

function orderItem(instanceId: string, productCode: string, index: number): OrderRequest {
  const accountId = `bench-cust-${index}`;
  return {
    hostOrderId: `bench-order-${index}`,
    hostOrderItemId: `bench-item-${index}-${randomUUID()}`,
    instanceId,
    productCode,
    quantity: UNITS,
    unitPrice: { amountMinor: 14900, currency: 'EUR' },
    customer: {
      accountId,
      name: 'Μαρία Παπαδοπούλου',
      email: `${accountId}@example.test`,
      country: 'GR',
      locale: 'el-GR',
    },
    billTo: { accountId },
    placedAt: new Date().toISOString(),
  };
}

/** A Redis database holding no keys, so no other run's worker takes these jobs. */
async function idleRedisDb(base: string): Promise<string> {
  const redis = new Redis(base, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    for (const db of Array.from({ length: 15 }, (_, i) => i + 1).sort(() => Math.random() - 0.5)) {
      await redis.select(db);
      if ((await redis.dbsize()) === 0) return new URL(`/${db}`, base).toString();
    }
  } finally {
    redis.disconnect();
  }
  throw new Error(`every Redis database 1–15 at ${base} holds keys`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function pooled<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

export async function provisioningBench(): Promise<void> {
  if (!Number.isInteger(SANDBOX.rateLimitPerMinute) || SANDBOX.rateLimitPerMinute < 1) {
    throw new Error(
      'PROVISIONING_BENCH_RATE_LIMIT: expected a whole number of requests a minute, at least 1',
    );
  }
  const { dataSource, drop } = await benchDatabase();
  let sandbox: SandboxProcess | undefined;
  let app: INestApplication | undefined;
  try {
    // No limit while the instance is set up: its calls do not start the run's window.
    sandbox = await startSandboxProcess();
    const redisUrl = await idleRedisDb(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const host = new CountingHost();

    @Module({
      imports: [
        MicrosoftEsdModule.forRootAsync({
          useFactory: async () => ({
            hostApiVersion: '1.0.0',
            catalog: {
              upsertProductType: async () => undefined,
              upsertProducts: async () => [],
              setProductsStatus: async () => undefined,
            },
            notifier: host,
            events: host,
            principal: principalFromRequest,
            secretKey: randomBytes(32).toString('base64'),
            redis: redisUrl,
            dataSource,
          }),
        }),
      ],
    })
    class BenchModule {}
    app = await NestFactory.create(BenchModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    const hooks = app.get(EsdHooksService);

    const instanceId = await readyInstance(app, sandbox, MARKET);
    const productCode = await sellableOffer(dataSource, sandbox, instanceId);
    const items = Array.from({ length: ITEMS }, (_, i) => orderItem(instanceId, productCode, i));
    await sandboxCall(sandbox, 'POST', '/__sandbox/config', SANDBOX);
    const before = await sandboxCall<SandboxStats>(sandbox, 'GET', '/__sandbox/stats');

    // The run: every order item through the hook, then until every license is Synchronized and announced.
    const latencies: number[] = [];
    const outcomes: Record<OrderResult['outcome'], number> = { done: 0, pending: 0, failed: 0 };
    const load = loadavg()[0];
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await pooled(items, HOOK_CONCURRENCY, async (item) => {
      const t = performance.now();
      const result = await hooks.order(item);
      latencies.push(performance.now() - t);
      outcomes[result.outcome] += 1;
    });
    const hooksMs = performance.now() - started;
    let counts: { synchronized: number; failed: number; announced: number };
    for (;;) {
      const [row] = await dataSource.query<
        Array<{ synchronized: number; failed: number; announced: number }>
      >(
        `SELECT count(*) FILTER (WHERE provisioning_status = 'Synchronized')::int AS synchronized,
                count(*) FILTER (WHERE provisioning_status = 'Failed')::int AS failed,
                count(*) FILTER (WHERE welcome_sent_at IS NOT NULL)::int AS announced
           FROM esd_license`,
      );
      counts = row;
      if (counts.failed + counts.announced >= LICENSES) break;
      if (performance.now() - started > CONVERGE_LIMIT_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const convergeMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMsPerToken = (cpu.user + cpu.system) / 1000 / LICENSES;

    const after = await sandboxCall<SandboxStats>(sandbox, 'GET', '/__sandbox/stats');
    const [stamps] = await dataSource.query<
      Array<{ first: Date; last: Date; n: number; retried: number; most: number }>
    >(
      `SELECT min(token_created_at) AS first, max(token_created_at) AS last, count(*)::int AS n,
              count(*) FILTER (WHERE attempts > 1)::int AS retried, max(attempts)::int AS most
         FROM esd_license WHERE token_created_at IS NOT NULL`,
    );
    const calls = (route: string) => (after.callsByRoute[route] ?? 0) - (before.callsByRoute[route] ?? 0);
    const apiCalls = Object.keys(after.callsByRoute)
      .filter((route) => / \/channels\//.test(route))
      .reduce((n, route) => n + calls(route), 0);
    const requested = Object.entries(after.tokenRequestsByClientTransactionId).filter(
      ([ctid]) => !(ctid in before.tokenRequestsByClientTransactionId),
    );
    const handled = requested.reduce((n, [, count]) => n + count, 0);
    const tokensCreated = after.tokensCreated - before.tokensCreated;
    const duplicates = {
      tokens: tokensCreated - LICENSES,
      requestedTwice: requested.filter(([, count]) => count > 1).length,
      welcomedTwice: [...host.welcomes.values()].filter((n) => n > 1).length,
    };

    const limitPerSecond = SANDBOX.rateLimitPerMinute / 60;
    const spanS = (new Date(stamps.last).getTime() - new Date(stamps.first).getTime()) / 1000;
    const tokenRate = (stamps.n - 1) / spanS;
    const runS = convergeMs / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const line = (label: string, value: string) => console.log(`  ${label.padEnd(42)}${value}`);
    console.log(
      `provisioning: ${LICENSES.toLocaleString('en')} licenses (${ITEMS} order items × ${UNITS}) through the order hook, ${HOOK_CONCURRENCY} calls at a time; ` +
        `worker concurrency ${PROVISIONING_CONCURRENCY}; PostgreSQL + Redis; CIS sandbox over HTTPS at ${SANDBOX.latencyMs} ms, ` +
        `${SANDBOX.rateLimitPerMinute.toLocaleString('en')} requests/min per channel (sliding minute), in its own process`,
    );
    line(
      'host node CPU (hooks + worker)',
      `${cpuMsPerToken.toFixed(1)} ms a token, ${((cpu.user + cpu.system) / 1000 / convergeMs).toFixed(2)} cores busy on average; ` +
        `machine: ${cpus().length} cores, load average ${load.toFixed(1)} at the start`,
    );
    line(
      'token rate at the sandbox, first → last',
      `${tokenRate.toFixed(1)} tokens/s over ${spanS.toFixed(1)} s   ${(tokenRate / limitPerSecond).toFixed(2)} of the limit (${limitPerSecond.toFixed(1)}/s; aim ≥ 0.9)`,
    );
    line(
      'CIS API requests in the run',
      `${apiCalls} (${calls(TOKEN_ROUTE)} token requests, ${calls(LOOKUP_ROUTE)} look-ups), ${after.accessTokensIssued - before.accessTokensIssued} sign-ins; ` +
        `${(apiCalls / runS).toFixed(1)}/s over the run, ${(apiCalls / runS / limitPerSecond).toFixed(2)} of the limit`,
    );
    line(
      'order hook latency',
      `p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms ` +
        `(done ${outcomes.done}, pending ${outcomes.pending}, failed ${outcomes.failed}; all calls in ${(hooksMs / 1000).toFixed(1)} s)`,
    );
    line(
      'duplicates (must be 0)',
      `tokens created − licenses ${duplicates.tokens}, transaction ids requested twice ${duplicates.requestedTwice}, welcomes twice ${duplicates.welcomedTwice}`,
    );
    line(
      'retries / 429s',
      `${calls(TOKEN_ROUTE) - handled} token requests refused before the handler (429), ${handled - requested.length} replayed; ` +
        `${stamps.retried} licenses took more than one attempt (most ${stamps.most})`,
    );
    line(
      'time to converge',
      `${runS.toFixed(1)} s (first hook call → ${counts.announced} Synchronized and announced, ${counts.failed} Failed)`,
    );
    if (counts.announced + counts.failed < LICENSES) {
      // Where the rest are: the queue's view beside the rows'.
      const jobs = await app.get<Queue>(getQueueToken(QUEUES.provisioning)).getJobCounts();
      line('not converged: provisioning jobs', JSON.stringify(jobs));
    }
    const problems = [
      duplicates.tokens > 0 || duplicates.requestedTwice !== 0 || duplicates.welcomedTwice !== 0
        ? 'duplicates'
        : '',
      counts.announced !== LICENSES
        ? `${LICENSES - counts.announced} licenses not provisioned and announced`
        : '',
    ].filter((p) => p !== '');
    if (problems.length > 0) throw new Error(`provisioning bench: ${problems.join('; ')}`);
  } finally {
    if (app) await closeBenchApp(app);
    await sandbox?.close();
    await drop();
  }
}
