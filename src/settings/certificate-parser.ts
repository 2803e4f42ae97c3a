import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import * as forge from 'node-forge';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';

/**
 * A client certificate as an admin uploads it: the PEM certificate with its private key (PKCS#8, PKCS#1 or
 * SEC1, RSA or EC, unencrypted), or a PFX (PKCS#12) file in base64 with its password.
 */
export type CertificateUpload =
  { pem: string; privateKeyPem: string } | { pfxBase64: string; password: string };

/** A certificate checked against its key and its validity, ready to be stored. */
export interface ParsedCertificate {
  /** The certificate the key belongs to (a chain's other certificates are dropped). */
  certificatePem: string;
  /** The private key as PKCS#8 PEM, whatever form it was uploaded in. */
  privateKeyPem: string;
  /** SHA-1 of the DER, upper-case hex without colons (Microsoft's "thumbprint"). */
  thumbprint: string;
  /** SHA-256 of the DER, upper-case hex without colons. */
  thumbprintSha256: string;
  /** The subject's attributes as written in the certificate, e.g. `O=Contoso, CN=ESD Client`. */
  subject: string;
  notBefore: Date;
  expiresAt: Date;
  /** The uploaded PFX (base64 without whitespace) and its password; only for PFX uploads. */
  pfx?: { base64: string; password: string };
}

/** Upper bound of the certificate field (a chain of several certificates fits many times). */
export const CERTIFICATE_PEM_MAX_CHARS = 64 * 1024;
/** Upper bound of the private key field (an RSA 16384-bit PKCS#1 key is about 12 KB). */
export const PRIVATE_KEY_PEM_MAX_CHARS = 64 * 1024;
/**
 * Upper bound of a PFX in base64 (≈ 36 KB of file; exports with a full chain are under 15 KB). Sealed, it must
 * still fit a `text` column, which MariaDB caps at 64 KB.
 */
export const PFX_BASE64_MAX_CHARS = 48_000;
export const PFX_PASSWORD_MAX_CHARS = 1_000;

/**
 * Reads an uploaded certificate and its private key, checks that they belong together and that the certificate
 * is valid at `now`, and gives back what the certificate store keeps. Refusals are 422 `EsdError`s, one code per
 * cause, worded for the admin; none of them carries the key, the PFX or the password.
 *
 * PFX files are unpacked with node-forge (Node cannot read PKCS#12) and everything else is Node's crypto. The
 * unpacking is CPU-bound (tens of milliseconds at common iteration counts): call this on upload, not per request.
 */
export function parseCertificateUpload(upload: CertificateUpload, now: Date): ParsedCertificate {
  const material = 'pfxBase64' in upload ? unpackPfx(upload) : readPem(upload);
  const certificate = material.certificates.find((candidate) =>
    material.keys.some((key) => belongsTogether(candidate, key)),
  );
  if (certificate === undefined) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
      material.certificates.length === 1
        ? 'The private key does not belong to the certificate. Upload the certificate together with its own private key.'
        : `The private key belongs to none of the ${material.certificates.length} certificates uploaded. Upload the certificate together with its own private key.`,
    );
  }
  const key = material.keys.find((candidate) => belongsTogether(certificate, candidate))!;
  const notBefore = new Date(certificate.validFrom);
  const expiresAt = new Date(certificate.validTo);
  const subject = describeSubject(certificate);
  if (expiresAt.getTime() <= now.getTime()) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_EXPIRED,
      `The certificate "${subject}" expired on ${day(expiresAt)}. Upload its renewal.`,
    );
  }
  if (notBefore.getTime() > now.getTime()) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_NOT_YET_VALID,
      `The certificate "${subject}" is valid only from ${notBefore.toISOString()}. Upload it once its validity ` +
        "starts, or check this server's clock.",
    );
  }
  return {
    certificatePem: certificate.toString(),
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprint: certificate.fingerprint.replaceAll(':', ''),
    thumbprintSha256: certificate.fingerprint256.replaceAll(':', ''),
    subject,
    notBefore,
    expiresAt,
    ...(material.pfx === undefined ? {} : { pfx: material.pfx }),
  };
}

interface UploadedMaterial {
  certificates: X509Certificate[];
  keys: KeyObject[];
  pfx?: { base64: string; password: string };
}

