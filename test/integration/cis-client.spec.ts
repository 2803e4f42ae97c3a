/**
 * The CIS client over real HTTPS against the CIS sandbox, with MSAL doing the sign-in. Every request goes
 * through a small HTTPS "wire tap" in front of the sandbox: it forwards untouched and records what the
 * client sent (headers, and the assertions and access tokens that crossed it), so the suite can assert the
 * MS-CorrelationId / MS-RequestId headers and prove that no secret leaked into an error or a log line.
 */
import { sandboxControl } from '../support/sandbox-control';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CIS_CLIENT_OPTIONS,
  CisClient,
  CisClientFactory,
  CisError,
  type CisClientOptions,
  type CisConnection,
} from '../../src/cis';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { createClientIdentityAsync, createSandboxPki } from '../../sandbox/cis/test-identity';

const MARKETS_ROUTE = 'GET /channels/:channelId/markets';
const MARKETS_PATH = '/channels/[^/]+/markets$';

interface CapturedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

/** A transparent HTTPS forwarder with its own CA that records every request it passes on. */
interface WireTap {
  url: string;
  caPem: string;
  requests: CapturedRequest[];
  accessTokens: Set<string>;
  assertions: Set<string>;
  close(): Promise<void>;
}

async function startWireTap(target: string, targetCaPem: string): Promise<WireTap> {
  const pki = await createSandboxPki();
  const requests: CapturedRequest[] = [];
  const accessTokens = new Set<string>();
  const assertions = new Set<string>();
  const upstreamAgent = new https.Agent({ ca: targetCaPem, keepAlive: false });

  const server = https.createServer(
    { key: pki.server.privateKeyPem, cert: pki.server.certificatePem },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? '/';
        const isTokenCall = /\/oauth2\/v2\.0\/token$/.test(path.split('?')[0]);
        requests.push({ method: req.method ?? 'GET', path, headers: { ...req.headers }, at: Date.now() });
        if (isTokenCall) {
          const assertion = new URLSearchParams(body.toString('utf8')).get('client_assertion');
          if (assertion) assertions.add(assertion);
        }
        // The Host header goes through unchanged: the sandbox builds the expected audience from it.
        const upstream = https.request(
          new URL(path, target),
          { method: req.method, headers: req.headers, agent: upstreamAgent },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => parts.push(chunk));
            answer.on('error', () => res.destroy());
            answer.on('end', () => {
              const text = Buffer.concat(parts);
              if (isTokenCall) {
                try {
                  const parsed = JSON.parse(text.toString('utf8')) as { access_token?: unknown };
                  if (typeof parsed.access_token === 'string') accessTokens.add(parsed.access_token);
                } catch {
                  // A garbled token answer carries no token to remember.
                }
              }
              const headers = { ...answer.headers };
              delete headers['transfer-encoding'];
              delete headers.connection;
              delete headers['keep-alive'];
              headers['content-length'] = String(text.length);
              res.writeHead(answer.statusCode ?? 502, headers);
              res.end(text);
            });
          },
        );
        // The sandbox cut the connection (dropAfterCommit): cut ours too, so the client sees the same.
        upstream.on('error', () => res.destroy());
        // The client gave up (timeout): let the sandbox release the held request.
        res.on('close', () => {
          if (!res.writableFinished) upstream.destroy();
        });
        upstream.end(body);
      });
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: pki.ca.certificatePem,
    requests,
    accessTokens,
    assertions,
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      upstreamAgent.destroy();
      await closed;
    },
  };
}

/** A logger that keeps every line, for the "no secret in any log line" check. */
function capturingLogger(lines: string[]): LoggerService {
  const keep =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) =>
      lines.push(`${level} ${String(message)} ${rest.map(String).join(' ')}`);
  return {
    log: keep('log'),
    warn: keep('warn'),
    error: keep('error'),
    debug: keep('debug'),
    verbose: keep('verbose'),
  };
}

