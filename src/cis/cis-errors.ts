import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { parseRetryAfterMs } from './retry-policy';

/** What a caller needs to decide about a failed CIS call beyond its code. */
export interface CisErrorInfo {
  /** Worth retrying as is: network, timeout, 429, 5xx, a garbled answer. 4xx business errors are not. */
  transient: boolean;
  /**
   * The request may have reached Microsoft and been acted on (timeout after send, dropped connection, 5xx or
   * an unreadable 2xx on a write): look the transaction up before submitting it again.
   */
  outcomeUnknown: boolean;
  /** Microsoft's error code (`InvalidRequest`, `ChannelMismatch`, …) or the identity platform's `AADSTSnnnn`. */
  vendorCode?: string;
  /** The HTTP status Microsoft answered with, when it answered. (`httpStatus` is the plugin's own mapping.) */
  vendorStatus?: number;
  /** How long Microsoft asked us to wait (Retry-After), in ms. */
  retryAfterMs?: number;
  /** The MS-CorrelationId of the HTTP call that failed (or the one Microsoft echoed). */
  correlationId?: string;
  /** The MS-RequestId of the logical operation. */
  requestId?: string;
  /** The route template (`GET /channels/:channelId/markets`), never a URL with values. */
  route?: string;
  /** Microsoft's own message, kept for operators; the plugin's sentence is the error's message. */
  vendorMessage?: string;
}

/**
 * A CIS call (or the sign-in before it) failed. The message is always the plugin's sentence for the code,
 * which an administrator can act on; Microsoft's details sit in the fields and in `details`, never a
 * token, key or assertion.
 */
export class CisError extends EsdError {
  readonly transient: boolean;
  readonly outcomeUnknown: boolean;
  readonly vendorCode?: string;
  readonly vendorStatus?: number;
  readonly retryAfterMs?: number;
  readonly correlationId?: string;
  readonly requestId?: string;

  constructor(code: EsdErrorCode, info: CisErrorInfo, options?: { cause?: unknown; attempts?: number }) {
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(info)) {
      if (value !== undefined && key !== 'transient' && key !== 'outcomeUnknown') details[key] = value;
    }
    details.transient = info.transient;
    details.outcomeUnknown = info.outcomeUnknown;
    if (options?.attempts !== undefined) details.attempts = options.attempts;
    super(code, undefined, details, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CisError';
    this.transient = info.transient;
    this.outcomeUnknown = info.outcomeUnknown;
    this.vendorCode = info.vendorCode;
    this.vendorStatus = info.vendorStatus;
    this.retryAfterMs = info.retryAfterMs;
    this.correlationId = info.correlationId;
    this.requestId = info.requestId;
  }

  /** The same error, annotated with how many tries were made before giving up. */
  withAttempts(attempts: number): CisError {
    return new CisError(this.code, this.info(), { cause: this.cause, attempts });
  }

  private info(): CisErrorInfo {
    return {
      transient: this.transient,
      outcomeUnknown: this.outcomeUnknown,
      vendorCode: this.vendorCode,
      vendorStatus: this.vendorStatus,
      retryAfterMs: this.retryAfterMs,
      correlationId: this.correlationId,
      requestId: this.requestId,
      route: typeof this.details?.route === 'string' ? this.details.route : undefined,
      vendorMessage: typeof this.details?.vendorMessage === 'string' ? this.details.vendorMessage : undefined,
    };
  }
}

/** True for errors a retry may cure (Bull jobs and the client's own loop ask this). */
export function isTransientCisError(error: unknown): boolean {
  return error instanceof CisError && error.transient;
}

/** Microsoft's business error codes (cis-api.md §2) and what the plugin calls them. */
export const VENDOR_ERROR_CODES: Readonly<Record<string, EsdErrorCode>> = Object.freeze({
  InvalidRequest: EsdErrorCode.CIS_INVALID_REQUEST,
  OfferDiscontinued: EsdErrorCode.CIS_OFFER_DISCONTINUED,
  QuantityOutOfRange: EsdErrorCode.CIS_QUANTITY_OUT_OF_RANGE,
  InvalidToken: EsdErrorCode.CIS_UNAUTHORIZED,
  ChannelMismatch: EsdErrorCode.CIS_CHANNEL_MISMATCH,
  OfferNotFound: EsdErrorCode.CIS_OFFER_NOT_FOUND,
  TokenNotFound: EsdErrorCode.CIS_TOKEN_NOT_FOUND,
  ClientTransactionIdConflict: EsdErrorCode.CIS_TRANSACTION_CONFLICT,
  TokenRedeemed: EsdErrorCode.CIS_TOKEN_REDEEMED,
  ReturnWindowExpired: EsdErrorCode.CIS_RETURN_WINDOW_EXPIRED,
  NotReturnable: EsdErrorCode.CIS_NOT_RETURNABLE,
  // Not in cis-api.md §2: the sandbox's answer to a second return of a token another return took back.
  TokenAlreadyReturned: EsdErrorCode.CIS_TOKEN_ALREADY_RETURNED,
});

