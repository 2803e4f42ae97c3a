import { randomUUID } from 'node:crypto';
import { HttpFailure, type FailureRenderer } from '../route-table';

/** Azure AD's error body, as the token and discovery endpoints answer it. */
export interface AadErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
}

/**
 * Every refusal the sandbox's identity provider answers, each with its own AADSTS code so a client can
 * tell them apart by `error_codes[0]` (docs/cis-sandbox.md lists them).
 */
export const AAD_FAILURES = {
  tenantNotFound: { status: 400, error: 'invalid_request', code: 90002 },
  unsupportedGrantType: { status: 400, error: 'unsupported_grant_type', code: 70003 },
  missingParameter: { status: 400, error: 'invalid_request', code: 900144 },
  clientNotFound: { status: 400, error: 'unauthorized_client', code: 700016 },
  credentialMissing: { status: 401, error: 'invalid_client', code: 7000218 },
  assertionMalformed: { status: 400, error: 'invalid_request', code: 50027 },
  algorithmNotSupported: { status: 401, error: 'invalid_client', code: 5002738 },
  keyNotFound: { status: 401, error: 'invalid_client', code: 700027 },
  signatureInvalid: { status: 401, error: 'invalid_client', code: 7000274 },
  clientIdMismatch: { status: 401, error: 'invalid_client', code: 700021 },
  audienceInvalid: { status: 401, error: 'invalid_client', code: 50013 },
  assertionExpired: { status: 401, error: 'invalid_client', code: 700024 },
  scopeInvalid: { status: 400, error: 'invalid_scope', code: 1002012 },
  resourceNotFound: { status: 400, error: 'invalid_resource', code: 500011 },
  temporarilyUnavailable: { status: 503, error: 'temporarily_unavailable', code: 90033 },
} as const satisfies Record<string, { status: number; error: string; code: number }>;

export type AadFailureKind = keyof typeof AAD_FAILURES;

export function aadErrorBody(
  error: string,
  code: number,
  description: string,
  correlationId: string,
): AadErrorBody {
  const traceId = randomUUID();
  // Azure AD's format: "2024-05-01 12:00:00Z", and the ids repeated inside the description.
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
  return {
    error,
    error_description:
      `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\n` +
      `Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
  };
}

export function aadFailure(kind: AadFailureKind, description: string, correlationId: string): HttpFailure {
  const failure = AAD_FAILURES[kind];
  return new HttpFailure(
    failure.status,
    aadErrorBody(failure.error, failure.code, description, correlationId),
    {
      'Cache-Control': 'no-store, no-cache',
    },
  );
}

/** Failures the pipeline makes itself (faults, bad bodies) in Azure AD's shape. */
export const renderAadFailure: FailureRenderer = ({ status, code, message, correlationId }) => {
  if (status === 429 || status >= 500) {
    const failure = AAD_FAILURES.temporarilyUnavailable;
    return aadErrorBody(code ?? failure.error, failure.code, message, correlationId);
  }
  return aadErrorBody(code ?? 'invalid_request', 90000 + (status % 1000), message, correlationId);
};
