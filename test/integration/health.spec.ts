/**
 * `GET /esd/health` on PostgreSQL and a Redis database of its own, against the CIS sandbox: per instance the
 * certificate, the credentials (connection test and this node's CIS calls), the last catalog run and the licenses
 * Failed or waiting too long; Redis and PostgreSQL reached through proxies the test can cut, to see the report go
 * down and come back. License and run rows are stored as the plugin stores them (fixtures), so each state is exact.
 */
import { randomInt } from 'node:crypto';
import * as net from 'node:net';
import { In } from 'typeorm';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { CertificateEntity } from '../../src/settings/certificate.entity';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { licenseRow } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';
import { requireService } from '../support/services';

const MINUTE = 60_000;

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message?: string;
  data?: Json;
}

/** A TCP proxy in front of a server that the test can cut (refusing connections) and restore on the same port. */
class CuttableProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('GET /esd/health (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let proxy: CuttableProxy;
  let databaseProxy: CuttableProxy;
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const licenses = () => env.dataSource.getRepository(LicenseEntity);
  const runs = () => env.dataSource.getRepository(CatalogRunEntity);

  async function health(systemName?: string) {
    const res = await call('get', '/esd/health', undefined, '');
    const checks = res.body.checks as Check[];
    return {
      http: res.status,
      report: res.body as Json,
      text: res.text,
      check: checks.find((c) => c.name === `instance:${systemName}`)!,
      named: (name: string) => checks.find((c) => c.name === name),
    };
  }

  /** The report once it answers 200 again (up to 15 s): a cut connection comes back on its own. */
  async function healthyAgain() {
    const deadline = Date.now() + 15_000;
    let back = await health();
    while (back.http !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      back = await health();
    }
    return back;
  }

  beforeAll(async () => {
    const redis = new URL(await requireService('redis'));
    proxy = new CuttableProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    await proxy.open();
    const postgres = new URL(await requireService('postgres'));
    databaseProxy = new CuttableProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) });
    await databaseProxy.open();
    const redisDb = randomInt(1, 16);
    env = await startPluginApp({
      redisDb,
      databaseAddress: { host: '127.0.0.1', port: databaseProxy.port },
      options: { redis: { host: '127.0.0.1', port: proxy.port, db: redisDb } },
    });
    // No sweeper here: it would pick up the fixture licenses and runs this suite leaves waiting on purpose.
    await env.queues.maintenance.pause(true);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
    await proxy?.cut();
    await databaseProxy?.cut();
  });

  afterEach(async () => {
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
  });

  it('a ready instance: ok, credentials verified, no run yet, no license waiting, queue depths per state', async () => {
    const instance = await readyInstance();
    const { http, report, check, named } = await health(instance.systemName);
    expect(http).toBe(200);
    expect(named('database')).toEqual({ name: 'database', status: 'ok' });
    expect(named('redis')).toEqual({ name: 'redis', status: 'ok' });
    expect(check.status).toBe('ok');
    expect(check.message).toBeUndefined();
    expect(check.data).toMatchObject({
      instanceId: instance.id,
      state: 'ready',
      lastConnectionTest: { ok: true },
      credentials: { valid: true, lastRefusedAt: null },
      lastCatalogRun: null,
      lastSucceededCatalogRunAt: null,
      licenses: { failed: 0, failedByCode: {}, unsynchronisedOverdue: 0, oldestUnsynchronisedSince: null },
    });
    // The connection test's own calls count as evidence: verified no earlier than the test.
    expect(Date.parse(check.data!.credentials.lastVerifiedAt)).toBeGreaterThanOrEqual(
      Date.parse(check.data!.lastConnectionTest.at),
    );
    for (const queue of ['esd-provisioning', 'esd-catalog', 'esd-maintenance']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(Number.isInteger(report.queues[queue][state])).toBe(true);
      }
    }
    // Nothing to provision: the provisioning queue is idle (the others hold the repeatable maintenance jobs).
    expect(report.queues['esd-provisioning']).toMatchObject({ waiting: 0, active: 0, failed: 0 });
  });

  it('a certificate near expiry and two Failed licenses: warn with the count by code and what to do; degraded, 200', async () => {
    const instance = await readyInstance();
    const rows = [
      licenseRow(instance.id, { provisioningStatus: 'Failed', provisioningErrorCode: 'InvalidRequest' }),
      licenseRow(instance.id, { provisioningStatus: 'Failed', provisioningErrorCode: 'InvalidRequest' }),
      licenseRow(instance.id, { provisioningStatus: 'Failed', provisioningErrorCode: 'OfferNotFound' }),
      // Waiting, but not for long: no problem.
      licenseRow(instance.id, { createdAt: new Date(Date.now() - 5 * MINUTE) }),
      licenseRow(instance.id, { provisioningStatus: 'Synchronized' }),
    ];
    await licenses().insert(rows);
    const certificates = env.dataSource.getRepository(CertificateEntity);
    const original = (await certificates.findOneByOrFail({ id: instance.certificate.id })).expiresAt;
    await certificates.update(
      { id: instance.certificate.id },
      { expiresAt: new Date(Date.now() + 10.5 * 86_400_000) },
    );
    try {
      const { http, report, check } = await health(instance.systemName);
      expect(check.status).toBe('warn');
      expect(check.data).toMatchObject({
        certificateExpiresInDays: 10,
        licenses: {
          failed: 3,
          failedByCode: { InvalidRequest: 2, OfferNotFound: 1 },
          unsynchronisedOverdue: 0,
        },
      });
      expect(check.message).toContain('in 10 days');
      expect(check.message).toContain(
        `3 licenses are Failed (2 × InvalidRequest, 1 × OfferNotFound); their customers have no key.`,
      );
      expect(check.message).toContain(`provisioningStatus=Failed`);
      expect(check.message).toContain('/resync');
      expect(report.problems).toContain(check.message);
      expect(report.status).toBe('degraded');
      expect(http).toBe(200);
    } finally {
      await certificates.update({ id: instance.certificate.id }, { expiresAt: original });
      await licenses().delete({ id: In(rows.map((r) => r.id)) });
    }
    expect((await health(instance.systemName)).check.status).toBe('ok');
  });

  it('licenses Unsynchronised for longer than 15 minutes fail the instance and the report (503), naming the oldest', async () => {
    const instance = await readyInstance();
    const oldest = licenseRow(instance.id, { createdAt: new Date(Date.now() - 40 * MINUTE) });
    const old = licenseRow(instance.id, { createdAt: new Date(Date.now() - 16 * MINUTE) });
    const fresh = licenseRow(instance.id, { createdAt: new Date(Date.now() - 14 * MINUTE) });
    await licenses().insert([oldest, old, fresh]);
    try {
      const { http, report, check } = await health(instance.systemName);
      expect(check.status).toBe('fail');
      expect(check.data!.licenses).toMatchObject({
        unsynchronisedOverdue: 2,
        oldestUnsynchronisedSince: oldest.createdAt!.toISOString(),
        overdueAfterMinutes: 15,
      });
      expect(check.message).toContain(`2 licenses have waited for a key longer than 15 minutes`);
      expect(check.message).toContain(oldest.id!);
      expect(check.message).toContain('check that a worker node is running');
      expect(report.status).toBe('down');
      expect(http).toBe(503);
      // Failures come first among the problems.
      expect((report.problems as string[])[0]).toBe(check.message);

      // Once they have their keys the instance is healthy again.
      await licenses().update({ id: In([oldest.id, old.id]) }, { provisioningStatus: 'Synchronized' });
      expect((await health(instance.systemName)).check.status).toBe('ok');
    } finally {
      await licenses().delete({ id: In([oldest.id, old.id, fresh.id]) });
    }
  });

  it('a failed last catalog run shows with its reason and the last success; a run that stopped moving warns', async () => {
    const instance = await readyInstance();
    const base = () => ({
      id: newId(),
      instanceId: instance.id,
      log: [],
      result: null,
      activeInstanceId: null,
    });
    const succeededAt = new Date(Date.now() - 2 * 86_400_000);
    const succeeded = await runs().save({
      ...base(),
      trigger: 'schedule' as const,
      status: 'succeeded' as const,
      progress: 100,
      startedAt: new Date(succeededAt.getTime() - MINUTE),
      finishedAt: succeededAt,
      error: null,
      createdAt: new Date(succeededAt.getTime() - MINUTE),
    });
    const failed = await runs().save({
      ...base(),
      trigger: 'manual' as const,
      status: 'failed' as const,
      progress: 40,
      startedAt: new Date(Date.now() - 10 * MINUTE),
      finishedAt: new Date(Date.now() - 9 * MINUTE),
      error: 'Microsoft CIS API refused the request as invalid (InvalidMarket).',
      createdAt: new Date(Date.now() - 10 * MINUTE),
    });
    try {
      const { http, report, check } = await health(instance.systemName);
      expect(check.status).toBe('warn');
      expect(check.data).toMatchObject({
        lastCatalogRun: {
          id: failed.id,
          status: 'failed',
          trigger: 'manual',
          progress: 40,
          error: failed.error,
        },
        lastSucceededCatalogRunAt: succeededAt.toISOString(),
      });
      expect(check.message).toContain(`the last Get Services Definition run (${failed.id}, manual) failed`);
      expect(check.message).toContain('(Microsoft CIS API refused the request as invalid (InvalidMarket))');
      expect(check.message).toContain(`succeeded on ${succeededAt.toISOString()}`);
      expect(check.message).toContain(`runs/${failed.id}`);
      expect(report.status).toBe('degraded');
      expect(http).toBe(200);

      // Instead, a run queued 20 minutes ago that has not moved since: no worker is taking it.
      await runs().delete({ id: failed.id });
      const stuckAt = new Date(Date.now() - 20 * MINUTE);
      const stuck = await runs().save({
        ...base(),
        activeInstanceId: instance.id,
        trigger: 'schedule' as const,
        status: 'queued' as const,
        progress: 0,
        startedAt: null,
        finishedAt: null,
        error: null,
        createdAt: stuckAt,
      });
      await runs().update({ id: stuck.id }, { updatedAt: stuckAt });
      const queued = (await health(instance.systemName)).check;
      expect(queued.status).toBe('warn');
      expect(queued.data!.lastCatalogRun).toMatchObject({ id: stuck.id, status: 'queued' });
      expect(queued.message).toContain(`run ${stuck.id} is queued at 0% and has not moved since`);
      await runs().delete({ id: stuck.id });

      // A new successful run clears it.
      await runs().save({
        ...base(),
        trigger: 'manual' as const,
        status: 'succeeded' as const,
        progress: 100,
        startedAt: new Date(),
        finishedAt: new Date(),
        error: null,
      });
      expect((await health(instance.systemName)).check.status).toBe('ok');
    } finally {
      await runs().delete({ instanceId: instance.id });
    }
    expect(succeeded.id).toBeDefined();
  });

  it('a CIS call refused with 401 after the last success makes the credentials invalid (warn), a later success valid again', async () => {
    const instance = await readyInstance();
    // Twice: the client signs in afresh after the first 401, and the second is final.
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'GET',
      path: '/markets$',
      status: 401,
      times: 2,
    });
    const refused = await call('get', `/esd/instances/${instance.id}/options`);
    expect(refused.body.markets).toEqual([]);
    const after = (await health(instance.systemName)).check;
    expect(after.status).toBe('warn');
    expect(after.data!.credentials).toMatchObject({ valid: false, evidence: 'cis-call' });
    expect(Date.parse(after.data!.credentials.lastRefusedAt)).toBeGreaterThan(
      Date.parse(after.data!.credentials.lastVerifiedAt),
    );
    expect(after.message).toContain('Microsoft refused its access token');
    expect(after.message).toContain('run the connection test');

    const listed = await call('get', `/esd/instances/${instance.id}/options`);
    expect(listed.body.markets.length).toBeGreaterThan(0);
    const again = (await health(instance.systemName)).check;
    expect(again.status).toBe('ok');
    expect(again.data!.credentials).toMatchObject({ valid: true, evidence: 'cis-call' });
  });

  it('never shows a secret: no private key, PFX, password or key in the report', async () => {
    const instance = await readyInstance();
    await licenses().insert(
      licenseRow(instance.id, { provisioningStatus: 'Failed', provisioningErrorCode: 'InvalidRequest' }),
    );
    const { text } = await health(instance.systemName);
    const c = env.sandbox.credentials;
    for (const secret of [c.privateKeyPem, c.pfxBase64, c.pfxPassword]) {
      const core = secret.split('\n').filter((l) => l && !l.startsWith('-----'))[1] ?? secret;
      expect(text.includes(core)).toBe(false);
    }
    expect(text).not.toMatch(/PRIVATE KEY|Bearer /);
    await licenses().delete({ instanceId: instance.id });
  });

  it('Redis unreachable: redis fails, the report is down (503) and says what stops; back once Redis is', async () => {
    await proxy.cut();
    try {
      const down = await health();
      expect(down.http).toBe(503);
      expect(down.report.status).toBe('down');
      expect(down.named('redis')).toMatchObject({ name: 'redis', status: 'fail' });
      expect(down.named('redis')!.message).toMatch(
        /^Redis is unreachable \(.+\): no license is provisioned and no catalog runs until it is back\./,
      );
      expect(down.named('database')).toEqual({ name: 'database', status: 'ok' });
    } finally {
      await proxy.open();
    }
    const back = await healthyAgain();
    expect(back.named('redis')).toEqual({ name: 'redis', status: 'ok' });
    expect(back.http).toBe(200);
  }, 30_000);

  it('the database unreachable: database fails, the instances are not read, the report is down (503); back once the database is', async () => {
    await databaseProxy.cut();
    try {
      const down = await health();
      expect(down.http).toBe(503);
      expect(down.report.status).toBe('down');
      expect(down.named('database')).toMatchObject({ name: 'database', status: 'fail' });
      expect(down.named('database')!.message).toMatch(
        /^The database is unreachable \(.+\)\. Check the host's database connection\.$/,
      );
      expect(down.named('redis')).toEqual({ name: 'redis', status: 'ok' });
      // Without the database there is nothing to say of the instances: the database check already says why.
      expect((down.report.checks as Check[]).map((c) => c.name)).toEqual(['database', 'redis']);
    } finally {
      await databaseProxy.open();
    }
    const back = await healthyAgain();
    expect(back.named('database')).toEqual({ name: 'database', status: 'ok' });
    expect(back.http).toBe(200);
  }, 30_000);
});
