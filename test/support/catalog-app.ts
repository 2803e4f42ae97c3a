/**
 * What the catalog suites that compare runs work against: the plugin with the reference host's real catalog and
 * events on one PostgreSQL database, a Redis database of its own, and the CIS sandbox over HTTPS; and the
 * helpers that run a catalog run to its end and compare two instances' outcomes (result, stored offers, host
 * products) over one catalog. The sandbox's control says what the catalog holds, so expectations never come from
 * the code under test.
 */
import { getQueueToken } from '@nestjs/bull';
import { type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { CatalogChanges, CatalogEntry } from '../../sandbox/cis/catalog-generator';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { HOST_DATA_SOURCE, HostController } from '../../sandbox/host/host.controller';
import { HOST_ENTITIES, HostProductRow } from '../../sandbox/host/host.entities';
import { ReferenceHostCatalog, ReferenceHostEvents } from '../../sandbox/host/host-ports';
import { CreateReferenceHostTables1763990000000 } from '../../sandbox/host/migrations/1763990000000-CreateReferenceHostTables';
import { principalFromRequest } from '../../sandbox/host/principal';
import { CatalogRunEntity, type CatalogRunResult } from '../../src/catalog/catalog-run.entity';
import { CatalogRunsService } from '../../src/catalog/catalog-runs.service';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { QUEUES } from '../../src/constants';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import type { MicrosoftEsdModuleOptions } from '../../src/microsoft-esd.options';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { createTestDatabase, type TestDatabase } from './databases';
import { ScriptedHostCatalog } from './host-ports';
import { instanceHelpers, type InstanceHelpers, type Json } from './instances';
import { sandboxControl } from './sandbox-control';
import { requireService } from './services';
import { idleRedisDb } from './worker-process';

export interface CatalogTestApp extends InstanceHelpers {
  db: TestDatabase;
  dataSource: DataSource;
  sandbox: CisSandbox;
  app: INestApplication;
  /** The catalog queue (its own Redis database: workers of other suites never take its jobs). */
  queue: Queue;
  /** The reference host's catalog, with failures and actions the test scripts. */
  host: ScriptedHostCatalog;
  runs: CatalogRunsService;
  redisUrl: string;
  secretKey: string;
  close(): Promise<void>;
}

export interface CatalogTestAppOptions {
  /** Told every line the sandbox logs. */
  sandboxLog?: (line: string) => void;
  jobRetry?: MicrosoftEsdModuleOptions['jobRetry'];
}

export async function startCatalogTestApp(options: CatalogTestAppOptions = {}): Promise<CatalogTestApp> {
  const redis = new URL(await requireService('redis'));
  redis.pathname = `/${await idleRedisDb(redis.toString())}`;
  const redisUrl = redis.toString();
  const secretKey = randomBytes(32).toString('base64');
  const db = await createTestDatabase('postgres');
  const dataSource = new DataSource({
    ...db.dataSourceOptions,
    entities: [...ESD_ENTITIES, ...HOST_ENTITIES],
    migrations: [CreateReferenceHostTables1763990000000, ...ESD_MIGRATIONS],
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const sandbox = await CisSandbox.start({ rateLimitPerMinute: 0, log: options.sandboxLog });
  const host = new ScriptedHostCatalog(new ReferenceHostCatalog(dataSource, 'EUR'));

  @Module({
    imports: [
      MicrosoftEsdModule.forRootAsync({
        useFactory: async () => ({
          hostApiVersion: '1.0.0',
          catalog: host,
          notifier: { send: async () => undefined },
          events: new ReferenceHostEvents(dataSource),
          principal: principalFromRequest,
          secretKey,
          redis: redisUrl,
          dataSource,
          cisTimeoutMs: 5000,
          ...(options.jobRetry ? { jobRetry: options.jobRetry } : {}),
        }),
      }),
    ],
    controllers: [HostController],
    providers: [{ provide: HOST_DATA_SOURCE, useValue: dataSource }],
  })
  class HostModule {}
  const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  const queue = app.get<Queue>(getQueueToken(QUEUES.catalog));
  await queue.isReady();
  await queue.obliterate({ force: true });
  await app.init();

  return {
    ...instanceHelpers(
      () => app,
      () => sandbox,
    ),
    db,
    dataSource,
    sandbox,
    app,
    queue,
    host,
    runs: app.get(CatalogRunsService),
    redisUrl,
    secretKey,
    async close() {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await app.close();
      await sandbox.close();
      await dataSource.destroy();
      await db.drop();
    },
  };
}

/** What an offer row says, without what differs per instance (ids, run ids, times). */
export interface OfferState {
  offerId: string;
  name: string;
  offerUri: string;
  contentHash: string;
  catalogStatus: string;
  vendorStatus: string;
  missing: boolean;
  pushed: boolean;
}

export interface CatalogAnswer {
  offers: CatalogEntry[];
  affected: Record<string, string[]>;
}

/** Catalog runs through the plugin's routes, and two instances' outcomes compared. */
export function catalogRunHelpers(
  t: () => CatalogTestApp,
  market: { country: string; language: string },
  seed: number,
) {
  /** The market's catalog becomes the one generated from `(count, seed)` with `changes`. */
  const setCatalog = (count: number, changes?: CatalogChanges) =>
    sandboxControl<CatalogAnswer>(t().sandbox, 'post', '/__sandbox/catalog', {
      ...market,
      count,
      seed,
      changes,
    });

  async function trigger(instanceId: string): Promise<string> {
    const res = await t().call('post', `/esd/instances/${instanceId}/services-definition`);
    expect(res.status).toBe(202);
    return res.body.id as string;
  }

  /** Polls the run until it is finished. */
  async function finished(runId: string, timeoutMs = 30_000): Promise<CatalogRunEntity> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await t().dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: runId });
      if (run.status === 'succeeded' || run.status === 'failed') return run;
      if (Date.now() > deadline)
        throw new Error(`run ${runId} still ${run.status}: ${JSON.stringify(run.log)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function runToEnd(instanceId: string): Promise<CatalogRunEntity> {
    const run = await finished(await trigger(instanceId));
    expect(run.status).toBe('succeeded');
    return run;
  }

  /** A result with its lists in a fixed order: pages may be decided in another order after a resume. */
  function normalized(result: CatalogRunResult | null): CatalogRunResult {
    expect(result).not.toBeNull();
    const r = result!;
    return {
      ...r,
      new: [...r.new].sort(),
      updated: [...r.updated].sort(),
      discontinued: [...r.discontinued].sort(),
    };
  }

  async function offerStates(instanceId: string): Promise<OfferState[]> {
    const rows = await t()
      .dataSource.getRepository(OfferEntity)
      .find({ where: { instanceId }, order: { offerId: 'ASC' } });
    return rows.map((r) => ({
      offerId: r.offerId,
      name: r.name,
      offerUri: r.offerUri,
      contentHash: r.contentHash,
      catalogStatus: r.catalogStatus,
      vendorStatus: r.vendorStatus,
      missing: r.missingSince !== null,
      pushed: r.hostProductRef !== null,
    }));
  }

  async function hostStates(instanceId: string): Promise<Json[]> {
    const rows = await t()
      .dataSource.getRepository(HostProductRow)
      .find({ where: { instanceId }, order: { code: 'ASC' } });
    return rows.map((p) => ({
      code: p.code,
      name: p.name,
      catalogStatus: p.catalogStatus,
      sellable: p.sellable,
    }));
  }

  /** One instance ended where the other did: result, offers and host products. */
  async function expectSameOutcome(
    actual: { instanceId: string; run: CatalogRunEntity },
    expected: { instanceId: string; run: CatalogRunEntity },
  ): Promise<void> {
    expect(normalized(actual.run.result)).toEqual(normalized(expected.run.result));
    expect(await offerStates(actual.instanceId)).toEqual(await offerStates(expected.instanceId));
    expect(await hostStates(actual.instanceId)).toEqual(await hostStates(expected.instanceId));
    // Each offer the result names was written by this run, once: its row carries the run id.
    const result = actual.run.result!;
    const changed = await t()
      .dataSource.getRepository(OfferEntity)
      .findBy({ instanceId: actual.instanceId, lastChangedRunId: actual.run.id });
    expect(changed.map((o) => o.offerId).sort()).toEqual(
      [...result.new, ...result.updated, ...result.discontinued].sort(),
    );
  }

  return { setCatalog, trigger, finished, runToEnd, normalized, offerStates, hostStates, expectSameOutcome };
}
