/**
 * The entities on the migrated schema of real SQLite, PostgreSQL and MariaDB: every row round-trips (times to
 * the millisecond in UTC, booleans, integers, JSON text), sealed columns stay out of default selects, and the
 * database itself refuses what the invariants forbid.
 */
import { DataSource, type EntityManager } from 'typeorm';
import { CancellationRequestEntity } from '../../src/cancellation/cancellation-request.entity';
import { LicenseReturnEntity } from '../../src/cancellation/return.entity';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { AuditEventEntity } from '../../src/common/audit-event.entity';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { CertificateEntity } from '../../src/settings/certificate.entity';
import { ClientCountryEntity } from '../../src/settings/client-country.entity';
import { InstanceEntity } from '../../src/settings/instance.entity';
import {
  UNIQUE_KEYS,
  isForeignKeyViolation,
  isUniqueViolation,
  type UniqueKeyName,
} from '../../src/storage/db-errors';
import { newId } from '../../src/storage/entity-columns';
import {
  DATABASE_KINDS,
  createTestDatabase,
  type DatabaseKind,
  type TestDatabase,
} from '../support/databases';
import { instanceRow, unique } from '../support/factories';

const T1 = new Date('2031-02-03T04:05:06.789Z');
const T2 = new Date('2030-12-31T23:59:59.001Z');

function certificate(overrides: Partial<CertificateEntity> = {}): CertificateEntity {
  return Object.assign(new CertificateEntity(), {
    thumbprint: newId().replace(/-/g, '').slice(0, 40).toUpperCase().padEnd(40, 'A'),
    thumbprintSha256: 'B'.repeat(64),
    subject: 'CN=esd-test',
    notBefore: T2,
    expiresAt: T1,
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    privateKeySealed: 'v1.sealed-private-key',
    privateKeyKeyId: 'k1',
    pfxSealed: 'v1.sealed-pfx',
    pfxKeyId: 'k1',
    pfxPasswordSealed: 'v1.sealed-password',
    pfxPasswordKeyId: 'k1',
    ...overrides,
  });
}

function license(instanceId: string, overrides: Partial<LicenseEntity> = {}): LicenseEntity {
  return Object.assign(new LicenseEntity(), {
    instanceId,
    offerRefId: null,
    productCode: 'CFQ7TTC0LH18',
    productName: 'Office Home 2024',
    country: 'GR',
    language: 'el-GR',
    customerAccountId: 'C1',
    customerName: 'Ελένη Παπαδοπούλου',
    customerEmail: 'eleni@example.gr',
    customerCountry: 'GR',
    customerLocale: 'el-GR',
    billToAccountId: 'R1',
    resellerAccountId: 'R1',
    hostOrderId: unique('order'),
    hostOrderItemId: unique('item'),
    unitIndex: 0,
    clientTransactionId: newId(),
    status: 'active',
    purchaseDate: T1,
    priceAmountMinor: 14900,
    priceCurrency: 'EUR',
    provisioningStatus: 'Unsynchronised',
    provisioningErrorCode: null,
    provisioningErrorMessage: null,
    nextAttemptAt: null,
    vendorTransactionId: null,
    tokenLastGroup: null,
    tokenStatus: null,
    tokenCreatedAt: null,
    tokenStatusCheckedAt: null,
    redeemedAt: null,
    welcomeSentAt: null,
    returnStatus: 'None',
    returnReasonCode: null,
    returnReasonMessage: null,
    ...overrides,
  });
}

function catalogRun(instanceId: string, overrides: Partial<CatalogRunEntity> = {}): CatalogRunEntity {
  return Object.assign(new CatalogRunEntity(), {
    instanceId,
    trigger: 'manual',
    status: 'queued',
    activeInstanceId: instanceId,
    startedAt: null,
    finishedAt: null,
    log: [],
    result: null,
    error: null,
    ...overrides,
  });
}

function cancellationRequest(
  licenseId: string,
  overrides: Partial<CancellationRequestEntity> = {},
): CancellationRequestEntity {
  return Object.assign(new CancellationRequestEntity(), {
    licenseId,
    status: 'pending',
    activeLicenseId: licenseId,
    requestedByRole: 'customer',
    requestedByAccountId: 'C1',
    requestedByUserId: null,
    comment: 'bought the wrong edition',
    decidedByRole: null,
    decidedByAccountId: null,
    decidedByUserId: null,
    decisionComment: null,
    returnId: null,
    decidedAt: null,
    ...overrides,
  });
}

