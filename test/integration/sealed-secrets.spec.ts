/**
 * Sealed secrets on the migrated schema of real databases: what the certificate store writes is ciphertext with
 * its key id (read back with plain SQL), one row per thumbprint even when two uploads race, and a key rotation
 * — old values readable under a previous key, `resealAll()` moving them all, the old key then useless.
 */
import { instanceRow } from '../support/factories';
import Bull from 'bull';
import { randomBytes } from 'node:crypto';
import * as forge from 'node-forge';
import { DataSource } from 'typeorm';
import { createClientIdentity, packPfx, type ClientIdentity } from '../../sandbox/cis/test-identity';
import { EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { CertificateEntity } from '../../src/settings/certificate.entity';
import { PFX_BASE64_MAX_CHARS } from '../../src/settings/certificate-parser';
import { CertificateService, expiryWarning } from '../../src/settings/certificate.service';
import { ResealProcessor, type ResealSecretsJobData } from '../../src/settings/reseal.processor';
import { ResealService } from '../../src/settings/reseal.service';
import { SecretSealer, sealingKeyId, type SealedValue } from '../../src/settings/secret-sealer';
import { newId } from '../../src/storage/entity-columns';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../support/databases';
import { requireService } from '../support/services';

const DAY = 86_400_000;

describe('expiryWarning', () => {
  const now = new Date('2026-11-25T10:00:00Z');
  const at = (days: number, hours = 0) => new Date(now.getTime() + days * DAY + hours * 3_600_000);

  it('is null while more than 30 days are left', () => {
    expect(expiryWarning(at(31), now)).toBeNull();
    expect(expiryWarning(at(30, 1), now)).toBeNull();
  });

  it('says the date and the days left, and what to do, from 30 days on', () => {
    expect(expiryWarning(at(15, 2), now)).toBe(
      'The certificate expires on 2026-12-10 (in 15 days): upload its renewal and switch the instances that use it.',
    );
    expect(expiryWarning(at(30), now)).toContain('(in 30 days)');
    expect(expiryWarning(at(1, 5), now)).toContain('(in 1 day)');
    expect(expiryWarning(at(0, 5), now)).toContain('expires on 2026-11-25 (today)');
  });

  it('says when it expired once it has', () => {
    expect(expiryWarning(at(-3), now)).toBe(
      'The certificate expired on 2026-11-22: upload its renewal and switch the instances that use it.',
    );
  });
});

/** A PFX (3DES) of the identity followed by `chain` certificates, as base64. */
function pfxOfChain(identity: ClientIdentity, chain: string[], password: string): string {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(identity.privateKeyPem),
    [identity.certificatePem, ...chain].map((pem) => forge.pki.certificateFromPem(pem)),
    password,
    { algorithm: '3des' },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary').toString('base64');
}

describe.each(DATABASE_KINDS)('sealed secrets on %s', (kind) => {
  let db: TestDatabase;
  let ds: DataSource;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const keyC = randomBytes(32);
  let identity: ClientIdentity;

  /** The services as a node configured with these keys would have them. */
  function node(secretKey: Buffer, previousSecretKeys: Buffer[] = []) {
    const sealer = new SecretSealer({ secretKey, previousSecretKeys });
    return {
      sealer,
      certificates: new CertificateService(ds, sealer),
      reseal: new ResealService(ds, sealer),
    };
  }

  /** Plain SQL, the driver's own placeholder. */
  function rawRows<T = Record<string, string | null>>(sql: string, params: unknown[] = []): Promise<T[]> {
    let n = 0;
    const text = kind === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
    return ds.query(text, params);
  }

  const rawCertificate = async (id: string) =>
    (await rawRows('SELECT * FROM esd_certificate WHERE id = ?', [id]))[0];

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    ds = new DataSource(db.dataSourceOptions);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    identity = createClientIdentity({ commonName: `ESD Sealed ${kind}` });
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('stores a PFX upload as ciphertext with the current key id: never the key, the PFX or the password', async () => {
    const { sealer, certificates } = node(keyA);
    const pfx = packPfx(identity, 'Pfx-Pässwörd-ΕΛ-7');
    const view = await certificates.store(pfx);

    expect(view).toEqual({
      id: expect.any(String),
      thumbprint: identity.thumbprint,
      thumbprintSha256: identity.thumbprintSha256,
      subject: `CN=ESD Sealed ${kind}, O=ESD Sandbox`,
      notBefore: expect.any(String),
      expiresAt: identity.expiresAt,
      expiresInDays: 364,
      expiryWarning: null,
    });

    const raw = await rawCertificate(view.id);
    const sealedColumns = ['private_key_sealed', 'pfx_sealed', 'pfx_password_sealed'] as const;
    const keyBody = identity.privateKeyPem.split('\n')[3];
    for (const column of sealedColumns) {
      const value = raw[column]!;
      expect(Buffer.from(value, 'base64')[0]).toBe(1);
      expect(value).not.toContain(keyBody);
      expect(value).not.toContain('PRIVATE KEY');
      expect(value).not.toContain(pfx.pfxBase64.slice(200, 240));
      expect(value).not.toContain(pfx.password);
      expect(value).not.toBe(pfx.pfxBase64);
    }
    expect(raw.private_key_key_id).toBe(sealer.currentKeyId);
    expect(raw.pfx_key_id).toBe(sealer.currentKeyId);
    expect(raw.pfx_password_key_id).toBe(sealer.currentKeyId);
    expect(raw.thumbprint).toBe(identity.thumbprint);

    // The ciphertexts are the secrets, sealed.
    const open = (column: (typeof sealedColumns)[number], keyIdColumn: string) =>
      sealer.open({ ciphertext: raw[column]!, keyId: raw[keyIdColumn]! });
    expect(open('private_key_sealed', 'private_key_key_id')).toBe(identity.privateKeyPem);
    expect(open('pfx_sealed', 'pfx_key_id')).toBe(pfx.pfxBase64);
    expect(open('pfx_password_sealed', 'pfx_password_key_id')).toBe(pfx.password);

    // The entity does not select them unless asked.
    const entity = await ds.manager.findOneByOrFail(CertificateEntity, { id: view.id });
    expect(entity.privateKeySealed).toBeUndefined();
    expect(entity.pfxPasswordSealed).toBeUndefined();
  });

  it('stores a PFX just under the upload limit: sealed, it still fits a text column (64 KB on MariaDB)', async () => {
    const { sealer, certificates } = node(keyA);
    const big = createClientIdentity({ commonName: `ESD Sealed Big ${kind}` });
    // The certificate repeated as its own "chain" until the file nears the limit.
    const pfxWith = (copies: number) =>
      pfxOfChain(big, Array(copies).fill(big.certificatePem) as string[], 'big-password');
    const base = pfxWith(0).length;
    const perCopy = pfxWith(1).length - base;
    const pfxBase64 = pfxWith(Math.floor((PFX_BASE64_MAX_CHARS - base) / perCopy));
    expect(pfxBase64.length).toBeGreaterThan(PFX_BASE64_MAX_CHARS - 2 * perCopy);
    expect(pfxBase64.length).toBeLessThanOrEqual(PFX_BASE64_MAX_CHARS);

    const view = await certificates.store({ pfxBase64, password: 'big-password' });
    const raw = await rawCertificate(view.id);
    expect(raw.pfx_sealed!.length).toBeGreaterThan(60_000);
    expect(raw.pfx_sealed!.length).toBeLessThanOrEqual(65_535);
    expect(sealer.open({ ciphertext: raw.pfx_sealed!, keyId: raw.pfx_key_id! })).toBe(pfxBase64);
  });

  it('stores a PEM upload with its key sealed and no PFX; loadMaterial gives back the exact PEMs', async () => {
    const { certificates } = node(keyA);
    const pem = createClientIdentity({ commonName: `ESD Sealed PEM ${kind}` });
    const view = await certificates.store({ pem: pem.certificatePem, privateKeyPem: pem.privateKeyPem });
    const raw = await rawCertificate(view.id);
    expect(raw.private_key_sealed).toEqual(expect.any(String));
    expect(raw.pfx_sealed).toBeNull();
    expect(raw.pfx_password_sealed).toBeNull();
    expect(raw.pfx_key_id).toBeNull();

    const material = await certificates.loadMaterial(view.id);
    expect(material.privateKeyPem).toBe(pem.privateKeyPem);
    // node-forge writes CRLF line ends; the store keeps the certificate as Node writes it.
    expect(material.certificatePem).toBe(pem.certificatePem.replace(/\r\n/g, '\n'));
    expect(raw.certificate_pem).toBe(material.certificatePem);

    expect(await certificates.get(view.id)).toEqual(view);
    expect((await certificates.list()).map((c) => c.id)).toContain(view.id);
    await expect(certificates.get(newId())).rejects.toMatchObject({ code: EsdErrorCode.NOT_FOUND });
    await expect(certificates.loadMaterial(newId())).rejects.toMatchObject({ code: EsdErrorCode.NOT_FOUND });
  });

  it('shows the expiry warning of a certificate expiring within 30 days', async () => {
    const soon = createClientIdentity({
      commonName: `ESD Sealed Soon ${kind}`,
      notBefore: new Date(Date.now() - 300 * DAY),
      notAfter: new Date(Date.now() + 15 * DAY + 3_600_000),
    });
    const view = await node(keyA).certificates.store({
      pem: soon.certificatePem,
      privateKeyPem: soon.privateKeyPem,
    });
    expect(view.expiresInDays).toBe(15);
    expect(view.expiryWarning).toBe(
      `The certificate expires on ${soon.expiresAt.slice(0, 10)} (in 15 days): upload its renewal and switch the instances that use it.`,
    );
  });

  it('keeps one row per thumbprint: the same certificate again answers the existing row, its secrets re-sealed', async () => {
    const { sealer, certificates } = node(keyA);
    const again = createClientIdentity({ commonName: `ESD Sealed Again ${kind}` });
    const first = await certificates.store(packPfx(again, 'first-password'));
    const before = await rawCertificate(first.id);

    // As PEM: same row, new private key ciphertext, the PFX stored earlier kept.
    const asPem = await certificates.store({ pem: again.certificatePem, privateKeyPem: again.privateKeyPem });
    expect(asPem).toEqual(first);
    const afterPem = await rawCertificate(first.id);
    expect(afterPem.private_key_sealed).not.toBe(before.private_key_sealed);
    expect(afterPem.pfx_sealed).toBe(before.pfx_sealed);

    // As a PFX under another password, inside the caller's transaction: the PFX and password are replaced.
    const asPfx = await ds.transaction((m) => certificates.store(packPfx(again, 'second-password'), m));
    expect(asPfx.id).toBe(first.id);
    const afterPfx = await rawCertificate(first.id);
    expect(
      sealer.open({ ciphertext: afterPfx.pfx_password_sealed!, keyId: afterPfx.pfx_password_key_id! }),
    ).toBe('second-password');

    const [{ n }] = await rawRows<{ n: string | number }>(
      'SELECT COUNT(*) AS n FROM esd_certificate WHERE thumbprint = ?',
      [again.thumbprint],
    );
    expect(Number(n)).toBe(1);
  });

  // Not on SQLite: better-sqlite3 has one connection and one writer, so two uploads cannot overlap there.
  if (kind !== 'sqlite') {
    it('keeps one row when a second upload races the first (its insert waits, loses on the unique key, re-seals)', async () => {
      const { sealer, certificates } = node(keyA);
      const racing = createClientIdentity({ commonName: `ESD Sealed Race ${kind}` });
      let inserted!: () => void;
      let commit!: () => void;
      const insertedSignal = new Promise<void>((resolve) => (inserted = resolve));
      const commitSignal = new Promise<void>((resolve) => (commit = resolve));

      const first = ds.transaction(async (m) => {
        const view = await certificates.store(packPfx(racing, 'winner-password'), m);
        inserted();
        await commitSignal;
        return view;
      });
      await insertedSignal;
      // The first row is not committed: the second upload does not see it and its insert waits on the unique key.
      const second = certificates.store(packPfx(racing, 'loser-password'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      commit();
      const [winner, loser] = await Promise.all([first, second]);

      expect(loser.id).toBe(winner.id);
      const rows = await rawRows('SELECT * FROM esd_certificate WHERE thumbprint = ?', [racing.thumbprint]);
      expect(rows).toHaveLength(1);
      // The later upload's secrets are the ones kept.
      expect(
        sealer.open({ ciphertext: rows[0].pfx_password_sealed!, keyId: rows[0].pfx_password_key_id! }),
      ).toBe('loser-password');
    });
  }

  describe('key rotation', () => {
    let instanceId: string;

    async function license(token: SealedValue | null, link: SealedValue | null): Promise<string> {
      const row = Object.assign(new LicenseEntity(), {
        id: newId(),
        instanceId,
        offerRefId: null,
        productCode: 'CFQ7TTC0LH18',
        productName: 'Office Home 2024',
        country: 'GR',
        language: 'el-GR',
        customerAccountId: 'C1',
        customerName: 'Ελένη Παπαδοπούλου',
        customerEmail: null,
        customerCountry: 'GR',
        customerLocale: null,
        billToAccountId: 'R1',
        resellerAccountId: null,
        hostOrderId: newId(),
        hostOrderItemId: newId(),
        unitIndex: 0,
        clientTransactionId: newId(),
        status: 'active',
        purchaseDate: new Date(),
        priceAmountMinor: 14900,
        priceCurrency: 'EUR',
        provisioningStatus: 'Synchronized',
        provisioningErrorCode: null,
        provisioningErrorMessage: null,
        nextAttemptAt: null,
        vendorTransactionId: 'T-1',
        tokenSealed: token?.ciphertext ?? null,
        tokenKeyId: token?.keyId ?? null,
        activationLinkSealed: link?.ciphertext ?? null,
        activationLinkKeyId: link?.keyId ?? null,
        tokenLastGroup: '7QX4P',
        tokenStatus: 'Activated',
        tokenCreatedAt: new Date(),
        tokenStatusCheckedAt: null,
        redeemedAt: null,
        welcomeSentAt: null,
        returnStatus: 'None',
        returnReasonCode: null,
        returnReasonMessage: null,
      });
      await ds.manager.save(row);
      return row.id;
    }

    /** Every sealed value in the database: table, column, ciphertext, key id. */
    async function sealedValues() {
      const certificates = await rawRows('SELECT * FROM esd_certificate ORDER BY id');
      const licenses = await rawRows('SELECT * FROM esd_license ORDER BY id');
      const values: { where: string; ciphertext: string; keyId: string }[] = [];
      const collect = (table: string, rows: Record<string, string | null>[], pairs: [string, string][]) => {
        for (const row of rows) {
          for (const [sealed, keyId] of pairs) {
            if (row[sealed] !== null) {
              values.push({
                where: `${table}.${sealed}#${row.id}`,
                ciphertext: row[sealed],
                keyId: row[keyId]!,
              });
            }
          }
        }
      };
      collect('esd_certificate', certificates, [
        ['private_key_sealed', 'private_key_key_id'],
        ['pfx_sealed', 'pfx_key_id'],
        ['pfx_password_sealed', 'pfx_password_key_id'],
      ]);
      collect('esd_license', licenses, [
        ['token_sealed', 'token_key_id'],
        ['activation_link_sealed', 'activation_link_key_id'],
      ]);
      return values;
    }

    beforeAll(async () => {
      await rawRows('DELETE FROM esd_license');
      await rawRows('DELETE FROM esd_instance');
      await rawRows('DELETE FROM esd_certificate');
      const instance = instanceRow({ id: newId() });

      await ds.manager.save(instance);
      instanceId = instance.id;
    });

    it('opens old values under a previous key, moves them all with resealAll(), after which the old key is useless', async () => {
      // Sealed under key A: a PFX certificate (3 values) and two licenses (token + link, token only).
      const a = node(keyA);
      const rotated = createClientIdentity({ commonName: `ESD Rotation ${kind}` });
      const certificate = await a.certificates.store(packPfx(rotated, 'rotation-password'));
      const plaintexts = new Map<string, string>();
      const token = 'NKJFK-GPHP7-G8C3J-P6JXR-7QX4P';
      const link = 'https://esd.example/activate?key=NKJFK-GPHP7-G8C3J-P6JXR-7QX4P';
      const withBoth = await license(a.sealer.seal(token), a.sealer.seal(link));
      const tokenOnly = await license(a.sealer.seal(token), null);
      const underA = await sealedValues();
      expect(underA).toHaveLength(6);
      expect(new Set(underA.map((v) => v.keyId))).toEqual(new Set([sealingKeyId(keyA)]));
      for (const v of underA) plaintexts.set(v.where, a.sealer.open(v));

      // Restart with B as the key and A as a previous key: everything still opens; new values go under B.
      const b = node(keyB, [keyA]);
      expect((await b.certificates.loadMaterial(certificate.id)).privateKeyPem).toBe(rotated.privateKeyPem);
      const fresh = createClientIdentity({ commonName: `ESD Rotation Fresh ${kind}` });
      await b.certificates.store(packPfx(fresh, 'fresh-password'));
      for (const v of underA) expect(b.sealer.open(v)).toBe(plaintexts.get(v.where));
      const freshValues = (await sealedValues()).filter((v) => !plaintexts.has(v.where));
      expect(freshValues.map((v) => v.keyId)).toEqual(Array(3).fill(sealingKeyId(keyB)));
      for (const v of freshValues) plaintexts.set(v.where, b.sealer.open(v));
      expect([...plaintexts.values()]).toEqual(
        expect.arrayContaining([fresh.privateKeyPem, 'fresh-password']),
      );

      expect(await b.reseal.resealAll()).toEqual({ resealed: 6, alreadyCurrent: 3 });

      const after = await sealedValues();
      expect(after).toHaveLength(9);
      for (const v of after) {
        expect(v.keyId).toBe(sealingKeyId(keyB));
        const old = underA.find((u) => u.where === v.where);
        if (old) expect(v.ciphertext).not.toBe(old.ciphertext);
      }
      // A second run has nothing left to do.
      expect(await b.reseal.resealAll()).toEqual({ resealed: 0, alreadyCurrent: 9 });

      // Only B configured: everything opens. Only A: nothing does, loudly, naming B's key id.
      const onlyB = node(keyB);
      for (const v of after) expect(onlyB.sealer.open(v)).toBe(plaintexts.get(v.where));
      expect((await onlyB.certificates.loadMaterial(certificate.id)).privateKeyPem).toBe(
        rotated.privateKeyPem,
      );
      const onlyA = node(keyA);
      for (const v of after) {
        expect(() => onlyA.sealer.open(v)).toThrow(`key id ${sealingKeyId(keyB)}, which is not configured`);
      }
      await expect(onlyA.certificates.loadMaterial(certificate.id)).rejects.toMatchObject({
        code: EsdErrorCode.SEALED_SECRET_UNREADABLE,
      });

      // The re-sealed licenses read back through the entity: token and link, and no link where there was none.
      const licenses = await ds.manager
        .createQueryBuilder(LicenseEntity, 'l')
        .addSelect(['l.tokenSealed', 'l.tokenKeyId', 'l.activationLinkSealed', 'l.activationLinkKeyId'])
        .where('l.id IN (:...ids)', { ids: [withBoth, tokenOnly] })
        .getMany();
      const opened = Object.fromEntries(
        licenses.map((l) => [
          l.id,
          {
            token: onlyB.sealer.open({ ciphertext: l.tokenSealed!, keyId: l.tokenKeyId! }),
            link: l.activationLinkSealed
              ? onlyB.sealer.open({ ciphertext: l.activationLinkSealed, keyId: l.activationLinkKeyId! })
              : null,
            version: l.version,
          },
        ]),
      );
      expect(opened[withBoth]).toEqual({ token, link, version: 2 });
      expect(opened[tokenOnly]).toEqual({ token, link: null, version: 2 });
    });

    it('moves what it can and then fails loudly, naming the column and the key id it cannot open', async () => {
      const c = node(keyC);
      const orphan = await license(c.sealer.seal('NKJFK-GPHP7-G8C3J-P6JXR-ORPHN'), null);
      const a = node(keyA);
      const movable = await license(a.sealer.seal('NKJFK-GPHP7-G8C3J-P6JXR-MOVED'), null);

      const b = node(keyB, [keyA]);
      const currentBefore = (await sealedValues()).filter((v) => v.keyId === sealingKeyId(keyB)).length;
      const error = await b.reseal.resealAll().then(
        () => {
          throw new Error('resealAll() did not fail');
        },
        (e: unknown) => e as EsdError,
      );
      expect(error).toBeInstanceOf(EsdError);
      expect(error.code).toBe(EsdErrorCode.SEALED_SECRET_UNREADABLE);
      expect(error.message).toContain(`1 in esd_license.token_sealed (key id ${sealingKeyId(keyC)})`);
      expect(error.message).toContain('previousSecretKeys');
      expect(error.message).not.toContain('ORPHN');

      const [moved] = await rawRows('SELECT token_key_id FROM esd_license WHERE id = ?', [movable]);
      expect(moved.token_key_id).toBe(sealingKeyId(keyB));
      const [left] = await rawRows('SELECT token_key_id FROM esd_license WHERE id = ?', [orphan]);
      expect(left.token_key_id).toBe(sealingKeyId(keyC));

      // With C configured as a previous key, the next run finishes the job.
      expect(await node(keyB, [keyA, keyC]).reseal.resealAll()).toEqual({
        resealed: 1,
        alreadyCurrent: currentBefore + 1,
      });
    });
  });
});

describe('ResealProcessor on a Bull queue (Redis)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let queue: Bull.Queue<ResealSecretsJobData>;
  let processor: ResealProcessor;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);

  /** A worker node configured with these keys. */
  function worker(secretKey: Buffer, previousSecretKeys: Buffer[] = []): ResealProcessor {
    const sealer = new SecretSealer({ secretKey, previousSecretKeys });
    return new ResealProcessor(new ResealService(ds, sealer), sealer);
  }

  /** Adds the job and waits for its first outcome: the result, or the error of its first failed attempt. */
  function runOnce(data: ResealSecretsJobData, attempts: number) {
    return new Promise<{ job: Bull.Job<ResealSecretsJobData>; result?: unknown; error?: Error }>(
      (resolve) => {
        queue.once('completed', (job, result) => resolve({ job, result }));
        queue.once('failed', (job, error) => resolve({ job, error }));
        void queue.add('reseal-secrets', data, { attempts, backoff: { type: 'fixed', delay: 60_000 } });
      },
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    ds = new DataSource(db.dataSourceOptions);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    queue = new Bull(`esd-test-reseal-${randomBytes(4).toString('hex')}`, await requireService('redis'));
    void queue.process('reseal-secrets', (job) => processor.resealSecrets(job));
    // Two values under key A.
    const a = new SecretSealer({ secretKey: keyA, previousSecretKeys: [] });
    await new CertificateService(ds, a).store(
      packPfx(createClientIdentity({ commonName: 'ESD Queue' }), 'pw'),
    );
  });

  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('refuses a job asked for another key than the worker seals with, and leaves it to a retry', async () => {
    processor = worker(keyA);
    const { job, error } = await runOnce({ keyId: sealingKeyId(keyB) }, 2);
    expect(error?.message).toBe(
      `The re-seal was asked for key id ${sealingKeyId(keyB)}, but this worker seals with key id ${sealingKeyId(keyA)}. ` +
        'Give every node the same secretKey, then run the re-seal again.',
    );
    expect(await (await queue.getJob(job.id))!.getState()).toBe('delayed');
    const raw = await ds.query('SELECT private_key_key_id FROM esd_certificate');
    expect(raw).toEqual([{ private_key_key_id: sealingKeyId(keyA) }]);
  });

  it('moves the values to the worker key and completes with the counts', async () => {
    processor = worker(keyB, [keyA]);
    const { result, error } = await runOnce({ keyId: sealingKeyId(keyB) }, 2);
    expect(error).toBeUndefined();
    expect(result).toEqual({ resealed: 3, alreadyCurrent: 0 });
    expect(await ds.query('SELECT DISTINCT pfx_key_id FROM esd_certificate')).toEqual([
      { pfx_key_id: sealingKeyId(keyB) },
    ]);
  });

  it('fails for good, without retries, when a value is under a key no node has', async () => {
    processor = worker(keyB);
    await ds.query("UPDATE esd_certificate SET pfx_password_key_id = 'ffffffffffffffff'");
    const { job, error } = await runOnce({ keyId: sealingKeyId(keyB) }, 5);
    expect(error?.message).toContain('1 in esd_certificate.pfx_password_sealed (key id ffffffffffffffff)');
    const stored = (await queue.getJob(job.id))!;
    expect(await stored.getState()).toBe('failed');
    expect(stored.attemptsMade).toBe(1);
  });
});
