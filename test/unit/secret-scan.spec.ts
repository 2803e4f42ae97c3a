import { createPublicKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createClientIdentity, packPfx } from '../../sandbox/cis/test-identity';
import { randomProductKey } from '../../sandbox/cis/token-ledger';
import {
  findSecrets,
  formatScanReport,
  isScannedResponse,
  MIN_VALUE_LEAK,
  PUBLIC_KIND,
  redactedContext,
  redactText,
  scanCaptureDir,
  SECRET_KINDS,
  SecretValues,
  type CaptureRecord,
  type SecretRecord,
} from '../support/secret-scan';

const identity = createClientIdentity();
const pfx = packPfx(identity);
/** What the sandbox's identity provider issues: 32 random bytes, base64url (sandbox-state.ts). */
const accessToken = randomBytes(32).toString('base64url');
const jwt = [
  Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ aud: 'https://cis.sandbox.esd.local', exp: 1 })).toString('base64url'),
  randomBytes(64).toString('base64url'),
].join('.');

function registered(): SecretValues {
  const values = new SecretValues();
  values.add('PFX', pfx.pfxBase64);
  values.add('PFX password', pfx.password);
  values.add('private key', identity.privateKeyPem);
  values.add('access token', accessToken);
  values.add(PUBLIC_KIND, identity.certificatePem);
  return values;
}

const kinds = (text: string, values?: SecretValues) => findSecrets(text, values).map((f) => f.kind);

describe('secret scan: what a secret looks like', () => {
  it("finds a whole product key over Microsoft's alphabet (the sandbox's), but not the masked form", () => {
    const key = randomProductKey();
    expect(kinds(`license 1a2b issued ${key} to acct`)).toEqual([SECRET_KINDS.productKey]);
    expect(kinds(`{"productKey":"${key}"}`)).toEqual([SECRET_KINDS.productKey]);
    expect(kinds(`{"productKey":"N${key.slice(1)}"}`)).toEqual([]); // N is not in the alphabet
    expect(kinds(`key *****-*****-*****-*****-${key.slice(-5)} link https://x`)).toEqual([]);
    expect(kinds(`${key}-BCDFG, and glued to a word: x${key}`)).toEqual([SECRET_KINDS.productKey]);
    // The OpenAPI document's example, a UUID, a date, four groups.
    expect(
      kinds(
        '"example":"ABCDE-FGHIJ-KLMNO-PQRST-7QX4P" 2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b 2026-01-01 BCDFG-HJKMP-QRTVW-XY234',
      ),
    ).toEqual([]);
  });

  it('finds a PEM private key, raw or JSON-escaped, but not a header on its own', () => {
    expect(kinds(`key:\n${identity.privateKeyPem}\nend`)).toEqual([SECRET_KINDS.pemPrivateKey]);
    expect(kinds(JSON.stringify({ msg: identity.privateKeyPem }))).toEqual([SECRET_KINDS.pemPrivateKey]);
    // The header line of the key made at run time, alone: no key in it.
    const header = identity.privateKeyPem.split('\n')[0];
    expect(header).toMatch(/^-----BEGIN [A-Z ]*PRIVATE KEY-----$/);
    expect(kinds(`expected a PEM "${header}" block, got none`)).toEqual([]);
    expect(kinds(identity.certificatePem)).toEqual([]);
  });

  it('finds a JWT, a bearer token and an access_token field', () => {
    expect(kinds(`assertion=${jwt}&x=1`)).toEqual([SECRET_KINDS.jwt]);
    expect(kinds(`Authorization: Bearer ${accessToken}`)).toEqual([SECRET_KINDS.bearer]);
    expect(kinds(`{"token_type":"Bearer","access_token":"${accessToken}"}`)).toEqual([
      SECRET_KINDS.accessTokenField,
    ]);
    expect(kinds('Authorization: Bearer [redacted]; access_token: [redacted]')).toEqual([]);
  });

  it('finds registered values: the PFX, its password, the key body, an opaque access token, a piece of one', () => {
    const values = registered();
    expect(kinds(`upload ${pfx.pfxBase64} done`, values)).toEqual(['PFX']);
    expect(kinds(`password=${pfx.password}`, values)).toEqual(['PFX password']);
    expect(kinds(`token ${accessToken} cached`, values)).toEqual(['access token']);
    // A line past the modulus (the first lines hold it, and the certificate shows it): the private exponent.
    const body = identity.privateKeyPem.split('\n')[12];
    expect(kinds(`a line of it: "${body}"`, values)).toEqual(['private key']);
    // From its encrypted key (the certificate it carries in the clear is public).
    const middle = pfx.pfxBase64.slice(2000, 2000 + MIN_VALUE_LEAK);
    expect(kinds(`truncated …${middle}…`, values)).toEqual(['PFX']);
    // Without the values, an opaque token is noise.
    expect(kinds(`token ${accessToken} cached`)).toEqual([]);
  });

  it('does not take public material for a secret: the certificate, though the PFX and the key share parts of it', () => {
    const values = registered();
    expect(kinds(identity.certificatePem, values)).toEqual([]);
    expect(kinds(JSON.stringify({ certificatePem: identity.certificatePem }), values)).toEqual([]);
    // Its public key on its own, as PEM and as a JWK (the modulus base64url-encoded from its first byte).
    const publicKey = createPublicKey(identity.privateKeyPem);
    expect(kinds(publicKey.export({ type: 'spki', format: 'pem' }).toString(), values)).toEqual([]);
    expect(kinds(publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(), values)).toEqual([]);
    expect(kinds(JSON.stringify(publicKey.export({ format: 'jwk' })), values)).toEqual([]);
  });
});

