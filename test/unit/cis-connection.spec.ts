import { createHash, X509Certificate } from 'node:crypto';
import { EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import {
  certificateThumbprints,
  type CisConnection,
  DEFAULT_AUTHORITY_HOST,
  resolveCisConnection,
} from '../../src/cis/cis-connection';
import { createClientIdentity } from '../../sandbox/cis/test-identity';

describe('resolveCisConnection', () => {
  const identity = createClientIdentity();
  const other = createClientIdentity();
  const base: CisConnection = {
    tenantId: ' 2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b ',
    clientId: '8e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c',
    channelId: '1000012345',
    resourceApi: 'https://cis.example/',
    serviceUrl: 'https://api.cis.example/v1/',
    certificate: { certificatePem: identity.certificatePem, privateKeyPem: identity.privateKeyPem },
  };

  function refusal(connection: CisConnection): EsdError {
    try {
      resolveCisConnection(connection);
    } catch (error) {
      if (error instanceof EsdError) return error;
      throw error;
    }
    throw new Error('expected a refusal');
  }

  it('derives both thumbprints from the DER, as plain upper-case hex', () => {
    const der = new X509Certificate(identity.certificatePem).raw;
    const resolved = resolveCisConnection(base);
    expect(resolved.thumbprintSha1).toBe(createHash('sha1').update(der).digest('hex').toUpperCase());
    expect(resolved.thumbprintSha256).toBe(createHash('sha256').update(der).digest('hex').toUpperCase());
    expect(certificateThumbprints(identity.certificatePem)).toEqual({
      sha1: resolved.thumbprintSha1,
      sha256: resolved.thumbprintSha256,
    });
  });

  it('fills the default authority and trims ids and trailing slashes', () => {
    const resolved = resolveCisConnection(base);
    expect(resolved.authorityHost).toBe(DEFAULT_AUTHORITY_HOST);
    expect(resolved.tenantId).toBe('2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b');
    expect(resolved.resourceApi).toBe('https://cis.example');
    expect(resolved.serviceUrl).toBe('https://api.cis.example/v1');
  });

  it('gives a fingerprint that changes with any field, the key included, and reveals none', () => {
    const a = resolveCisConnection(base).fingerprint;
    expect(resolveCisConnection({ ...base }).fingerprint).toBe(a);
    expect(resolveCisConnection({ ...base, channelId: '2' }).fingerprint).not.toBe(a);
    expect(resolveCisConnection({ ...base, caCertificatePem: other.certificatePem }).fingerprint).not.toBe(a);
    const otherKey = { ...base, certificate: { ...base.certificate, privateKeyPem: other.privateKeyPem } };
    expect(resolveCisConnection(otherKey).fingerprint).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses bad settings naming the field, never quoting a secret', () => {
    const cases: [CisConnection, string][] = [
      [{ ...base, tenantId: ' ' }, 'tenantId'],
      [{ ...base, serviceUrl: 'not a url' }, 'serviceUrl'],
      [{ ...base, authorityHost: 'http://login.example' }, 'authorityHost'],
      [{ ...base, caCertificatePem: 'garbage' }, 'caCertificatePem'],
      [
        { ...base, certificate: { ...base.certificate, certificatePem: 'nope' } },
        'certificate.certificatePem',
      ],
      [
        { ...base, certificate: { ...base.certificate, privateKeyPem: 'secret-ish-junk' } },
        'certificate.privateKeyPem',
      ],
      [
        { ...base, certificate: { ...base.certificate, privateKeyPem: identity.certificatePem } },
        'certificate.privateKeyPem',
      ],
    ];
    for (const [connection, field] of cases) {
      const error = refusal(connection);
      expect(error.code).toBe(EsdErrorCode.VALIDATION_FAILED);
      expect(error.details).toEqual({ field });
      expect(error.message).toContain(field);
      expect(error.message).not.toContain('secret-ish-junk');
      expect(error.message).not.toContain('BEGIN');
    }
  });
});
