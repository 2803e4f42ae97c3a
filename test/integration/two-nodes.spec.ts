/**
 * Two plugin nodes sharing PostgreSQL and one Redis database (ARCHITECTURE.md §2, "Scale-out"; issue 9, item 2).
 *
 * The nodes are child processes (`dist/bench/chaos-worker.js`, `npm run build` first) with `worker: true` and HTTP
 * routes, mounted as the reference host mounts the plugin. This process owns the database, the CIS sandbox and a
 * web-only plugin app (`worker: false`) that creates the instance and calls the `order` hook.
 *
 * How it is measured:
 * - which node provisioned a license: each node prints `chaos-worker handled <licenseId>` on Bull's *local*
 *   `completed` event, which fires only in the process that ran the job to completion;
 * - catalog ticks: each node prints the id of every `esd-catalog` job it starts (Bull's `active` event, local too);
 *   a repeatable job's id names its tick (`repeat:<key>:<millis>`). The instance's `catalogSchedule` is set to a
 *   six-field, every-second cron directly in its row (the API takes five-field crons, a minute at best), before the
 *   nodes boot: each node's `CatalogScheduler` then adds the schedule at boot, as it does in production.
 */
import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { Between } from 'typeorm';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { CatalogScheduler } from '../../src/catalog/catalog-scheduler';
import { CATALOG_SYNC_JOB } from '../../src/constants';
import { CancellationRequestEntity } from '../../src/cancellation/cancellation-request.entity';
import type { OrderRequest } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { InstanceEntity } from '../../src/settings/instance.entity';
import { startChaosNode, type ChaosNode } from '../support/chaos-node';
import { instanceHelpers, type Json } from '../support/instances';
import { orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxStats } from '../support/sandbox-control';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';

