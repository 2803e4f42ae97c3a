import { createHash, randomUUID } from 'node:crypto';
import * as https from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { LoggerService } from '@nestjs/common';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { logRecord } from '../common/logging/log-record';
import type { ResolvedCisConnection } from './cis-connection';
import {
  type CisCallContext,
  CisError,
  cisErrorFromResponse,
  cisErrorFromTransport,
  cisMalformedResponse,
} from './cis-errors';
import { backoffDelayMs } from './retry-policy';

/** The client's in-call retry budget. Small by default: longer waits belong to Bull jobs. */
export interface CisRetryOptions {
  /** Total tries per logical operation, the first included (1 = no retry). */
  maxAttempts: number;
  /** Upper bound of the first retry's wait. */
  baseMs: number;
  /** Upper bound of one computed wait. */
  maxMs: number;
  /**
   * The longest server-requested wait (Retry-After) the client sits out inside a call; a longer one ends
   * the call with CIS_RATE_LIMITED and its `retryAfterMs`, for a queued job to wait out instead.
   */
  maxRetryAfterMs: number;
  /** Random source for jitter, [0, 1). */
  random?: () => number;
}

export const DEFAULT_CLIENT_RETRY: Readonly<CisRetryOptions> = Object.freeze({
  maxAttempts: 3,
  baseMs: 500,
  maxMs: 5_000,
  maxRetryAfterMs: 10_000,
});

/** Default timeout of one HTTP call to the CIS API or the identity provider. */
export const DEFAULT_CIS_TIMEOUT_MS = 15_000;

/**
 * An HTTPS agent trusting the public roots plus the instance's own CA, if it has one, so a sandbox or
 * pre-production endpoint works without turning verification off for anything else.
 */
export function createCisHttpsAgent(
  connection: Pick<ResolvedCisConnection, 'caCertificatePem'>,
): https.Agent {
  if (!connection.caCertificatePem) return new https.Agent({ keepAlive: true });
  // One secure context built once: given `ca` instead, the agent would join every root certificate into its
  // connection-pool key on each request.
  const secureContext = createSecureContext({ ca: [...rootCertificates, connection.caCertificatePem] });
  return new https.Agent({ keepAlive: true, secureContext });
}

/**
 * An axios instance that hands back every answer as text with its status: the caller classifies statuses
 * and parses JSON itself, so a garbled body is told apart from a transport failure.
 */
export function createCisAxios(agent: https.Agent, timeoutMs: number, baseURL?: string): AxiosInstance {
  return axios.create({
    baseURL,
    timeout: timeoutMs,
    httpsAgent: agent,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    // A redirect would carry the bearer token to wherever it points.
    maxRedirects: 0,
    transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
  });
}

/** Turns an axios failure into plain facts; the AxiosError itself holds the request's headers and body. */
export function transportFacts(error: unknown): { code?: string; message: string; sent: boolean } {
  if (error instanceof AxiosError) {
    // `request` is set once the request object exists; a refused connection never wrote anything.
    const code = error.code;
    const notSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    return { code, message: error.message, sent: !notSent };
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { code, message: error.message, sent: true };
  }
  return { message: 'unknown transport failure', sent: true };
}

/** Where bearer tokens come from; the client drops a rejected one and asks again. */
export interface CisBearerSource {
  getToken(options?: { forceRefresh?: boolean }): Promise<{ accessToken: string }>;
  /** The API refused this token: the next `getToken` must not hand it out again. */
  invalidate(accessToken: string): void;
}

/** One logical operation against the CIS API: `parse` reads a 2xx's JSON, or `parseBytes` its bytes. */
export type CisRequest<T> = CisRequestLine &
  (
    | {
        /** Turns the parsed JSON body of a 2xx into the plugin's type; throws (anything) when the shape is wrong. */
        parse: (body: unknown, status: number) => T;
        parseBytes?: undefined;
      }
    | {
        /**
         * Turns a 2xx's body, undecoded, into the plugin's type: for an answer read in a way of its own (the
         * offers pages, `cis-offers.ts`). Throws (anything) when the body is not what it should be.
         */
        parseBytes: (body: Buffer, status: number) => T;
        parse?: undefined;
      }
  );

