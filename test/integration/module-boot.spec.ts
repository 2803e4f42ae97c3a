import { inertHostPorts } from '../support/host-ports';
import { Process, Processor, getQueueToken } from '@nestjs/bull';
import { INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { processorProvider } from '../../src/common/queues/processor-provider';
import { JOBS, QUEUES } from '../../src/constants';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import type { MicrosoftEsdModuleOptions } from '../../src/microsoft-esd.options';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { createTestDatabase, TestDatabase } from '../support/databases';
import { requireService } from '../support/services';

/** A processor the plugin's job table does not know: the boot check must name it. */
@Processor(QUEUES.maintenance)
class StrayProcessor {
  @Process('not-in-the-table')
  handle(): void {}
}

describe('MicrosoftEsdModule boot', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let redisUrl: string;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    redisUrl = await requireService('redis');
    db = await createTestDatabase('sqlite');
    dataSource = new DataSource({
      ...db.dataSourceOptions,
      entities: ESD_ENTITIES,
      migrations: ESD_MIGRATIONS,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
  });

  afterEach(async () => {
    while (apps.length) await apps.pop()!.close();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  const options = (patch: Partial<MicrosoftEsdModuleOptions> = {}): MicrosoftEsdModuleOptions => ({
    hostApiVersion: '1.0.0',
    ...inertHostPorts(),
    principal: () => undefined,
    secretKey: randomBytes(32).toString('base64'),
    redis: redisUrl,
    dataSource,
    ...patch,
  });

  async function boot(
    patch: Partial<MicrosoftEsdModuleOptions>,
    extraProviders: unknown[] = [],
    worker?: boolean,
  ) {
    @Module({
      imports: [MicrosoftEsdModule.forRootAsync({ worker, useFactory: async () => options(patch) })],
      providers: extraProviders as never[],
    })
    class HostModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    try {
      await app.init();
    } catch (error) {
      // A boot that failed half-way still holds Redis connections: release them, then report the failure.
      await app.close().catch(() => undefined);
      throw error;
    }
    apps.push(app);
    return app;
  }

  it('boots with valid options and answers health from the database and Redis', async () => {
    const app = await boot({});
    const response = await request(app.getHttpServer()).get('/esd/health').expect(200);
    expect(response.body.status).toBe('ok');
    expect(response.body.checks).toEqual(
      expect.arrayContaining([
        { name: 'database', status: 'ok' },
        { name: 'redis', status: 'ok' },
      ]),
    );
    expect(Object.keys(response.body.queues).sort()).toEqual(Object.values(QUEUES).sort());
  });

  it('stops the boot on a bad option, naming it', async () => {
    await expect(boot({ notifier: {} as never })).rejects.toThrow(
      'notifier: expected an object implementing send()',
    );
  });

  it('refuses a host whose contract version is outside the manifest range', async () => {
    await expect(boot({ hostApiVersion: '2.1.0' })).rejects.toThrow(
      /host contract 2\.1\.0.*supports host contract \^1\.0\.0/,
    );
  });

  it('refuses a DataSource that does not know the plugin’s entities, saying what to add', async () => {
    const bare = new DataSource({ ...db.dataSourceOptions, entities: [] });
    await bare.initialize();
    try {
      await expect(boot({ dataSource: bare })).rejects.toThrow(/add ESD_ENTITIES to its entities/);
    } finally {
      await bare.destroy();
    }
  });

  it('fails the boot when a job handler is not in the job table, saying which', async () => {
    await expect(boot({}, [processorProvider(StrayProcessor)])).rejects.toThrow(
      'StrayProcessor.handle handles job "not-in-the-table" on esd-maintenance, which is not in the job table',
    );
  });

  it('binds every job of the table on a worker node, and nothing with worker: false (in the factory or beside it)', async () => {
    const handlersOf = (app: INestApplication, queue: string) =>
      Object.keys(
        (app.get<Queue>(getQueueToken(queue)) as unknown as { handlers: Record<string, unknown> }).handlers,
      );

    const worker = await boot({});
    for (const [queue, jobs] of Object.entries(JOBS))
      expect(handlersOf(worker, queue).sort()).toEqual([...jobs].sort());
    await worker.close();
    apps.pop();

    for (const [patch, extra] of [
      [{ worker: false }, undefined],
      [{}, false],
    ] as const) {
      const web = await boot(patch, [processorProvider(StrayProcessor)], extra);
      for (const queue of Object.values(QUEUES)) expect(handlersOf(web, queue)).toEqual([]);
      expect(web.get(StrayProcessor, { strict: false })).toBeNull();
      await web.close();
      apps.pop();
    }
  });

  it('a worker node closed right after its boot closes cleanly, with no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const record = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', record);
    try {
      for (let i = 0; i < 3; i++) {
        const worker = await boot({});
        await worker.close();
        apps.pop();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(rejections.map(String)).toEqual([]);
  });
});
