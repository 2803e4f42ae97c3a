/**
 * The plugin mounted the way the reference host mounts it — its real `HostCatalog`, `HostNotifier` and
 * `HostEvents` on the same database, its `/host/*` routes beside the plugin's — on a test database and a Redis
 * database of the suite's own (so no other suite's worker takes these jobs), with the CIS sandbox.
 */
import { getQueueToken } from '@nestjs/bull';
import { type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { HOST_DATA_SOURCE, HostController } from '../../sandbox/host/host.controller';
import { HOST_ENTITIES } from '../../sandbox/host/host.entities';
import { HOST_ESD_HOOKS, HostOrdersController } from '../../sandbox/host/host-orders.controller';
import {
  ReferenceHostCatalog,
  ReferenceHostEvents,
  ReferenceHostNotifier,
} from '../../sandbox/host/host-ports';
import { HOST_MIGRATIONS } from '../../sandbox/host/migrations';
import { principalFromRequest } from '../../sandbox/host/principal';
import { QUEUES } from '../../src/constants';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import type { MicrosoftEsdModuleOptions } from '../../src/microsoft-esd.options';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { dataSourceOptionsFromUrl } from '../../src/storage/database-url';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases';
import { requireService } from './services';

export interface PluginApp {
  app: INestApplication;
  dataSource: DataSource;
  sandbox: CisSandbox;
  queues: Record<keyof typeof QUEUES, Queue>;
  /** The scratch database's DATABASE_URL and the suite's Redis URL (its database number in the path), for another process. */
  databaseUrl: string;
  redisUrl: string;
  close(): Promise<void>;
}

export async function startPluginApp(setup: {
  database?: DatabaseKind;
  /** The suite's own Redis database number (1–15). */
  redisDb: number;
  /** Where the plugin reaches the database server instead of its own address: a proxy the test can cut. */
  databaseAddress?: { host: string; port: number };
  options?: Partial<MicrosoftEsdModuleOptions>;
  sandbox?: Parameters<typeof CisSandbox.start>[0];
}): Promise<PluginApp> {
  const redisUrl = new URL(await requireService('redis'));
  const db: TestDatabase = await createTestDatabase(setup.database ?? 'postgres');
  const dataSource = new DataSource({
    ...(setup.databaseAddress
      ? dataSourceOptionsFromUrl(viaAddress(db.url, setup.databaseAddress))
      : db.dataSourceOptions),
    entities: [...ESD_ENTITIES, ...HOST_ENTITIES],
    migrations: [...HOST_MIGRATIONS, ...ESD_MIGRATIONS],
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const sandbox = await CisSandbox.start({ rateLimitPerMinute: 0, ...setup.sandbox });

  @Module({
    imports: [
      MicrosoftEsdModule.forRootAsync({
        useFactory: async () => ({
          hostApiVersion: '1.0.0',
          catalog: new ReferenceHostCatalog(dataSource, 'EUR'),
          notifier: new ReferenceHostNotifier(dataSource),
          events: new ReferenceHostEvents(dataSource),
          principal: principalFromRequest,
          secretKey: randomBytes(32).toString('base64'),
          redis: { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), db: setup.redisDb },
          dataSource,
          cisTimeoutMs: 5000,
          ...setup.options,
        }),
      }),
    ],
    controllers: [HostController, HostOrdersController],
    providers: [
      { provide: HOST_DATA_SOURCE, useValue: dataSource },
      { provide: HOST_ESD_HOOKS, useExisting: EsdHooksService },
    ],
  })
  class TestHostModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestHostModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  const queues = {
    provisioning: app.get<Queue>(getQueueToken(QUEUES.provisioning)),
    catalog: app.get<Queue>(getQueueToken(QUEUES.catalog)),
    maintenance: app.get<Queue>(getQueueToken(QUEUES.maintenance)),
  };
  for (const queue of Object.values(queues)) {
    await queue.isReady();
    await queue.obliterate({ force: true });
  }
  await app.init();
  return {
    app,
    dataSource,
    sandbox,
    queues,
    databaseUrl: db.url,
    redisUrl: new URL(`/${setup.redisDb}`, redisUrl).toString(),
    close: async () => {
      for (const queue of Object.values(queues))
        await queue.obliterate({ force: true }).catch(() => undefined);
      await app.close();
      await sandbox.close();
      await dataSource.destroy();
      await db.drop();
    },
  };
}

/** `url` with its host and port replaced. */
function viaAddress(url: string, address: { host: string; port: number }): string {
  const u = new URL(url);
  u.hostname = address.host;
  u.port = String(address.port);
  return u.toString();
}
