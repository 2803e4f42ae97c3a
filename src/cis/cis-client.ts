import type * as https from 'node:https';
import { Logger, type LoggerService } from '@nestjs/common';
import { type CisConnection, type ResolvedCisConnection, resolveCisConnection } from './cis-connection';
import { isRecord } from './cis-errors';
import {
  type CisOfferEntry,
  type CisOffersOptions,
  type CisOffersPage,
  type CisOffersQuery,
  listOfferPages,
  listOffers,
} from './cis-offers';
import {
  CisHttp,
  type CisRequest,
  type CisCallRecord,
  type CisResponse,
  type CisRetryOptions,
  CisShapeError,
  createCisAxios,
  createCisHttpsAgent,
  DEFAULT_CIS_TIMEOUT_MS,
  DEFAULT_CLIENT_RETRY,
} from './cis-http';
import { type CisCreateReturnInput, type CisReturn, createReturn } from './cis-returns';
import { CisTokenProvider } from './cis-token-provider';
import {
  type CisCreatedToken,
  type CisCreateTokenInput,
  type CisToken,
  type CisTokenStatusItem,
  type CisTokenStatusOptions,
  createToken,
  getToken,
  getTokenStatuses,
} from './cis-tokens';

/** Options of one {@link CisClient}. */
export interface CisClientOptions {
  /** Timeout of each HTTP call (API and identity provider), ms. Default 15 s. */
  timeoutMs?: number;
  /** In-call retry budget for transient failures; see {@link DEFAULT_CLIENT_RETRY}. */
  retry?: Partial<CisRetryOptions>;
  /** Where the client logs route, status, correlation id and duration. Default: Nest's `Logger`. */
  logger?: LoggerService;
  /** How the client waits between retries; tests may observe it. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Told of every HTTP call to the API after it ends (route template, status, duration, attempt): metrics. */
  observe?: (call: CisCallRecord) => void;
}

/** A market (country) the channel may sell in, with its currency and catalog languages. */
export interface CisMarket {
  /** ISO 3166-1 alpha-2 country code, upper case (`GR`). */
  country: string;
  /** ISO 4217 currency code (`EUR`). */
  currency: string;
  /** Catalog languages as BCP 47 tags (`el-GR`, `en-US`). */
  languages: string[];
}

/** Per-operation options every public call takes. */
export interface CisCallOptions {
  /** MS-RequestId for this operation (reused on its retries); a fresh UUID when absent. */
  requestId?: string;
  /** Override of the in-call retry budget for this operation. */
  retry?: Partial<CisRetryOptions>;
}

/**
 * The plugin's client of Microsoft's CIS ESD API for one connection. It is the only code that knows
 * Microsoft's paths and field names; it answers in the plugin's types and fails with {@link CisError}.
 * Keep one per connection (see `CisClientFactory`) so its token cache lives between calls.
 */
export class CisClient {
  private readonly connection: ResolvedCisConnection;
  private readonly agent: https.Agent;
  private readonly tokens: CisTokenProvider;
  private readonly http: CisHttp;

  constructor(connection: CisConnection | ResolvedCisConnection, options: CisClientOptions = {}) {
    this.connection = 'fingerprint' in connection ? connection : resolveCisConnection(connection);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CIS_TIMEOUT_MS;
    const logger = options.logger ?? new Logger('CisClient');
    this.agent = createCisHttpsAgent(this.connection);
    this.tokens = new CisTokenProvider(
      this.connection,
      createCisAxios(this.agent, timeoutMs),
      timeoutMs,
      logger,
    );
    this.http = new CisHttp({
      connection: this.connection,
      axios: createCisAxios(this.agent, timeoutMs, this.connection.serviceUrl),
      tokens: this.tokens,
      retry: { ...DEFAULT_CLIENT_RETRY, ...options.retry },
      logger,
      observe: options.observe,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    });
  }

  /** The digest the factory caches this client under (no secret can be recovered from it). */
  get fingerprint(): string {
    return this.connection.fingerprint;
  }

  /** The certificate's thumbprints, as Microsoft shows them. */
  get thumbprints(): { sha1: string; sha256: string } {
    return { sha1: this.connection.thumbprintSha1, sha256: this.connection.thumbprintSha256 };
  }

