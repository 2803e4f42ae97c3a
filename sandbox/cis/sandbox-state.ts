import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { BusinessClock } from './business-clock';
import { SandboxCatalogs } from './catalog-generator';
import { certificateThumbprints } from './test-identity';
import { TokenLedger } from './token-ledger';

/** A market of a channel, in the vendor's wire shape. */
export interface Market {
  country: string;
  currency: string;
  languages: string[];
}

/** The settings tests may change at run time (`POST /__sandbox/config`); reset restores the start values. */
export interface SandboxConfig {
  /** Requests a minute per channel on the API; 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Added to every API and identity-provider request. */
  latencyMs: number;
  /** Shifts the identity provider's "now" for assertion checks only (a fresh assertion can look expired). */
  authClockOffsetSeconds: number;
  /** `expires_in` of issued access tokens; MSAL needs it well above 300 to cache. */
  accessTokenLifetimeSeconds: number;
}

/** What the sandbox counts (`GET /__sandbox/stats`). */
export interface SandboxStats {
  /** Distinct license tokens created (replays not counted). */
  tokensCreated: number;
  /** Token requests per client transaction id (replays counted). */
  tokenRequestsByClientTransactionId: Record<string, number>;
  returnsCreated: number;
  /** Access tokens the identity provider issued: proves a client caches them. */
  accessTokensIssued: number;
  /** Requests per route pattern (`"GET /channels/:channelId/markets"`), faulted or not. */
  callsByRoute: Record<string, number>;
}

/** A client certificate the identity provider trusts, indexed by both thumbprint forms. */
export interface TrustedCertificate {
  /** base64url SHA-1 of the DER, as `x5t` carries it. */
  x5t: string;
  /** base64url SHA-256 of the DER, as `x5t#S256` carries it. */
  x5tS256: string;
  publicKey: KeyObject;
}

/** An app registration: a client id in a tenant, the channels it may use, the certificates it signs with. */
export interface RegisteredClient {
  tenantId: string;
  clientId: string;
  channelIds: string[];
  certificates: TrustedCertificate[];
}

/** An access token the identity provider issued (opaque to the client). */
export interface IssuedAccessToken {
  tenantId: string;
  clientId: string;
  expiresAtMs: number;
}

/** The markets every new channel gets: one market with two languages, EUR and USD. */
export const DEFAULT_MARKETS: readonly Market[] = [
  { country: 'GR', currency: 'EUR', languages: ['el-GR', 'en-US'] },
  { country: 'IE', currency: 'EUR', languages: ['en-IE'] },
  { country: 'US', currency: 'USD', languages: ['en-US'] },
];

/**
 * The sandbox's state in one place, so reset knows what it touches: the directory (tenants, clients,
 * certificates) and issued access tokens survive a reset; config, stats, counters, catalogs, license
 * tokens, returns and the business clock do not.
 */
export class SandboxState {
  readonly tenants = new Set<string>();
  readonly channels = new Map<string, Market[]>();
  /** The offers of each market (`GET /channels/{id}/offers`, `POST /__sandbox/catalog`); reset restores the defaults. */
  readonly catalogs = new SandboxCatalogs();
  /** License tokens and returns (`/channels/{id}/tokens`, `/returns`); reset empties it. */
  readonly ledger = new TokenLedger();
  /** The business clock of creation, redemption and the return window (`POST /__sandbox/clock`). */
  readonly clock = new BusinessClock();
  private readonly clients = new Map<string, RegisteredClient>();
  private readonly accessTokens = new Map<string, IssuedAccessToken>();
  config: SandboxConfig;
  stats: SandboxStats = emptyStats();

  constructor(
    /** The application ID URI clients ask a token for (`{resourceApi}/.default`). */
    readonly resourceApi: string,
    private readonly initialConfig: SandboxConfig,
  ) {
    this.config = { ...initialConfig };
  }

