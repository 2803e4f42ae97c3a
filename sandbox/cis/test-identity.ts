import {
  X509Certificate,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
  type KeyPairKeyObjectResult,
} from 'node:crypto';
import { promisify } from 'node:util';
import * as forge from 'node-forge';

/**
 * The sandbox's certificates, made at run time and never stored: a CA, the HTTPS certificate it signs for
 * the loopback addresses, and client identities the identity provider trusts. Node's crypto makes the
 * keys (fast, native); node-forge only assembles certificates and PFX files, which Node cannot build.
 */

/** A PEM certificate with its PKCS#8 PEM private key. */
export interface CertificateWithKey {
  certificatePem: string;
  privateKeyPem: string;
}

/** A client identity as Azure AD sees it: the certificate, its key and its thumbprints (plain upper-case hex). */
export interface ClientIdentity extends CertificateWithKey {
  /** SHA-1 of the DER certificate: what `x5t` carries, base64url-encoded. */
  thumbprint: string;
  /** SHA-256 of the DER certificate: what `x5t#S256` carries, base64url-encoded. */
  thumbprintSha256: string;
  /** Certificate expiry, ISO 8601. */
  expiresAt: string;
}

/** The sandbox's TLS material: its CA and the server certificate (SANs 127.0.0.1, ::1, localhost). */
export interface SandboxPki {
  ca: CertificateWithKey;
  server: CertificateWithKey;
}

/** Options of {@link createClientIdentity}. */
export interface ClientIdentityOptions {
  /** Subject common name; default `ESD Sandbox Client`. */
  commonName?: string;
  /** Start of validity; default one hour ago (tolerates clock skew). */
  notBefore?: Date;
  /** End of validity; default one year after `notBefore`. A date in the past makes an expired certificate. */
  notAfter?: Date;
}

/** A PFX (PKCS#12) file as the plugin's upload takes it. */
export interface PackedPfx {
  pfxBase64: string;
  password: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);
const RSA_OPTIONS = { modulusLength: 2048 } as const;
const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

/** Makes the CA and the HTTPS server certificate; the two key pairs are generated in parallel. */
export async function createSandboxPki(): Promise<SandboxPki> {
  const [caKeys, serverKeys] = await Promise.all([
    generateKeyPairAsync('rsa', RSA_OPTIONS),
    generateKeyPairAsync('rsa', RSA_OPTIONS),
  ]);
  const caPublic = forge.pki.publicKeyFromPem(
    caKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  const notBefore = new Date(Date.now() - HOUR_MS);

  const caSubject = [
    { name: 'commonName', value: 'ESD CIS Sandbox Test CA' },
    { name: 'organizationName', value: 'ESD Sandbox' },
  ];
  const caCert = buildCertificate({
    publicKey: caPublic,
    subject: caSubject,
    issuer: caSubject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 2 * YEAR_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ],
  });
  signCertificate(caCert, caKeys.privateKey);

  const serverPublic = forge.pki.publicKeyFromPem(
    serverKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  const serverCert = buildCertificate({
    publicKey: serverPublic,
    subject: [{ name: 'commonName', value: 'localhost' }],
    issuer: caSubject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + YEAR_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          { type: 2, value: 'localhost' },
        ],
      },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ],
  });
  signCertificate(serverCert, caKeys.privateKey);

  return {
    ca: {
      certificatePem: forge.pki.certificateToPem(caCert),
      privateKeyPem: caKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    server: {
      certificatePem: forge.pki.certificateToPem(serverCert),
      privateKeyPem: serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
  };
}

/**
 * Makes a self-signed client certificate (RSA 2048), as an Azure AD app registration takes it. The
 * sandbox trusts it only once registered for a client, so tests also use this for unregistered ones.
 */
export function createClientIdentity(options: ClientIdentityOptions = {}): ClientIdentity {
  return buildClientIdentity(generateKeyPairSync('rsa', RSA_OPTIONS), options);
}

/** {@link createClientIdentity} with the key generated off the event loop. */
export async function createClientIdentityAsync(
  options: ClientIdentityOptions = {},
): Promise<ClientIdentity> {
  return buildClientIdentity(await generateKeyPairAsync('rsa', RSA_OPTIONS), options);
}

function buildClientIdentity(keys: KeyPairKeyObjectResult, options: ClientIdentityOptions): ClientIdentity {
  const privateKeyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  const subject = [
    { name: 'commonName', value: options.commonName ?? 'ESD Sandbox Client' },
    { name: 'organizationName', value: 'ESD Sandbox' },
  ];
  const cert = buildCertificate({
    publicKey: forge.pki.publicKeyFromPem(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject,
    issuer: subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + YEAR_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
      { name: 'subjectKeyIdentifier' },
    ],
  });
  signCertificate(cert, keys.privateKey);
  const certificatePem = forge.pki.certificateToPem(cert);
  return { certificatePem, privateKeyPem, ...certificateThumbprints(certificatePem) };
}

/** Packs a certificate and its key as a PFX under a random ASCII password (3DES, node-forge's default KDF). */
export function packPfx(
  identity: CertificateWithKey,
  password = randomBytes(18).toString('base64url'),
): PackedPfx {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(identity.privateKeyPem),
    [forge.pki.certificateFromPem(identity.certificatePem)],
    password,
    { algorithm: '3des', friendlyName: 'ESD Sandbox Client', generateLocalKeyId: true },
  );
  const der = forge.asn1.toDer(asn1).getBytes();
  return { pfxBase64: Buffer.from(der, 'binary').toString('base64'), password };
}

/** Thumbprints (plain upper-case hex, no colons) and expiry of a PEM certificate; throws if it is not one. */
export function certificateThumbprints(certificatePem: string): {
  thumbprint: string;
  thumbprintSha256: string;
  expiresAt: string;
} {
  const cert = new X509Certificate(certificatePem);
  return {
    thumbprint: cert.fingerprint.replaceAll(':', ''),
    thumbprintSha256: cert.fingerprint256.replaceAll(':', ''),
    expiresAt: new Date(cert.validTo).toISOString(),
  };
}

const forgeInternals = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/**
 * What `cert.sign(key, sha256)` does in node-forge, with the RSA signature made by Node's native crypto:
 * forge's pure-JS RSA takes hundreds of milliseconds per signature on a busy machine.
 */
function signCertificate(cert: forge.pki.Certificate, signer: KeyObject): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption;
  cert.md = forge.md.sha256.create();
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  cert.tbsCertificate = forgeInternals.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, signer).toString('binary');
}

interface CertificateSpec {
  publicKey: forge.pki.PublicKey;
  subject: forge.pki.CertificateField[];
  issuer: forge.pki.CertificateField[];
  notBefore: Date;
  notAfter: Date;
  extensions: object[];
}

function buildCertificate(spec: CertificateSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  // A positive serial: a leading 0x01 byte keeps the DER integer from reading as negative.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer);
  cert.setExtensions(spec.extensions);
  return cert;
}