function licenseReturn(licenseId: string, overrides: Partial<LicenseReturnEntity> = {}): LicenseReturnEntity {
  return Object.assign(new LicenseReturnEntity(), {
    licenseId,
    clientTransactionId: newId(),
    status: 'Pending',
    activeLicenseId: licenseId,
    vendorReturnId: null,
    reasonCode: null,
    reasonMessage: null,
    nextAttemptAt: null,
    finishedAt: null,
    ...overrides,
  });
}

/** The stored text of a time column as the database itself renders it in UTC. */
function utcTextSql(kind: DatabaseKind, column: string): string {
  switch (kind) {
    case 'postgres':
      return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')`;
    case 'mariadb':
      return `DATE_FORMAT(${column}, '%Y-%m-%d %H:%i:%s.%f')`;
    case 'sqlite':
      return column;
  }
}

async function expectRefused(work: Promise<unknown>, check: (error: unknown) => boolean): Promise<void> {
  const error = await work.then(
    () => new Error('the database accepted a row it must refuse'),
    (e: unknown) => e,
  );
  if (!check(error)) throw error;
}

/** Refused by exactly `key`: no other unique key of the schema matches the error. */
const refusedByUnique = (work: Promise<unknown>, key: UniqueKeyName) =>
  expectRefused(
    work,
    (e) =>
      isUniqueViolation(e, key) &&
      (Object.keys(UNIQUE_KEYS) as UniqueKeyName[]).every(
        (other) => other === key || !isUniqueViolation(e, other),
      ),
  );