/** What is sent, and how it is retried. */
export interface CisRequestLine {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the service URL, values already encoded (`/channels/abc/markets`). */
  path: string;
  /** The path with placeholders, for logs and errors (`/channels/:channelId/markets`). */
  route: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /**
   * MS-RequestId: one id for this operation, reused by every retry. Pass one derived from the business
   * key (e.g. the clientTransactionId) so retries across jobs share it too; a fresh UUID otherwise.
   */
  requestId?: string;
  /**
   * Whether the call changes state at Microsoft (defaults to method !== GET). A write whose outcome is
   * unknown (timeout, dropped connection, 5xx, unreadable 2xx) is not retried in-call: it fails with
   * `outcomeUnknown` for the caller to reconcile. A lookup sent by POST says `write: false`.
   */
  write?: boolean;
  /** Override of the retry budget for this call (e.g. `{ maxAttempts: 1 }` when a job retries instead). */
  retry?: Partial<CisRetryOptions>;
}

/** What a successful operation returns. */
export interface CisResponse<T> {
  status: number;
  data: T;
  /** MS-CorrelationId of the successful HTTP call. */
  correlationId: string;
  requestId: string;
  /** HTTP calls made, retries included (the 401 refresh counts). */
  attempts: number;
}

/** Thrown by a `parse` function to say "the shape is wrong"; the message names the field, never values. */
export class CisShapeError extends Error {}

/** One HTTP call to the CIS API as an observer sees it (metrics): never a URL with values, never a secret. */
export interface CisCallRecord {
  /** `POST /channels/:channelId/tokens`. */
  route: string;
  /** The HTTP status, or the transport failure's code (`ECONNRESET`, `ECONNABORTED`, `network-error`). */
  outcome: string;
  durationMs: number;
  /** 1 for the first call of an operation; a higher number is a retry. */
  attempt: number;
  /** The instance whose connection made the call, when it belongs to one. */
  instanceId?: string;
}

interface CisHttpDeps {
  /** Told of every HTTP call, after it ends. */
  observe?: (call: CisCallRecord) => void;
  connection: ResolvedCisConnection;
  axios: AxiosInstance;
  tokens: CisBearerSource;
  retry: CisRetryOptions;
  logger: LoggerService;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Runs logical operations: headers, the one-time token refresh on 401, bounded retries of transient
 * failures with backoff, and the mapping of every failure to a {@link CisError}.
 */
export class CisHttp {
  constructor(private readonly deps: CisHttpDeps) {}

  async execute<T>(request: CisRequest<T>): Promise<CisResponse<T>> {
    const retry = { ...this.deps.retry, ...request.retry };
    const maxAttempts = Math.max(1, Math.floor(retry.maxAttempts));
    const requestId = request.requestId ?? randomUUID();
    let calls = 0;
    let refreshed = false;
    let failures = 0;

    for (;;) {
      calls++;
      const outcome = await this.once(request, requestId, calls);
      if (outcome.ok) return { ...outcome.response, attempts: calls };
      const error = outcome.error;

      if (outcome.unauthorized && !refreshed) {
        // The API refused a token the cache still thought valid (revoked, clock skew): `once` invalidated it,
        // so the next try signs in afresh. Only once: a second 401 is CIS_UNAUTHORIZED.
        refreshed = true;
        continue;
      }
      failures++;
      if (!error.transient || failures >= maxAttempts) throw error.withAttempts(calls);
      // A write that may have been acted on is not sent again here: the caller looks the transaction up
      // first and re-submits only if Microsoft never saw it (ARCHITECTURE.md, "exactly one token").
      if (error.outcomeUnknown && isWriteRequest(request)) throw error.withAttempts(calls);

      const delay = backoffDelayMs(failures, {
        baseMs: retry.baseMs,
        maxMs: retry.maxMs,
        retryAfterMs: error.retryAfterMs,
        retryAfterCapMs: retry.maxRetryAfterMs,
        random: retry.random,
      });
      if (error.retryAfterMs !== undefined && error.retryAfterMs > retry.maxRetryAfterMs) {
        throw error.withAttempts(calls);
      }
      this.deps.logger.warn?.(
        `${request.route} failed with ${error.code} (attempt ${calls}); retrying in ${delay} ms, requestId=${requestId}`,
      );
      await this.deps.sleep(delay);
    }
  }

