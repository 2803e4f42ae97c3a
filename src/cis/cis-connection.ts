import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';

/** Microsoft's public identity platform; an instance may point elsewhere (sandbox, sovereign clouds). */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** The certificate and private key the plugin signs its client assertion with (PEM, unsealed). */
export interface CisCertificateMaterial {
  /** The X.509 certificate registered with Microsoft for the client ID (PEM). */
  certificatePem: string;
  /** Its private key (PKCS#8 or PKCS#1 PEM, unencrypted). Never logged, never returned. */
  privateKeyPem: string;
}

/**
 * How one instance reaches the CIS ESD API: the settings the administrator typed in plus the unsealed
 * certificate. This is the plugin's own shape; `src/cis/` turns it into MSAL and HTTP configuration.
 */
export interface CisConnection {
  /** The plugin instance this connection belongs to; only used to label logs. */
  instanceId?: string;
  /** Azure AD tenant (GUID or domain) the client ID lives in. */
  tenantId: string;
  /** The application (client) ID Microsoft issued for this distributor and country. */
  clientId: string;
  /** Microsoft Bill-To account the calls act for. */
  channelId: string;
  /** The Resource API (audience); tokens are requested for `{resourceApi}/.default`. */
  resourceApi: string;
  /** Base URL of the CIS ESD API. */
  serviceUrl: string;
  /** Identity provider origin; defaults to {@link DEFAULT_AUTHORITY_HOST}. Must be HTTPS. */
  authorityHost?: string;
  /** Extra CA (PEM) to trust for the authority and the API, for sandbox and pre-production endpoints. */
  caCertificatePem?: string;
  certificate: CisCertificateMaterial;
}

/** A connection checked once, with defaults filled and the certificate's thumbprints derived. */
export interface ResolvedCisConnection extends CisConnection {
  authorityHost: string;
  /** SHA-1 of the certificate DER, plain upper-case hex (what Microsoft's portal shows). */
  thumbprintSha1: string;
  /** SHA-256 of the certificate DER, plain upper-case hex (what MSAL sends as `x5t#S256`). */
  thumbprintSha256: string;
  /**
   * A one-way digest of every field, the key under which clients and token caches are kept: any change
   * (another key, another tenant) gets a fresh MSAL application and so a fresh token cache.
   */
  fingerprint: string;
}

/** Thumbprints of a PEM certificate as Microsoft and MSAL spell them: hex, no colons. */
export function certificateThumbprints(certificatePem: string): { sha1: string; sha256: string } {
  const cert = parseCertificate(certificatePem, 'certificate.certificatePem');
  return { sha1: plainHex(cert.fingerprint), sha256: plainHex(cert.fingerprint256) };
}

/**
 * Validates a connection and derives what MSAL needs. Throws VALIDATION_FAILED naming the field; the
 * message never quotes the value (it may be a key).
 */
export function resolveCisConnection(connection: CisConnection): ResolvedCisConnection {
  for (const field of ['tenantId', 'clientId', 'channelId', 'resourceApi', 'serviceUrl'] as const) {
    if (typeof connection[field] !== 'string' || connection[field].trim() === '') {
      throw invalid(field, 'is required');
    }
  }
  const authorityHost = trimSlash(connection.authorityHost?.trim() || DEFAULT_AUTHORITY_HOST);
  requireUrl(authorityHost, 'authorityHost', true);
  requireUrl(connection.serviceUrl, 'serviceUrl', false);
  if (connection.caCertificatePem) parseCertificate(connection.caCertificatePem, 'caCertificatePem');

  const cert = parseCertificate(connection.certificate?.certificatePem, 'certificate.certificatePem');
  let keyMatches: boolean;
  try {
    const key = createPrivateKey(connection.certificate.privateKeyPem);
    keyMatches = key.type === 'private';
  } catch {
    throw invalid('certificate.privateKeyPem', 'is not a readable unencrypted PEM private key');
  }
  if (!keyMatches) throw invalid('certificate.privateKeyPem', 'is not a private key');

  const resolved = {
    ...connection,
    tenantId: connection.tenantId.trim(),
    clientId: connection.clientId.trim(),
    channelId: connection.channelId.trim(),
    resourceApi: trimSlash(connection.resourceApi.trim()),
    serviceUrl: trimSlash(connection.serviceUrl.trim()),
    authorityHost,
    thumbprintSha1: plainHex(cert.fingerprint),
    thumbprintSha256: plainHex(cert.fingerprint256),
  };
  return { ...resolved, fingerprint: fingerprintOf(resolved) };
}

function fingerprintOf(c: Omit<ResolvedCisConnection, 'fingerprint'>): string {
  const parts = [
    c.tenantId,
    c.clientId,
    c.channelId,
    c.resourceApi,
    c.serviceUrl,
    c.authorityHost,
    c.caCertificatePem ?? '',
    c.certificate.certificatePem,
    c.certificate.privateKeyPem,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function parseCertificate(pem: unknown, field: string): X509Certificate {
  if (typeof pem !== 'string' || pem.trim() === '') throw invalid(field, 'is required');
  try {
    return new X509Certificate(pem);
  } catch {
    throw invalid(field, 'is not a PEM X.509 certificate');
  }
}

function requireUrl(value: string, field: string, httpsOnly: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, 'is not a URL');
  }
  const ok = httpsOnly ? url.protocol === 'https:' : url.protocol === 'https:' || url.protocol === 'http:';
  if (!ok) throw invalid(field, httpsOnly ? 'must be an https:// URL' : 'must be an http(s):// URL');
}

function plainHex(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toUpperCase();
}

function trimSlash(value: string): string {
  return value.replace(/\/+$/, '');
}

function invalid(field: string, problem: string): EsdError {
  return new EsdError(EsdErrorCode.VALIDATION_FAILED, `The CIS connection setting ${field} ${problem}.`, {
    field,
  });
}