function belongsTogether(certificate: X509Certificate, key: KeyObject): boolean {
  try {
    return certificate.checkPrivateKey(key);
  } catch {
    return false; // a key of another type than the certificate's may throw instead of answering false
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function readPem(upload: { pem: string; privateKeyPem: string }): UploadedMaterial {
  const pem = typeof upload.pem === 'string' ? upload.pem : '';
  if (pem.trim() === '') {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      'The certificate field is empty. Paste the PEM certificate (the text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----).',
    );
  }
  if (pem.length > CERTIFICATE_PEM_MAX_CHARS) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      `The certificate field is ${pem.length} characters long; at most ${CERTIFICATE_PEM_MAX_CHARS} are accepted. Paste only the certificate (and its chain).`,
    );
  }
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      pem.includes('PRIVATE KEY')
        ? 'The certificate field holds a private key, not a certificate. Paste the certificate there and the key in the private key field.'
        : 'The certificate field is not a PEM certificate: no -----BEGIN CERTIFICATE----- block was found. Export the certificate as PEM (Base-64 encoded X.509).',
    );
  }
  const certificates = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw refusal(
        EsdErrorCode.CERTIFICATE_UNREADABLE,
        `Certificate ${index + 1} of the PEM is damaged and cannot be read. Export the certificate again.`,
        error,
      );
    }
  });
  return { certificates, keys: [readPrivateKey(upload.privateKeyPem)] };
}

function readPrivateKey(value: unknown): KeyObject {
  const pem = typeof value === 'string' ? value : '';
  if (pem.trim() === '') {
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      "The private key field is empty. Paste the certificate's private key in PEM form (PKCS#8 or PKCS#1), or upload a PFX with its password instead.",
    );
  }
  if (pem.length > PRIVATE_KEY_PEM_MAX_CHARS) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      `The private key field is ${pem.length} characters long; at most ${PRIVATE_KEY_PEM_MAX_CHARS} are accepted. Paste only the private key.`,
    );
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    // Node 20 reports a missing passphrase as "interrupted or cancelled"; the PEM labels say it plainly.
    const encrypted = /ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      encrypted
        ? 'The private key is encrypted with a passphrase. Upload it unencrypted, or upload a PFX with its password instead.'
        : 'The private key field is not a PEM private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or "EC PRIVATE KEY"). Paste the private key that belongs to the certificate.',
      error,
    );
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function unpackPfx(upload: { pfxBase64: string; password: string }): UploadedMaterial {
  const base64 = typeof upload.pfxBase64 === 'string' ? upload.pfxBase64.replace(/\s+/g, '') : '';
  if (base64 === '') {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      'The PFX file is empty. Choose the PFX (.pfx / .p12) file.',
    );
  }
  if (base64.length > PFX_BASE64_MAX_CHARS) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      `The PFX file is too large (${base64.length} base64 characters; at most ${PFX_BASE64_MAX_CHARS}). Export only the client certificate, its key and its chain.`,
    );
  }
  if (!BASE64.test(base64) || base64.length % 4 !== 0) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      'The PFX file did not arrive as base64: it is not a PFX or it is damaged. Choose the PFX file again.',
    );
  }
  const password = typeof upload.password === 'string' ? upload.password : '';
  if (password.length > PFX_PASSWORD_MAX_CHARS) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
      `The PFX password is longer than ${PFX_PASSWORD_MAX_CHARS} characters, so it cannot be the file's password. Check the password field.`,
    );
  }

  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(Buffer.from(base64, 'base64').toString('binary'), false);
  } catch (error) {
    throw notAPfx(error);
  }
  const p12 = openPkcs12(asn1, password);

  const keys = bagsOf(p12, forge.pki.oids.pkcs8ShroudedKeyBag)
    .concat(bagsOf(p12, forge.pki.oids.keyBag))
    .map((bag) => nodePrivateKey(bag));
  if (keys.length === 0) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      'The PFX file holds no private key. Export the certificate again with its private key ("Yes, export the private key").',
    );
  }
  const certificates = bagsOf(p12, forge.pki.oids.certBag).map((bag) => nodeCertificate(bag));
  if (certificates.length === 0) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      'The PFX file holds no certificate. Export the certificate together with its private key.',
    );
  }
  return { certificates, keys, pfx: { base64, password } };
}

/** node-forge's password-based-encryption module, which its typings leave out. */
const forgePbe = (forge.pki as unknown as { pbe: { getCipherForPBES2: PbeCipherFactory } }).pbe;
type PbeCipherFactory = (oid: string, params: unknown, password: string) => unknown;
const forgePki = forge.pki as unknown as { certificateFromAsn1: (obj: forge.asn1.Asn1) => unknown };

