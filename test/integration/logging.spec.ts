/**
 * The plugin's logs as a host running `createEsdJsonLogger()` sees them, on PostgreSQL and Redis against the CIS
 * sandbox over real HTTPS: everything written to stdout and stderr while an instance is set up and a license is
 * provisioned through a 503 and a retry is captured, every line must be one JSON object, the CIS call records carry
 * their correlation id, route, status and the license they served, and no product key, activation link, access
 * token, private key or PFX appears anywhere in it.
 */
import { randomInt } from 'node:crypto';
import { HostNotificationRow } from '../../sandbox/host/host.entities';
import { createEsdJsonLogger } from '../../src/common/logging';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { instanceHelpers } from '../support/instances';
import { orderRequest, seedOffers } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { sandboxControl } from '../support/sandbox-control';

const MARKET = { country: 'GR', language: 'el-GR' };
const TOKENS_ROUTE = 'POST /channels/:channelId/tokens';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Line = Record<string, unknown>;

describe('Structured JSON logs (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  const written: string[] = [];
  const spies: jest.SpyInstance[] = [];
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );

  function capture(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const keep = ((chunk: string | Uint8Array) => {
        written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      }) as typeof stream.write;
      spies.push(jest.spyOn(stream, 'write').mockImplementation(keep));
    }
  }

  function release(): void {
    while (spies.length) spies.pop()!.mockRestore();
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: { orderWaitMs: 15_000, jobRetry: { attempts: 5, baseMs: 50, maxMs: 200 } },
    });
    // As a host does it: Nest's logger, and so every plugin Logger, writes JSON lines to stdout and stderr.
    env.app.useLogger(createEsdJsonLogger());
  }, 60_000);

  afterAll(async () => {
    release();
    await env?.close();
  });

  it('provisioning through a 503: CIS call records with correlation id, route, status and the license; no secret anywhere', async () => {
    let licenseId: string;
    let instanceId: string;
    const secrets: string[] = [];
    capture();
    try {
      const instance = await readyInstance({}, MARKET);
      instanceId = instance.id;
      const offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 10);
      const offer = offers.find((o) => o.minQuantity <= 1 && o.maxQuantity >= 1 && o.status === 'Active')!;
      await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
        method: 'POST',
        path: '/tokens$',
        status: 503,
        times: 1,
      });

      const request = orderRequest(instance.id, offer, 1);
      const result = await env.app.get(EsdHooksService).order(request);
      expect(result.outcome).toBe('done');
      const license = await env.dataSource
        .getRepository(LicenseEntity)
        .findOneByOrFail({ hostOrderItemId: request.hostOrderItemId });
      licenseId = license.id;
      expect(license.attempts).toBe(2);

      // The key as the customer gets it (the welcome notification) and as an admin reveals it.
      const welcome = await eventually(async () =>
        (await env.dataSource.getRepository(HostNotificationRow).find()).find(
          (n) => (JSON.parse(n.data) as { licenseId: string }).licenseId === license.id,
        ),
      );
      const data = JSON.parse(welcome.data) as { productKey: string; activationLink: string };
      const revealed = await call('post', `/esd/licenses/${license.id}/reveal`);
      expect(revealed.status).toBe(200);
      expect(revealed.body.productKey).toBe(data.productKey);
      secrets.push(data.productKey, data.activationLink, revealed.body.activationLink);
    } finally {
      release();
    }

    const output = written.join('');
    const lines = output.split('\n').filter((l) => l.length > 0);
    const records: Line[] = lines.map((line) => {
      let parsed: unknown;
      expect(() => (parsed = JSON.parse(line))).not.toThrow();
      expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
      return parsed as Line;
    });
    for (const r of records) {
      expect(typeof r.time).toBe('string');
      expect(typeof r.level).toBe('string');
      expect(typeof r.msg).toBe('string');
    }

    // Every HTTP call for the token: the 503, then (after the job's retry looked the transaction up) the 201.
    const tokenCalls = records.filter((r) => r.context === 'CisClient' && r.route === TOKENS_ROUTE);
    expect(tokenCalls.map((r) => r.status)).toEqual([503, 201]);
    for (const r of tokenCalls) {
      expect(r).toMatchObject({ licenseId, instanceId, job: 'provision-license', attempt: 1 });
      expect(r.correlationId).toMatch(UUID);
      expect(r.requestId).toMatch(UUID);
      expect(typeof r.durationMs).toBe('number');
      expect(typeof r.jobId).toBe('string');
      // The readable sentence is kept beside the fields.
      expect(r.msg).toContain(`${TOKENS_ROUTE} ${String(r.status)} `);
      expect(r.msg).toContain(`correlationId=${String(r.correlationId)}`);
    }
    expect(tokenCalls[0].correlationId).not.toBe(tokenCalls[1].correlationId);
    // One MS-RequestId per operation, kept across the job's retry.
    expect(tokenCalls[0].requestId).toBe(tokenCalls[1].requestId);

    // The worker's own lines carry the license too: the retry it announced, and any other line of the job.
    const jobLines = records.filter((r) => r.licenseId === licenseId);
    expect(jobLines.some((r) => r.level === 'warn' && String(r.msg).includes('it is retried'))).toBe(true);
    // Calls outside any job (the connection test) carry the instance but no license.
    const setupCalls = records.filter(
      (r) => r.context === 'CisClient' && r.route === 'GET /channels/:channelId/markets',
    );
    expect(setupCalls.length).toBeGreaterThan(0);
    for (const r of setupCalls) {
      expect(r).toMatchObject({ instanceId, status: 200 });
      expect(r.licenseId).toBeUndefined();
    }

    // No key, link, access token, private key or PFX anywhere in what was written.
    const c = env.sandbox.credentials;
    const accessTokens = [
      ...(
        env.sandbox as unknown as { state: { accessTokens: Map<string, unknown> } }
      ).state.accessTokens.keys(),
    ];
    expect(accessTokens.length).toBeGreaterThan(0);
    for (const secret of [
      ...secrets,
      ...accessTokens,
      c.pfxBase64,
      c.pfxPassword,
      pemCore(c.privateKeyPem),
    ]) {
      expect(secret.length).toBeGreaterThan(8);
      expect(output.includes(secret)).toBe(false);
    }
    expect(output).not.toMatch(/[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/);
    expect(output).not.toMatch(/Bearer\s+\S{20,}|PRIVATE KEY/);
  });
});

/** Polls `read` until it answers something (or 10 s pass). */
async function eventually<T>(read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = await read();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not found in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A distinctive line of a PEM's body. */
function pemCore(pem: string): string {
  return pem.split('\n').filter((l) => l && !l.startsWith('-----'))[1];
}