const MARKET = { country: 'GR', language: 'el-GR' };
const LICENSES = 60;
const EVERY_SECOND = '* * * * * *';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('Two plugin nodes on one PostgreSQL and one Redis database', () => {
  const secretKey = randomBytes(32).toString('base64');
  let env: PluginApp;
  let instance: Json;
  let offers: VendorOffer[];
  let nodes: ChaosNode[] = [];
  const { readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: await idleRedisDb(await requireService('redis')),
      options: { worker: false, secretKey, orderWaitMs: 0 },
    });
    instance = await readyInstance({}, MARKET);
    offers = (await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 30)).filter(
      (o) => o.status === 'Active' && o.isReturnable && o.minQuantity <= 1 && o.maxQuantity >= 5,
    );
    await env.dataSource
      .getRepository(InstanceEntity)
      .update({ id: instance.id }, { catalogSchedule: EVERY_SECOND });
    const setup = {
      databaseUrl: env.databaseUrl,
      redisUrl: env.redisUrl,
      secretKey,
      cisTimeoutMs: 5000,
      jobRetry: { attempts: 10, baseMs: 200, maxMs: 2000 },
    };
    nodes = await Promise.all([startChaosNode(setup), startChaosNode(setup)]);
  }, 120_000);

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    await env?.close();
  });

  it('a scheduled catalog run fires once per tick across both nodes', async () => {
    const scheduler = env.app.get(CatalogScheduler);
    // Both nodes added the schedule at boot: Bull holds it once.
    const schedules = (await scheduler.list()).filter((s) => s.instanceId === instance.id);
    expect(schedules.map((s) => s.cron)).toEqual([EVERY_SECOND]);

    const before = nodes.map((n) => n.catalogJobs().length);
    const runs = env.dataSource.getRepository(CatalogRunEntity);
    const windowStart = new Date();
    await sleep(8_000);
    const windowEnd = new Date();
    const started = nodes.map((n, i) => n.catalogJobs().slice(before[i]));
    // Stop the every-second schedule (back to the default daily one) before counting, so nothing moves meanwhile.
    await env.dataSource.getRepository(InstanceEntity).update({ id: instance.id }, { catalogSchedule: null });
    await scheduler.sync(instance.id);

    // Only the scheduled `catalog-sync` jobs count: a run may queue other jobs of its own on the catalog queue.
    const scheduled = started.map((jobs) =>
      jobs
        .filter((j) => j.startsWith(`${CATALOG_SYNC_JOB} `))
        .map((j) => j.slice(CATALOG_SYNC_JOB.length + 1)),
    );
    // A repeatable job's id is `repeat:<key>:<tick millis>`; another `catalog-sync` (a run started by hand or at
    // instance set-up) has an id of its own and is not a tick.
    const all = scheduled.flat().filter((id) => id.startsWith('repeat:'));
    const other = scheduled.flat().filter((id) => !id.startsWith('repeat:'));
    const perTick = new Map<string, number>();
    for (const id of all) perTick.set(id, (perTick.get(id) ?? 0) + 1);
    const ticks = [...perTick.keys()].map((id) => Number(id.split(':').pop()));
    process.stdout.write(
      `two-nodes catalog: ${perTick.size} ticks in 8 s, scheduled jobs started per node ${JSON.stringify(scheduled.map((s) => s.length))} ` +
        `(all catalog-queue jobs ${JSON.stringify(started.map((s) => s.length))}, e.g. ${JSON.stringify(started.flat().slice(0, 3))}), ` +
        `ticks started more than once: ${[...perTick.values()].filter((n) => n > 1).length}, ` +
        `other catalog-sync jobs: ${JSON.stringify(other)}\n`,
    );
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
    // The run jobs a tick queues (ids of their own) ran once each too, and the database holds at most one scheduled
    // run per tick of the window.
    expect(new Set(other).size).toBe(other.length);
    const scheduledRuns = await runs.countBy({
      instanceId: instance.id,
      trigger: 'schedule',
      createdAt: Between(windowStart, windowEnd),
    });
    process.stdout.write(`two-nodes catalog: ${scheduledRuns} scheduled runs created in the 8 s window\n`);
    expect(scheduledRuns).toBeGreaterThan(0);
    expect(scheduledRuns).toBeLessThanOrEqual(perTick.size + 1);
    // Roughly one tick a second (a tick whose predecessor still ran may be late on a busy machine).
    expect(perTick.size).toBeGreaterThanOrEqual(4);
    expect(new Set(ticks).size).toBe(ticks.length);
  }, 60_000);

  it('provisioning spreads over both nodes, each license handled once', async () => {
    const hooks = env.app.get(EsdHooksService);
    const requests: OrderRequest[] = [];
    for (let left = LICENSES; left > 0;) {
      const q = Math.min(left, randomInt(1, 6));
      requests.push(orderRequest(instance.id, offers[randomInt(0, offers.length)], q));
      left -= q;
    }
    for (const r of requests) expect((await hooks.order(r)).outcome).not.toBe('failed');
    const licenses = env.dataSource.getRepository(LicenseEntity);
    await until(
      'every license Synchronized and announced',
      async () => {
        const done = await licenses
          .createQueryBuilder('l')
          .where("l.provisioningStatus = 'Synchronized' AND l.welcomeSentAt IS NOT NULL")
          .getCount();
        return done === LICENSES ? done : undefined;
      },
      120_000,
    );
    const ids = (await licenses.find({ select: { id: true } })).map((l) => l.id);
    const handled = nodes.map((n) => n.handled());
    process.stdout.write(
      `two-nodes provisioning: ${LICENSES} licenses, completed per node ${JSON.stringify(handled.map((h) => h.length))}\n`,
    );
    expect(handled.every((h) => h.length > 0)).toBe(true);
    expect(handled.flat().sort()).toEqual([...ids].sort());
  }, 180_000);

  it('a cancellation accepted on both nodes at once, three times: one 200 and one 409 each, one return each', async () => {
    const licenses = await env.dataSource
      .getRepository(LicenseEntity)
      .find({ where: { provisioningStatus: 'Synchronized', status: 'active' }, take: 3 });
    expect(licenses).toHaveLength(3);
    const requests = env.dataSource.getRepository(CancellationRequestEntity);
    const before = await sandboxStats(env.sandbox);
    for (const license of licenses) {
      const asked = await request(env.app.getHttpServer())
        .post(`/esd/my/licenses/${license.id}/cancellation-request`)
        .set('x-principal', `customer:${license.customerAccountId}`)
        .send({ comment: 'Wrong edition.' });
      expect(asked.status).toBe(201);
      const requestId = (asked.body as { id: string }).id;

      const answers = await Promise.all(
        nodes.map((node) =>
          request(node.url)
            .post(`/esd/cancellation-requests/${requestId}/accept`)
            .set('x-principal', 'admin')
            .send({ comment: 'Refund approved.' }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      process.stdout.write(`two-nodes cancellation: accept answered ${JSON.stringify(statuses)}\n`);
      expect(statuses).toEqual([200, 409]);
      expect((answers.find((a) => a.status === 409)!.body as { code: string }).code).toBe(
        'REQUEST_NOT_PENDING',
      );
      const executed = await until('the return executed', async () => {
        const row = await requests.findOneByOrFail({ id: requestId });
        return row.status === 'accepted' ? undefined : row;
      });
      expect(executed.status).toBe('executed');
    }
    // Time for a second return, had either node sent one.
    await sleep(2_000);
    const after = await sandboxStats(env.sandbox);
    expect(after.returnsCreated - before.returnsCreated).toBe(licenses.length);
  }, 120_000);
});
