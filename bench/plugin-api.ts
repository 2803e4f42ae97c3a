/**
 * What the benchmarks share: a scratch database with the plugin's tables, one call to the plugin's HTTP routes
 * as the reference host's admin, and a ready instance made through Applications Setup against the sandbox.
 */
import { getQueueToken } from '@nestjs/bull';
import type { INestApplication } from '@nestjs/common';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { dataSourceOptionsFromUrl } from '../src/storage/database-url';
import { ESD_ENTITIES } from '../src/storage/entities';
import { ESD_MIGRATIONS } from '../src/storage/migrations';
import { QUEUES } from '../src/constants';
import type { SandboxProcess } from './sandbox-process';

/** One call to the plugin's routes as the host's admin; anything but 2xx throws with the answer. */
export async function api<T>(
  app: INestApplication,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'x-principal': 'admin', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A ready instance in the market, through the plugin's own Applications Setup routes. */
export async function readyInstance(
  app: INestApplication,
  sandbox: SandboxProcess,
  market: { country: string; language: string },
): Promise<string> {
  const c = sandbox.credentials;
  const created = await api<{ id: string }>(app, 'POST', '/esd/instances', {
    systemName: `BENCH-${randomBytes(3).toString('hex')}`,
    resourceApi: c.resourceApi,
    serviceUrl: c.serviceUrl,
    tenantId: c.tenantId,
    channelId: c.channelId,
    clientId: c.clientId,
    authorityHost: c.authorityHost,
    caCertificatePem: c.caPem,
  });
  const path = `/esd/instances/${created.id}`;
  await api(app, 'PATCH', path, { certificate: { pem: c.certificatePem, privateKeyPem: c.privateKeyPem } });
  await api(app, 'PATCH', path, market);
  await api(app, 'POST', `${path}/test-connection`);
  return created.id;
}

/** The plugin's tables, migrated, in a scratch PostgreSQL schema of their own; `drop` removes the schema. */
export async function benchDatabase(): Promise<{ dataSource: DataSource; drop(): Promise<void> }> {
  const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `esd_bench_${randomBytes(5).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url: baseUrl, poolSize: 1 });
  await admin.initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = new URL(baseUrl);
  url.searchParams.set('schema', schema);
  const dataSource = new DataSource({
    ...dataSourceOptionsFromUrl(url.toString()),
    entities: ESD_ENTITIES,
    migrations: ESD_MIGRATIONS,
  });
  const drop = async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.destroy();
  };
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
  } catch (error) {
    await drop();
    throw error;
  }
  return { dataSource, drop };
}

/** Closes the plugin's app after emptying its queues, so no job of the run is left in Redis. */
export async function closeBenchApp(app: INestApplication): Promise<void> {
  for (const name of Object.values(QUEUES)) {
    await app
      .get<Queue>(getQueueToken(name))
      .obliterate({ force: true })
      .catch(() => undefined);
  }
  await app.close();
}
