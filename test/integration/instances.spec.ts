/**
 * Applications Setup instances over HTTP, on PostgreSQL and Redis, against the CIS sandbox over real HTTPS:
 * the two stages, the distributor rules kept by the database, the options and the connection test, the form
 * schema, the audit trail and health. Every response body and every log line of the suite is kept, and the
 * last test searches them for the secrets that crossed the API (private keys, PFX, passwords, access tokens).
 */
import { inertHostPorts } from '../support/host-ports';
import { getQueueToken } from '@nestjs/bull';
import { type INestApplication, type LoggerService, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import * as forge from 'node-forge';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import {
  certificateThumbprints,
  createClientIdentityAsync,
  type ClientIdentity,
} from '../../sandbox/cis/test-identity';
import { principalFromRequest } from '../../sandbox/host/principal';
import { AuditEventEntity } from '../../src/common/audit-event.entity';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { QUEUES } from '../../src/constants';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import { CertificateEntity } from '../../src/settings/certificate.entity';
import { ClientCountryEntity } from '../../src/settings/client-country.entity';
import { InstanceEntity } from '../../src/settings/instance.entity';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import * as manifest from '../../plugin.manifest.json';
import { instanceHelpers } from '../support/instances';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { requireService } from '../support/services';

const MARKETS_PATH = '/channels/[^/]+/markets$';

describe('Applications Setup instances (PostgreSQL, CIS sandbox)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let sandbox: CisSandbox;
  let app: INestApplication;
  const responses: string[] = [];
  const logLines: string[] = [];
  const secrets: string[] = [];

  const logger: LoggerService = Object.fromEntries(
    ['log', 'warn', 'error', 'debug', 'verbose', 'fatal'].map((level) => [
      level,
      (message: unknown, ...rest: unknown[]) =>
        logLines.push(
          `${level} ${String(message)} ${rest.map((r) => (r instanceof Error ? r.stack : String(r))).join(' ')}`,
        ),
    ]),
  ) as unknown as LoggerService;

  /** One HTTP call as the admin (or `who`); every body is kept for the secrets check. */
  const { call, freshClient, stageOne, createInstance, readyInstance } = instanceHelpers(
    () => app,
    () => sandbox,
    { onResponse: (res) => responses.push(res.text ?? '') },
  );
  const creds = () => sandbox.credentials;
  const pemUpload = (identity: { certificatePem: string; privateKeyPem: string } = creds()) => ({
    certificate: { pem: identity.certificatePem, privateKeyPem: identity.privateKeyPem },
  });

  async function counts() {
    return {
      instances: await dataSource.getRepository(InstanceEntity).count(),
      audit: await dataSource.getRepository(AuditEventEntity).count(),
      certificates: await dataSource.getRepository(CertificateEntity).count(),
      bindings: await dataSource.getRepository(ClientCountryEntity).count(),
    };
  }

  beforeAll(async () => {
    const redisUrl = await requireService('redis');
    db = await createTestDatabase('postgres');
    dataSource = new DataSource({
      ...db.dataSourceOptions,
      entities: ESD_ENTITIES,
      migrations: ESD_MIGRATIONS,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    sandbox = await CisSandbox.start({ rateLimitPerMinute: 0 });
    const c = sandbox.credentials;
    secrets.push(c.privateKeyPem, c.pfxBase64, c.pfxPassword);

    @Module({
      imports: [
        MicrosoftEsdModule.forRootAsync({
          useFactory: async () => ({
            hostApiVersion: '1.0.0',
            ...inertHostPorts(),
            principal: principalFromRequest,
            secretKey: randomBytes(32).toString('base64'),
            redis: redisUrl,
            dataSource,
            // Short, so the timeout case of the connection test takes a second, not fifteen.
            cisTimeoutMs: 1500,
          }),
        }),
      ],
    })
    class HostModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    app = moduleRef.createNestApplication({ logger });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await sandbox?.close();
    await dataSource?.destroy();
    await db?.drop();
  });

  afterEach(async () => {
    await request(sandbox.url).delete('/__sandbox/faults').ca(creds().caPem);
  });

  it('creates a draft with the defaults, lists it with cursors, and refuses limits outside 1–500', async () => {
    const body = stageOne();
    const res = await call('post', '/esd/instances', body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      systemName: body.systemName,
      clientId: body.clientId,
      authorityHost: body.authorityHost,
      environment: 'production',
      state: 'draft',
      country: null,
      language: null,
      certificate: null,
      catalogSchedule: '0 3 * * *',
      returnWindowDays: 30,
      autoAcceptCancellations: false,
      missing: ['certificate', 'market', 'connection test'],
    });
    expect(typeof res.body.createdAt).toBe('string');
    await createInstance({ environment: 'sandbox', returnWindowDays: 14, catalogSchedule: '30 2 * * 1-5' });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await call(
        'get',
        `/esd/instances?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((i: { systemName: string }) => i.systemName));
      cursor = page.body.nextCursor;
    } while (cursor);
    const all = await dataSource.getRepository(InstanceEntity).find({ order: { systemName: 'ASC' } });
    expect(seen).toEqual(all.map((i) => i.systemName));

    for (const limit of ['0', '501', 'x']) {
      const bad = await call('get', `/esd/instances?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
      expect(bad.body.message).toContain('limit');
    }
  });

  it('answers 400 naming the field for invalid bodies and writes nothing', async () => {
    const before = await counts();
    const created = await createInstance();
    const after = await counts();
    const cases: Array<[string, 'post' | 'patch', Record<string, unknown>, string]> = [
      ['missing field', 'post', (({ systemName: _s, ...rest }) => rest)(stageOne()), 'systemName'],
      ['wrong type', 'post', stageOne({ returnWindowDays: 'thirty' }), 'returnWindowDays'],
      ['out of range', 'post', stageOne({ returnWindowDays: 366 }), 'returnWindowDays'],
      ['unknown field', 'post', stageOne({ colour: 'blue' }), 'colour'],
      ['stage 2 on create', 'post', stageOne({ country: 'GR' }), 'country'],
      ['oversize value', 'post', stageOne({ systemName: 'S'.repeat(101) }), 'systemName'],
      ['bad cron', 'post', stageOne({ catalogSchedule: '61 3 * * *' }), 'catalogSchedule'],
      ['bad url', 'post', stageOne({ serviceUrl: 'not a url' }), 'serviceUrl'],
      ['http authority', 'post', stageOne({ authorityHost: 'http://login.example' }), 'authorityHost'],
      ['bad environment', 'post', stageOne({ environment: 'staging' }), 'environment'],
      ['null required field', 'patch', { tenantId: null }, 'tenantId'],
      ['country alone', 'patch', { country: 'GR' }, 'language'],
      [
        'mixed upload',
        'patch',
        { certificate: { pem: 'x', privateKeyPem: 'y', pfxBase64: 'z', password: 'p' } },
        'certificate',
      ],
      ['empty upload', 'patch', { certificate: {} }, 'certificate.pem'],
      [
        'unknown upload field',
        'patch',
        { certificate: { ...pemUpload().certificate, extra: 1 } },
        'certificate.extra',
      ],
      [
        'oversize key',
        'patch',
        { certificate: { pem: 'x', privateKeyPem: 'k'.repeat(70_000) } },
        'certificate.privateKeyPem',
      ],
      ['disabled not boolean', 'patch', { disabled: 'yes' }, 'disabled'],
    ];
    for (const [label, method, body, field] of cases) {
      const path = method === 'post' ? '/esd/instances' : `/esd/instances/${created.id}`;
      const res = await call(method, path, body);
      expect({ label, status: res.status, code: res.body.code }).toEqual({
        label,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      const fields = (res.body.details.fields as Array<{ field: string }>).map((f) => f.field);
      expect({ label, fields }).toEqual({ label, fields: expect.arrayContaining([field]) });
    }
    expect(after.instances).toBe(before.instances + 1);
    expect(await counts()).toEqual(after);
    // The DTO never echoes a value back: the oversize key is not in the answer.
    expect(responses.some((r) => r.includes('k'.repeat(100)))).toBe(false);
  });

  it('keeps admins only: 401 without a principal, 403 for a customer', async () => {
    expect((await call('get', '/esd/instances', undefined, '')).status).toBe(401);
    expect((await call('get', '/esd/instances', undefined, 'customer:C1')).status).toBe(403);
    expect((await call('get', '/esd/settings/schema', undefined, 'reseller:R1')).status).toBe(403);
  });

  it('refuses a second system name with 409 SYSTEM_NAME_TAKEN, also when five creates race', async () => {
    const first = await createInstance();
    const again = await call('post', '/esd/instances', stageOne({ systemName: first.systemName }));
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('SYSTEM_NAME_TAKEN');
    expect(again.body.message).toContain(first.systemName);

    const name = `RACE-${randomBytes(4).toString('hex')}`;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => call('post', '/esd/instances', stageOne({ systemName: name }))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'SYSTEM_NAME_TAKEN')).toBe(
      true,
    );
    expect(await dataSource.getRepository(InstanceEntity).countBy({ systemName: name })).toBe(1);

    const renamed = await createInstance();
    const clash = await call('patch', `/esd/instances/${renamed.id}`, { systemName: first.systemName });
    expect(clash.status).toBe(409);
    expect(clash.body.code).toBe('SYSTEM_NAME_TAKEN');
  });

  it('takes stage 2 only on a saved instance, and the market only once a certificate is stored', async () => {
    const missing = await call('patch', `/esd/instances/00000000-0000-4000-8000-000000000000`, pemUpload());
    expect(missing.status).toBe(404);
    const created = await createInstance();
    const early = await call('patch', `/esd/instances/${created.id}`, { country: 'GR', language: 'el-GR' });
    expect(early.status).toBe(422);
    expect(early.body.code).toBe('INSTANCE_CERTIFICATE_REQUIRED');
    const options = await call('get', `/esd/instances/${created.id}/options`);
    expect(options.status).toBe(200);
    expect(options.body.markets).toEqual([]);
    expect(options.body.note).toMatch(/certificate/);
  });

  it('walks draft → ready → draft: certificate, options from the sandbox, market, connection test', async () => {
    const created = await createInstance();
    const uploaded = await call('patch', `/esd/instances/${created.id}`, pemUpload());
    expect(uploaded.status).toBe(200);
    expect(uploaded.body.certificate).toMatchObject({
      thumbprint: certificateThumbprints(creds().certificatePem).thumbprint,
      thumbprintSha256: certificateThumbprints(creds().certificatePem).thumbprintSha256,
      subject: expect.stringContaining('ESD Sandbox Client'),
      expiryWarning: null,
    });
    expect(uploaded.body.certificate.expiresInDays).toBeGreaterThan(300);
    expect(uploaded.body.state).toBe('draft');
    expect(uploaded.body.missing).toEqual(['market', 'connection test']);

    const options = await call('get', `/esd/instances/${created.id}/options`);
    const sandboxMarkets = await request(sandbox.url).get('/__sandbox/markets').ca(creds().caPem);
    expect(options.status).toBe(200);
    expect(options.body.markets).toEqual(sandboxMarkets.body.items);
    expect(options.body.certificates).toContainEqual({
      id: uploaded.body.certificate.id,
      thumbprint: uploaded.body.certificate.thumbprint,
      subject: uploaded.body.certificate.subject,
      expiresAt: uploaded.body.certificate.expiresAt,
    });

    const notOffered = await call('patch', `/esd/instances/${created.id}`, {
      country: 'FR',
      language: 'fr-FR',
    });
    expect(notOffered.status).toBe(422);
    expect(notOffered.body.code).toBe('MARKET_NOT_OFFERED');
    expect(notOffered.body.message).toContain('GR (el-GR, en-US)');
    expect((await call('get', `/esd/instances/${created.id}`)).body.country).toBeNull();

    const market = await call('patch', `/esd/instances/${created.id}`, { country: 'GR', language: 'el-GR' });
    expect(market.status).toBe(200);
    expect(market.body).toMatchObject({
      country: 'GR',
      language: 'el-GR',
      state: 'draft',
      missing: ['connection test'],
    });

    const test = await call('post', `/esd/instances/${created.id}/test-connection`);
    expect(test.status).toBe(200);
    expect(test.body).toEqual({
      ok: true,
      steps: [
        { step: 'certificate', ok: true },
        { step: 'sign-in', ok: true },
        { step: 'read', ok: true, message: expect.stringContaining('3 markets') },
        { step: 'market', ok: true },
      ],
    });
    const ready = await call('get', `/esd/instances/${created.id}`);
    expect(ready.body).toMatchObject({ state: 'ready', missing: [], lastConnectionTest: { ok: true } });

    // A setting outside the connection keeps it ready; a connection field or the market makes it draft.
    const window = await call('patch', `/esd/instances/${created.id}`, { returnWindowDays: 14 });
    expect(window.body).toMatchObject({ state: 'ready', returnWindowDays: 14 });
    const channel = await call('patch', `/esd/instances/${created.id}`, { channelId: 'other-channel' });
    expect(channel.body).toMatchObject({ state: 'draft', lastConnectionTest: null });
    await call('patch', `/esd/instances/${created.id}`, { channelId: creds().channelId });
    expect((await call('post', `/esd/instances/${created.id}/test-connection`)).status).toBe(200);
    const language = await call('patch', `/esd/instances/${created.id}`, {
      country: 'GR',
      language: 'en-US',
    });
    expect(language.body).toMatchObject({ state: 'draft', language: 'en-US', missing: ['connection test'] });

    // The same certificate as a PFX is the same stored certificate.
    const pfx = await call('patch', `/esd/instances/${created.id}`, {
      certificate: { pfxBase64: creds().pfxBase64, password: creds().pfxPassword },
    });
    expect(pfx.status).toBe(200);
    expect(pfx.body.certificate.thumbprint).toBe(uploaded.body.certificate.thumbprint);
  });

  it('surfaces every certificate refusal through PATCH with its code and stores nothing', async () => {
    const created = await createInstance();
    const other = await createClientIdentityAsync();
    const expired = await createClientIdentityAsync({
      notBefore: new Date(Date.now() - 400 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const future = await createClientIdentityAsync({ notBefore: new Date(Date.now() + 10 * 86_400_000) });
    const certOnlyPfx = forge.pkcs12.toPkcs12Asn1(
      null,
      [forge.pki.certificateFromPem(other.certificatePem)],
      'pw',
      {
        algorithm: '3des',
      },
    );
    const keyless = Buffer.from(forge.asn1.toDer(certOnlyPfx).getBytes(), 'binary').toString('base64');
    secrets.push(other.privateKeyPem, expired.privateKeyPem, future.privateKeyPem);

    const cases: Array<[EsdErrorCode, Record<string, string>]> = [
      [EsdErrorCode.CERTIFICATE_UNREADABLE, { pem: 'not a certificate', privateKeyPem: other.privateKeyPem }],
      [
        EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
        { pem: creds().certificatePem, privateKeyPem: other.privateKeyPem },
      ],
      [
        EsdErrorCode.CERTIFICATE_EXPIRED,
        { pem: expired.certificatePem, privateKeyPem: expired.privateKeyPem },
      ],
      [
        EsdErrorCode.CERTIFICATE_NOT_YET_VALID,
        { pem: future.certificatePem, privateKeyPem: future.privateKeyPem },
      ],
      [
        EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
        { pfxBase64: creds().pfxBase64, password: 'wrong password' },
      ],
      [EsdErrorCode.CERTIFICATE_KEY_MISSING, { pfxBase64: keyless, password: 'pw' }],
    ];
    const before = await counts();
    for (const [code, certificate] of cases) {
      const res = await call('patch', `/esd/instances/${created.id}`, { certificate });
      expect({ code: res.body.code, status: res.status }).toEqual({ code, status: 422 });
      expect(res.body.message.length).toBeGreaterThan(20);
    }
    expect(await counts()).toEqual(before);
    expect((await call('get', `/esd/instances/${created.id}`)).body.certificate).toBeNull();
  });

  it('keeps one country per client ID and one instance per client/country/language, in the database', async () => {
    const clientId = freshClient();
    const bindingOf = () => dataSource.getRepository(ClientCountryEntity).findOneBy({ clientId });

    const gr = await readyInstance({ clientId });
    expect(await bindingOf()).toMatchObject({ clientId, country: 'GR' });

    const second = await createInstance({ clientId });
    await call('patch', `/esd/instances/${second.id}`, pemUpload());
    const ie = await call('patch', `/esd/instances/${second.id}`, { country: 'IE', language: 'en-IE' });
    expect(ie.status).toBe(409);
    expect(ie.body.code).toBe('CLIENT_ID_COUNTRY_CONFLICT');
    expect(ie.body.message).toContain(`already serves GR (instance ${gr.systemName})`);
    expect(ie.body.details).toMatchObject({ boundCountry: 'GR', requestedCountry: 'IE' });

    const same = await call('patch', `/esd/instances/${second.id}`, { country: 'GR', language: 'el-GR' });
    expect(same.status).toBe(409);
    expect(same.body.code).toBe('INSTANCE_MARKET_TAKEN');

    const english = await call('patch', `/esd/instances/${second.id}`, { country: 'GR', language: 'en-US' });
    expect(english.status).toBe(200);

    // The binding moves only when no instance holds it: delete one, move the other, then release it.
    expect((await call('delete', `/esd/instances/${gr.id}`)).status).toBe(204);
    expect(await bindingOf()).toMatchObject({ country: 'GR' });
    const moved = await call('patch', `/esd/instances/${second.id}`, { country: 'IE', language: 'en-IE' });
    expect(moved.status).toBe(200);
    expect(await bindingOf()).toMatchObject({ country: 'IE' });
    expect((await call('delete', `/esd/instances/${second.id}`)).status).toBe(204);
    expect(await bindingOf()).toBeNull();
  });

  it('lets the database decide when two instances of one client ID race for two countries', async () => {
    const clientId = freshClient('race');
    const a = await createInstance({ clientId });
    const b = await createInstance({ clientId });
    await call('patch', `/esd/instances/${a.id}`, pemUpload());
    await call('patch', `/esd/instances/${b.id}`, pemUpload());
    const [ra, rb] = await Promise.all([
      call('patch', `/esd/instances/${a.id}`, { country: 'GR', language: 'el-GR' }),
      call('patch', `/esd/instances/${b.id}`, { country: 'US', language: 'en-US' }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 409]);
    expect([ra, rb].find((r) => r.status === 409)!.body.code).toBe('CLIENT_ID_COUNTRY_CONFLICT');
    const winner = ra.status === 200 ? 'GR' : 'US';
    expect(await dataSource.getRepository(ClientCountryEntity).findOneBy({ clientId })).toMatchObject({
      country: winner,
    });
  });

  describe('connection test failures name the step and say what to fix', () => {
    let probe: Record<string, ReturnType<typeof JSON.parse>>;

    beforeAll(async () => {
      probe = await readyInstance({}, { country: 'IE', language: 'en-IE' });
    });

    async function expectFailure(step: string, code: EsdErrorCode) {
      const res = await call('post', `/esd/instances/${probe.id}/test-connection`);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('CONNECTION_FAILED');
      expect(res.body.details.failedStep).toBe(step);
      const failed = res.body.details.steps.find((s: { ok: boolean }) => !s.ok);
      expect(failed).toMatchObject({ step, ok: false, code });
      expect(res.body.message).toContain(`step ${step}`);
      expect(res.body.message).toContain(ERROR_DESCRIPTIONS[code].message);
      const stored = await call('get', `/esd/instances/${probe.id}`);
      expect(stored.body.lastConnectionTest).toMatchObject({ ok: false, message: res.body.message });
      expect(stored.body.state).toBe('draft');
      return res;
    }

    async function patchProbe(body: Record<string, unknown>) {
      const res = await call('patch', `/esd/instances/${probe.id}`, body);
      expect(res.status).toBe(200);
    }

    it('sign-in: certificate not registered with Microsoft', async () => {
      const unregistered: ClientIdentity = await createClientIdentityAsync({ commonName: 'Unregistered' });
      secrets.push(unregistered.privateKeyPem);
      await patchProbe(pemUpload(unregistered));
      await expectFailure('sign-in', EsdErrorCode.CIS_AUTH_CERTIFICATE_NOT_TRUSTED);
      await patchProbe(pemUpload());
    });

    it('sign-in: unknown tenant, unknown client, resource not valid', async () => {
      for (const [patch, code] of [
        [{ tenantId: 'unknown-tenant.example' }, EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT],
        [{ clientId: 'no-such-client' }, EsdErrorCode.CIS_AUTH_UNKNOWN_CLIENT],
        [{ resourceApi: 'https://not.the.resource' }, EsdErrorCode.CIS_AUTH_INVALID_RESOURCE],
      ] as const) {
        await patchProbe(patch);
        await expectFailure('sign-in', code);
        await patchProbe(stageOneConnection());
      }
    });

    it('read: the markets call times out', async () => {
      await request(sandbox.url)
        .post('/__sandbox/faults')
        .ca(creds().caPem)
        .send({ path: MARKETS_PATH, timeout: true })
        .expect(201);
      const started = Date.now();
      await expectFailure('read', EsdErrorCode.CIS_TIMEOUT);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('read: the client ID may not act for the channel', async () => {
      const clientId = `elsewhere-${randomBytes(3).toString('hex')}`;
      sandbox.registerClient({
        clientId,
        channelIds: ['2000000001'],
        certificatePem: creds().certificatePem,
      });
      await patchProbe({ clientId });
      await expectFailure('read', EsdErrorCode.CIS_CHANNEL_MISMATCH);
      await patchProbe(stageOneConnection());
    });

    it('certificate: none stored yet', async () => {
      const bare = await createInstance();
      const res = await call('post', `/esd/instances/${bare.id}/test-connection`);
      expect(res.status).toBe(422);
      expect(res.body.details).toMatchObject({ failedStep: 'certificate' });
    });

    it('passes again once the settings are right', async () => {
      expect((await call('post', `/esd/instances/${probe.id}/test-connection`)).status).toBe(200);
      expect((await call('get', `/esd/instances/${probe.id}`)).body.state).toBe('ready');
    });

    /** The probe's own, working connection settings. */
    function stageOneConnection() {
      const { tenantId, clientId, resourceApi, channelId } = probe;
      return { tenantId, clientId, resourceApi, channelId };
    }
  });

  it('disables, enables and deletes; the audit trail names fields but never a secret value', async () => {
    const instance = await readyInstance({}, { country: 'US', language: 'en-US' });
    const disabled = await call('patch', `/esd/instances/${instance.id}`, { disabled: true });
    expect(disabled.body).toMatchObject({ state: 'disabled', missing: [] });
    const stillDisabled = await call('patch', `/esd/instances/${instance.id}`, {
      autoAcceptCancellations: true,
    });
    expect(stillDisabled.body).toMatchObject({ state: 'disabled', autoAcceptCancellations: true });
    const enabled = await call('patch', `/esd/instances/${instance.id}`, { disabled: false });
    expect(enabled.body.state).toBe('ready');

    expect((await call('delete', `/esd/instances/${instance.id}`)).status).toBe(204);
    expect((await call('get', `/esd/instances/${instance.id}`)).status).toBe(404);
    expect((await call('delete', `/esd/instances/${instance.id}`)).status).toBe(404);

    const trail = await call('get', `/esd/instances/${instance.id}/audit?limit=500`);
    expect(trail.status).toBe(200);
    // Events of one request share a millisecond, so compare what happened, not the order within a request.
    const actions = trail.body.items.map((e: { action: string }) => e.action).sort();
    expect(actions).toEqual(
      [
        'instance.create',
        'instance.certificate_upload',
        'instance.update', // the certificate
        'instance.update', // the market
        'instance.connection_test',
        'instance.disable',
        'instance.update', // autoAcceptCancellations
        'instance.enable',
        'instance.delete',
      ].sort(),
    );
    expect(trail.body.items[0].action).toBe('instance.delete');
    for (const event of trail.body.items) {
      expect(event.actor).toEqual({ role: 'admin', accountId: 'provider', userId: 'admin' });
    }
    const upload = trail.body.items.find(
      (e: { action: string }) => e.action === 'instance.certificate_upload',
    );
    expect(upload.details.fields).toEqual(['certificate.pem', 'certificate.privateKeyPem']);
    expect(upload.details.certificate.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    const market = trail.body.items.find((e: { action: string; details: { changed?: string[] } }) =>
      e.details?.changed?.includes('country'),
    );
    expect(market.details.changes.country).toEqual({ from: null, to: 'US' });

    const rows = await dataSource.getRepository(AuditEventEntity).find();
    const stored = JSON.stringify(rows);
    for (const secret of secrets) expect(stored.includes(secretCore(secret))).toBe(false);
    expect(stored).toContain('certificate.privateKeyPem');
  });

  it('reports each instance in health: certificate expiry (warn, fail) and the last connection test', async () => {
    const instance = await readyInstance({}, { country: 'US', language: 'en-US' });
    const name = `instance:${instance.systemName}`;
    const check = async () => {
      const res = await call('get', '/esd/health', undefined, '');
      return {
        status: res.status,
        report: res.body,
        check: res.body.checks.find((c: { name: string }) => c.name === name),
      };
    };
    expect((await check()).check).toMatchObject({
      status: 'ok',
      data: { state: 'ready', lastConnectionTest: { ok: true } },
    });

    const certificates = dataSource.getRepository(CertificateEntity);
    const original = (await certificates.findOneByOrFail({ id: instance.certificate.id })).expiresAt;
    try {
      await certificates.update(
        { id: instance.certificate.id },
        { expiresAt: new Date(Date.now() + 10.5 * 86_400_000) },
      );
      const soon = await check();
      expect(soon.check).toMatchObject({ status: 'warn', data: { certificateExpiresInDays: 10 } });
      expect(soon.check.message).toContain('in 10 days');
      expect(soon.report.problems).toContain(soon.check.message);

      await certificates.update(
        { id: instance.certificate.id },
        { expiresAt: new Date(Date.now() - 86_400_000) },
      );
      const expired = await check();
      expect(expired.status).toBe(503);
      expect(expired.check.status).toBe('fail');
      expect(expired.check.message).toContain('expired on');
      const test = await call('post', `/esd/instances/${instance.id}/test-connection`);
      expect(test.body.details.failedStep).toBe('certificate');
    } finally {
      await certificates.update({ id: instance.certificate.id }, { expiresAt: original });
    }
    const failed = await check();
    expect(failed.check.status).toBe('warn');
    expect(failed.check.message).toContain('the last connection test failed');
    expect(failed.check.data.lastConnectionTest.ok).toBe(false);
    await call('patch', `/esd/instances/${instance.id}`, { disabled: true });
    expect((await check()).check.status).toBe('ok');
  });

  it('serves the form schema generated from the DTOs, secrets marked, usable by a JSON Schema validator', async () => {
    const res = await call('get', '/esd/settings/schema');
    expect(res.status).toBe(200);
    const [connection, credentials] = res.body.stages;
    expect(connection.route).toBe('POST /esd/instances');
    expect(connection.schema.required.sort()).toEqual(
      ['channelId', 'clientId', 'resourceApi', 'serviceUrl', 'systemName', 'tenantId'].sort(),
    );
    expect(connection.schema.properties.returnWindowDays).toMatchObject({
      minimum: 1,
      maximum: 365,
      default: 30,
    });
    expect(connection.schema.properties.environment.enum).toEqual(['production', 'sandbox']);
    const upload = credentials.schema.properties.certificate;
    for (const field of ['privateKeyPem', 'pfxBase64', 'password']) {
      expect(upload.properties[field]).toMatchObject({ writeOnly: true, 'x-secret': true });
    }
    expect(upload.properties.pem['x-secret']).toBeUndefined();
    expect(res.body.secretFields.sort()).toEqual([...manifest.settings.secretFields].sort());

    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const stage1 = ajv.compile(connection.schema);
    expect(stage1(stageOne())).toBe(true);
    expect(stage1(stageOne({ colour: 'blue' }))).toBe(false);
    expect(stage1({ ...stageOne(), systemName: undefined })).toBe(false);
    const stage2 = ajv.compile(credentials.schema);
    expect(stage2({ ...pemUpload(), country: 'GR', language: 'el-GR' })).toBe(true);
    expect(stage2({ certificate: { pfxBase64: 'AAAA', password: '' } })).toBe(true);
    expect(stage2({ certificate: { pem: 'x', privateKeyPem: 'y', password: 'z' } })).toBe(false);
  });

  it('enqueues the re-seal job once per sealing key and answers 202 with its id', async () => {
    const first = await call('post', '/esd/settings/reseal');
    expect(first.status).toBe(202);
    expect(first.body.jobId).toMatch(/^reseal-secrets:/);
    const second = await call('post', '/esd/settings/reseal');
    expect(second.body.jobId).toBe(first.body.jobId);
    const queue = app.get<Queue>(getQueueToken(QUEUES.maintenance));
    const job = await queue.getJob(first.body.jobId);
    expect(job?.name).toBe('reseal-secrets');
  });

  it('never shows a private key, PFX, password or access token in any response or log line', async () => {
    // The sandbox's issued access tokens are private state; read them only to prove none leaked.
    const issued = [
      ...(sandbox as unknown as { state: { accessTokens: Map<string, unknown> } }).state.accessTokens.keys(),
    ];
    expect(issued.length).toBeGreaterThan(0);
    expect(responses.length).toBeGreaterThan(50);
    expect(logLines.length).toBeGreaterThan(0);
    const haystack = [...responses, ...logLines].join('\n');
    for (const secret of [...secrets, ...issued]) {
      expect(haystack.includes(secretCore(secret))).toBe(false);
    }
  });
});

/** A distinctive part of a secret: a PEM's body line, else the value itself. */
function secretCore(secret: string): string {
  const lines = secret.split('\n').filter((l) => l && !l.startsWith('-----'));
  return lines.length > 1 ? lines[1] : secret;
}
