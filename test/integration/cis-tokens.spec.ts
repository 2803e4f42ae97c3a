/**
 * License tokens over real HTTPS: the plugin's CisClient (MSAL sign-in with the sandbox's test identity)
 * against the CIS sandbox's token routes, its faults and its stats. What crossed the wire is read on the
 * sandbox's side through Node's `http.server.request.start` diagnostics channel. Product keys and
 * activation links are secrets even here: assertions compare them as booleans so a failure never prints one.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import {
  CisClient,
  CisError,
  CisShapeError,
  derivedRequestId,
  parseCisToken,
  parseTokenStatuses,
  type CisClientOptions,
  type CisCreateTokenInput,
  type CisToken,
} from '../../src/cis';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { CatalogEntry } from '../../sandbox/cis/catalog-generator';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { createClientIdentityAsync } from '../../sandbox/cis/test-identity';
import { randomProductKey } from '../../sandbox/cis/token-ledger';
import {
  redeemSandboxToken,
  sandboxConnection,
  sandboxControl,
  sandboxStats,
} from '../support/sandbox-control';

const CREATE_ROUTE = 'POST /channels/:channelId/tokens';
const GET_ROUTE = 'GET /channels/:channelId/tokens/:clientTransactionId';
const STATUS_ROUTE = 'POST /channels/:channelId/tokens/status';
const MS_KEY = /^[BCDFGHJKMPQRTVWXY2346789]{5}(-[BCDFGHJKMPQRTVWXY2346789]{5}){4}$/;

interface SeenRequest {
  method: string;
  path: string;
  requestId: string | undefined;
}

describe('CIS license tokens over HTTPS against the sandbox', () => {
  let sandbox: CisSandbox;
  let client: CisClient;
  let offerId: string;
  const seen: SeenRequest[] = [];
  const logLines: string[] = [];
  const errors: CisError[] = [];
  /** Every key and link the suite saw, for the "never in a log line or an error" check at the end. */
  const secrets = new Set<string>();

  const onRequest = (message: unknown) => {
    const request = (message as { request: IncomingMessage }).request;
    const path = new URL(request.url ?? '/', 'https://sandbox').pathname;
    if (!path.includes('/tokens')) return;
    const id = request.headers['ms-requestid'];
    seen.push({ method: request.method ?? '', path, requestId: typeof id === 'string' ? id : undefined });
  };

  const logger: LoggerService = {
    log: (m: unknown) => logLines.push(String(m)),
    warn: (m: unknown) => logLines.push(String(m)),
    error: (m: unknown) => logLines.push(String(m)),
  };

  beforeAll(async () => {
    diagnosticsChannel.subscribe('http.server.request.start', onRequest);
    sandbox = await CisSandbox.start({ port: 0, rateLimitPerMinute: 0 });
    client = newClient();
    offerId = (await catalog('GR', 'el-GR')).find((o) => o.isReturnable === true)!.offerId;
  });

  afterEach(async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    seen.length = 0;
  });

  afterAll(async () => {
    diagnosticsChannel.unsubscribe('http.server.request.start', onRequest);
    client?.close();
    await sandbox?.close();
  });

  function newClient(options: CisClientOptions = {}, channelId?: string): CisClient {
    return new CisClient(
      sandboxConnection(sandbox, { instanceId: 'inst-tokens', ...(channelId ? { channelId } : {}) }),
      { logger, timeoutMs: 5_000, retry: { maxAttempts: 4, baseMs: 20, maxMs: 100 }, ...options },
    );
  }

  async function catalog(country: string, language: string): Promise<CatalogEntry[]> {
    const answer = await sandboxControl<{ offers: CatalogEntry[] }>(
      sandbox,
      'GET',
      `/__sandbox/catalog?country=${country}&language=${language}`,
    );
    return answer.offers;
  }

  function order(overrides: Partial<CisCreateTokenInput> = {}): CisCreateTokenInput {
    return {
      clientTransactionId: randomUUID(),
      offerId,
      country: 'GR',
      language: 'el-GR',
      endCustomer: { name: 'Αλεξάνδρα Παπαδοπούλου', email: 'alex@example.gr', country: 'GR' },
      ...overrides,
    };
  }

  function remember<T extends CisToken | null>(token: T): T {
    if (token) {
      secrets.add(token.productKey);
      secrets.add(token.activationLink);
    }
    return token;
  }

  async function failure(promise: Promise<unknown>): Promise<CisError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof CisError) {
        errors.push(error);
        return error;
      }
      throw error;
    }
    throw new Error('expected the call to fail');
  }

  async function calls(route: string): Promise<number> {
    return (await sandboxStats(sandbox)).callsByRoute[route] ?? 0;
  }

  const fault = (body: Record<string, unknown>) => sandboxControl(sandbox, 'POST', '/__sandbox/faults', body);

  it('creates a token, replays it for the same body and refuses the id with another body', async () => {
    const input = order();
    const before = Date.now();
    const created = remember(await client.createToken(input));
    expect(created.replayed).toBe(false);
    expect(created.clientTransactionId).toBe(input.clientTransactionId);
    expect(created.offerId).toBe(offerId);
    expect(created.tokenStatus).toBe('Activated');
    expect(created.transactionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(MS_KEY.test(created.productKey)).toBe(true);
    const link = new URL(created.activationLink);
    expect(link.protocol).toBe('https:');
    expect(link.searchParams.get('ctid')).toBe(input.clientTransactionId);
    expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(created.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);

    const replay = remember(await client.createToken(input));
    expect(replay.replayed).toBe(true);
    expect(replay.productKey === created.productKey).toBe(true);
    expect(replay.activationLink === created.activationLink).toBe(true);
    expect({ ...replay, replayed: false }).toEqual(created);

    let stats = await sandboxStats(sandbox);
    expect(stats.tokensCreated).toBe(1);
    expect(stats.tokenRequestsByClientTransactionId).toEqual({ [input.clientTransactionId]: 2 });

    const conflict = await failure(
      client.createToken({ ...input, endCustomer: { ...input.endCustomer, name: 'Someone else' } }),
    );
    expect(conflict.code).toBe(EsdErrorCode.CIS_TRANSACTION_CONFLICT);
    expect(conflict.vendorStatus).toBe(409);
    expect(conflict.vendorCode).toBe('ClientTransactionIdConflict');
    expect(conflict.transient).toBe(false);
    stats = await sandboxStats(sandbox);
    expect(stats.tokensCreated).toBe(1);
    expect(stats.tokenRequestsByClientTransactionId[input.clientTransactionId]).toBe(3);
    expect(stats.callsByRoute[CREATE_ROUTE]).toBe(3);

    // One MS-RequestId for every call of this transaction, derived from its id.
    const ids = seen.filter((s) => s.method === 'POST').map((s) => s.requestId);
    expect(ids).toEqual(Array(3).fill(derivedRequestId('token', input.clientTransactionId)));
  });

  it('gives every token its own product key', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 12; i++) keys.add(remember(await client.createToken(order())).productKey);
    expect(keys.size).toBe(12);
    expect((await sandboxStats(sandbox)).tokensCreated).toBe(12);
  });

  it('looks a token up; a transaction Microsoft never saw is null', async () => {
    const input = order();
    expect(await client.getToken(input.clientTransactionId)).toBeNull();
    const { replayed: _replayed, ...created } = remember(await client.createToken(input));
    const found = remember(await client.getToken(input.clientTransactionId));
    expect(found).toEqual(created);
    expect(await calls(GET_ROUTE)).toBe(2);
  });

  it('dropAfterCommit: the token is made, the answer lost; not retried in-call, found by getToken', async () => {
    const input = order();
    await fault({ method: 'POST', path: '/tokens$', dropAfterCommit: true, times: 1 });
    const error = await failure(client.createToken(input));
    expect(error.code).toBe(EsdErrorCode.CIS_UNAVAILABLE);
    expect(error.outcomeUnknown).toBe(true);
    expect(error.transient).toBe(true);
    expect(error.details).toMatchObject({ attempts: 1 });
    expect(await calls(CREATE_ROUTE)).toBe(1);
    expect((await sandboxStats(sandbox)).tokensCreated).toBe(1);

    // Reconciliation: the lookup finds it; re-submitting the same transaction replays it.
    const found = remember(await client.getToken(input.clientTransactionId));
    expect(found?.clientTransactionId).toBe(input.clientTransactionId);
    const again = remember(await client.createToken(input));
    expect(again.replayed).toBe(true);
    expect(again.productKey === found?.productKey).toBe(true);
    const stats = await sandboxStats(sandbox);
    expect(stats.tokensCreated).toBe(1);
    expect(stats.tokenRequestsByClientTransactionId[input.clientTransactionId]).toBe(2);
  });

  it('a timeout writes nothing and comes back as CIS_TIMEOUT with an unknown outcome, not retried', async () => {
    const slow = newClient({ timeoutMs: 400 });
    try {
      await slow.acquireToken();
      const input = order();
      await fault({ method: 'POST', path: '/tokens$', timeout: true });
      const error = await failure(slow.createToken(input));
      expect(error.code).toBe(EsdErrorCode.CIS_TIMEOUT);
      expect(error.outcomeUnknown).toBe(true);
      expect(await calls(CREATE_ROUTE)).toBe(1);
      await sandboxControl(sandbox, 'DELETE', '/__sandbox/faults');
      expect(await slow.getToken(input.clientTransactionId)).toBeNull();
      const stats = await sandboxStats(sandbox);
      expect(stats.tokensCreated).toBe(0);
      expect(stats.tokenRequestsByClientTransactionId).toEqual({});
    } finally {
      slow.close();
    }
  });

  it('a garbled answer to a create is CIS_MALFORMED_RESPONSE with an unknown outcome; nothing was written', async () => {
    const input = order();
    await fault({ method: 'POST', path: '/tokens$', malformed: true, times: 1 });
    const error = await failure(client.createToken(input));
    expect(error.code).toBe(EsdErrorCode.CIS_MALFORMED_RESPONSE);
    expect(error.outcomeUnknown).toBe(true);
    expect(error.details).toMatchObject({ vendorMessage: 'body is not JSON', attempts: 1 });
    expect(await client.getToken(input.clientTransactionId)).toBeNull();
  });

  it('a 2xx of the wrong shape is CIS_MALFORMED_RESPONSE naming the fields (a lookup is retried)', async () => {
    const input = order();
    remember(await client.createToken(input));
    await fault({ method: 'GET', path: '/tokens/', status: 200 });
    const error = await failure(client.getToken(input.clientTransactionId));
    expect(error.code).toBe(EsdErrorCode.CIS_MALFORMED_RESPONSE);
    expect(error.outcomeUnknown).toBe(false);
    expect(error.details?.vendorMessage).toBe(
      'token: transactionId is missing; clientTransactionId is missing; offerId is missing; token is missing; ' +
        'activationLink is missing; tokenStatus is missing; createdAt is missing',
    );
    expect(await calls(GET_ROUTE)).toBe(4);
  });

  it('a 503 on a lookup is retried in-call; on a create it is an unknown outcome handed back', async () => {
    const input = order();
    remember(await client.createToken(input));
    await fault({ method: 'GET', path: '/tokens/', status: 503, times: 1 });
    expect((await client.getToken(input.clientTransactionId))?.clientTransactionId).toBe(
      input.clientTransactionId,
    );
    expect(await calls(GET_ROUTE)).toBe(2);

    const other = order();
    await fault({ method: 'POST', path: '/tokens$', status: 503, times: 1 });
    const error = await failure(client.createToken(other));
    expect(error.code).toBe(EsdErrorCode.CIS_UNAVAILABLE);
    expect(error.outcomeUnknown).toBe(true);
    expect(await client.getToken(other.clientTransactionId)).toBeNull();
  });

  it('a 429 on a create is retried in-call with the same transaction and body: one token', async () => {
    const input = order();
    await fault({ method: 'POST', path: '/tokens$', retryAfter: 1, times: 1 });
    const created = remember(await client.createToken(input));
    expect(created.replayed).toBe(false);
    const stats = await sandboxStats(sandbox);
    expect(stats.callsByRoute[CREATE_ROUTE]).toBe(2);
    expect(stats.tokensCreated).toBe(1);
    const posts = seen.filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[0].requestId).toBe(posts[1].requestId);
  });

  it('reads 150 statuses in two calls, every one answered; a redeemed one says so', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) {
      const input = order();
      ids.push(input.clientTransactionId);
      remember(await client.createToken(input));
    }
    const redeemed = await redeemSandboxToken(sandbox, ids[120]);
    expect(redeemed.tokenStatus).toBe('Redeemed');

    const unknown = randomUUID();
    const items = await client.getTokenStatuses([...ids, unknown, ids[0]]);
    expect(await calls(STATUS_ROUTE)).toBe(2);
    expect(items.map((i) => i.clientTransactionId).sort()).toEqual([...ids].sort());
    const byId = new Map(items.map((i) => [i.clientTransactionId, i]));
    expect(byId.get(ids[120])).toEqual({
      clientTransactionId: ids[120],
      tokenStatus: 'Redeemed',
      redeemedAt: new Date(redeemed.redeemedAt),
    });
    expect(items.filter((i) => i.tokenStatus === 'Activated')).toHaveLength(149);
    expect(items.filter((i) => i.redeemedAt !== null)).toHaveLength(1);
    expect((await client.getToken(ids[120]))?.tokenStatus).toBe('Redeemed');
    expect(await client.getTokenStatuses([])).toEqual([]);
    expect(await calls(STATUS_ROUTE)).toBe(2);
  });

  it('rides out a 503 on a status call (a lookup, even though it is a POST)', async () => {
    const input = order();
    remember(await client.createToken(input));
    await fault({ method: 'POST', path: '/tokens/status$', status: 503, times: 1 });
    const items = await client.getTokenStatuses([input.clientTransactionId]);
    expect(items).toEqual([
      { clientTransactionId: input.clientTransactionId, tokenStatus: 'Activated', redeemedAt: null },
    ]);
    expect(await calls(STATUS_ROUTE)).toBe(2);
  });

  it('maps the refusals of a create: unknown offer, discontinued offer, unknown market, each once', async () => {
    const missing = await failure(client.createToken(order({ offerId: 'DG7GNOTANOFFER' })));
    expect([missing.code, missing.vendorStatus, missing.transient]).toEqual([
      EsdErrorCode.CIS_OFFER_NOT_FOUND,
      404,
      false,
    ]);

    const offers = await catalog('US', 'en-US');
    const discontinuedId = offers[3].offerId;
    await sandboxControl(sandbox, 'POST', '/__sandbox/catalog', {
      country: 'US',
      language: 'en-US',
      count: 25,
      seed: 1,
      changes: { discontinue: [discontinuedId] },
    });
    const discontinued = await failure(
      client.createToken(order({ offerId: discontinuedId, country: 'US', language: 'en-US' })),
    );
    expect([discontinued.code, discontinued.vendorStatus]).toEqual([
      EsdErrorCode.CIS_OFFER_DISCONTINUED,
      400,
    ]);

    const market = await failure(client.createToken(order({ country: 'FR', language: 'fr-FR' })));
    expect([market.code, market.vendorCode]).toEqual([EsdErrorCode.CIS_INVALID_REQUEST, 'InvalidRequest']);

    const stats = await sandboxStats(sandbox);
    expect(stats.callsByRoute[CREATE_ROUTE]).toBe(3);
    expect(stats.tokensCreated).toBe(0);
  });

  it('refuses an empty transaction id before calling', async () => {
    for (const call of [
      () => client.getToken(''),
      () => client.createToken(order({ clientTransactionId: ' ' })),
      () => client.getTokenStatuses(['ok', '']),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: EsdErrorCode.VALIDATION_FAILED });
    }
    expect((await sandboxStats(sandbox)).callsByRoute).toEqual({});
  });

  it("keeps each channel's tokens apart, and refuses a channel the client may not use", async () => {
    const input = order();
    remember(await client.createToken(input));

    const identity = await createClientIdentityAsync();
    const otherClientId = randomUUID();
    sandbox.registerClient({
      clientId: otherClientId,
      channelIds: [sandbox.credentials.channelId, '2000077777'],
      certificatePem: identity.certificatePem,
    });
    const other = new CisClient(
      sandboxConnection(sandbox, {
        instanceId: 'inst-other-channel',
        clientId: otherClientId,
        channelId: '2000077777',
        certificate: { certificatePem: identity.certificatePem, privateKeyPem: identity.privateKeyPem },
      }),
      { logger, timeoutMs: 5_000, retry: { maxAttempts: 1 } },
    );
    const stranger = newClient({}, '2000077777');
    try {
      expect(await other.getToken(input.clientTransactionId)).toBeNull();
      expect(await other.getTokenStatuses([input.clientTransactionId])).toEqual([]);
      const mismatch = await failure(stranger.getToken(input.clientTransactionId));
      expect([mismatch.code, mismatch.vendorStatus]).toEqual([EsdErrorCode.CIS_CHANNEL_MISMATCH, 403]);
    } finally {
      other.close();
      stranger.close();
    }
  });

  it('the token routes are rate-limited and delayed like the others', async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/config', { rateLimitPerMinute: 1, latencyMs: 150 });
    const limited = newClient({ retry: { maxAttempts: 1 } });
    try {
      const started = Date.now();
      remember(await limited.createToken(order()));
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      const error = await failure(limited.getTokenStatuses([randomUUID()]));
      expect(error.code).toBe(EsdErrorCode.CIS_RATE_LIMITED);
      expect(error.retryAfterMs).toBeGreaterThan(0);
    } finally {
      limited.close();
    }
  });

  it('reset forgets every token', async () => {
    const input = order();
    remember(await client.createToken(input));
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    expect(await client.getToken(input.clientTransactionId)).toBeNull();
    const stats = await sandboxStats(sandbox);
    expect([stats.tokensCreated, stats.tokenRequestsByClientTransactionId]).toEqual([0, {}]);
    // The same id is new again.
    expect(remember(await client.createToken(input)).replayed).toBe(false);
  });

  it('never put a product key or an activation link in a log line or an error', () => {
    expect(secrets.size).toBeGreaterThan(300);
    expect(logLines.length).toBeGreaterThan(0);
    const logged = logLines.join('\n');
    const raised = errors.map((e) => `${e.message} ${JSON.stringify(e.details)}`).join('\n');
    const leaks = [...secrets].filter((s) => logged.includes(s) || raised.includes(s));
    expect(leaks.length).toBe(0);
  });
});