/** Where a failure happened, for the error's fields. */
export interface CisCallContext {
  method: string;
  route?: string;
  correlationId?: string;
  requestId?: string;
  /** Whether the call changes state at Microsoft; defaults to "not GET" (a status lookup by POST may say false). */
  write?: boolean;
}

/** A non-2xx answer from the CIS API. */
export interface CisHttpAnswer {
  status: number;
  /** The raw body (text) or an already parsed one. */
  body: unknown;
  /** The Retry-After header, if any. */
  retryAfter?: string;
  nowMs?: number;
}

/** Maps a non-2xx answer to the plugin's error. */
export function cisErrorFromResponse(answer: CisHttpAnswer, context: CisCallContext): CisError {
  const vendor = readVendorError(answer.body);
  const status = answer.status;
  const retryAfterMs = parseRetryAfterMs(answer.retryAfter, answer.nowMs);
  const base: CisErrorInfo = {
    transient: false,
    outcomeUnknown: false,
    vendorCode: vendor.code,
    vendorStatus: status,
    vendorMessage: vendor.message,
    // Microsoft's echo names the call on its side; fall back to the id we sent.
    correlationId: vendor.correlationId ?? context.correlationId,
    requestId: context.requestId,
    route: context.route,
  };

  if (status === 429) {
    return new CisError(EsdErrorCode.CIS_RATE_LIMITED, { ...base, transient: true, retryAfterMs });
  }
  if (status >= 500) {
    return new CisError(EsdErrorCode.CIS_UNAVAILABLE, {
      ...base,
      transient: true,
      outcomeUnknown: isWrite(context),
      retryAfterMs,
    });
  }
  if (status === 408) return new CisError(EsdErrorCode.CIS_TIMEOUT, { ...base, transient: true });

  const mapped = vendor.code !== undefined ? VENDOR_ERROR_CODES[vendor.code] : undefined;
  if (mapped !== undefined) return new CisError(mapped, base);
  if (status === 401) return new CisError(EsdErrorCode.CIS_UNAUTHORIZED, base);
  if (status === 400 || status === 422) return new CisError(EsdErrorCode.CIS_INVALID_REQUEST, base);
  return new CisError(EsdErrorCode.CIS_REQUEST_FAILED, base);
}

/** A 2xx whose body is not JSON or not the expected shape. */
export function cisMalformedResponse(context: CisCallContext, status: number, reason: string): CisError {
  return new CisError(EsdErrorCode.CIS_MALFORMED_RESPONSE, {
    transient: true,
    // On a write the change happened but its result is unreadable: reconcile before re-submitting.
    outcomeUnknown: isWrite(context),
    vendorStatus: status,
    vendorMessage: reason,
    correlationId: context.correlationId,
    requestId: context.requestId,
    route: context.route,
  });
}

