import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { RegisteredClient, TrustedCertificate } from '../sandbox-state';
import type { AadFailureKind } from './aad-error';

/** Algorithms Azure AD accepts for certificate assertions (MSAL uses RS256 with x5t, PS256 with x5t#S256). */
const ALGORITHMS = ['RS256', 'PS256'];
/** Clock skew tolerated on `nbf` and `exp`. */
export const ASSERTION_CLOCK_SKEW_SECONDS = 60;

export interface AssertionCheck {
  client: RegisteredClient;
  assertion: string;
  /** The token URL the assertion must be addressed to (`aud`). */
  tokenUrl: string;
  /** The identity provider's "now", in seconds (already shifted by the configured offset). */
  nowSeconds: number;
}

export type AssertionVerdict = { ok: true } | { ok: false; kind: AadFailureKind; description: string };

/**
 * Checks a client assertion as Azure AD does, stopping at the first problem: a readable JWT, an allowed
 * algorithm, a thumbprint registered for the client, a signature that verifies with that certificate,
 * `iss` = `sub` = client id, `aud` = the token URL, and the time window. A repeated `jti` is accepted:
 * MSAL reuses one assertion for up to ten minutes.
 */
export async function verifyClientAssertion(check: AssertionCheck): Promise<AssertionVerdict> {
  const { client, assertion } = check;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return fail('assertionMalformed', 'JWT token is invalid or malformed.');
  }
  if (!header.alg || !ALGORITHMS.includes(header.alg)) {
    return fail(
      'algorithmNotSupported',
      `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm. ` +
        `Supported signing algorithms are: '${ALGORITHMS.join(', ')}'.`,
    );
  }
  const certificate = findCertificate(client, header);
  if (!certificate) {
    const presented = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : (header.x5t ?? 'none');
    return fail(
      'keyNotFound',
      `The certificate with identifier used to sign the client assertion is not registered on application. ` +
        `[Reason - The key was not found., Thumbprint of key used by client: '${presented}', ` +
        `Please visit the Azure Portal, Entra ID, App registrations to ensure the certificate is registered.]`,
    );
  }
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(assertion, certificate.publicKey, {
      algorithms: ALGORITHMS,
    }));
  } catch {
    return fail('signatureInvalid', 'Key was found, but use of the key to verify the signature failed.');
  }
  const claims = parseClaims(payloadBytes);
  if (!claims) return fail('assertionMalformed', 'JWT token is invalid or malformed.');

  if (claims.iss !== client.clientId || claims.sub !== client.clientId) {
    return fail(
      'clientIdMismatch',
      "Client assertion application identifier doesn't match 'client_id' parameter.",
    );
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(check.tokenUrl)) {
    return fail(
      'audienceInvalid',
      `Assertion audience claim does not match the required value. The audience in the assertion was ` +
        `'${audiences.map(String).join(', ')}' and the expected audience is '${check.tokenUrl}'.`,
    );
  }
  if (typeof claims.exp !== 'number')
    return fail('assertionMalformed', 'JWT token is missing the exp claim.');
  const now = check.nowSeconds;
  const notBefore = typeof claims.nbf === 'number' ? claims.nbf : undefined;
  if (
    claims.exp <= now - ASSERTION_CLOCK_SKEW_SECONDS ||
    (notBefore ?? 0) > now + ASSERTION_CLOCK_SKEW_SECONDS
  ) {
    return fail(
      'assertionExpired',
      `Client assertion is not within its valid time range. Current time: ${isoSeconds(now)}, ` +
        `assertion valid from ${notBefore === undefined ? 'unspecified' : isoSeconds(notBefore)}, ` +
        `expiry time of assertion ${isoSeconds(claims.exp)}.`,
    );
  }
  return { ok: true };
}

function findCertificate(
  client: RegisteredClient,
  header: ProtectedHeaderParameters,
): TrustedCertificate | undefined {
  const s256 = header['x5t#S256'];
  if (typeof s256 === 'string') return client.certificates.find((c) => c.x5tS256 === s256);
  if (typeof header.x5t === 'string') return client.certificates.find((c) => c.x5t === header.x5t);
  return undefined;
}

interface AssertionClaims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  nbf?: unknown;
}

function parseClaims(bytes: Uint8Array): AssertionClaims | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isoSeconds(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

function fail(kind: AadFailureKind, description: string): AssertionVerdict {
  return { ok: false, kind, description };
}
