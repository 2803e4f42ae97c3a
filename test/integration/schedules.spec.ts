/**
 * Schedules live only in Redis. A Redis restarted without persistence (or flushed) forgets every repeatable job —
 * the sweeper, the token-status sync, each instance's Get Services Definition — and nothing would fire again until
 * a node restarted. Each worker node checks every `scheduleCheckMs` and adds back what is missing.
 */
import Redis from 'ioredis';
import { CATALOG_SYNC_JOB, SWEEPER_JOB, TOKEN_STATUS_SYNC_JOB } from '../../src/constants';
import { MaintenanceScheduler } from '../../src/maintenance/maintenance-scheduler';
import { instanceHelpers, type Json } from '../support/instances';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';

const MARKET = { country: 'GR', language: 'el-GR' };

describe('Repeatable jobs after Redis lost its data (PostgreSQL, Redis)', () => {
  let env: PluginApp;
  let redisDb: number;
  let instance: Json;
  const { readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );

  /** Every schedule Bull holds, as `name cron [instance]`, sorted. */
  async function schedules(): Promise<string[]> {
    const held = [
      ...(await env.queues.maintenance.getRepeatableJobs()),
      ...(await env.queues.catalog.getRepeatableJobs()),
    ];
    return held.map((j) => `${j.name} ${j.cron}${j.name === CATALOG_SYNC_JOB ? ` ${j.id}` : ''}`).sort();
  }

  async function flushRedis(): Promise<void> {
    const redis = new Redis(await requireService('redis'), { db: redisDb, lazyConnect: true });
    await redis.connect();
    try {
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    redisDb = await idleRedisDb(await requireService('redis'));
    env = await startPluginApp({ redisDb, options: { scheduleCheckMs: 1000 } });
    instance = await readyInstance({ catalogSchedule: '15 3 * * *' }, MARKET);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  it('a flushed Redis gets every schedule back within one check, once each', async () => {
    const expected = [
      `${CATALOG_SYNC_JOB} 15 3 * * * ${instance.id}`,
      `${SWEEPER_JOB} * * * * *`,
      `${TOKEN_STATUS_SYNC_JOB} 0 */6 * * *`,
    ].sort();
    expect(await schedules()).toEqual(expected);

    await flushRedis();
    expect(await schedules()).toEqual([]);
    const startedAt = Date.now();
    const back = await until(
      'the schedules added back',
      async () => {
        const now = await schedules();
        return now.length === expected.length ? now : undefined;
      },
      5_000,
    );
    expect(back).toEqual(expected);
    expect(Date.now() - startedAt).toBeLessThan(3_000);

    // Checks while nothing is missing add nothing, and a check already under way is joined, not doubled.
    const scheduler = env.app.get(MaintenanceScheduler);
    const [a, b] = await Promise.all([scheduler.checkSchedules(), scheduler.checkSchedules()]);
    expect(a).toBe(b);
    expect(a).toEqual({ maintenance: [], catalog: [] });
    expect(await schedules()).toEqual(expected);
  });

  it('one check answers exactly what it added back', async () => {
    const scheduler = env.app.get(MaintenanceScheduler);
    scheduler.onApplicationShutdown(); // the timer off: this check alone adds them back
    await flushRedis();
    const check = await scheduler.checkSchedules();
    expect(check).toEqual({
      maintenance: [SWEEPER_JOB, TOKEN_STATUS_SYNC_JOB],
      catalog: [instance.id],
    });
    expect(await schedules()).toHaveLength(3);
  });
});
