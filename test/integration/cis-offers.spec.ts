/**
 * The offers call over real HTTPS: the plugin's CisClient (MSAL sign-in with the sandbox's test identity)
 * against the CIS sandbox's offers route and `/__sandbox/catalog` control. What crossed the wire is read on
 * the sandbox's side through Node's `http.server.request.start` diagnostics channel, so MS-RequestId checks
 * look at the headers the server received, not at what the client says it sent.
 */
import { sandboxControl, sandboxControlRaw } from '../support/sandbox-control';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { diffCatalog, type StoredOfferState } from '../../src/catalog/catalog-diff';
import { catalogOfferFrom } from '../../src/catalog/catalog-offer';
import {
  CisClient,
  CisError,
  CisShapeError,
  readOffersPage,
  type CisClientOptions,
  type CisOfferEntry,
  type CisOffersPage,
} from '../../src/cis';
import { EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import { CORRUPTIONS, type AffectedOffers, type CatalogEntry } from '../../sandbox/cis/catalog-generator';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';

const OFFERS_ROUTE = 'GET /channels/:channelId/offers';
const GREEK = /[\u0370-\u03ff]/;

interface SeenRequest {
  path: string;
  query: URLSearchParams;
  requestId: string | undefined;
  correlationId: string | undefined;
}

interface CatalogAnswer {
  country: string;
  language: string;
  version: number;
  offers: CatalogEntry[];
  affected: AffectedOffers;
}

/** The good offers of a listing. */
function good(entries: readonly CisOfferEntry[]) {
  return entries.flatMap((e) => (e.ok ? [e.offer] : []));
}

const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('CIS offers over HTTPS against the sandbox', () => {
  let sandbox: CisSandbox;
  let client: CisClient;
  const seen: SeenRequest[] = [];
  const onRequest = (message: unknown) => {
    const request = (message as { request: IncomingMessage }).request;
    const url = new URL(request.url ?? '/', 'https://sandbox');
    if (!url.pathname.endsWith('/offers')) return;
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    seen.push({
      path: url.pathname,
      query: url.searchParams,
      requestId: header('ms-requestid'),
      correlationId: header('ms-correlationid'),
    });
  };

  beforeAll(async () => {
    diagnosticsChannel.subscribe('http.server.request.start', onRequest);
    sandbox = await CisSandbox.start({ port: 0, rateLimitPerMinute: 0 });
    client = newClient();
  });

  afterEach(async () => {
    await control('POST', '/__sandbox/reset');
    seen.length = 0;
  });

  afterAll(async () => {
    diagnosticsChannel.unsubscribe('http.server.request.start', onRequest);
    client?.close();
    await sandbox?.close();
  });

  function newClient(options: CisClientOptions = {}): CisClient {
    const c = sandbox.credentials;
    return new CisClient(
      {
        instanceId: 'inst-offers',
        tenantId: c.tenantId,
        clientId: c.clientId,
        channelId: c.channelId,
        resourceApi: c.resourceApi,
        serviceUrl: c.serviceUrl,
        authorityHost: c.authorityHost,
        caCertificatePem: c.caPem,
        certificate: { certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem },
      },
      { logger: quiet, timeoutMs: 5_000, retry: { maxAttempts: 4, baseMs: 20, maxMs: 100 }, ...options },
    );
  }

  const control = <T = unknown>(method: string, path: string, body?: unknown) =>
    sandboxControl<T>(sandbox, method, path, body);
  const controlRaw = (method: string, path: string, body?: unknown) =>
    sandboxControlRaw(sandbox, method, path, body);

  async function offerCalls(): Promise<number> {
    const stats = await control<{ callsByRoute: Record<string, number> }>('GET', '/__sandbox/stats');
    return stats.callsByRoute[OFFERS_ROUTE] ?? 0;
  }

  async function failure(promise: Promise<unknown>): Promise<EsdError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof EsdError) return error;
      throw error;
    }
    throw new Error('expected the call to fail');
  }

  it('lists the default catalog of a market in its language; the same offers in another language', async () => {
    const truth = await control<CatalogAnswer>('GET', '/__sandbox/catalog?country=GR&language=el-GR');
    expect(truth.offers).toHaveLength(25);

    const greek = await client.getOffers({ country: 'GR', language: 'el-GR' });
    expect(greek.every((e) => e.ok)).toBe(true);
    expect(good(greek)).toEqual(
      truth.offers.map((o) => ({ ...o, lastModified: new Date(o.lastModified as string) })),
    );
    for (const offer of good(greek)) expect(offer.name).toMatch(GREEK);

    const english = good(await client.getOffers({ country: 'GR', language: 'en-US' }));
    expect(english.map((o) => o.offerId)).toEqual(good(greek).map((o) => o.offerId));
    for (const offer of english) expect(offer.name).not.toMatch(GREEK);
  });

  it('follows continuation tokens: 2,500 offers at pageSize 1000 take 3 calls, each with its own MS-RequestId', async () => {
    const truth = await control<CatalogAnswer>('POST', '/__sandbox/catalog', {
      country: 'US',
      language: 'en-US',
      count: 2500,
      seed: 42,
    });
    const pages: CisOffersPage[] = [];
    for await (const page of client.offerPages({ country: 'US', language: 'en-US', pageSize: 1000 })) {
      pages.push(page);
    }
    expect(pages.map((p) => [p.page, p.offers.length, p.totalSoFar, p.attempts])).toEqual([
      [1, 1000, 1000, 1],
      [2, 1000, 2000, 1],
      [3, 500, 2500, 1],
    ]);
    const entries = pages.flatMap((p) => p.offers);
    expect(good(entries).map((o) => o.offerId)).toEqual(truth.offers.map((o) => o.offerId));
    expect(await offerCalls()).toBe(3);

    // On the wire: one call per page, the first without a token, each page its own request id.
    expect(seen.map((s) => s.query.get('pageSize'))).toEqual(['1000', '1000', '1000']);
    expect(seen.map((s) => s.query.has('continuationToken'))).toEqual([false, true, true]);
    expect(seen.map((s) => s.requestId)).toEqual(pages.map((p) => p.requestId));
    expect(new Set(seen.map((s) => s.requestId)).size).toBe(3);
  });

  it('a catalog listed again, at the same page size or another, gives the same offers in the same pages', async () => {
    const truth = await control<CatalogAnswer>('POST', '/__sandbox/catalog', {
      country: 'US',
      language: 'en-US',
      count: 2500,
      seed: 7,
    });
    const listing = async (pageSize: number) => {
      const pages: string[][] = [];
      for await (const page of client.offerPages({ country: 'US', language: 'en-US', pageSize })) {
        pages.push(good(page.offers).map((o) => o.offerId));
      }
      return pages;
    };
    const ids = truth.offers.map((o) => o.offerId);
    // The sandbox serves a page it built before from its serialised bytes: they must follow the page size asked.
    const first = await listing(1000);
    expect(await listing(1000)).toEqual(first);
    expect(first.flat()).toEqual(ids);
    const smaller = await listing(300);
    expect(smaller.map((p) => p.length)).toEqual([300, 300, 300, 300, 300, 300, 300, 300, 100]);
    expect(smaller.flat()).toEqual(ids);
  });

  it('returns corrupted offers as skipped entries with their reasons, beside every good one', async () => {
    const truth = await control<CatalogAnswer>('POST', '/__sandbox/catalog', {
      country: 'IE',
      language: 'en-IE',
      count: 40,
      seed: 3,
      changes: { corrupt: CORRUPTIONS.length },
    });
    const entries = await client.getOffers({ country: 'IE', language: 'en-IE', pageSize: 7 });
    expect(entries).toHaveLength(40);
    const bad = entries.flatMap((e) => (e.ok ? [] : [e]));
    expect(bad.map((e) => e.offerId).sort()).toEqual([...truth.affected.corrupt].sort());
    // Each corruption is reported by the field it broke (never its value).
    truth.affected.corrupt.forEach((offerId, nth) => {
      const entry = bad.find((e) => e.offerId === offerId);
      expect(entry?.reason).toContain(CORRUPTIONS[nth].field);
    });
    expect(bad.find((e) => /maxQuantity/.test(e.reason))?.reason).not.toContain('ten');
    expect(good(entries)).toHaveLength(40 - CORRUPTIONS.length);
  });

  it('two runs of the diff over the wire see exactly the changes the sandbox made', async () => {
    const market = { country: 'GR', language: 'el-GR' };
    const first = await control<CatalogAnswer>('POST', '/__sandbox/catalog', {
      ...market,
      count: 30,
      seed: 8,
    });
    const run1 = diffCatalog({
      stored: [],
      fetched: (await client.getOffers({ ...market, pageSize: 12 })).map(catalogOfferFrom),
      now: new Date('2025-01-01T00:00:00Z'),
    });
    expect(run1.result.new).toEqual(first.offers.map((o) => o.offerId));
    const stored: StoredOfferState[] = run1.plan.insert.map((row) => ({ ...row, catalogStatus: 'current' }));

    const changed = await control<CatalogAnswer>('POST', '/__sandbox/catalog', {
      ...market,
      count: 30,
      seed: 8,
      changes: { add: 2, rename: 3, discontinue: 2, remove: 2, corrupt: 1 },
    });
    const run2 = diffCatalog({
      stored,
      fetched: (await client.getOffers({ ...market, pageSize: 12 })).map(catalogOfferFrom),
      now: new Date('2025-01-02T00:00:00Z'),
    });
    const { affected } = changed;
    expect(run2.result.new).toEqual(affected.add);
    expect(run2.result.updated.sort()).toEqual([...affected.rename].sort());
    expect(run2.result.discontinued.sort()).toEqual([...affected.discontinue, ...affected.remove].sort());
    expect(run2.result.skipped.map((s) => s.offerId)).toEqual(affected.corrupt);
    expect(run2.result.counts).toEqual({
      new: 2,
      updated: 3,
      discontinued: 4,
      unchanged: 30 - 8,
      skipped: 1,
    });
  });

  it('rides out a 503 on page 2, reusing that page’s MS-RequestId', async () => {
    await control('POST', '/__sandbox/catalog', { country: 'US', language: 'en-US', count: 25, seed: 1 });
    const pages: CisOffersPage[] = [];
    for await (const page of client.offerPages({ country: 'US', language: 'en-US', pageSize: 10 })) {
      pages.push(page);
      // Armed after page 1 arrived: the generator asks for page 2 only when the loop comes back.
      if (page.page === 1) {
        await control('POST', '/__sandbox/faults', { path: '/offers$', status: 503, times: 1 });
      }
    }
    expect(pages.map((p) => [p.page, p.totalSoFar, p.attempts])).toEqual([
      [1, 10, 1],
      [2, 20, 2],
      [3, 25, 1],
    ]);
    expect(await offerCalls()).toBe(4);
    const ids = seen.map((s) => s.requestId);
    expect(ids).toEqual([pages[0].requestId, pages[1].requestId, pages[1].requestId, pages[2].requestId]);
    expect(new Set(ids).size).toBe(3);
    // Each HTTP call still has its own correlation id.
    expect(new Set(seen.map((s) => s.correlationId)).size).toBe(4);
    // The retried call asked for the same page (same token).
    expect(seen[1].query.get('continuationToken')).toBe(seen[2].query.get('continuationToken'));
  });

  it('a malformed page is CIS_MALFORMED_RESPONSE (transient), after the in-call retries', async () => {
    await control('POST', '/__sandbox/faults', { path: '/offers$', malformed: true });
    const error = await failure(client.getOffers({ country: 'GR', language: 'el-GR' }));
    expect(error).toBeInstanceOf(CisError);
    expect(error.code).toBe(EsdErrorCode.CIS_MALFORMED_RESPONSE);
    expect((error as CisError).transient).toBe(true);
    expect(await offerCalls()).toBe(4);
    expect(new Set(seen.map((s) => s.requestId)).size).toBe(1);
  });

  it('an unknown market is a permanent CIS_INVALID_REQUEST, not retried', async () => {
    const error = await failure(client.getOffers({ country: 'FR', language: 'fr-FR' }));
    expect(error.code).toBe(EsdErrorCode.CIS_INVALID_REQUEST);
    expect((error as CisError).transient).toBe(false);
    expect((error as CisError).vendorCode).toBe('InvalidRequest');
    expect(await offerCalls()).toBe(1);

    // A language the market does not have is unknown too.
    const language = await failure(client.getOffers({ country: 'IE', language: 'el-GR' }));
    expect(language.code).toBe(EsdErrorCode.CIS_INVALID_REQUEST);
  });

  it('pageSize above 1000: the client refuses before calling, the sandbox answers 400', async () => {
    const local = await failure(client.getOffers({ country: 'GR', language: 'el-GR', pageSize: 1001 }));
    expect(local.code).toBe(EsdErrorCode.VALIDATION_FAILED);
    expect(await offerCalls()).toBe(0);

    const raw = await failure(
      client.request({
        method: 'GET',
        path: client.channelPath('/offers'),
        route: '/channels/:channelId/offers',
        query: { country: 'GR', language: 'el-GR', pageSize: 1001 },
        parse: (body) => body,
      }),
    );
    expect(raw.code).toBe(EsdErrorCode.CIS_INVALID_REQUEST);
    expect(await offerCalls()).toBe(1);
  });

  it('a continuation token from a catalog that changed since answers 400 and ends the listing', async () => {
    const pages = client.offerPages({ country: 'GR', language: 'en-US', pageSize: 10 });
    const first = await pages.next();
    expect(first.done).toBe(false);
    await control('POST', '/__sandbox/catalog', { country: 'GR', language: 'en-US', count: 25, seed: 2 });
    const error = await failure(pages.next());
    expect(error.code).toBe(EsdErrorCode.CIS_INVALID_REQUEST);
    expect((error as CisError).transient).toBe(false);
    expect(await offerCalls()).toBe(2);
  });

  it('the offers route is rate-limited per channel like the others', async () => {
    await control('POST', '/__sandbox/config', { rateLimitPerMinute: 1 });
    const limited = newClient({ retry: { maxAttempts: 2, baseMs: 10, maxMs: 20, maxRetryAfterMs: 100 } });
    try {
      const error = await failure(limited.getOffers({ country: 'GR', language: 'el-GR', pageSize: 10 }));
      expect(error.code).toBe(EsdErrorCode.CIS_RATE_LIMITED);
      expect((error as CisError).retryAfterMs).toBeGreaterThan(0);
      expect(await offerCalls()).toBe(2);
    } finally {
      limited.close();
    }
  });

  describe('POST /__sandbox/catalog refusals', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['an unknown market', { country: 'FR', language: 'fr-FR', count: 5, seed: 1 }, 'UnknownMarket'],
      [
        'a language the market lacks',
        { country: 'US', language: 'el-GR', count: 5, seed: 1 },
        'UnknownMarket',
      ],
      [
        'an offer ID not in the catalog',
        { country: 'GR', language: 'el-GR', count: 5, seed: 1, changes: { rename: ['NOT-AN-OFFER'] } },
        'UnknownOffer',
      ],
      [
        'more picks than offers',
        { country: 'GR', language: 'el-GR', count: 5, seed: 1, changes: { remove: 6 } },
        'NotEnoughOffers',
      ],
      [
        'an unknown field',
        { country: 'GR', language: 'el-GR', count: 5, seed: 1, colour: 'red' },
        'InvalidControlRequest',
      ],
      ['a missing seed', { country: 'GR', language: 'el-GR', count: 5 }, 'InvalidControlRequest'],
    ])('answers 400 for %s', async (_case, body, code) => {
      const answer = await controlRaw('POST', '/__sandbox/catalog', body);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { code } });
    });

    it('answers 400 OfferInTwoChanges when one existing offer is named in two changes', async () => {
      const truth = await control<CatalogAnswer>('GET', '/__sandbox/catalog?country=GR&language=el-GR');
      const id = truth.offers[0].offerId;
      const answer = await controlRaw('POST', '/__sandbox/catalog', {
        country: 'GR',
        language: 'el-GR',
        count: 25,
        seed: 1,
        changes: { rename: [id], discontinue: [id] },
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'OfferInTwoChanges' } });
      // Nothing changed: the catalog is the one before.
      const after = await control<CatalogAnswer>('GET', '/__sandbox/catalog?country=GR&language=el-GR');
      expect(after.version).toBe(truth.version);
    });
  });
});