describe.each(DATABASE_KINDS)('entities on %s', (kind) => {
  let db: TestDatabase;
  let ds: DataSource;
  let em: EntityManager;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    ds = new DataSource(db.dataSourceOptions);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    em = ds.manager;
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('round-trips settings rows, keeps sealed columns out of default selects', async () => {
    const cert = await em.save(certificate());
    expect(cert.id).toMatch(/^[0-9a-f-]{36}$/);

    const plain = await em.findOneByOrFail(CertificateEntity, { id: cert.id });
    expect(plain).toMatchObject({ thumbprint: cert.thumbprint, subject: 'CN=esd-test' });
    expect(plain.notBefore.toISOString()).toBe(T2.toISOString());
    expect(plain.expiresAt.toISOString()).toBe(T1.toISOString());
    for (const sealed of ['privateKeySealed', 'privateKeyKeyId', 'pfxSealed', 'pfxPasswordSealed'] as const) {
      expect(plain[sealed]).toBeUndefined();
    }
    const withSecrets = await em
      .createQueryBuilder(CertificateEntity, 'c')
      .addSelect(['c.privateKeySealed', 'c.pfxSealed', 'c.pfxPasswordSealed', 'c.pfxPasswordKeyId'])
      .where('c.id = :id', { id: cert.id })
      .getOneOrFail();
    expect(withSecrets).toMatchObject({
      privateKeySealed: 'v1.sealed-private-key',
      pfxSealed: 'v1.sealed-pfx',
      pfxPasswordSealed: 'v1.sealed-password',
      pfxPasswordKeyId: 'k1',
    });

    const clientId = unique('client');
    await em.insert(ClientCountryEntity, { clientId, country: 'GR' });
    const steps = [
      { step: 'token', ok: true },
      { step: 'markets', ok: false, message: 'HTTP 503 — «ελληνικά» & emoji 🎉' },
    ];
    const saved = await em.save(
      instanceRow({
        clientId,
        country: 'GR',
        language: 'el-GR',
        certificateId: cert.id,
        caCertificatePem: 'PEM',
        autoAcceptCancellations: true,
        returnWindowDays: 14,
        lastConnectionTestOk: false,
        lastConnectionTestAt: T1,
        lastConnectionTestSteps: steps,
      }),
    );
    const read = await em.findOneOrFail(InstanceEntity, {
      where: { id: saved.id },
      relations: { certificate: true },
    });
    expect(read).toMatchObject({
      clientId,
      country: 'GR',
      language: 'el-GR',
      environment: 'sandbox',
      autoAcceptCancellations: true,
      returnWindowDays: 14,
      lastConnectionTestOk: false,
      lastConnectionTestSteps: steps,
      catalogSchedule: null,
    });
    expect(read.lastConnectionTestAt?.toISOString()).toBe(T1.toISOString());
    expect(read.certificate?.thumbprint).toBe(cert.thumbprint);
    expect(read.certificate?.privateKeySealed).toBeUndefined();
    expect(read.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(read.createdAt.getTime() - Date.now())).toBeLessThan(60_000);

    const defaults = await em.save(instanceRow());
    const reread = await em.findOneByOrFail(InstanceEntity, { id: defaults.id });
    expect(reread).toMatchObject({
      returnWindowDays: 30,
      autoAcceptCancellations: false,
      lastConnectionTestOk: null,
    });

    const event = await em.save(
      Object.assign(new AuditEventEntity(), {
        at: T1,
        actorRole: 'admin',
        actorAccountId: 'A1',
        actorUserId: null,
        action: 'license.reveal',
        subjectType: 'license',
        subjectId: 'L1',
        details: { reason: 'customer asked', nested: { n: 3, ok: true } },
      }),
    );
    const eventRead = await em.findOneByOrFail(AuditEventEntity, { id: event.id });
    expect(eventRead.details).toEqual({ reason: 'customer asked', nested: { n: 3, ok: true } });
    expect(eventRead.at.toISOString()).toBe(T1.toISOString());
  });

  it('round-trips catalog runs and offers (JSON text, booleans, integers, times)', async () => {
    const inst = await em.save(instanceRow());
    const log = [{ at: T1.toISOString(), level: 'info' as const, message: 'fetched 1200 offers' }];
    const result = {
      counts: { new: 1, updated: 0, discontinued: 0, unchanged: 0, skipped: 1 },
      new: ['CFQ7TTC0LH18'],
      updated: [],
      discontinued: [],
      skipped: [{ reason: 'missing offerId' }],
    };
    const run = await em.save(
      catalogRun(inst.id, {
        status: 'succeeded',
        activeInstanceId: null,
        startedAt: T2,
        finishedAt: T1,
        log,
        result,
      }),
    );
    const runRead = await em.findOneByOrFail(CatalogRunEntity, { id: run.id });
    expect(runRead).toMatchObject({ trigger: 'manual', status: 'succeeded', progress: 0, log, result });
    expect(runRead.startedAt?.toISOString()).toBe(T2.toISOString());

    const offer = await em.save(
      Object.assign(new OfferEntity(), {
        instanceId: inst.id,
        offerId: 'CFQ7TTC0LH18',
        offerUri: 'urn:ms:esd:offer:CFQ7TTC0LH18',
        name: 'Office Home 2024',
        shortDescription: null,
        productFamily: 'Office',
        minQuantity: 1,
        maxQuantity: 10,
        isReturnable: true,
        vendorStatus: 'Active',
        catalogStatus: 'new',
        lastModified: T1,
        contentHash: 'c'.repeat(64),
        firstSeenRunId: run.id,
        lastChangedRunId: run.id,
        hostProductRef: null,
        missingSince: null,
      }),
    );
    const offerRead = await em.findOneByOrFail(OfferEntity, { id: offer.id });
    expect(offerRead).toMatchObject({
      minQuantity: 1,
      maxQuantity: 10,
      isReturnable: true,
      shortDescription: null,
    });
    expect(offerRead.lastModified?.toISOString()).toBe(T1.toISOString());

    await refusedByUnique(
      em.insert(OfferEntity, { ...offer, id: newId(), name: 'duplicate offer id in one instance' }),
      'UQ_esd_offer_instance_offer',
    );
  });

  it('round-trips a license to the millisecond in UTC, hides its secrets, and versions updates', async () => {
    const inst = await em.save(instanceRow());
    const saved = await em.save(
      license(inst.id, {
        tokenSealed: 'v1.sealed-token',
        tokenKeyId: 'k1',
        activationLinkSealed: 'v1.sealed-link',
        activationLinkKeyId: 'k1',
        tokenLastGroup: '7QX4P',
        tokenStatus: 'Activated',
        tokenCreatedAt: T2,
        nextAttemptAt: new Date('2031-02-03T04:05:07.001Z'),
      }),
    );
    expect(saved.version).toBe(1);

    const read = await em.findOneByOrFail(LicenseEntity, { id: saved.id });
    expect(read).toMatchObject({
      unitIndex: 0,
      priceAmountMinor: 14900,
      priceCurrency: 'EUR',
      customerName: 'Ελένη Παπαδοπούλου',
      tokenLastGroup: '7QX4P',
      returnStatus: 'None',
      attempts: 0,
      version: 1,
    });
    expect(read.purchaseDate.toISOString()).toBe('2031-02-03T04:05:06.789Z');
    expect(read.nextAttemptAt?.toISOString()).toBe('2031-02-03T04:05:07.001Z');
    expect(read.tokenCreatedAt?.toISOString()).toBe(T2.toISOString());
    for (const sealed of [
      'tokenSealed',
      'tokenKeyId',
      'activationLinkSealed',
      'activationLinkKeyId',
    ] as const) {
      expect(read[sealed]).toBeUndefined();
    }

    const [stored] = await em.query<{ t: string }[]>(
      `SELECT ${utcTextSql(kind, 'purchase_date')} AS t FROM esd_license WHERE id = '${saved.id}'`,
    );
    expect(String(stored.t)).toMatch(/^2031-02-03 04:05:06\.789(000)?$/);
    if (kind === 'mariadb') {
      // The server clock (created_at defaults, updated_at on update) runs in UTC whatever the server's zone.
      const [session] = await em.query<{ tz: string }[]>('SELECT @@session.time_zone AS tz');
      expect(session.tz).toBe('+00:00');
    }

    // Times compare correctly in queries: the sweeper's "due" filter.
    const due = await em
      .createQueryBuilder(LicenseEntity, 'l')
      .where('l.id = :id AND l.next_attempt_at <= :now', {
        id: saved.id,
        now: new Date('2031-02-03T04:05:07.001Z'),
      })
      .getCount();
    const notYet = await em
      .createQueryBuilder(LicenseEntity, 'l')
      .where('l.id = :id AND l.next_attempt_at <= :now', {
        id: saved.id,
        now: new Date('2031-02-03T04:05:07.000Z'),
      })
      .getCount();
    expect([due, notYet]).toEqual([1, 0]);

    read.provisioningStatus = 'Synchronized';
    read.attempts = 1;
    const updated = await em.save(read);
    expect(updated.version).toBe(2);
    const withSecrets = await em
      .createQueryBuilder(LicenseEntity, 'l')
      .addSelect(['l.tokenSealed', 'l.activationLinkSealed'])
      .where('l.id = :id', { id: saved.id })
      .getOneOrFail();
    expect(withSecrets).toMatchObject({
      provisioningStatus: 'Synchronized',
      tokenSealed: 'v1.sealed-token',
      activationLinkSealed: 'v1.sealed-link',
      version: 2,
    });
  });

  it('refuses a second license for one (order item, unit) and a reused client transaction id', async () => {
    const inst = await em.save(instanceRow());
    const first = await em.save(license(inst.id, { unitIndex: 0 }));
    await em.save(license(inst.id, { hostOrderItemId: first.hostOrderItemId, unitIndex: 1 }));

    await refusedByUnique(
      em.save(license(inst.id, { hostOrderItemId: first.hostOrderItemId, unitIndex: 0 })),
      'UQ_esd_license_order_item_unit',
    );
    await refusedByUnique(
      em.save(license(inst.id, { clientTransactionId: first.clientTransactionId })),
      'UQ_esd_license_client_transaction',
    );
    expect(await em.countBy(LicenseEntity, { hostOrderItemId: first.hostOrderItemId })).toBe(2);
  });

  it('keeps one pending cancellation request per license; closed ones (NULL key) never collide', async () => {
    const inst = await em.save(instanceRow());
    const lic = await em.save(license(inst.id));
    const other = await em.save(license(inst.id));

    const pending = await em.save(cancellationRequest(lic.id));
    await em.save(cancellationRequest(other.id));
    await refusedByUnique(em.save(cancellationRequest(lic.id)), 'UQ_esd_cancellation_request_active_license');

    await em.update(CancellationRequestEntity, pending.id, { status: 'withdrawn', activeLicenseId: null });
    await em.save(cancellationRequest(lic.id, { status: 'withdrawn', activeLicenseId: null }));
    await em.save(cancellationRequest(lic.id, { status: 'rejected', activeLicenseId: null, decidedAt: T1 }));
    const again = await em.save(cancellationRequest(lic.id));
    expect(again.activeLicenseId).toBe(lic.id);
    expect(await em.countBy(CancellationRequestEntity, { licenseId: lic.id })).toBe(4);
  });

  it('keeps one return in flight per license', async () => {
    const inst = await em.save(instanceRow());
    const lic = await em.save(license(inst.id));
    const first = await em.save(licenseReturn(lic.id));
    await refusedByUnique(em.save(licenseReturn(lic.id)), 'UQ_esd_return_active_license');
    await refusedByUnique(
      em.save(
        licenseReturn(lic.id, { clientTransactionId: first.clientTransactionId, activeLicenseId: null }),
      ),
      'UQ_esd_return_client_transaction',
    );
    await em.update(LicenseReturnEntity, first.id, {
      status: 'Failed',
      activeLicenseId: null,
      finishedAt: T1,
    });
    const retry = await em.save(licenseReturn(lic.id));
    const request = await em.save(
      cancellationRequest(lic.id, { status: 'accepted', activeLicenseId: null, returnId: retry.id }),
    );
    expect((await em.findOneByOrFail(CancellationRequestEntity, { id: request.id })).returnId).toBe(retry.id);
  });

  it('keeps one active catalog run per instance', async () => {
    const a = await em.save(instanceRow());
    const b = await em.save(instanceRow());
    const running = await em.save(catalogRun(a.id, { status: 'running', progress: 40 }));
    await em.save(catalogRun(b.id));
    await refusedByUnique(em.save(catalogRun(a.id)), 'UQ_esd_catalog_run_active_instance');

    await em.save(catalogRun(a.id, { status: 'failed', activeInstanceId: null, error: 'boom' }));
    await em.save(catalogRun(a.id, { status: 'succeeded', activeInstanceId: null }));
    await em.update(CatalogRunEntity, running.id, {
      status: 'succeeded',
      progress: 100,
      activeInstanceId: null,
    });
    await em.save(catalogRun(a.id));
    expect(await em.countBy(CatalogRunEntity, { instanceId: a.id })).toBe(4);
  });

  it('binds one client id to one country and refuses duplicate markets and system names', async () => {
    const clientId = unique('client');
    await em.insert(ClientCountryEntity, { clientId, country: 'GR' });
    await em.save(instanceRow({ clientId, country: 'GR', language: 'el-GR' }));
    await em.save(instanceRow({ clientId, country: 'GR', language: 'en-US' }));
    await em.save(instanceRow({ clientId })); // a draft without a country needs no binding

    // The same client id in a second country: the instance has no binding to point at…
    await expectRefused(em.save(instanceRow({ clientId, country: 'CY', language: 'el-GR' })), (e) =>
      isForeignKeyViolation(e, 'FK_esd_instance_client_country'),
    );
    // …and the client id cannot be bound twice…
    await refusedByUnique(
      em.insert(ClientCountryEntity, { clientId, country: 'CY' }),
      'PK_esd_client_country',
    );
    // …nor moved to another country while instances use the old one.
    await expectRefused(em.update(ClientCountryEntity, { clientId }, { country: 'CY' }), (e) =>
      isForeignKeyViolation(e),
    );

    await refusedByUnique(
      em.save(instanceRow({ clientId, country: 'GR', language: 'el-GR' })),
      'UQ_esd_instance_client_market',
    );
    const named = await em.save(instanceRow());
    await refusedByUnique(
      em.save(instanceRow({ systemName: named.systemName })),
      'UQ_esd_instance_system_name',
    );

    // A second client id may serve Cyprus.
    const cyprusClient = unique('client');
    await em.insert(ClientCountryEntity, { clientId: cyprusClient, country: 'CY' });
    await em.save(instanceRow({ clientId: cyprusClient, country: 'CY', language: 'el-GR' }));
    expect(await em.countBy(InstanceEntity, { clientId })).toBe(3);
  });

  it('refuses a second certificate with the same thumbprint', async () => {
    const cert = await em.save(certificate());
    await refusedByUnique(
      em.save(certificate({ thumbprint: cert.thumbprint })),
      'UQ_esd_certificate_thumbprint',
    );
  });
});