/**
 * node-forge's PKCS#12 reader with two corrections, in force only for this synchronous call:
 *
 * - PBES2 (the AES encryption of OpenSSL 3 and current Windows exports) derives its key from the password's
 *   UTF-8 bytes; node-forge feeds PBKDF2 the password's UTF-16 code units, which differ for any non-ASCII
 *   password. The PKCS#12 MAC and the legacy 3DES / RC2 schemes use UTF-16 (BMPString) and stay as they are.
 * - Certificates are left undecoded, so each keeps its exact DER: Node reads them and hashes the thumbprints
 *   over the bytes Microsoft hashes. node-forge keeps the ASN.1 of a certificate it does not decode.
 */
function openPkcs12(asn1: forge.asn1.Asn1, password: string): forge.pkcs12.Pkcs12Pfx {
  const getCipherForPBES2 = forgePbe.getCipherForPBES2;
  const certificateFromAsn1 = forgePki.certificateFromAsn1;
  forgePbe.getCipherForPBES2 = (oid, params, pbePassword) =>
    getCipherForPBES2(oid, params, forge.util.encodeUtf8(pbePassword ?? ''));
  forgePki.certificateFromAsn1 = () => {
    throw new Error('left for Node to read');
  };
  try {
    try {
      return forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
    } catch (error) {
      // An empty password is ambiguous in PKCS#12: some tools derive the MAC key from no password at all.
      if (password !== '' || !isWrongPassword(error)) throw error;
      return forge.pkcs12.pkcs12FromAsn1(asn1, false, undefined);
    }
  } catch (error) {
    if (isWrongPassword(error)) {
      throw refusal(
        EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
        'The PFX file could not be opened with this password: the password is wrong — or the file was changed after it was exported. Check the password, or export the PFX again.',
        error,
      );
    }
    throw notAPfx(error);
  } finally {
    forgePbe.getCipherForPBES2 = getCipherForPBES2;
    forgePki.certificateFromAsn1 = certificateFromAsn1;
  }
}

function isWrongPassword(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /MAC could not be verified|Unable to decrypt|Failed to decrypt/.test(message);
}

function notAPfx(cause: unknown): EsdError {
  return refusal(
    EsdErrorCode.CERTIFICATE_UNREADABLE,
    'The file is not a PFX (PKCS#12) file, or it is damaged. Export the certificate again as .pfx / .p12 with its private key.',
    cause,
  );
}

function bagsOf(p12: forge.pkcs12.Pkcs12Pfx, bagType: string): forge.pkcs12.Bag[] {
  return p12.getBags({ bagType })[bagType] ?? [];
}

function derOf(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function nodePrivateKey(bag: forge.pkcs12.Bag): KeyObject {
  try {
    // forge decodes RSA keys only; for other types (EC) it hands over the PrivateKeyInfo ASN.1 itself.
    const info = bag.key
      ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
      : (bag.asn1 as forge.asn1.Asn1 | undefined);
    if (!info) throw new Error('key bag without a key');
    return createPrivateKey({ key: derOf(info), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      'The private key in the PFX file is of a kind that cannot be read (RSA and EC keys can). Export an RSA or EC key.',
      error,
    );
  }
}

function nodeCertificate(bag: forge.pkcs12.Bag): X509Certificate {
  try {
    return new X509Certificate(derOf(bag.asn1));
  } catch (error) {
    throw refusal(
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      'A certificate inside the PFX file is damaged and cannot be read. Export the certificate again.',
      error,
    );
  }
}

function describeSubject(certificate: X509Certificate): string {
  const subject = certificate.subject.split('\n').filter(Boolean).join(', ');
  return subject.length > 1000 ? `${subject.slice(0, 997)}...` : subject;
}

/** `YYYY-MM-DD` in UTC. */
export function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function refusal(code: EsdErrorCode, message: string, cause?: unknown): EsdError {
  // Only the cause's message is kept, for the operator's logs: node-forge hangs parsing state on its errors, and
  // a logger printing the whole cause could print input bytes with it. The messages themselves never quote input.
  return new EsdError(
    code,
    message,
    undefined,
    cause instanceof Error ? { cause: new Error(cause.message) } : undefined,
  );
}
