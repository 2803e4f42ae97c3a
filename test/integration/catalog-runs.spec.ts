/**
 * Get Services Definition end to end on PostgreSQL and Redis, against the CIS sandbox over real HTTPS: the
 * plugin's routes trigger runs, its Bull worker lists the sandbox's offers, writes `esd_offer` and pushes into
 * the reference host's catalog (its real `HostCatalog` and `HostEvents` on the same database, its `/host/*`
 * routes mounted beside the plugin's). The sandbox's `/__sandbox/catalog` control says what changed, so every
 * expected list comes from the sandbox's answer, never from the code under test.
 *
 * The queues live in a Redis database of their own, so workers of other suites on the same Redis never take
 * these jobs.
 */
import { sandboxControl } from '../support/sandbox-control';
import { getQueueToken } from '@nestjs/bull';
import { type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { AffectedOffers, CatalogEntry } from '../../sandbox/cis/catalog-generator';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { HOST_DATA_SOURCE, HostController } from '../../sandbox/host/host.controller';
import {
  HOST_ENTITIES,
  HostEventRow,
  HostProductRow,
  HostProductTypeRow,
} from '../../sandbox/host/host.entities';
import { ReferenceHostCatalog, ReferenceHostEvents } from '../../sandbox/host/host-ports';
import { CreateReferenceHostTables1763990000000 } from '../../sandbox/host/migrations/1763990000000-CreateReferenceHostTables';
import { principalFromRequest } from '../../sandbox/host/principal';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { CatalogScheduler } from '../../src/catalog/catalog-scheduler';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { CATALOG_SYNC_JOB, QUEUES } from '../../src/constants';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { ScriptedHostCatalog } from '../support/host-ports';
import { instanceHelpers, type Json } from '../support/instances';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';

const MARKET = { country: 'GR', language: 'el-GR' };
const SEED = randomInt(1, 1_000_000);

interface CatalogAnswer {
  offers: CatalogEntry[];
  affected: AffectedOffers;
}

/** The fields of a generated (valid) vendor offer the checks read. */
interface VendorOffer {
  offerId: string;
  offerUri: string;
  name: string;
  shortDescription?: string | null;
  minQuantity: number;
  maxQuantity: number;
  isReturnable: boolean;
}

interface HostProduct {
  id: string;
  instanceId: string;
  code: string;
  name: string;
  description: string;
  catalogStatus: string;
  active: boolean;
  published: boolean;
  sellable: boolean;
  returnable: boolean;
  priceMinor: number;
  currency: string;
}

describe('Get Services Definition (PostgreSQL, Redis, CIS sandbox, reference host catalog)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let sandbox: CisSandbox;
  let app: INestApplication;
  let queue: Queue;
  let host: ScriptedHostCatalog;
  const { call, createInstance, readyInstance } = instanceHelpers(
    () => app,
    () => sandbox,
  );

  const control = <T>(method: 'post' | 'delete', path: string, body?: unknown) =>
    sandboxControl<T>(sandbox, method, path, body);

  const setCatalog = (count: number, changes?: Record<string, unknown>) =>
    control<CatalogAnswer>('post', '/__sandbox/catalog', { ...MARKET, count, seed: SEED, changes });

  async function trigger(instanceId: string): Promise<request.Response> {
    return call('post', `/esd/instances/${instanceId}/services-definition`);
  }

  /** Polls the run until it is finished. */
  async function finished(instanceId: string, runId: string, timeoutMs = 20_000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await call('get', `/esd/instances/${instanceId}/services-definition/runs/${runId}`);
      expect(res.status).toBe(200);
      if (res.body.status === 'succeeded' || res.body.status === 'failed') return res.body as Json;
      if (Date.now() > deadline) throw new Error(`run ${runId} still ${res.body.status}: ${res.text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function runToEnd(instanceId: string): Promise<Json> {
    const started = await trigger(instanceId);
    expect(started.status).toBe(202);
    return finished(instanceId, started.body.id);
  }

  async function hostProducts(instanceId: string): Promise<Map<string, HostProduct>> {
    const res = await call('get', `/host/products?instanceId=${instanceId}&limit=500`);
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    return new Map((res.body.items as HostProduct[]).map((p) => [p.code, p]));
  }

  /** Every offer of a view, following the cursor. */
  async function offerView(instanceId: string, catalogStatus: string, limit = 50): Promise<Json[]> {
    const items: Json[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await call(
        'get',
        `/esd/offers?instanceId=${instanceId}&catalogStatus=${catalogStatus}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      items.push(...(res.body.items as Json[]));
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  }

  const sorted = (values: readonly string[]) => [...values].sort();

  /** The host's copy of a run's event: raised just after the run is stored as finished, so it may lag a poll. */
  async function eventOf(runId: string): Promise<HostEventRow> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const event = await dataSource.getRepository(HostEventRow).findOneBy({ id: runId });
      if (event || Date.now() > deadline)
        return dataSource.getRepository(HostEventRow).findOneByOrFail({ id: runId });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    const redisUrl = new URL(await requireService('redis'));
    db = await createTestDatabase('postgres');
    dataSource = new DataSource({
      ...db.dataSourceOptions,
      entities: [...ESD_ENTITIES, ...HOST_ENTITIES],
      migrations: [CreateReferenceHostTables1763990000000, ...ESD_MIGRATIONS],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    sandbox = await CisSandbox.start({ rateLimitPerMinute: 0 });

    @Module({
      imports: [
        MicrosoftEsdModule.forRootAsync({
          useFactory: async () => ({
            hostApiVersion: '1.0.0',
            catalog: (host = new ScriptedHostCatalog(new ReferenceHostCatalog(dataSource, 'EUR'))),
            notifier: { send: async () => undefined },
            events: new ReferenceHostEvents(dataSource),
            principal: principalFromRequest,
            secretKey: randomBytes(32).toString('base64'),
            redis: {
              host: redisUrl.hostname,
              port: Number(redisUrl.port || 6379),
              db: await idleRedisDb(redisUrl.toString()),
            },
            dataSource,
            cisTimeoutMs: 5000,
          }),
        }),
      ],
      controllers: [HostController],
      providers: [{ provide: HOST_DATA_SOURCE, useValue: dataSource }],
    })
    class HostModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    queue = app.get<Queue>(getQueueToken(QUEUES.catalog));
    await queue.isReady();
    await queue.obliterate({ force: true });
    await app.init();
  }, 60_000);

  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await app?.close();
    await sandbox?.close();
    await dataSource?.destroy();
    await db?.drop();
  });

  afterEach(async () => {
    await control('delete', '/__sandbox/faults');
  });

  describe('three runs over one market', () => {
    let instance: Json;
    let first: CatalogAnswer;
    let changed: CatalogAnswer;
    let admins: string[];

    beforeAll(async () => {
      instance = await readyInstance({}, MARKET);
    });

    it('adds every offer as new: inactive, unpublished products priced 0 with the offer’s details', async () => {
      first = await setCatalog(120);
      const started = await trigger(instance.id);
      expect(started.status).toBe(202);
      expect(started.body).toMatchObject({
        instanceId: instance.id,
        trigger: 'manual',
        status: 'queued',
        progress: 0,
        finishedAt: null,
        result: null,
      });
      const run = await finished(instance.id, started.body.id);
      expect(run.status).toBe('succeeded');
      expect(run.progress).toBe(100);
      expect(run.error).toBeNull();
      const ids = first.offers.map((o) => o.offerId);
      expect(run.result.counts).toEqual({ new: 120, updated: 0, discontinued: 0, unchanged: 0, skipped: 0 });
      expect(sorted(run.result.new)).toEqual(sorted(ids));
      for (const line of run.log as Json[]) {
        expect(['info', 'warn', 'error']).toContain(line.level);
        expect(Number.isNaN(Date.parse(line.at))).toBe(false);
      }
      expect((run.log as Json[]).some((l) => /Page 1: 120 offers/.test(l.message))).toBe(true);

      const products = await hostProducts(instance.id);
      expect(products.size).toBe(120);
      for (const entry of first.offers) {
        const offer = entry as unknown as VendorOffer;
        const product = products.get(offer.offerId)!;
        expect(product).toMatchObject({
          name: offer.name,
          catalogStatus: 'new',
          active: false,
          published: false,
          sellable: true,
          priceMinor: 0,
          returnable: offer.isReturnable,
        });
        expect(product.description).toContain(offer.offerUri);
        if (offer.shortDescription) expect(product.description).toContain(offer.shortDescription);
        expect(product.description).toMatch(new RegExp(`${offer.minQuantity}\\D+${offer.maxQuantity}`));
      }
      const type = await dataSource
        .getRepository(HostProductTypeRow)
        .findOneByOrFail({ code: 'MICROSOFT_ESD' });
      const uris = (JSON.parse(type.definition) as { properties: { values: string[] }[] }).properties[0]
        .values;
      expect(uris).toEqual(sorted(first.offers.map((o) => String(o.offerUri))));

      const rows = await dataSource.getRepository(OfferEntity).findBy({ instanceId: instance.id });
      expect(rows).toHaveLength(120);
      for (const row of rows) expect(row.hostProductRef).toBe(products.get(row.offerId)!.id);

      const view = await offerView(instance.id, 'new');
      expect(sorted(view.map((o) => o.offerId))).toEqual(sorted(ids));
      expect(view[0].nextSteps.join(' ')).toMatch(/Activate.*price.*price lists.*Publish/is);
      expect(await offerView(instance.id, 'current')).toEqual([]);

      const event = await eventOf(run.id);
      expect(event.name).toBe('catalogRunFinished');
      expect(JSON.parse(event.payload)).toEqual({
        runId: run.id,
        instanceId: instance.id,
        status: 'succeeded',
        counts: run.result.counts,
      });
    });

    it('lets the admin price, activate and publish products, and acknowledge what was reviewed', async () => {
      const products = await hostProducts(instance.id);
      admins = first.offers.slice(0, 2).map((o) => o.offerId);
      for (const [i, code] of admins.entries()) {
        const res = await call('patch', `/host/products/${products.get(code)!.id}`, {
          active: true,
          published: true,
          priceMinor: 14_900 + i,
        });
        expect(res.status).toBe(200);
      }
      const view = await offerView(instance.id, 'new');
      const reviewed = view.filter((o) => admins.includes(o.offerId)).map((o) => o.id as string);
      const unknown = '00000000-0000-4000-8000-000000000000';
      const ack = await call('post', '/esd/offers/acknowledge', { ids: [...reviewed, unknown] });
      expect(ack.status).toBe(200);
      expect(sorted(ack.body.acknowledged)).toEqual(sorted(reviewed));
      expect(ack.body.ignored).toEqual([{ id: unknown, reason: expect.stringMatching(/no offer/) }]);
      const again = await call('post', '/esd/offers/acknowledge', { ids: reviewed });
      expect(again.body.acknowledged).toEqual([]);
      expect(again.body.ignored.map((i: Json) => i.reason)).toEqual([
        expect.stringMatching(/already current/),
        expect.stringMatching(/already current/),
      ]);
      expect(sorted((await offerView(instance.id, 'current')).map((o) => o.offerId))).toEqual(sorted(admins));
      expect((await call('post', '/esd/offers/acknowledge', { ids: [] })).status).toBe(400);
      expect((await call('get', '/esd/offers?catalogStatus=gone')).status).toBe(400);
    });

    it('sees exactly the sandbox’s changes on the second run and keeps what the admin owns', async () => {
      changed = await setCatalog(120, { add: 3, rename: admins, discontinue: 2, remove: 1, corrupt: 1 });
      const { affected } = changed;
      const run = await runToEnd(instance.id);
      expect(run.status).toBe('succeeded');
      expect(run.progress).toBe(100);
      expect(run.result.counts).toEqual({
        new: 3,
        updated: 2,
        discontinued: 3,
        unchanged: 120 - 2 - 2 - 1 - 1,
        skipped: 1,
      });
      expect(sorted(run.result.new)).toEqual(sorted(affected.add));
      expect(sorted(run.result.updated)).toEqual(sorted(affected.rename));
      expect(sorted(run.result.discontinued)).toEqual(sorted([...affected.discontinue, ...affected.remove]));
      expect(run.result.skipped).toEqual([{ offerId: affected.corrupt[0], reason: expect.any(String) }]);
      expect(
        (run.log as Json[]).some((l) => l.level === 'warn' && l.message.includes(affected.corrupt[0])),
      ).toBe(true);
      // The removed offer was still open: the stored rows the listing did not name were checked.
      expect((run.log as Json[]).map((l) => l.message)).toContain(
        'Offers stored but not listed: 1; those Microsoft no longer lists are discontinued.',
      );

      const products = await hostProducts(instance.id);
      expect(products.size).toBe(123);
      const before = new Map(first.offers.map((o) => [o.offerId, o]));
      for (const [i, code] of affected.rename.entries()) {
        const listed = changed.offers.find((o) => o.offerId === code)!;
        expect(listed.name).not.toBe(before.get(code)!.name);
        expect(products.get(code)).toMatchObject({
          name: listed.name,
          catalogStatus: 'updated',
          active: true,
          published: true,
          priceMinor: 14_900 + admins.indexOf(code),
          sellable: true,
        });
        expect(i).toBeLessThan(2);
      }
      for (const code of [...affected.discontinue, ...affected.remove]) {
        expect(products.get(code)).toMatchObject({ catalogStatus: 'discontinued', sellable: false });
      }
      for (const code of affected.add) {
        expect(products.get(code)).toMatchObject({ catalogStatus: 'new', active: false, priceMinor: 0 });
      }
      expect(products.get(affected.corrupt[0])).toMatchObject({ catalogStatus: 'new', sellable: true });

      expect(sorted((await offerView(instance.id, 'updated')).map((o) => o.offerId))).toEqual(
        sorted(affected.rename),
      );
      const discontinued = await offerView(instance.id, 'discontinued');
      expect(sorted(discontinued.map((o) => o.offerId))).toEqual(
        sorted([...affected.discontinue, ...affected.remove]),
      );
      for (const offer of discontinued) expect(offer.nextSteps.join(' ')).toMatch(/Stop selling/);
      const removed = discontinued.find((o) => o.offerId === affected.remove[0])!;
      expect(removed.missingSince).not.toBeNull();
      expect(removed.vendorStatus).toBe('Active');
      const updatedView = await offerView(instance.id, 'updated');
      expect(updatedView[0].nextSteps.join(' ')).toMatch(/Review/);
    });

    it('writes nothing on a third run without changes and reports every offer unchanged', async () => {
      const offerTimes = async () =>
        new Map(
          (await dataSource.getRepository(OfferEntity).findBy({ instanceId: instance.id })).map((o) => [
            o.id,
            o.updatedAt.getTime(),
          ]),
        );
      const productTimes = async () =>
        new Map(
          (await dataSource.getRepository(HostProductRow).findBy({ instanceId: instance.id })).map((p) => [
            p.id,
            p.updatedAt,
          ]),
        );
      const offersBefore = await offerTimes();
      const productsBefore = await productTimes();
      const run = await runToEnd(instance.id);
      expect(run.status).toBe('succeeded');
      expect(run.result.counts).toEqual({
        new: 0,
        updated: 0,
        discontinued: 0,
        unchanged: offersBefore.size - 1,
        skipped: 1,
      });
      expect(await offerTimes()).toEqual(offersBefore);
      expect(await productTimes()).toEqual(productsBefore);
      // The removed offer was discontinued by the second run: it is counted unchanged without a scan of the rows.
      const messages = (run.log as Json[]).map((l) => l.message);
      expect(messages).toContain(
        'Offers stored but not listed: 1, all discontinued by earlier runs; they stay so.',
      );
      expect(messages.some((m) => m.includes('Microsoft no longer lists'))).toBe(false);

      const list = await call('get', `/esd/instances/${instance.id}/services-definition/runs?limit=2`);
      expect(list.status).toBe(200);
      expect(list.body.items.map((r: Json) => r.id)).toEqual([run.id, expect.any(String)]);
      const rest = await call(
        'get',
        `/esd/instances/${instance.id}/services-definition/runs?limit=2&cursor=${list.body.nextCursor}`,
      );
      expect(rest.body.items).toHaveLength(1);
      expect(rest.body.nextCursor).toBeNull();
      expect(rest.body.items[0].result.counts.new).toBe(120);
    });
  });

  it('pushes in batches of at most 200 products, each priced in the market’s currency', async () => {
    const US = { country: 'US', language: 'en-US' };
    const instance = await readyInstance({}, US);
    const catalog = await control<CatalogAnswer>('post', '/__sandbox/catalog', {
      ...US,
      count: 450,
      seed: SEED,
    });
    const valid = catalog.offers.length;
    expect(valid).toBeGreaterThan(400);
    const before = host.calls.length;
    const run = await runToEnd(instance.id);
    expect(run.status).toBe('succeeded');
    const pushes = host.calls.slice(before).filter((c) => c.method === 'upsertProducts');
    expect(pushes.map((c) => c.size).reduce((a, b) => a + b, 0)).toBe(valid);
    expect(pushes.every((c) => c.size <= 200)).toBe(true);
    expect(pushes.length).toBe(Math.ceil(valid / 200));
    expect([...new Set(pushes.flatMap((c) => c.currencies))]).toEqual(['USD']);
    const products = await hostProducts(instance.id);
    expect(products.size).toBe(valid);
    expect([...products.values()].every((p) => p.currency === 'USD')).toBe(true);
  });

  it('allows one active run per instance: a second trigger answers 409, two at once give one 202', async () => {
    // Three pages of 1000: progress moves page by page and ends at 100.
    const catalog = await setCatalog(2100);
    const instance = await readyInstance({}, MARKET);
    await queue.pause(true);
    try {
      const both = await Promise.all([trigger(instance.id), trigger(instance.id)]);
      expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
      const accepted = both.find((r) => r.status === 202)!;
      const third = await trigger(instance.id);
      expect(third.status).toBe(409);
      expect(third.body).toMatchObject({
        code: 'CATALOG_RUN_ACTIVE',
        message: ERROR_DESCRIPTIONS[EsdErrorCode.CATALOG_RUN_ACTIVE].message,
        details: { runId: accepted.body.id, status: 'queued' },
      });
      expect(await dataSource.getRepository(CatalogRunEntity).countBy({ instanceId: instance.id })).toBe(1);
      expect((await queue.getJob(accepted.body.id))?.name).toBe(CATALOG_SYNC_JOB);
    } finally {
      await queue.resume(true);
    }
    const runs = await call('get', `/esd/instances/${instance.id}/services-definition/runs`);
    const run = await finished(instance.id, runs.body.items[0].id);
    expect(run.status).toBe('succeeded');
    expect(run.progress).toBe(100);
    expect(run.result.counts.new).toBe(catalog.offers.length);
    const pages = (run.log as Json[]).filter((l) => /^Page \d+:/.test(l.message)).map((l) => l.message);
    expect(pages).toEqual([
      'Page 1: 1000 offers (1000 so far).',
      'Page 2: 1000 offers (2000 so far).',
      'Page 3: 100 offers (2100 so far).',
    ]);
    expect((await runToEnd(instance.id)).result.counts.unchanged).toBe(catalog.offers.length);
  });

  it('fails a run on a permanent CIS refusal with a sentence, clears the active key, and lets the next start', async () => {
    await setCatalog(10);
    const instance = await readyInstance({}, MARKET);
    await control('post', '/__sandbox/faults', { method: 'GET', path: '/offers$', status: 403 });
    const run = await runToEnd(instance.id);
    expect(run.status).toBe('failed');
    // The sandbox answers a 403 as Microsoft does: ChannelMismatch.
    expect(run.error).toBe(ERROR_DESCRIPTIONS[EsdErrorCode.CIS_CHANNEL_MISMATCH].message);
    expect(run.progress).toBeLessThan(100);
    expect(run.result).toBeNull();
    expect((run.log as Json[]).at(-1)).toMatchObject({ level: 'error', message: `Failed: ${run.error}` });
    const row = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: run.id });
    expect(row.activeInstanceId).toBeNull();
    const event = await eventOf(run.id);
    expect(JSON.parse(event.payload)).toMatchObject({ status: 'failed', instanceId: instance.id });
    expect(await dataSource.getRepository(OfferEntity).countBy({ instanceId: instance.id })).toBe(0);

    await control('delete', '/__sandbox/faults');
    const next = await runToEnd(instance.id);
    expect(next.status).toBe('succeeded');
    expect(next.result.counts.new).toBe(10);
  });

  it('refuses a run for an instance that is not ready, with a sentence, and 404 for an unknown one', async () => {
    const draft = await createInstance();
    const res = await trigger(draft.id);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('INSTANCE_NOT_READY');
    expect(res.body.message).toMatch(/not ready yet: certificate, market, connection test still missing/);
    expect((await trigger('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect(await dataSource.getRepository(CatalogRunEntity).countBy({ instanceId: draft.id })).toBe(0);
    expect(
      (await call('post', `/esd/instances/${draft.id}/services-definition`, undefined, 'customer:C1')).status,
    ).toBe(403);
  });

  it('fails a run that stopped moving and whose job is gone, so the instance is not blocked', async () => {
    await setCatalog(5);
    const instance = await readyInstance({}, MARKET);
    const repo = dataSource.getRepository(CatalogRunEntity);
    const lost = '11111111-1111-4111-8111-111111111111';
    await repo.insert({
      id: lost,
      instanceId: instance.id,
      trigger: 'manual',
      status: 'running',
      progress: 40,
      activeInstanceId: instance.id,
      log: [],
    } as never);
    // Fresh: still alive, so the instance is busy.
    expect((await trigger(instance.id)).status).toBe(409);
    await dataSource.query(`UPDATE esd_catalog_run SET updated_at = $1 WHERE id = $2`, [
      new Date(Date.now() - 16 * 60_000),
      lost,
    ]);
    const run = await runToEnd(instance.id);
    expect(run.status).toBe('succeeded');
    const old = await repo.findOneByOrFail({ id: lost });
    expect(old).toMatchObject({
      status: 'failed',
      activeInstanceId: null,
      error: ERROR_DESCRIPTIONS[EsdErrorCode.CATALOG_RUN_STALE].message,
    });
    expect(old.log.at(-1)?.message).toMatch(/no progress since/);
  });

  it('keeps one repeatable job per ready instance with its cron, and a scheduled job makes its own run', async () => {
    await setCatalog(8);
    const scheduler = app.get(CatalogScheduler);
    const schedulesOf = async (id: string) => (await scheduler.list()).filter((s) => s.instanceId === id);
    const draft = await createInstance({ catalogSchedule: '5 1 * * *' });
    expect(await schedulesOf(draft.id)).toEqual([]);

    const instance = await readyInstance({ catalogSchedule: '30 2 * * 1-5' }, MARKET);
    expect((await schedulesOf(instance.id)).map((s) => s.cron)).toEqual(['30 2 * * 1-5']);
    await scheduler.sync();
    await scheduler.sync(instance.id);
    expect(await schedulesOf(instance.id)).toHaveLength(1);
    const [repeatable] = (await queue.getRepeatableJobs()).filter((j) => j.id === instance.id);
    expect(repeatable).toMatchObject({ name: CATALOG_SYNC_JOB, cron: '30 2 * * 1-5', tz: 'UTC' });

    expect(
      (await call('patch', `/esd/instances/${instance.id}`, { catalogSchedule: '0 4 * * *' })).status,
    ).toBe(200);
    expect((await schedulesOf(instance.id)).map((s) => s.cron)).toEqual(['0 4 * * *']);
    expect((await call('patch', `/esd/instances/${instance.id}`, { disabled: true })).status).toBe(200);
    expect(await schedulesOf(instance.id)).toEqual([]);
    expect((await call('patch', `/esd/instances/${instance.id}`, { disabled: false })).status).toBe(200);
    expect((await schedulesOf(instance.id)).map((s) => s.cron)).toEqual(['0 4 * * *']);

    // What the repeatable job enqueues when its time comes.
    await queue.add(CATALOG_SYNC_JOB, { trigger: 'schedule', instanceId: instance.id });
    const deadline = Date.now() + 20_000;
    let run: CatalogRunEntity | null = null;
    while (Date.now() < deadline) {
      run = await dataSource.getRepository(CatalogRunEntity).findOneBy({ instanceId: instance.id });
      if (run && (run.status === 'succeeded' || run.status === 'failed')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(run).toMatchObject({ trigger: 'schedule', status: 'succeeded', progress: 100 });
    expect(run!.result!.counts.new).toBe(8);

    expect((await call('delete', `/esd/instances/${instance.id}`)).status).toBe(204);
    expect(await schedulesOf(instance.id)).toEqual([]);
  });

  it('metrics: a finished run is counted by status with its duration', async () => {
    const count = async (status: string): Promise<number> => {
      const res = await call('get', '/esd/metrics', undefined, '');
      expect(res.status).toBe(200);
      const line = res.text
        .split('\n')
        .find((l) => l.startsWith(`esd_catalog_run_duration_seconds_count{status="${status}"}`));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const instance = await readyInstance({}, MARKET);
    await setCatalog(5);
    const before = { succeeded: await count('succeeded'), failed: await count('failed') };
    expect((await runToEnd(instance.id)).status).toBe('succeeded');
    expect(await count('succeeded')).toBe(before.succeeded + 1);
    expect(await count('failed')).toBe(before.failed);
  });
});