describe('CisClient against the CIS sandbox (real HTTPS, MSAL sign-in)', () => {
  let sandbox: CisSandbox;
  let tap: WireTap;
  const logLines: string[] = [];
  const errorsSeen: CisError[] = [];
  const clients: CisClient[] = [];
  const extraSecrets: string[] = [];

  beforeAll(async () => {
    sandbox = await CisSandbox.start({ port: 0, rateLimitPerMinute: 0 });
    tap = await startWireTap(sandbox.url, sandbox.credentials.caPem);
  });

  afterEach(async () => {
    await control('POST', '/__sandbox/reset');
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await tap?.close();
    await sandbox?.close();
  });

  /** The sandbox's identity, reached through the wire tap (which the client trusts through its CA). */
  function connection(overrides: Partial<CisConnection> = {}): CisConnection {
    const c = sandbox.credentials;
    return {
      instanceId: 'inst-test',
      tenantId: c.tenantId,
      clientId: c.clientId,
      channelId: c.channelId,
      resourceApi: c.resourceApi,
      serviceUrl: tap.url,
      authorityHost: tap.url,
      caCertificatePem: tap.caPem,
      certificate: { certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem },
      ...overrides,
    };
  }

  function newClient(conn: CisConnection = connection(), options: CisClientOptions = {}): CisClient {
    const client = new CisClient(conn, {
      logger: capturingLogger(logLines),
      timeoutMs: 5_000,
      retry: { maxAttempts: 4, baseMs: 20, maxMs: 100 },
      ...options,
    });
    clients.push(client);
    return client;
  }

  async function failure(promise: Promise<unknown>): Promise<CisError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof CisError) {
        errorsSeen.push(error);
        return error;
      }
      throw error;
    }
    throw new Error('expected the call to fail');
  }

  function expectRefusal(error: CisError, code: EsdErrorCode): void {
    expect(error.code).toBe(code);
    expect(error.message).toBe(ERROR_DESCRIPTIONS[code].message);
  }

  const control = (method: string, path: string, body?: unknown) =>
    sandboxControl(sandbox, method, path, body);

  async function calls(): Promise<{
    token: number;
    markets: number;
    accessTokensIssued: number;
    held: number;
  }> {
    const stats = (await control('GET', '/__sandbox/stats')) as {
      callsByRoute: Record<string, number>;
      accessTokensIssued: number;
      heldRequests: number;
    };
    const token = Object.entries(stats.callsByRoute)
      .filter(([route]) => /oauth2\/v2\.0\/token/.test(route))
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      token,
      markets: stats.callsByRoute[MARKETS_ROUTE] ?? 0,
      accessTokensIssued: stats.accessTokensIssued,
      held: stats.heldRequests,
    };
  }

  async function addFault(fault: Record<string, unknown>): Promise<void> {
    await control('POST', '/__sandbox/faults', fault);
  }

  function marketsRequests(since: number): CapturedRequest[] {
    return tap.requests.slice(since).filter((r) => /\/channels\/[^/]+\/markets$/.test(r.path.split('?')[0]));
  }

  describe('sign-in', () => {
    it('a good identity gets a token and lists the channel markets', async () => {
      const client = newClient();
      const before = Date.now();
      const token = await client.acquireToken();
      expect(token.fromCache).toBe(false);
      // The sandbox issues tokens for about an hour; anything under 5 minutes would defeat MSAL's cache.
      expect(token.expiresOn.getTime()).toBeGreaterThan(before + 30 * 60_000);
      expect(JSON.stringify(token)).not.toContain('accessToken');

      const markets = await client.getMarkets();
      const truth = (await control('GET', '/__sandbox/markets')) as { items: unknown[] };
      expect(markets).toEqual(truth.items);
      expect(markets.length).toBeGreaterThanOrEqual(2);
      expect(markets.some((m) => m.languages.length >= 2)).toBe(true);
    });

    it('caches the token: further calls make no second token request', async () => {
      const client = newClient();
      await client.getMarkets();
      await client.getMarkets();
      const again = await client.acquireToken();
      expect(again.fromCache).toBe(true);
      expect(await calls()).toMatchObject({ token: 1, accessTokensIssued: 1, markets: 2 });
    });

    it('the factory keeps one client (and so one token cache) per connection', async () => {
      // Built by Nest's injector, as the plugin module will: the options token is optional.
      const moduleRef = await Test.createTestingModule({
        providers: [
          CisClientFactory,
          { provide: CIS_CLIENT_OPTIONS, useValue: { logger: capturingLogger(logLines) } },
        ],
      }).compile();
      const factory = moduleRef.get(CisClientFactory);
      try {
        const first = factory.forConnection(connection());
        await first.getMarkets();
        const second = factory.forConnection(connection());
        expect(second).toBe(first);
        await second.getMarkets();
        expect(await calls()).toMatchObject({ token: 1, markets: 2 });

        const other = await createClientIdentityAsync();
        sandbox.registerCertificate(sandbox.credentials.clientId, other.certificatePem);
        extraSecrets.push(other.privateKeyPem);
        const rotated = factory.forConnection(
          connection({
            certificate: { certificatePem: other.certificatePem, privateKeyPem: other.privateKeyPem },
          }),
        );
        expect(rotated).not.toBe(first);
        expect(rotated.thumbprints.sha256).toBe(other.thumbprintSha256);
        await rotated.getMarkets();
        expect(await calls()).toMatchObject({ token: 2, markets: 3 });
        // Closing the module closes the clients (their kept-alive sockets) and forgets them.
        await moduleRef.close();
        expect(factory.forConnection(connection())).not.toBe(first);
      } finally {
        await moduleRef.close();
      }
    });

    it('refuses a bad signature (the registered certificate with another private key)', async () => {
      const stranger = await createClientIdentityAsync();
      extraSecrets.push(stranger.privateKeyPem);
      const client = newClient(
        connection({
          certificate: {
            certificatePem: sandbox.credentials.certificatePem,
            privateKeyPem: stranger.privateKeyPem,
          },
        }),
      );
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_AUTH_BAD_SIGNATURE);
      expect(error.vendorCode).toBe('AADSTS7000274');
      expect(error.transient).toBe(false);
      // A refused sign-in is permanent: one token request, and the API is never called.
      expect(await calls()).toMatchObject({ token: 1, markets: 0 });
    });

    it('refuses an expired assertion (the identity provider clock is ahead)', async () => {
      await control('POST', '/__sandbox/config', { authClockOffsetSeconds: 3_600 });
      const error = await failure(newClient().acquireToken());
      expectRefusal(error, EsdErrorCode.CIS_AUTH_ASSERTION_EXPIRED);
      expect(error.vendorCode).toBe('AADSTS700024');
    });

    it('refuses a certificate whose thumbprint is not registered', async () => {
      const unregistered = await createClientIdentityAsync();
      extraSecrets.push(unregistered.privateKeyPem);
      const error = await failure(
        newClient(
          connection({
            certificate: {
              certificatePem: unregistered.certificatePem,
              privateKeyPem: unregistered.privateKeyPem,
            },
          }),
        ).acquireToken(),
      );
      expectRefusal(error, EsdErrorCode.CIS_AUTH_CERTIFICATE_NOT_TRUSTED);
      expect(error.vendorCode).toBe('AADSTS700027');
    });

    it('refuses an unknown client', async () => {
      const error = await failure(newClient(connection({ clientId: randomUUID() })).acquireToken());
      expectRefusal(error, EsdErrorCode.CIS_AUTH_UNKNOWN_CLIENT);
      expect(error.vendorCode).toBe('AADSTS700016');
    });

    it('refuses an unknown tenant', async () => {
      const error = await failure(newClient(connection({ tenantId: randomUUID() })).acquireToken());
      expectRefusal(error, EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT);
      expect(error.vendorCode).toBe('AADSTS90002');
    });

    it('refuses an unknown Resource API', async () => {
      const error = await failure(
        newClient(connection({ resourceApi: 'https://not-the-api.example' })).acquireToken(),
      );
      expectRefusal(error, EsdErrorCode.CIS_AUTH_INVALID_RESOURCE);
      expect(error.vendorCode).toBe('AADSTS500011');
    });

    it('says the authority is unreachable when its TLS certificate is not trusted or nothing listens', async () => {
      const untrusted = await failure(newClient(connection({ caCertificatePem: undefined })).acquireToken());
      expectRefusal(untrusted, EsdErrorCode.CIS_AUTH_AUTHORITY_UNREACHABLE);
      expect(untrusted.transient).toBe(true);

      const idle = https.createServer();
      idle.listen(0, '127.0.0.1');
      await once(idle, 'listening');
      const { port } = idle.address() as AddressInfo;
      idle.close();
      await once(idle, 'close');
      const nobody = await failure(
        newClient(connection({ authorityHost: `https://127.0.0.1:${port}` })).acquireToken(),
      );
      expectRefusal(nobody, EsdErrorCode.CIS_AUTH_AUTHORITY_UNREACHABLE);
    });
  });

  describe('calls', () => {
    it('a 401 from the API drops the token and retries exactly once with a fresh one', async () => {
      const client = newClient();
      await client.getMarkets();
      expect(await calls()).toMatchObject({ token: 1, markets: 1 });

      await addFault({ method: 'GET', path: MARKETS_PATH, status: 401, code: 'InvalidToken', times: 1 });
      const markets = await client.getMarkets();
      expect(markets.length).toBeGreaterThan(0);
      expect(await calls()).toMatchObject({ token: 2, markets: 3, accessTokensIssued: 2 });

      // A 401 even with the fresh token: CIS_UNAUTHORIZED after one refresh, no loop.
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 401, code: 'InvalidToken' });
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_UNAUTHORIZED);
      expect(await calls()).toMatchObject({ token: 3, markets: 5 });
    });

    it('rides out 429 (Retry-After: 1), then 503, then succeeds, waiting at least what was asked', async () => {
      const waits: number[] = [];
      const client = newClient(connection(), {
        sleep: (ms) => {
          waits.push(ms);
          return new Promise((resolve) => setTimeout(resolve, ms));
        },
      });
      await client.acquireToken();
      await addFault({ method: 'GET', path: MARKETS_PATH, retryAfter: 1, times: 1 });
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 503, times: 1 });
      const since = tap.requests.length;

      const started = Date.now();
      const markets = await client.getMarkets();
      const elapsed = Date.now() - started;

      expect(markets.length).toBeGreaterThan(0);
      expect((await calls()).markets).toBe(3);
      expect(waits).toHaveLength(2);
      expect(waits[0]).toBeGreaterThanOrEqual(1_000);
      expect(waits[1]).toBeLessThanOrEqual(100);
      const sent = marketsRequests(since);
      expect(sent).toHaveLength(3);
      // Measured on the wire: the retry after the 429 left at least a second after it.
      expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(1_000);
      expect(elapsed).toBeGreaterThanOrEqual(1_000);
    });

    it('gives up when the retry budget is spent, saying how many tries it made', async () => {
      const client = newClient(connection(), { retry: { maxAttempts: 3, baseMs: 10, maxMs: 20 } });
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 503 });
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_UNAVAILABLE);
      expect(error.transient).toBe(true);
      expect(error.outcomeUnknown).toBe(false);
      expect(error.details).toMatchObject({ attempts: 3 });
      expect((await calls()).markets).toBe(3);
    });

    it('does not wait out a Retry-After longer than the in-call limit: it hands it back', async () => {
      const client = newClient(connection(), { retry: { maxRetryAfterMs: 500 } });
      await addFault({ method: 'GET', path: MARKETS_PATH, retryAfter: 30 });
      const started = Date.now();
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_RATE_LIMITED);
      expect(error.retryAfterMs).toBe(30_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await calls()).markets).toBe(1);
    });

    it('never retries a permanent refusal (403 ChannelMismatch from the sandbox itself)', async () => {
      const client = newClient(connection({ channelId: '999999' }));
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_CHANNEL_MISMATCH);
      expect(error.vendorCode).toBe('ChannelMismatch');
      expect(error.vendorStatus).toBe(403);
      expect(error.transient).toBe(false);
      // The route label is the same for any channel: exactly one API call was made.
      expect((await calls()).markets).toBe(1);
    });

    it('never retries an injected 400 InvalidRequest either', async () => {
      const client = newClient();
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 400, code: 'InvalidRequest' });
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_INVALID_REQUEST);
      expect((await calls()).markets).toBe(1);
    });

    it('maps a timeout to CIS_TIMEOUT with an unknown outcome, and lets the held request go', async () => {
      const client = newClient(connection(), {
        timeoutMs: 400,
        retry: { maxAttempts: 2, baseMs: 10, maxMs: 10 },
      });
      await client.acquireToken();
      await addFault({ method: 'GET', path: MARKETS_PATH, timeout: true });
      const started = Date.now();
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_TIMEOUT);
      expect(error.transient).toBe(true);
      expect(error.outcomeUnknown).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect((await calls()).markets).toBe(2);
      for (let i = 0; i < 50 && (await calls()).held > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await calls()).held).toBe(0);
    });

    it('maps a dropped connection to CIS_UNAVAILABLE with an unknown outcome', async () => {
      const client = newClient(connection(), { retry: { maxAttempts: 1 } });
      await client.acquireToken();
      await addFault({ method: 'GET', path: MARKETS_PATH, dropAfterCommit: true });
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_UNAVAILABLE);
      expect(error.outcomeUnknown).toBe(true);
    });

    it('refuses an API whose TLS certificate is not trusted, without retrying', async () => {
      // Signed in through the tap (trusted), but the API is the sandbox itself, whose CA the client lacks.
      const client = newClient(connection({ serviceUrl: sandbox.url }));
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_TLS_NOT_TRUSTED);
      expect(error.transient).toBe(false);
      expect(error.details).toMatchObject({ attempts: 1 });
      expect((await calls()).markets).toBe(0);
    });

    it('maps malformed JSON to CIS_MALFORMED_RESPONSE, and rides out a single garbled answer', async () => {
      const client = newClient(connection(), { retry: { maxAttempts: 2, baseMs: 10, maxMs: 10 } });
      await addFault({ method: 'GET', path: MARKETS_PATH, malformed: true });
      const error = await failure(client.getMarkets());
      expectRefusal(error, EsdErrorCode.CIS_MALFORMED_RESPONSE);
      expect(error.transient).toBe(true);
      expect((await calls()).markets).toBe(2);

      await control('DELETE', '/__sandbox/faults');
      await addFault({ method: 'GET', path: MARKETS_PATH, malformed: true, times: 1 });
      expect((await client.getMarkets()).length).toBeGreaterThan(0);
      expect((await calls()).markets).toBe(4);
    });

    it('sends a fresh MS-CorrelationId per call and one MS-RequestId across the retries of an operation', async () => {
      const client = newClient();
      await client.acquireToken();
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 503, times: 2 });
      const requestId = randomUUID();
      let since = tap.requests.length;
      await client.getMarkets({ requestId });
      const first = marketsRequests(since);
      expect(first).toHaveLength(3);
      const correlationIds = first.map((r) => r.headers['ms-correlationid']);
      expect(new Set(correlationIds).size).toBe(3);
      for (const id of correlationIds) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(first.map((r) => r.headers['ms-requestid'])).toEqual([requestId, requestId, requestId]);
      expect(first.every((r) => /^Bearer \S+$/.test(String(r.headers.authorization)))).toBe(true);

      // Another operation gets its own MS-RequestId when none is given.
      since = tap.requests.length;
      await client.getMarkets();
      const second = marketsRequests(since);
      expect(second).toHaveLength(1);
      expect(second[0].headers['ms-requestid']).toMatch(/^[0-9a-f-]{36}$/);
      expect(second[0].headers['ms-requestid']).not.toBe(requestId);
      expect(correlationIds).not.toContain(second[0].headers['ms-correlationid']);

      // The sandbox echoes the correlation id in its error body: the error names the call that failed.
      await addFault({ method: 'GET', path: MARKETS_PATH, status: 400, code: 'InvalidRequest' });
      since = tap.requests.length;
      const error = await failure(client.getMarkets());
      const failed = marketsRequests(since);
      expect(failed).toHaveLength(1);
      expect(error.correlationId).toBe(failed[0].headers['ms-correlationid']);
      expect(error.requestId).toBe(failed[0].headers['ms-requestid']);
    });

    it('logs route, status, correlation id and duration of each call', async () => {
      const lines: string[] = [];
      const client = newClient(connection(), { logger: capturingLogger(lines) });
      const since = tap.requests.length;
      await client.getMarkets();
      const sent = marketsRequests(since)[0];
      const line = lines.find((l) => l.includes(MARKETS_ROUTE));
      expect(line).toBeDefined();
      expect(line).toContain(' 200 ');
      expect(line).toMatch(/\d+ms/);
      expect(line).toContain(String(sent.headers['ms-correlationid']));
      logLines.push(...lines);
    });
  });

  it('no access token, assertion, key or password appears in any error or log line of the suite', () => {
    const c = sandbox.credentials;
    const keyBody = (pem: string) =>
      pem
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, '')
        .slice(40, 120);
    const secrets = [
      ...tap.accessTokens,
      ...tap.assertions,
      keyBody(c.privateKeyPem),
      ...extraSecrets.map(keyBody),
      c.pfxPassword,
      c.pfxBase64.slice(100, 180),
    ];
    // The suite did sign in and fail: there is something to look through and something to look for.
    expect(tap.accessTokens.size).toBeGreaterThanOrEqual(5);
    expect(tap.assertions.size).toBeGreaterThanOrEqual(5);
    expect(errorsSeen.length).toBeGreaterThanOrEqual(15);
    expect(logLines.length).toBeGreaterThan(20);

    const haystack = [
      ...logLines,
      ...errorsSeen.flatMap((e) => [e.message, String(e), e.stack ?? '', JSON.stringify(e.details ?? {})]),
    ].join('\n');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(haystack.includes(secret)).toBe(false);
    }
    expect(haystack).not.toMatch(/Bearer\s+\S{20,}/);
    expect(haystack).not.toMatch(/PRIVATE KEY/);
  });
});