  /**
   * Signs in (or reuses the cached token) and says until when the token is valid — the first step of a
   * connection test. The token itself never leaves `src/cis/`.
   */
  async acquireToken(
    options: { forceRefresh?: boolean } = {},
  ): Promise<{ expiresOn: Date; fromCache: boolean }> {
    const token = await this.tokens.getToken(options);
    return { expiresOn: token.expiresOn, fromCache: token.fromCache };
  }

  /** The markets of the connection's channel. */
  async getMarkets(options: CisCallOptions = {}): Promise<CisMarket[]> {
    const response = await this.request({
      method: 'GET',
      path: this.channelPath('/markets'),
      route: '/channels/:channelId/markets',
      requestId: options.requestId,
      retry: options.retry,
      parse: parseMarkets,
    });
    return response.data;
  }

  /**
   * A market's offers page by page, following the continuation token to the end (see `cis-offers.ts`): for
   * a catalog run that reports progress. Malformed offers come back as `{ ok: false, offerId?, reason }`.
   */
  offerPages(
    query: CisOffersQuery,
    options?: CisOffersOptions,
  ): AsyncGenerator<CisOffersPage, void, undefined> {
    return listOfferPages(this, query, options);
  }

  /** Every offer of a market (all pages), good and malformed, in Microsoft's order. */
  getOffers(query: CisOffersQuery, options?: CisOffersOptions): Promise<CisOfferEntry[]> {
    return listOffers(this, query, options);
  }

  /**
   * Buys one license token. A 201 and a 200 replay (the same transaction sent again) both answer the token,
   * `replayed` telling which. Fails with `outcomeUnknown` (not retried in-call) when the request may have
   * been acted on without an answer: call {@link getToken} before sending it again. The product key and
   * activation link in the answer are secrets (see `cis-tokens.ts`).
   */
  createToken(input: CisCreateTokenInput, options?: CisCallOptions): Promise<CisCreatedToken> {
    return createToken(this, input, options);
  }

  /** The token of a transaction, or null when Microsoft never created it; other failures throw. */
  getToken(clientTransactionId: string, options?: CisCallOptions): Promise<CisToken | null> {
    return getToken(this, clientTransactionId, options);
  }

  /** Token statuses in calls of at most 100 ids; ids Microsoft does not know are absent. */
  getTokenStatuses(
    clientTransactionIds: readonly string[],
    options?: CisTokenStatusOptions,
  ): Promise<CisTokenStatusItem[]> {
    return getTokenStatuses(this, clientTransactionIds, options);
  }

  /**
   * Returns one license. Microsoft's refusals (redeemed, window passed, not returnable) are permanent
   * CisErrors; an unknown outcome is not retried in-call (the same return may be sent again: it replays).
   */
  createReturn(input: CisCreateReturnInput, options?: CisCallOptions): Promise<CisReturn> {
    return createReturn(this, input, options);
  }

  /**
   * One logical operation against the API with headers, token refresh, retries and error mapping.
   * For the calls in `src/cis/` (offers, tokens, returns); the rest of the plugin uses the typed methods.
   */
  request<T>(request: CisRequest<T>): Promise<CisResponse<T>> {
    return this.http.execute(request);
  }

  /** `/channels/{channelId}{suffix}` with the channel id encoded. */
  channelPath(suffix: string): string {
    return `/channels/${encodeURIComponent(this.connection.channelId)}${suffix}`;
  }

  /** Releases kept-alive sockets (a later call would open new ones; the factory drops closed clients). */
  close(): void {
    this.agent.destroy();
  }
}

function parseMarkets(body: unknown): CisMarket[] {
  if (!isRecord(body) || !Array.isArray(body.items)) throw new CisShapeError('markets: items is not a list');
  return body.items.map((item: unknown, index) => {
    if (!isRecord(item)) throw new CisShapeError(`markets: items[${index}] is not an object`);
    const { country, currency, languages } = item;
    if (typeof country !== 'string' || !/^[A-Za-z]{2}$/.test(country)) {
      throw new CisShapeError(`markets: items[${index}].country is not a two-letter code`);
    }
    if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) {
      throw new CisShapeError(`markets: items[${index}].currency is not a three-letter code`);
    }
    if (
      !Array.isArray(languages) ||
      languages.length === 0 ||
      !languages.every((l): l is string => typeof l === 'string' && l.trim() !== '')
    ) {
      throw new CisShapeError(`markets: items[${index}].languages is not a non-empty list of tags`);
    }
    return { country: country.toUpperCase(), currency: currency.toUpperCase(), languages: [...languages] };
  });
}