describe('offers page bytes (read at the edge)', () => {
  const bytes = (body: unknown) => Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const greek = (id: string, status = 'Active') => ({
    offerId: id,
    offerUri: `https://cis.example/offers/${id}`,
    name: `Office Οικίας & Σπουδαστών 2021 (${id})`,
    shortDescription: 'Word, Excel και PowerPoint για έναν υπολογιστή.',
    minQuantity: 1,
    maxQuantity: 10,
    isReturnable: true,
    status,
  });

  it.each<[string, unknown]>([
    ['not JSON', '{"items": ['],
    ['not an object', [1, 2]],
    ['items missing', { continuationToken: 'x' }],
    ['items not a list', { items: { offerId: 'A' } }],
    ['a token that is not a string', { items: [], continuationToken: 42 }],
    ['an empty token', { items: [], continuationToken: '  ' }],
  ])('refuses %s, whether or not the page is known', (_case, body) => {
    expect(() => readOffersPage(bytes(body))).toThrow(CisShapeError);
    expect(() => readOffersPage(bytes(body), 'a-fingerprint')).toThrow(CisShapeError);
  });

  it('reads a last page (no or null token) and keeps malformed items as entries', () => {
    expect(readOffersPage(bytes({ items: [] }))).toMatchObject({ size: 0, offers: [] });
    const page = readOffersPage(bytes({ items: ['nope', { offerId: 'A' }], continuationToken: null }));
    expect(page.continuationToken).toBeUndefined();
    expect(page.offers).toEqual([
      { ok: false, reason: 'items[0] is not an object' },
      { ok: false, offerId: 'A', reason: expect.stringContaining('name is missing') },
    ]);
  });

  it('fingerprints the page without its continuation token: another token, the same fingerprint', () => {
    const items = [greek('A'), greek('B', 'Discontinued')];
    const first = readOffersPage(bytes({ items, continuationToken: 'token-1' }));
    const again = readOffersPage(bytes({ items, continuationToken: 'another-token-2' }));
    expect(first.continuationToken).toBe('token-1');
    expect(first.fingerprint).toEqual(expect.stringMatching(/^[\w-]{43}$/));
    expect(again.fingerprint).toBe(first.fingerprint);
    // Another offer, another order, or the same offers as a last page: another fingerprint.
    for (const other of [
      { items: [greek('A'), greek('C', 'Discontinued')], continuationToken: 'token-1' },
      { items: [...items].reverse(), continuationToken: 'token-1' },
      { items },
    ]) {
      expect(readOffersPage(bytes(other)).fingerprint).not.toBe(first.fingerprint);
    }
  });

  it('leaves out the token where it is the continuationToken value, whatever else reads the same', () => {
    // An offer's text equal to the token, before or after it: only the token's own place is left out.
    const items = [{ ...greek('A'), name: 'token-1' }];
    const fingerprints = ['token-1', 'token-2'].flatMap((token) => [
      readOffersPage(bytes({ items, continuationToken: token })).fingerprint,
      readOffersPage(bytes(`{"continuationToken" : "${token}", "items":${JSON.stringify(items)}}`))
        .fingerprint,
    ]);
    expect(fingerprints.every((f) => f !== null)).toBe(true);
    expect(fingerprints[2]).toBe(fingerprints[0]);
    expect(fingerprints[3]).toBe(fingerprints[1]);
    expect(fingerprints[1]).not.toBe(fingerprints[0]);
  });

  it('gives no fingerprint when the token is written with an escape JSON.stringify does not use', () => {
    const escaped = '{"items":[],"continuationToken":"\\u0074oken"}';
    expect(readOffersPage(bytes(escaped))).toMatchObject({ continuationToken: 'token', fingerprint: null });
  });

  it('reads a page with its known fingerprint for IDs and statuses, and decodes its offers only when asked', () => {
    const body = bytes({ items: [greek('A'), greek('  B  ', 'Discontinued')], continuationToken: 'next' });
    const plain = readOffersPage(body);
    expect(plain.known).toBeUndefined();
    const known = readOffersPage(body, plain.fingerprint);
    expect(known).toMatchObject({ size: 2, continuationToken: 'next', fingerprint: plain.fingerprint });
    expect(known.known).toEqual([
      { offerId: 'A', status: 'Active' },
      { offerId: 'B', status: 'Discontinued' },
    ]);
    // The Greek texts come out as the UTF-8 read gives them.
    expect(known.offers).toEqual(plain.offers);
    expect(good(known.offers)[0].name).toMatch(GREEK);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an offer ID with a character beyond ASCII', { offerId: 'OFFER-É' }],
    // Written `OFFER-\\u00c9` in the page: the one-byte read alone cannot tell it from the UTF-8 bytes of É.
    ['an offer ID escaped to a character beyond ASCII', { offerId: 'OFFER-ESCAPED' }],
    ['an offer ID that is not a string', { offerId: 7 }],
    ['an unknown status', { status: 'Retired' }],
  ])('is not known with %s, though the fingerprint matches', (_case, patch) => {
    const text = JSON.stringify({
      items: [greek('A'), { ...greek('B'), ...patch }],
      continuationToken: 'next',
    });
    const body = bytes(text.replace('OFFER-ESCAPED', 'OFFER-\\u00c9'));
    const plain = readOffersPage(body);
    const read = readOffersPage(body, plain.fingerprint);
    expect(read.known).toBeUndefined();
    expect(read.fingerprint).toBe(plain.fingerprint);
    expect(read.offers).toEqual(plain.offers);
  });

  it('is not known when the fingerprint differs, and reads the page as any other', () => {
    const body = bytes({ items: [greek('A')], continuationToken: 'next' });
    const read = readOffersPage(body, 'another-fingerprint');
    expect(read.known).toBeUndefined();
    expect(read.offers).toEqual(readOffersPage(body).offers);
  });
});
