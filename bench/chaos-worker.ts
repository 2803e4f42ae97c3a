/**
 * A plugin node in a process of its own for the chaos run and the two-node tests (`node dist/bench/chaos-worker.js`):
 * the plugin mounted as the reference host mounts it (its host ports on the same database), with the options a
 * fault-heavy run needs that the reference host's `main.ts` does not expose — a short CIS timeout and a small
 * retry backoff. Configured by environment:
 *
 * - DATABASE_URL, REDIS_URL (`redis://host:port/<db>`), ESD_SECRET_KEY (the sealing key the web node uses);
 * - CHAOS_CIS_TIMEOUT_MS (default 2000), CHAOS_JOB_RETRY (JSON `{ attempts, baseMs, maxMs }`),
 *   CHAOS_SCHEDULE_CHECK_MS (the module's `scheduleCheckMs`);
 * - CHAOS_WORKER (`false`: a web-only node), PORT (0: a free one).
 *
 * It prints `Chaos worker: <url>` once it listens with its processors registered, and `chaos-worker handled
 * <licenseId>` each time a provisioning job completes *in this process* (Bull's local `completed` event fires only
 * on the node that ran the job), so a parent process can count which node handled which license; and
 * `chaos-worker catalog job <name> <jobId>` each time this process starts a `esd-catalog` job; and `chaos-worker swept
 * <n>` each time a `sweeper` job completes here, with the number of licenses it enqueued again.
 */
// The plugin's public entry first, as the reference host loads it (plugin-loader.ts): importing deep modules first
// can enter the plugin's import graph at a point where a provider list is not yet defined.
import { dataSourceOptionsFromUrl, ESD_ENTITIES, EsdHooksService, MicrosoftEsdModule, QUEUES } from '../src';
import { getQueueToken } from '@nestjs/bull';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Job, Queue } from 'bull';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { HOST_DATA_SOURCE, HostController } from '../sandbox/host/host.controller';
import { HOST_ENTITIES } from '../sandbox/host/host.entities';
import { HOST_ESD_HOOKS, HostOrdersController } from '../sandbox/host/host-orders.controller';
import { ReferenceHostCatalog, ReferenceHostEvents, ReferenceHostNotifier } from '../sandbox/host/host-ports';
import { principalFromRequest } from '../sandbox/host/principal';
import { SWEEPER_JOB } from '../src/constants';
import type { ProvisionLicenseJobData } from '../src/licenses/provisioning-queue';
import type { SweepResult } from '../src/maintenance/sweeper.service';

export const CHAOS_WORKER_READY = 'Chaos worker:';
export const CHAOS_WORKER_HANDLED = 'chaos-worker handled ';
export const CHAOS_WORKER_CATALOG = 'chaos-worker catalog job ';
export const CHAOS_WORKER_SWEPT = 'chaos-worker swept ';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

@Module({})
class ChaosWorkerModule {}

async function main(): Promise<void> {
  const dataSource = new DataSource({
    ...dataSourceOptionsFromUrl(required('DATABASE_URL')),
    entities: [...HOST_ENTITIES, ...ESD_ENTITIES],
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
  await dataSource.initialize();
  const jobRetry = process.env.CHAOS_JOB_RETRY
    ? (JSON.parse(process.env.CHAOS_JOB_RETRY) as { attempts?: number; baseMs?: number; maxMs?: number })
    : undefined;
  const root: DynamicModule = {
    module: ChaosWorkerModule,
    imports: [
      MicrosoftEsdModule.forRootAsync({
        routePrefix: 'esd',
        useFactory: () => ({
          hostApiVersion: '1.0.0',
          catalog: new ReferenceHostCatalog(dataSource, 'EUR'),
          notifier: new ReferenceHostNotifier(dataSource),
          events: new ReferenceHostEvents(dataSource),
          principal: principalFromRequest,
          secretKey: required('ESD_SECRET_KEY'),
          redis: required('REDIS_URL'),
          dataSource,
          worker: process.env.CHAOS_WORKER !== 'false',
          cisTimeoutMs: Number(process.env.CHAOS_CIS_TIMEOUT_MS ?? 2000),
          ...(jobRetry ? { jobRetry } : {}),
          ...(process.env.CHAOS_SCHEDULE_CHECK_MS
            ? { scheduleCheckMs: Number(process.env.CHAOS_SCHEDULE_CHECK_MS) }
            : {}),
        }),
      }),
    ],
    controllers: [HostController, HostOrdersController],
    providers: [
      { provide: HOST_DATA_SOURCE, useValue: dataSource },
      { provide: HOST_ESD_HOOKS, useExisting: EsdHooksService },
    ],
  };
  const app = await NestFactory.create(root, { logger: ['error'], abortOnError: false });
  const provisioning = app.get<Queue<ProvisionLicenseJobData>>(getQueueToken(QUEUES.provisioning));
  provisioning.on('completed', (job: Job<ProvisionLicenseJobData>) => {
    process.stdout.write(`${CHAOS_WORKER_HANDLED}${job.data.licenseId}\n`);
  });
  const catalog = app.get<Queue>(getQueueToken(QUEUES.catalog));
  catalog.on('active', (job: Job) => {
    process.stdout.write(`${CHAOS_WORKER_CATALOG}${job.name} ${String(job.id)}\n`);
  });
  const maintenance = app.get<Queue>(getQueueToken(QUEUES.maintenance));
  maintenance.on('completed', (job: Job, result: { licenses?: SweepResult } | undefined) => {
    if (job.name === SWEEPER_JOB) {
      process.stdout.write(`${CHAOS_WORKER_SWEPT}${result?.licenses?.requeued.length ?? 0}\n`);
    }
  });
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  process.stdout.write(`${CHAOS_WORKER_READY} http://127.0.0.1:${address.port}\n`);

  const stop = async () => {
    await app.close();
    if (dataSource.isInitialized) await dataSource.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
