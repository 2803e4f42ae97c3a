import type { LoggerService } from '@nestjs/common';
import {
  AuthError,
  ConfidentialClientApplication,
  LogLevel,
  ServerError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import type { AxiosInstance } from 'axios';
import type { ResolvedCisConnection } from './cis-connection';
import { CisError, cisErrorFromAuthFailure } from './cis-errors';
import { type CisBearerSource, transportFacts } from './cis-http';

/** A bearer token for the CIS API. Stays inside `src/cis/`. */
export interface CisAccessToken {
  accessToken: string;
  expiresOn: Date;
  /** Served from MSAL's cache rather than a new token request. */
  fromCache: boolean;
}

/**
 * MSAL's network client, over our axios so the instance's CA is trusted and every call has a timeout.
 * Failures become MSAL `AuthError`s with our own codes so the mapper can tell "unreachable" from
 * "garbled"; the request body (it holds the signed assertion) is never put into an error or a log.
 */
class CisMsalNetworkClient implements INetworkModule {
  constructor(
    private readonly http: AxiosInstance,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    let response;
    try {
      response = await this.http.request<string>({
        method,
        url,
        headers: options?.headers,
        data: method === 'POST' ? (options?.body ?? '') : undefined,
        timeout: timeout ?? this.timeoutMs,
      });
    } catch (error) {
      const facts = transportFacts(error);
      const timedOut = facts.code === 'ETIMEDOUT' || /timeout/i.test(facts.message);
      throw new AuthError(
        timedOut ? 'cis_timeout' : 'cis_network_error',
        '',
        `The identity provider could not be reached (${facts.code ?? 'network error'}).`,
      );
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(response.headers as Record<string, unknown>)) {
      if (typeof value === 'string') headers[key.toLowerCase()] = value;
      else if (Array.isArray(value)) headers[key.toLowerCase()] = value.join(', ');
      else if (typeof value === 'number') headers[key.toLowerCase()] = String(value);
    }
    let body: T;
    try {
      body = JSON.parse(response.data) as T;
    } catch {
      throw new AuthError(
        'cis_malformed_response',
        '',
        `The identity provider answered HTTP ${response.status} without JSON.`,
      );
    }
    return { headers, body, status: response.status };
  }
}

/**
 * Access tokens for one connection through `@azure/msal-node`'s confidential client (certificate
 * assertion, PS256 + x5t#S256). MSAL caches the token and renews it shortly before expiry; this class adds
 * single-flight (concurrent callers share one sign-in) and "drop this token" after the API refused it.
 */
export class CisTokenProvider implements CisBearerSource {
  private readonly app: ConfidentialClientApplication;
  private readonly scopes: string[];
  private inflight?: { forced: boolean; promise: Promise<CisAccessToken> };
  private current?: string;
  private stale = false;

  constructor(
    private readonly connection: ResolvedCisConnection,
    http: AxiosInstance,
    timeoutMs: number,
    private readonly logger: LoggerService,
  ) {
    const authority = `${connection.authorityHost}/${connection.tenantId}`;
    this.scopes = [`${connection.resourceApi}/.default`];
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: connection.clientId,
        authority,
        // host:port of the authority: MSAL then trusts it without asking login.microsoftonline.com.
        knownAuthorities: [new URL(connection.authorityHost).host],
        // Endpoints given up front, so MSAL fetches no discovery document either.
        authorityMetadata: JSON.stringify({
          issuer: `${authority}/v2.0`,
          token_endpoint: `${authority}/oauth2/v2.0/token`,
          authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
          jwks_uri: `${authority}/discovery/v2.0/keys`,
        }),
        clientCertificate: {
          thumbprintSha256: connection.thumbprintSha256,
          privateKey: connection.certificate.privateKeyPem,
        },
      },
      system: {
        networkClient: new CisMsalNetworkClient(http, timeoutMs),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (_level, message, containsPii) => {
            if (!containsPii) this.logger.debug?.(`msal: ${message}`);
          },
        },
      },
    });
  }

  /** A valid token: MSAL's cached one, or a new one when forced, stale or near expiry. */
  getToken(options: { forceRefresh?: boolean } = {}): Promise<CisAccessToken> {
    const forced = options.forceRefresh === true || this.stale;
    if (this.inflight && (this.inflight.forced || !forced)) return this.inflight.promise;
    const promise = this.acquire(forced).finally(() => {
      if (this.inflight?.promise === promise) this.inflight = undefined;
    });
    this.inflight = { forced, promise };
    return promise;
  }

  invalidate(accessToken: string): void {
    // Only the token the API refused: a newer one fetched meanwhile by another call stays.
    if (this.current === accessToken) this.stale = true;
  }

  private async acquire(forceRefresh: boolean): Promise<CisAccessToken> {
    const started = Date.now();
    try {
      const result = await this.app.acquireTokenByClientCredential({
        scopes: this.scopes,
        skipCache: forceRefresh,
        azureRegion: 'DisableMsalForceRegion',
      });
      if (!result?.accessToken) {
        throw cisErrorFromAuthFailure({ errorCode: 'no_token_in_response' });
      }
      const expiresOn = result.expiresOn ?? new Date(Date.now() + 300_000);
      this.current = result.accessToken;
      this.stale = false;
      if (!result.fromCache) {
        this.logger.log(
          `signed in to ${this.connection.authorityHost} as client ${this.connection.clientId} in ${Date.now() - started}ms; token valid until ${expiresOn.toISOString()}${forceRefresh ? ' (forced refresh)' : ''}`,
        );
      }
      return { accessToken: result.accessToken, expiresOn, fromCache: result.fromCache };
    } catch (error) {
      const mapped = error instanceof CisError ? error : mapMsalError(error);
      this.logger.warn?.(
        `sign-in to ${this.connection.authorityHost} as client ${this.connection.clientId} failed: ${mapped.code}${mapped.vendorCode ? ` (${mapped.vendorCode})` : ''}`,
      );
      throw mapped;
    }
  }
}

/** MSAL error → CIS_AUTH_* error. The MSAL error is not kept as a cause (it is not ours to print). */
export function mapMsalError(error: unknown): CisError {
  if (error instanceof ServerError) {
    return cisErrorFromAuthFailure({
      errorCode: error.errorCode,
      errorNo: error.errorNo,
      message: error.errorMessage,
      status: error.status,
    });
  }
  if (error instanceof AuthError) {
    return cisErrorFromAuthFailure({ errorCode: error.errorCode, message: error.errorMessage });
  }
  return cisErrorFromAuthFailure({ errorCode: 'unexpected' });
}