/** A transport failure: no HTTP answer at all. `code` is Node's / axios' error code. */
export interface CisTransportFailure {
  code?: string;
  message?: string;
  /** True when the request was handed to the socket (a failure after that may have been acted on). */
  sent?: boolean;
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Maps a transport failure (timeout, reset, refused, TLS) to the plugin's error. */
export function cisErrorFromTransport(failure: CisTransportFailure, context: CisCallContext): CisError {
  const code = failure.code ?? '';
  const base: CisErrorInfo = {
    transient: true,
    outcomeUnknown: false,
    vendorMessage: code || undefined,
    correlationId: context.correlationId,
    requestId: context.requestId,
    route: context.route,
  };
  // axios reports its own timeout as ECONNABORTED unless clarifyTimeoutError is on; we turn it on, but
  // accept the message form too.
  if (TIMEOUT_CODES.has(code) || /timeout/i.test(failure.message ?? '')) {
    return new CisError(EsdErrorCode.CIS_TIMEOUT, { ...base, outcomeUnknown: failure.sent !== false });
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) {
    // A trust problem does not cure itself between retries: an administrator has to fix the settings.
    return new CisError(EsdErrorCode.CIS_TLS_NOT_TRUSTED, { ...base, transient: false });
  }
  if (NOT_SENT_CODES.has(code)) return new CisError(EsdErrorCode.CIS_UNAVAILABLE, base);
  // Reset, hang-up, premature close, anything unknown: the request may have been processed.
  return new CisError(EsdErrorCode.CIS_UNAVAILABLE, { ...base, outcomeUnknown: failure.sent !== false });
}

/** What MSAL (or our network client under it) reported when a token request failed. */
export interface CisAuthFailure {
  /** MSAL's `errorCode`: `invalid_client`, `network_error`, `endpoints_resolution_error`, … */
  errorCode?: string;
  /** The identity platform's first `error_codes` entry (MSAL's `ServerError.errorNo`). */
  errorNo?: string | number;
  /** MSAL's `errorMessage` / `message`, searched for `AADSTSnnnn` when `errorNo` is missing. */
  message?: string;
  /** HTTP status of the token endpoint's answer, when there was one. */
  status?: number;
}

/** Identity platform codes (AADSTS…) and what they mean for an administrator. */
export const AAD_ERROR_CODES: Readonly<Record<string, EsdErrorCode>> = Object.freeze({
  '90002': EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT,
  '900023': EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT,
  '700016': EsdErrorCode.CIS_AUTH_UNKNOWN_CLIENT,
  '700027': EsdErrorCode.CIS_AUTH_CERTIFICATE_NOT_TRUSTED,
  '7000274': EsdErrorCode.CIS_AUTH_BAD_SIGNATURE,
  '700024': EsdErrorCode.CIS_AUTH_ASSERTION_EXPIRED,
  '500011': EsdErrorCode.CIS_AUTH_INVALID_RESOURCE,
  '70011': EsdErrorCode.CIS_AUTH_INVALID_RESOURCE,
  '1002012': EsdErrorCode.CIS_AUTH_INVALID_RESOURCE,
});

/** MSAL client-side codes that mean "the identity provider was not reached (or not trusted)". */
const UNREACHABLE_CODES = new Set([
  'network_error',
  'endpoints_resolution_error',
  'openid_config_error',
  'cis_network_error',
  'cis_timeout',
  'temporarily_unavailable',
]);

/** Maps a failed sign-in to the plugin's CIS_AUTH_* error. */
export function cisErrorFromAuthFailure(failure: CisAuthFailure): CisError {
  const aad = aadCodeOf(failure);
  const vendorCode = aad !== undefined ? `AADSTS${aad}` : failure.errorCode || undefined;
  const base = { outcomeUnknown: false, vendorCode, vendorStatus: failure.status };
  const mapped = aad !== undefined ? AAD_ERROR_CODES[aad] : undefined;
  if (mapped !== undefined) return new CisError(mapped, { ...base, transient: false });
  if (
    UNREACHABLE_CODES.has(failure.errorCode ?? '') ||
    (failure.status !== undefined && (failure.status >= 500 || failure.status === 429))
  ) {
    return new CisError(EsdErrorCode.CIS_AUTH_AUTHORITY_UNREACHABLE, { ...base, transient: true });
  }
  return new CisError(EsdErrorCode.CIS_AUTH_FAILED, { ...base, transient: false });
}

function aadCodeOf(failure: CisAuthFailure): string | undefined {
  const no = failure.errorNo;
  if (no !== undefined && no !== null && String(no).trim() !== '') {
    return String(no)
      .trim()
      .replace(/^AADSTS/i, '');
  }
  const match = /AADSTS(\d+)/.exec(failure.message ?? '');
  return match?.[1];
}

interface VendorError {
  code?: string;
  message?: string;
  correlationId?: string;
}

/** Reads `{ error: { code, message, correlationId } }` from a body of any shape, tolerating garbage. */
export function readVendorError(body: unknown): VendorError {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return {};
    }
  }
  if (!isRecord(value) || !isRecord(value.error)) return {};
  const error = value.error;
  return {
    code: typeof error.code === 'string' ? error.code : undefined,
    message: typeof error.message === 'string' ? error.message.slice(0, 500) : undefined,
    correlationId: typeof error.correlationId === 'string' ? error.correlationId : undefined,
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isWrite(context: CisCallContext): boolean {
  if (context.write !== undefined) return context.write;
  const m = context.method.toUpperCase();
  return m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';
}