  registerClient(input: { tenantId: string; clientId: string; channelIds: string[] }): RegisteredClient {
    this.tenants.add(input.tenantId);
    for (const channelId of input.channelIds) {
      if (!this.channels.has(channelId)) this.channels.set(channelId, DEFAULT_MARKETS.map(copyMarket));
    }
    const existing = this.clients.get(input.clientId);
    const client: RegisteredClient = {
      tenantId: input.tenantId,
      clientId: input.clientId,
      channelIds: [...new Set(input.channelIds)],
      certificates: existing?.certificates ?? [],
    };
    this.clients.set(input.clientId, client);
    return client;
  }

  /** Trusts a certificate for a client; throws when the client is unknown or the PEM is not a certificate. */
  registerCertificate(
    clientId: string,
    certificatePem: string,
  ): { thumbprint: string; thumbprintSha256: string } {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`client ${clientId} is not registered`);
    const prints = certificateThumbprints(certificatePem);
    const x5t = Buffer.from(prints.thumbprint, 'hex').toString('base64url');
    if (!client.certificates.some((c) => c.x5t === x5t)) {
      client.certificates.push({
        x5t,
        x5tS256: Buffer.from(prints.thumbprintSha256, 'hex').toString('base64url'),
        publicKey: createPublicKey(certificatePem),
      });
    }
    return { thumbprint: prints.thumbprint, thumbprintSha256: prints.thumbprintSha256 };
  }

  client(clientId: string): RegisteredClient | undefined {
    return this.clients.get(clientId);
  }

  issueAccessToken(client: RegisteredClient): { accessToken: string; expiresIn: number } {
    const accessToken = randomBytes(32).toString('base64url');
    const expiresIn = this.config.accessTokenLifetimeSeconds;
    this.accessTokens.set(accessToken, {
      tenantId: client.tenantId,
      clientId: client.clientId,
      expiresAtMs: Date.now() + expiresIn * 1000,
    });
    this.stats.accessTokensIssued += 1;
    return { accessToken, expiresIn };
  }

  /** The client an access token belongs to, or undefined when the token is unknown or expired. */
  clientForAccessToken(accessToken: string): RegisteredClient | undefined {
    const issued = this.accessTokens.get(accessToken);
    if (!issued) return undefined;
    if (issued.expiresAtMs <= Date.now()) {
      this.accessTokens.delete(accessToken);
      return undefined;
    }
    const client = this.clients.get(issued.clientId);
    return client?.tenantId === issued.tenantId ? client : undefined;
  }

  countCall(route: string): void {
    this.stats.callsByRoute[route] = (this.stats.callsByRoute[route] ?? 0) + 1;
  }

  updateConfig(patch: Partial<SandboxConfig>): SandboxConfig {
    this.config = { ...this.config, ...patch };
    return this.config;
  }

  /**
   * Config, counters, catalogs, license tokens, returns and the business clock back to how the sandbox
   * started; tenants, clients, certificates and issued access tokens stay.
   */
  reset(): void {
    this.config = { ...this.initialConfig };
    this.stats = emptyStats();
    this.catalogs.reset();
    this.ledger.clear();
    this.clock.reset();
  }

  /**
   * Counts a token request that reached the handler with a well-formed transaction id (replays and
   * refusals included). Such an id never spells `__proto__`, so the plain record stays a plain record.
   */
  countTokenRequest(clientTransactionId: string): void {
    const counts = this.stats.tokenRequestsByClientTransactionId;
    counts[clientTransactionId] =
      (Object.hasOwn(counts, clientTransactionId) ? counts[clientTransactionId] : 0) + 1;
  }
}

function emptyStats(): SandboxStats {
  return {
    tokensCreated: 0,
    tokenRequestsByClientTransactionId: {},
    returnsCreated: 0,
    accessTokensIssued: 0,
    callsByRoute: {},
  };
}

function copyMarket(market: Market): Market {
  return { ...market, languages: [...market.languages] };
}