describe('secret scan: which responses', () => {
  it.each([
    ['/esd/licenses?limit=10', true],
    ['/esd/instances/2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b', true],
    ['/api/billing/esd/offers', true],
    ['/host/orders/1', true],
    ['/host/events', true],
    ['/esd/licenses/1/reveal', false],
    ['/esd/my/licenses/1/reveal?x=1', false],
    ['/host/notifications', false],
    ['/host/notifications?cursor=abc', false],
    ['/channels/1000012345/tokens', false],
    ['/__sandbox/credentials', false],
    ['/2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b/oauth2/v2.0/token', false],
    ['/', false],
    [undefined, false],
  ])('%s → %s', (url, scanned) => {
    expect(isScannedResponse(url)).toBe(scanned);
  });
});

describe('secret scan: a finding never shows the secret', () => {
  const secrets = () => [identity.privateKeyPem, pfx.pfxBase64, pfx.password, accessToken, jwt];

  function expectNoSecret(message: string, key: string): void {
    expect(message).not.toContain(key);
    for (const secret of secrets()) {
      for (let i = 0; i + 16 <= secret.length; i += 8) {
        const piece = secret.slice(i, i + 16);
        if (!/[\s-]/.test(piece)) expect(message).not.toContain(piece);
      }
    }
  }

  it('blanks every secret and long run near the finding, on one line', () => {
    const key = randomProductKey();
    const text = `before ${pfx.password} and ${key} then\n${identity.privateKeyPem}\nand ${jwt} ${pfx.pfxBase64} end`;
    const values = registered();
    const findings = findSecrets(text, values);
    expect(findings.map((f) => f.kind)).toEqual([
      'PFX password',
      SECRET_KINDS.productKey,
      SECRET_KINDS.pemPrivateKey,
      SECRET_KINDS.jwt,
      'PFX',
    ]);
    for (const finding of findings) {
      const context = redactedContext(text, finding, findings);
      expect(context).toContain(`[REDACTED ${finding.kind}]`);
      expect(context).not.toContain('\n');
      expectNoSecret(context, key);
    }
    expect(redactedContext(text, findings[1], findings)).toMatch(
      /^before \[REDACTED PFX password\] and \[REDACTED full product key\] then⏎\[REDACTED PEM private key\]/,
    );
  });

  it('keeps a UUID in a label, blanks a key and a long run', () => {
    const key = randomProductKey();
    expect(
      redactText(`POST /esd/licenses/2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b/x?k=${key}&t=${accessToken}`),
    ).toBe(
      'POST /esd/licenses/2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b/x?k=[REDACTED full product key]&t=[43 chars]',
    );
  });

  describe('scanning a capture directory', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-scan-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const write = (name: string, records: Array<CaptureRecord | SecretRecord>) =>
      fs.writeFileSync(path.join(dir, name), records.map((r) => `${JSON.stringify(r)}\n`).join(''));

    it('counts what it read and says no secret was found', async () => {
      const key = randomProductKey();
      write('100.log', [
        { t: 'stdout', src: 'stdout', data: 'PASS test/unit/a.spec.ts\n' },
        {
          t: 'response',
          src: '#1 GET /esd/licenses',
          data: `{"key":"*****-*****-*****-*****-${key.slice(-5)}"}`,
        },
        { t: 'response', src: '#1 GET /esd/licenses', data: '', end: true, status: 200 },
        { t: 'child', src: 'worker-process 7 stdout', data: 'Reference host: http://127.0.0.1:1\n' },
      ]);
      write('100.secrets', [{ kind: 'PFX', value: pfx.pfxBase64 }]);
      write('200.log', [{ t: 'stderr', src: 'stderr', data: 'ok' }]);
      const report = await scanCaptureDir(dir);
      expect(report).toMatchObject({ responses: 1, processes: 3, values: 1, findings: [] });
      expect(formatScanReport(report)).toBe(
        `secret scan: ${report.logBytes} bytes of logs and 1 responses from 3 processes, no secret found ` +
          '(looked for 5 patterns and 1 registered secret values)',
      );
      expect(report.logBytes).toBe(25 + 35 + 2);
    });

    it('names the file, the kind, the source and the test, finds a secret cut between two records once', async () => {
      const key = randomProductKey();
      write('300.log', [
        { t: 'child', src: 'chaos-node 9 stdout', data: `provisioned ${key.slice(0, 13)}` },
        { t: 'child', src: 'chaos-node 9 stderr', data: 'unrelated' },
        { t: 'child', src: 'chaos-node 9 stdout', data: `${key.slice(13)} for license 1\n` },
        { t: 'child', src: 'chaos-node 9 stdout', data: 'next line\n' },
        {
          t: 'response',
          src: '#4 POST /esd/instances',
          test: 'test/integration/x.spec.ts › uploads',
          data: `{"echo":"${pfx.password}"}`,
          end: true,
          status: 201,
        },
      ]);
      write('300.secrets', [{ kind: 'sandbox PFX password', value: pfx.password }]);
      const report = await scanCaptureDir(dir, { relativeTo: path.dirname(dir) });
      expect(report.findings).toEqual([
        {
          file: path.join(path.basename(dir), '300.log'),
          kind: SECRET_KINDS.productKey,
          source: 'child chaos-node 9 stdout',
          context: `provisioned [REDACTED ${SECRET_KINDS.productKey}] for license 1⏎`,
        },
        {
          file: path.join(path.basename(dir), '300.log'),
          kind: 'sandbox PFX password',
          source: 'response POST /esd/instances → 201',
          test: 'test/integration/x.spec.ts › uploads',
          context: '{"echo":"[REDACTED sandbox PFX password]"}',
        },
      ]);
      const message = formatScanReport(report);
      expect(message).toMatch(/^secret scan: .* 2 secret\(s\) found/);
      expect(message).toContain(
        `300.log: ${SECRET_KINDS.productKey} in child chaos-node 9 stdout: provisioned`,
      );
      expect(message).toContain(
        '300.log: sandbox PFX password in response POST /esd/instances → 201 during test/integration/x.spec.ts › uploads',
      );
      expectNoSecret(message, key);
    });
  });
});
