/**
 * Certificate uploads as admins make them: PEM (RSA and EC; PKCS#8, PKCS#1, SEC1 keys) and PFX files from
 * node-forge (3DES, AES-256) and from the `openssl` command line (OpenSSL 3's AES default, the RC2-40 of old
 * Windows exports), with ASCII, non-ASCII and empty passwords — and every refusal.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as forge from 'node-forge';
import {
  createClientIdentity,
  createSandboxPki,
  packPfx,
  type CertificateWithKey,
  type ClientIdentity,
} from '../../sandbox/cis/test-identity';
import { EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import {
  PFX_BASE64_MAX_CHARS,
  parseCertificateUpload,
  type CertificateUpload,
  type ParsedCertificate,
} from '../../src/settings/certificate-parser';

/** A few minutes ahead: certificates made by `openssl req` start at the very second they are made. */
const NOW = new Date(Date.now() + 5 * 60_000);
const DAY = 86_400_000;
const NON_ASCII_PASSWORD = 'pässwörd-ΕΛ';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esd-cert-'));
let rsa: ClientIdentity;
let other: ClientIdentity;

beforeAll(() => {
  rsa = createClientIdentity({ commonName: 'ESD Parser RSA' });
  other = createClientIdentity({ commonName: 'ESD Parser Other' });
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

/** SHA-1 and SHA-256 of the certificate's DER, computed from the PEM text alone (no X.509 parser involved). */
function independentThumbprints(certificatePem: string): { sha1: string; sha256: string } {
  const body = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(certificatePem)![1];
  const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const hash = (algorithm: string) => createHash(algorithm).update(der).digest('hex').toUpperCase();
  return { sha1: hash('sha1'), sha256: hash('sha256') };
}

function expectParsedAs(parsed: ParsedCertificate, source: CertificateWithKey): void {
  const { sha1, sha256 } = independentThumbprints(source.certificatePem);
  expect(parsed.thumbprint).toBe(sha1);
  expect(parsed.thumbprintSha256).toBe(sha256);
  expect(independentThumbprints(parsed.certificatePem).sha1).toBe(sha1);
  // The key comes back as PKCS#8 PEM, and it is the same key.
  expect(parsed.privateKeyPem).toBe(
    createPrivateKey(parsed.privateKeyPem).export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  const exported = (pem: string) =>
    createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).toString('hex');
  expect(exported(parsed.privateKeyPem)).toBe(exported(source.privateKeyPem));
}

/** The EsdError the parser throws for `upload`. */
function refusalOf(upload: CertificateUpload, now = NOW): EsdError {
  try {
    parseCertificateUpload(upload, now);
  } catch (error) {
    if (error instanceof EsdError) return error;
    throw error;
  }
  throw new Error('the upload was accepted');
}

/** Everything a refusal shows: message, details, cause and stack. */
function shown(error: EsdError): string {
  return `${error.message} ${JSON.stringify(error.details)} ${String(error.cause)} ${error.stack}`;
}

function keyBody(pem: string): string {
  return pem.split('\n')[3];
}

// ---------------------------------------------------------------------------------------------- PFX makers

type ForgeAlgorithm = '3des' | 'aes256';

/**
 * A PFX made by node-forge. For AES (PBES2), node-forge itself derives the key from a non-ASCII password's UTF-16
 * code units, which no other tool does; the key derivation is given the UTF-8 bytes here so the file is the one
 * OpenSSL or Windows would write (each such file is also checked with `openssl` below).
 */
function forgePfx(
  identity: CertificateWithKey | null,
  certificates: string[],
  password: string,
  algorithm: ForgeAlgorithm,
): string {
  const pkcs5 = forge.pkcs5 as unknown as { pbkdf2: (password: string, ...rest: unknown[]) => unknown };
  const pbkdf2 = pkcs5.pbkdf2;
  pkcs5.pbkdf2 = (password, ...rest) => pbkdf2(forge.util.encodeUtf8(password), ...rest);
  try {
    const asn1 = forge.pkcs12.toPkcs12Asn1(
      identity ? forge.pki.privateKeyFromPem(identity.privateKeyPem) : null,
      certificates.map((pem) => forge.pki.certificateFromPem(pem)),
      password,
      { algorithm, generateLocalKeyId: true, friendlyName: 'ESD Parser' },
    );
    return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary').toString('base64');
  } finally {
    pkcs5.pbkdf2 = pbkdf2;
  }
}

let fileCounter = 0;
function tempFile(contents?: string | Buffer): string {
  const file = path.join(workDir, `f${++fileCounter}`);
  if (contents !== undefined) fs.writeFileSync(file, contents);
  return file;
}

function openssl(args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A PFX made by `openssl pkcs12 -export` (OpenSSL 3: AES-256-CBC + PBKDF2; `-legacy`: RC2-40 + 3DES). */
function opensslPfx(identity: CertificateWithKey, password: string, extra: string[] = []): string {
  const out = tempFile();
  openssl([
    'pkcs12',
    '-export',
    '-in',
    tempFile(identity.certificatePem),
    '-inkey',
    tempFile(identity.privateKeyPem),
    '-passout',
    `pass:${password}`,
    '-out',
    out,
    ...extra,
  ]);
  return fs.readFileSync(out).toString('base64');
}

/** Lets `openssl` unpack the PFX, key included: proves a test file is what other tools read. */
function opensslReads(pfxBase64: string, password: string, extra: string[] = []): boolean {
  try {
    const out = openssl([
      'pkcs12',
      '-in',
      tempFile(Buffer.from(pfxBase64, 'base64')),
      '-passin',
      `pass:${password}`,
      '-nodes',
      ...extra,
    ]).toString();
    return out.includes('PRIVATE KEY-----') && out.includes('CERTIFICATE-----');
  } catch {
    return false;
  }
}

/** What `openssl pkcs12 -info` says (on stderr) about a PFX, e.g. its encryption or a MAC failure. */
function opensslInfo(pfxBase64: string, password: string, extra: string[] = []): string {
  const run = spawnSync(
    'openssl',
    [
      'pkcs12',
      '-info',
      '-noout',
      '-in',
      tempFile(Buffer.from(pfxBase64, 'base64')),
      '-passin',
      `pass:${password}`,
      ...extra,
    ],
    { encoding: 'utf8' },
  );
  return `${run.stdout}${run.stderr}`;
}

/** An EC P-256 self-signed certificate and PKCS#8 key made by `openssl req`. */
function opensslEcIdentity(): CertificateWithKey {
  const keyFile = tempFile();
  const certFile = tempFile();
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-subj',
    '/O=ESD Parser/CN=ESD Parser EC',
    '-days',
    '30',
  ]);
  return {
    certificatePem: fs.readFileSync(certFile, 'utf8'),
    privateKeyPem: fs.readFileSync(keyFile, 'utf8'),
  };
}

/**
 * Whether this machine's OpenSSL can still write the legacy RC2-40 format (OpenSSL 3 needs its legacy provider
 * for that). Decided when the file loads, so the test names can say which variant ran.
 */
const LEGACY_RC2 = (() => {
  try {
    opensslPfx(opensslEcIdentity(), 'probe', ['-legacy']);
    return true;
  } catch {
    return false;
  }
})();

// ---------------------------------------------------------------------------------------------- PEM

describe('parseCertificateUpload — PEM', () => {
  it('reads an RSA certificate with its PKCS#8 key: thumbprints equal SHA-1/SHA-256 of the DER', () => {
    const parsed = parseCertificateUpload({ pem: rsa.certificatePem, privateKeyPem: rsa.privateKeyPem }, NOW);
    expectParsedAs(parsed, rsa);
    expect(parsed.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(parsed.thumbprintSha256).toMatch(/^[0-9A-F]{64}$/);
    expect(parsed.thumbprint).toBe(rsa.thumbprint);
    expect(parsed.subject).toBe('CN=ESD Parser RSA, O=ESD Sandbox');
    expect(parsed.expiresAt.toISOString()).toBe(new Date(rsa.expiresAt).toISOString());
    expect(parsed.notBefore.getTime()).toBeLessThan(NOW.getTime());
    expect(parsed.pfx).toBeUndefined();
  });

  it('reads a PKCS#1 ("RSA PRIVATE KEY") key and gives it back as PKCS#8', () => {
    const pkcs1 = createPrivateKey(rsa.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('RSA PRIVATE KEY-----');
    const parsed = parseCertificateUpload({ pem: rsa.certificatePem, privateKeyPem: pkcs1 }, NOW);
    expectParsedAs(parsed, rsa);
  });

  it('reads an EC P-256 certificate (openssl) with its PKCS#8 key and with its SEC1 key', () => {
    const ec = opensslEcIdentity();
    const parsed = parseCertificateUpload({ pem: ec.certificatePem, privateKeyPem: ec.privateKeyPem }, NOW);
    expectParsedAs(parsed, ec);
    expect(parsed.subject).toBe('O=ESD Parser, CN=ESD Parser EC');
    const sec1 = createPrivateKey(ec.privateKeyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toContain('EC PRIVATE KEY-----');
    expectParsedAs(parseCertificateUpload({ pem: ec.certificatePem, privateKeyPem: sec1 }, NOW), ec);
  });

  it('picks the certificate the key belongs to out of a chain, in any order, with CRLF line ends', async () => {
    const pki = await createSandboxPki();
    for (const pem of [
      pki.ca.certificatePem + pki.server.certificatePem,
      pki.server.certificatePem + pki.ca.certificatePem,
    ]) {
      const parsed = parseCertificateUpload(
        { pem: pem.replace(/\n/g, '\r\n'), privateKeyPem: pki.server.privateKeyPem },
        NOW,
      );
      expectParsedAs(parsed, pki.server);
    }
  });
});

// ---------------------------------------------------------------------------------------------- PFX

describe('parseCertificateUpload — PFX', () => {
  const forgeCases: [ForgeAlgorithm, string][] = [
    ['3des', 'ascii-Passw0rd'],
    ['aes256', 'ascii-Passw0rd'],
    ['3des', NON_ASCII_PASSWORD],
    ['aes256', NON_ASCII_PASSWORD],
  ];
  it.each(forgeCases)('reads a node-forge PFX (%s) with the password %j', (algorithm, password) => {
    const pfxBase64 = forgePfx(rsa, [rsa.certificatePem], password, algorithm);
    expect(opensslReads(pfxBase64, password)).toBe(true);
    expect(opensslInfo(pfxBase64, password)).toContain(
      algorithm === 'aes256' ? 'AES-256-CBC' : 'pbeWithSHA1And3-KeyTripleDES-CBC',
    );
    const parsed = parseCertificateUpload({ pfxBase64, password }, NOW);
    expectParsedAs(parsed, rsa);
    expect(parsed.pfx).toEqual({ base64: pfxBase64, password });
  });

  it('reads the sandbox test identity packed by packPfx', () => {
    const pfx = packPfx(rsa);
    expectParsedAs(parseCertificateUpload(pfx, NOW), rsa);
  });

  it.each([['ascii-Passw0rd'], [NON_ASCII_PASSWORD]])(
    'reads an `openssl pkcs12 -export` PFX (OpenSSL 3 default: PBES2 AES-256-CBC) with the password %j',
    (password) => {
      const pfxBase64 = opensslPfx(rsa, password);
      expect(opensslInfo(pfxBase64, password)).toContain('PBES2, PBKDF2, AES-256-CBC');
      expectParsedAs(parseCertificateUpload({ pfxBase64, password }, NOW), rsa);
    },
  );

  it('node-forge alone cannot open an OpenSSL AES PFX with a non-ASCII password (why the parser corrects it)', () => {
    const pfxBase64 = opensslPfx(rsa, NON_ASCII_PASSWORD);
    const asn1 = forge.asn1.fromDer(Buffer.from(pfxBase64, 'base64').toString('binary'), false);
    expect(() => forge.pkcs12.pkcs12FromAsn1(asn1, false, NON_ASCII_PASSWORD)).toThrow();
  });

  it('reads an `openssl pkcs12 -export` PFX with an empty password', () => {
    const pfxBase64 = opensslPfx(rsa, '');
    expectParsedAs(parseCertificateUpload({ pfxBase64, password: '' }, NOW), rsa);
  });

  it('reads an EC P-256 PFX made by openssl (AES)', () => {
    const ec = opensslEcIdentity();
    const pfxBase64 = opensslPfx(ec, 'ec-password');
    expectParsedAs(parseCertificateUpload({ pfxBase64, password: 'ec-password' }, NOW), ec);
  });

  it('picks the certificate the key belongs to in a PFX carrying its chain (CA first)', async () => {
    const pki = await createSandboxPki();
    const pfxBase64 = forgePfx(
      pki.server,
      [pki.ca.certificatePem, pki.server.certificatePem],
      'chain-password',
      'aes256',
    );
    expectParsedAs(parseCertificateUpload({ pfxBase64, password: 'chain-password' }, NOW), pki.server);
  });

  it('hashes the thumbprints over the certificate bytes in the PFX, even bytes node-forge would re-encode differently', () => {
    // The outer signature algorithm without its NULL parameters: valid, unsigned, and rewritten by node-forge.
    const asn1 = forge.pki.certificateToAsn1(forge.pki.certificateFromPem(rsa.certificatePem));
    (asn1.value[1] as forge.asn1.Asn1).value = [
      ((asn1.value[1] as forge.asn1.Asn1).value as forge.asn1.Asn1[])[0],
    ];
    const der = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    const unusual: CertificateWithKey = {
      certificatePem: `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`,
      privateKeyPem: rsa.privateKeyPem,
    };
    const reEncoded = forge.asn1
      .toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromAsn1(asn1)))
      .getBytes();
    expect(Buffer.from(reEncoded, 'binary').equals(der)).toBe(false);
    const parsed = parseCertificateUpload({ pfxBase64: opensslPfx(unusual, 'pw'), password: 'pw' }, NOW);
    expectParsedAs(parsed, unusual);
    expect(parsed.thumbprint).not.toBe(rsa.thumbprint);
  });

  it('accepts base64 broken into lines (as `base64` or a browser may wrap it)', () => {
    const pfxBase64 = forgePfx(rsa, [rsa.certificatePem], 'wrapped', '3des');
    const wrapped = pfxBase64.replace(/(.{76})/g, '$1\r\n');
    const parsed = parseCertificateUpload({ pfxBase64: wrapped, password: 'wrapped' }, NOW);
    expect(parsed.pfx?.base64).toBe(pfxBase64);
  });

  if (LEGACY_RC2) {
    it('reads an `openssl pkcs12 -export -legacy` PFX (RC2-40 + 3DES, as old Windows exports), ASCII and non-ASCII passwords', () => {
      for (const password of ['legacy-Passw0rd', NON_ASCII_PASSWORD]) {
        const pfxBase64 = opensslPfx(rsa, password, ['-legacy']);
        expect(opensslInfo(pfxBase64, password, ['-legacy'])).toContain('pbeWithSHA1And40BitRC2-CBC');
        expectParsedAs(parseCertificateUpload({ pfxBase64, password }, NOW), rsa);
      }
    });
  } else {
    it('RC2-40 PFX NOT TESTED: this openssl cannot write one (no legacy provider), so no such file could be made', () => {
      expect(LEGACY_RC2).toBe(false);
    });
  }
});

// ---------------------------------------------------------------------------------------------- refusals

describe('parseCertificateUpload — refusals', () => {
  function expectRefused(upload: CertificateUpload, code: EsdErrorCode, says: RegExp | string, now = NOW) {
    const error = refusalOf(upload, now);
    expect(error.code).toBe(code);
    expect(error.httpStatus).toBe(422);
    expect(error.message).toMatch(says);
    return error;
  }

  it('CERTIFICATE_UNREADABLE: empty, not PEM, a key in the certificate field, a damaged certificate, too long', () => {
    const key = rsa.privateKeyPem;
    expectRefused({ pem: '', privateKeyPem: key }, EsdErrorCode.CERTIFICATE_UNREADABLE, /field is empty/);
    expectRefused(
      { pem: 'hello', privateKeyPem: key },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /not a PEM certificate/,
    );
    expectRefused(
      { pem: key, privateKeyPem: key },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /holds a private key/,
    );
    const damaged = rsa.certificatePem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    expectRefused({ pem: damaged, privateKeyPem: key }, EsdErrorCode.CERTIFICATE_UNREADABLE, /damaged/);
    expectRefused(
      { pem: rsa.certificatePem.repeat(60), privateKeyPem: key },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /at most 65536/,
    );
  });

  it('CERTIFICATE_UNREADABLE: a PFX that is empty, not base64, not a PFX, cut short, or too large', () => {
    const pfx = forgePfx(rsa, [rsa.certificatePem], 'pw', '3des');
    expectRefused(
      { pfxBase64: '', password: 'pw' },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /PFX file is empty/,
    );
    expectRefused(
      { pfxBase64: '@@@@', password: 'pw' },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /not a PFX or it is damaged/,
    );
    const random = randomBytes(1500).toString('base64');
    expectRefused(
      { pfxBase64: random, password: 'pw' },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /not a PFX .* or it is damaged/,
    );
    const cut = Buffer.from(pfx, 'base64').subarray(0, 1000).toString('base64');
    expectRefused(
      { pfxBase64: cut, password: 'pw' },
      EsdErrorCode.CERTIFICATE_UNREADABLE,
      /not a PFX .* or it is damaged/,
    );
    const huge = randomBytes(Math.ceil((PFX_BASE64_MAX_CHARS * 3) / 4) + 3).toString('base64');
    expectRefused({ pfxBase64: huge, password: 'pw' }, EsdErrorCode.CERTIFICATE_UNREADABLE, /too large/);
    // A PEM certificate uploaded in the PFX field.
    const pemAsPfx = Buffer.from(rsa.certificatePem).toString('base64');
    expectRefused({ pfxBase64: pemAsPfx, password: 'pw' }, EsdErrorCode.CERTIFICATE_UNREADABLE, /not a PFX/);
  });

  it('CERTIFICATE_PFX_WRONG_PASSWORD: a wrong password (3DES, AES, RC2) or a file changed after export', () => {
    const says = /password is wrong — or the file was changed/;
    const tripleDes = forgePfx(rsa, [rsa.certificatePem], 'right', '3des');
    expectRefused(
      { pfxBase64: tripleDes, password: 'wrong' },
      EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
      says,
    );
    expectRefused({ pfxBase64: tripleDes, password: '' }, EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD, says);
    const aes = opensslPfx(rsa, NON_ASCII_PASSWORD);
    expectRefused(
      { pfxBase64: aes, password: 'passwörd-ΕΛ' },
      EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
      says,
    );
    if (LEGACY_RC2) {
      const rc2 = opensslPfx(rsa, 'right', ['-legacy']);
      expectRefused({ pfxBase64: rc2, password: 'wrong' }, EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD, says);
    }
    // One byte changed inside the encrypted contents: the MAC no longer matches.
    const bytes = Buffer.from(tripleDes, 'base64');
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    expect(opensslInfo(bytes.toString('base64'), 'right')).toMatch(/mac verify error/i);
    expectRefused(
      { pfxBase64: bytes.toString('base64'), password: 'right' },
      EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
      says,
    );
  });

  it('CERTIFICATE_KEY_MISMATCH: the key of another certificate (PEM and PFX)', () => {
    expectRefused(
      { pem: rsa.certificatePem, privateKeyPem: other.privateKeyPem },
      EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
      'The private key does not belong to the certificate.',
    );
    const mixed = forgePfx(other, [rsa.certificatePem], 'pw', 'aes256');
    expectRefused(
      { pfxBase64: mixed, password: 'pw' },
      EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
      /does not belong/,
    );
    const ec = opensslEcIdentity();
    expectRefused(
      { pem: rsa.certificatePem, privateKeyPem: ec.privateKeyPem },
      EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
      /does not belong/,
    );
  });

  it('CERTIFICATE_EXPIRED names the date it expired', () => {
    const expired = createClientIdentity({
      commonName: 'ESD Parser Expired',
      notBefore: new Date('2024-03-01T12:00:00Z'),
      notAfter: new Date('2025-03-01T12:00:00Z'),
    });
    const error = expectRefused(
      { pem: expired.certificatePem, privateKeyPem: expired.privateKeyPem },
      EsdErrorCode.CERTIFICATE_EXPIRED,
      'The certificate "CN=ESD Parser Expired, O=ESD Sandbox" expired on 2025-03-01. Upload its renewal.',
    );
    expect(error.message).toContain('2025-03-01');
    // The same certificate is accepted by a clock set before its end.
    expect(
      parseCertificateUpload(
        { pem: expired.certificatePem, privateKeyPem: expired.privateKeyPem },
        new Date('2025-02-28T00:00:00Z'),
      ).thumbprint,
    ).toBe(expired.thumbprint);
  });

  it('CERTIFICATE_NOT_YET_VALID names when it starts', () => {
    const start = new Date(Math.floor((NOW.getTime() + 10 * DAY) / 1000) * 1000);
    const future = createClientIdentity({ commonName: 'ESD Parser Future', notBefore: start });
    expectRefused(
      { pem: future.certificatePem, privateKeyPem: future.privateKeyPem },
      EsdErrorCode.CERTIFICATE_NOT_YET_VALID,
      `is valid only from ${start.toISOString()}`,
    );
  });

  it('CERTIFICATE_KEY_MISSING: empty key field, not a key, a public key, an encrypted key, a PFX without a key', () => {
    const pem = rsa.certificatePem;
    expectRefused(
      { pem, privateKeyPem: '' },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /private key field is empty/,
    );
    expectRefused(
      { pem, privateKeyPem: '  \n' },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /private key field is empty/,
    );
    expectRefused(
      { pem, privateKeyPem: 'not a key' },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /not a PEM private key/,
    );
    expectRefused({ pem, privateKeyPem: pem }, EsdErrorCode.CERTIFICATE_KEY_MISSING, /not a PEM private key/);
    const publicPem = createPublicKey(rsa.privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
    expectRefused(
      { pem, privateKeyPem: publicPem },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /not a PEM private key/,
    );
    const encrypted = createPrivateKey(rsa.privateKeyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret-passphrase' })
      .toString();
    expect(encrypted).toContain('ENCRYPTED');
    expectRefused(
      { pem, privateKeyPem: encrypted },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /encrypted with a passphrase/,
    );
    const noKey = forgePfx(null, [rsa.certificatePem], 'pw', '3des');
    expectRefused(
      { pfxBase64: noKey, password: 'pw' },
      EsdErrorCode.CERTIFICATE_KEY_MISSING,
      /holds no private key/,
    );
  });

  it('never shows the key, the PFX or the password in a refusal', () => {
    const password = 'Very-Secret-Pfx-Password-42';
    const pfx = forgePfx(rsa, [rsa.certificatePem], password, 'aes256');
    const changed = Buffer.from(pfx, 'base64');
    changed[Math.floor(changed.length / 2)] ^= 0xff;
    const cases: CertificateUpload[] = [
      { pfxBase64: pfx, password: password + 'x' },
      { pfxBase64: changed.toString('base64'), password },
      { pfxBase64: pfx.slice(0, 2000), password },
      { pem: rsa.certificatePem, privateKeyPem: other.privateKeyPem },
      { pem: rsa.certificatePem, privateKeyPem: other.privateKeyPem.slice(0, 300) },
      { pem: rsa.privateKeyPem, privateKeyPem: rsa.privateKeyPem },
    ];
    for (const upload of cases) {
      const text = shown(refusalOf(upload));
      expect(text).not.toContain(password);
      expect(text).not.toContain(pfx.slice(100, 140));
      expect(text).not.toContain(keyBody(rsa.privateKeyPem));
      expect(text).not.toContain(keyBody(other.privateKeyPem));
    }
  });
});