describe('token answers (parse at the edge)', () => {
  // Made at run time, never written in the source: the answer carries it in lower case.
  const productKey = randomProductKey();
  const good = {
    transactionId: 'b5d0c6a1-0000-4000-8000-000000000001',
    clientTransactionId: 'ctid-1',
    offerId: 'DG7GMGF0D7FV',
    token: productKey.toLowerCase(),
    activationLink: 'https://setup.officeppe.com/?token=abc&ctid=ctid-1',
    tokenStatus: 'Activated',
    createdAt: '2025-03-01T10:00:00.000Z',
  };

  it('reads a good token, upper-casing the key', () => {
    const token = parseCisToken(good, 'ctid-1');
    expect(token.productKey === productKey).toBe(true);
    expect(token.createdAt).toEqual(new Date('2025-03-01T10:00:00.000Z'));
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'token', 'token: the answer is not an object'],
    ['a key that is not 5x5', { ...good, token: 'ABCDE-12345' }, 'token: token is not a 5x5 product key'],
    [
      'a link that is not https',
      { ...good, activationLink: 'http://x/?ctid=1' },
      'activationLink is not an https URL',
    ],
    [
      'an unknown status',
      { ...good, tokenStatus: 'Lost' },
      'tokenStatus is not one of Activated, Redeemed, ReturnAccepted',
    ],
    ['a createdAt that is no date', { ...good, createdAt: 'yesterday' }, 'createdAt is not a date'],
    ['a number for an id', { ...good, transactionId: 7 }, 'transactionId is not a non-empty string'],
    [
      'another transaction',
      { ...good, clientTransactionId: 'ctid-2' },
      'clientTransactionId is not the one asked for',
    ],
  ])('refuses %s, naming the field and never the value', (_case, body, reason) => {
    let thrown: unknown;
    try {
      parseCisToken(body, 'ctid-1');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CisShapeError);
    const message = (thrown as Error).message;
    expect(message).toContain(reason);
    expect(message).not.toContain('ABCDE');
    expect(message).not.toContain('http://');
  });

  it('reads statuses and refuses a bad item or an id not asked for', () => {
    expect(
      parseTokenStatuses({
        items: [{ clientTransactionId: 'a', tokenStatus: 'Redeemed', redeemedAt: '2025-03-02T00:00:00Z' }],
      }),
    ).toEqual([
      { clientTransactionId: 'a', tokenStatus: 'Redeemed', redeemedAt: new Date('2025-03-02T00:00:00Z') },
    ]);
    expect(() => parseTokenStatuses({ items: {} })).toThrow('items is not a list');
    expect(() => parseTokenStatuses({ items: [{ clientTransactionId: 'a' }] })).toThrow(
      'tokenStatus is missing',
    );
    expect(() =>
      parseTokenStatuses({ items: [{ clientTransactionId: 'z', tokenStatus: 'Activated' }] }, new Set(['a'])),
    ).toThrow('clientTransactionId was not asked for');
  });

  it('derives one MS-RequestId per operation and key, shaped as a UUID v5', () => {
    const id = derivedRequestId('token', 'ctid-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedRequestId('token', 'ctid-1')).toBe(id);
    expect(derivedRequestId('return', 'ctid-1')).not.toBe(id);
    expect(derivedRequestId('token', 'ctid-2')).not.toBe(id);
  });
});