  private async once<T>(
    request: CisRequest<T>,
    requestId: string,
    attempt: number,
  ): Promise<
    | { ok: true; response: Omit<CisResponse<T>, 'attempts'> }
    | { ok: false; error: CisError; unauthorized: boolean }
  > {
    const correlationId = randomUUID();
    const context: CisCallContext = {
      method: request.method,
      route: `${request.method} ${request.route}`,
      correlationId,
      requestId,
      write: request.write,
    };
    // A sign-in failure is already a CisError with its CIS_AUTH_* code; it ends the operation unless transient.
    let token: { accessToken: string };
    try {
      token = await this.deps.tokens.getToken();
    } catch (error) {
      if (error instanceof CisError) return { ok: false, error, unauthorized: false };
      throw error;
    }

    const started = Date.now();
    let response: AxiosResponse<string | Buffer>;
    try {
      response = await this.deps.axios.request<string | Buffer>({
        ...(request.parseBytes ? { responseType: 'arraybuffer' } : {}),
        method: request.method,
        url: request.path,
        params: request.query,
        data: request.body,
        headers: {
          Authorization: `Bearer ${token.accessToken}`,
          'MS-CorrelationId': correlationId,
          'MS-RequestId': requestId,
          Accept: 'application/json',
          ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      });
    } catch (error) {
      const facts = transportFacts(error);
      this.log(context, facts.code ?? 'network-error', started, attempt);
      // The AxiosError is not attached as a cause: its config holds the Authorization header.
      return { ok: false, error: cisErrorFromTransport(facts, context), unauthorized: false };
    }
    this.log(context, String(response.status), started, attempt);

    const status = response.status;
    if (status < 200 || status >= 300) {
      const error = cisErrorFromResponse(
        { status, body: textOf(response.data), retryAfter: headerOf(response, 'retry-after') },
        context,
      );
      if (status === 401) this.deps.tokens.invalidate(token.accessToken);
      return { ok: false, error, unauthorized: status === 401 };
    }

    let data: T;
    try {
      if (request.parseBytes) {
        data = request.parseBytes(Buffer.isBuffer(response.data) ? response.data : Buffer.alloc(0), status);
      } else {
        let json: unknown;
        try {
          const text = textOf(response.data);
          json = text.length > 0 ? JSON.parse(text) : null;
        } catch {
          throw new CisShapeError('body is not JSON');
        }
        data = request.parse(json, status);
      }
      return { ok: true, response: { status, data, correlationId, requestId } };
    } catch (error) {
      const reason = error instanceof CisShapeError ? error.message : 'unexpected shape';
      return { ok: false, error: cisMalformedResponse(context, status, reason), unauthorized: false };
    }
  }

  private log(context: CisCallContext, outcome: string, started: number, attempt: number): void {
    const ms = Date.now() - started;
    const route = context.route ?? context.method;
    const instanceId = this.deps.connection.instanceId;
    this.deps.observe?.({ route, outcome, durationMs: ms, attempt, ...(instanceId ? { instanceId } : {}) });
    const who = instanceId ? ` instance=${instanceId}` : '';
    const status = /^\d{3}$/.test(outcome) ? Number(outcome) : null;
    // A record: a JSON logger writes its fields (with the license or run being served), a console its sentence.
    this.deps.logger.log(
      logRecord(
        `${context.route} ${outcome} ${ms}ms correlationId=${context.correlationId} requestId=${context.requestId} attempt=${attempt}${who}`,
        {
          route,
          status,
          ...(status === null ? { transportError: outcome } : {}),
          durationMs: ms,
          correlationId: context.correlationId,
          requestId: context.requestId,
          attempt,
          ...(instanceId ? { instanceId } : {}),
        },
      ),
    );
  }
}

/** A body as text, whichever way it came (bytes when the request asked for them). */
function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  return Buffer.isBuffer(data) ? data.toString('utf8') : '';
}

function isWriteRequest(request: CisRequestLine): boolean {
  return request.write ?? request.method !== 'GET';
}

/** Namespace of the plugin's derived MS-RequestIds (a fixed, random UUID). */
const REQUEST_ID_NAMESPACE = '6f1c3a52-9d4e-4b7a-8c21-5e0f7d9a3b64';

/**
 * A name-based UUID (RFC 9562 version 5) for an operation on a business key, e.g. `('token',
 * clientTransactionId)`: every retry of that operation, in this call or a later job, sends the same
 * MS-RequestId, and two kinds of operation on one key never share one.
 */
export function derivedRequestId(operation: string, businessKey: string): string {
  const namespace = Buffer.from(REQUEST_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(`${operation}:${businessKey}`, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function headerOf(response: AxiosResponse, name: string): string | undefined {
  const value: unknown = response.headers[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}
