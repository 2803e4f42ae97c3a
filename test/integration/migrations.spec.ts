/**
 * The plugin's migrations on real SQLite, PostgreSQL and MariaDB: all up, all down, up again, and the schema
 * read back through TypeORM after each step (tables, columns and nullability, unique indexes, foreign keys).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, MigrationExecutor, type Table } from 'typeorm';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { InstanceEntity } from '../../src/settings/instance.entity';
import { dataSourceOptionsFromUrl } from '../../src/storage/database-url';
import { newId } from '../../src/storage/entity-columns';
import { UNIQUE_KEYS } from '../../src/storage/db-errors';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../support/databases';
import { instanceRow } from '../support/factories';

interface ExpectedTable {
  /** Column names; a trailing `?` marks a nullable column. */
  columns: string;
  primary: string[];
  /** Every unique index, as comma-joined column lists. */
  unique: string[];
  /** `columns->table(columns) ON DELETE action`. */
  foreignKeys: string[];
}

const AUDIT_TIMES = 'created_at updated_at';

const SCHEMA: Record<string, ExpectedTable> = {
  esd_certificate: {
    columns:
      'id thumbprint thumbprint_sha256 subject not_before expires_at certificate_pem private_key_sealed? ' +
      'private_key_key_id? pfx_sealed? pfx_key_id? pfx_password_sealed? pfx_password_key_id? created_at',
    primary: ['id'],
    unique: ['thumbprint'],
    foreignKeys: [],
  },
  esd_client_country: {
    columns: 'client_id country created_at',
    primary: ['client_id'],
    unique: ['client_id,country'],
    foreignKeys: [],
  },
  esd_instance: {
    columns:
      'id system_name resource_api service_url tenant_id channel_id client_id authority_host ca_certificate_pem? ' +
      'environment state country? language? certificate_id? catalog_schedule? return_window_days ' +
      'auto_accept_cancellations last_connection_test_ok? last_connection_test_at? ' +
      `last_connection_test_message? last_connection_test_steps? ${AUDIT_TIMES}`,
    primary: ['id'],
    unique: ['system_name', 'client_id,country,language'],
    foreignKeys: [
      'certificate_id->esd_certificate(id) ON DELETE RESTRICT',
      'client_id,country->esd_client_country(client_id,country) ON DELETE RESTRICT',
    ],
  },
  esd_audit_event: {
    columns: 'id at actor_role actor_account_id? actor_user_id? action subject_type subject_id? details?',
    primary: ['id'],
    unique: [],
    foreignKeys: [],
  },
  esd_catalog_run: {
    columns:
      'id instance_id run_trigger status progress active_instance_id? started_at? finished_at? log result? error? ' +
      `page_fingerprints? ${AUDIT_TIMES}`,
    primary: ['id'],
    unique: ['active_instance_id'],
    foreignKeys: ['instance_id->esd_instance(id) ON DELETE CASCADE'],
  },
  esd_offer: {
    columns:
      'id instance_id offer_id offer_uri name short_description? product_family? min_quantity max_quantity ' +
      'is_returnable vendor_status catalog_status last_modified? content_hash first_seen_run_id? ' +
      `last_changed_run_id? host_product_ref? missing_since? ${AUDIT_TIMES}`,
    primary: ['id'],
    unique: ['instance_id,offer_id'],
    foreignKeys: [
      'instance_id->esd_instance(id) ON DELETE CASCADE',
      'first_seen_run_id->esd_catalog_run(id) ON DELETE SET NULL',
      'last_changed_run_id->esd_catalog_run(id) ON DELETE SET NULL',
    ],
  },
  esd_license: {
    columns:
      'id instance_id offer_ref_id? product_code product_name country language customer_account_id customer_name ' +
      'customer_email? customer_country customer_locale? bill_to_account_id reseller_account_id? host_order_id ' +
      'host_order_item_id unit_index client_transaction_id status purchase_date price_amount_minor price_currency ' +
      'provisioning_status provisioning_error_code? provisioning_error_message? attempts next_attempt_at? ' +
      'vendor_transaction_id? token_sealed? token_key_id? activation_link_sealed? activation_link_key_id? ' +
      'token_last_group? token_status? token_created_at? token_status_checked_at? redeemed_at? welcome_sent_at? ' +
      `return_status return_reason_code? return_reason_message? ${AUDIT_TIMES} version`,
    primary: ['id'],
    unique: ['host_order_item_id,unit_index', 'client_transaction_id'],
    foreignKeys: [
      'instance_id->esd_instance(id) ON DELETE RESTRICT',
      'offer_ref_id->esd_offer(id) ON DELETE SET NULL',
    ],
  },
  esd_return: {
    columns:
      'id license_id client_transaction_id status active_license_id? vendor_return_id? reason_code? ' +
      `reason_message? attempts next_attempt_at? finished_at? ${AUDIT_TIMES}`,
    primary: ['id'],
    unique: ['client_transaction_id', 'active_license_id'],
    foreignKeys: ['license_id->esd_license(id) ON DELETE RESTRICT'],
  },
  esd_cancellation_request: {
    columns:
      'id license_id status active_license_id? requested_by_role requested_by_account_id requested_by_user_id? ' +
      'comment? decided_by_role? decided_by_account_id? decided_by_user_id? decision_comment? return_id? ' +
      `decided_at? ${AUDIT_TIMES}`,
    primary: ['id'],
    unique: ['active_license_id'],
    foreignKeys: [
      'license_id->esd_license(id) ON DELETE RESTRICT',
      'return_id->esd_return(id) ON DELETE SET NULL',
    ],
  },
};

/** What each migration makes, in migration order: new tables, and columns it adds to tables made before. */
const STEPS: { tables: string[]; addsColumns?: Record<string, string[]> }[] = [
  { tables: ['esd_certificate', 'esd_client_country', 'esd_instance', 'esd_audit_event'] },
  { tables: ['esd_catalog_run', 'esd_offer'] },
  { tables: ['esd_license', 'esd_return', 'esd_cancellation_request'] },
  { tables: [], addsColumns: { esd_catalog_run: ['page_fingerprints?'] } },
];
const MIGRATION_NAMES = ESD_MIGRATIONS.map((m) => new m().name);

const bare = (name: string) => name.slice(name.lastIndexOf('.') + 1);
const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

function columnSpec(table: Table): string[] {
  return table.columns.map((c) => `${c.name}${c.isNullable ? '?' : ''}`).sort();
}

function uniqueSets(table: Table): string[] {
  const primary = table.primaryColumns.map((c) => c.name).join(',');
  return sorted(
    [
      ...table.indices.filter((i) => i.isUnique).map((i) => i.columnNames.join(',')),
      ...table.uniques.map((u) => u.columnNames.join(',')),
      ...table.columns.filter((c) => c.isUnique).map((c) => c.name),
    ].filter((set) => set !== primary),
  );
}

function foreignKeySpecs(table: Table): string[] {
  return table.foreignKeys
    .map(
      (fk) =>
        `${fk.columnNames.join(',')}->${bare(fk.referencedTableName)}(${fk.referencedColumnNames.join(',')})` +
        ` ON DELETE ${fk.onDelete ?? 'NO ACTION'}`,
    )
    .sort();
}

async function esdTables(ds: DataSource): Promise<string[]> {
  const qr = ds.createQueryRunner();
  try {
    // Without names, TypeORM lists every schema (PostgreSQL) or database (MariaDB) on the server, where other
    // test files' scratch schemas live; only this one's tables come back unqualified.
    const own = (await qr.getTables()).map((t) => t.name).filter((n) => !n.includes('.'));
    return sorted(own.filter((n) => n.startsWith('esd_')));
  } finally {
    await qr.release();
  }
}

/** The schema after the first `applied` migrations: their tables, without the columns later ones add. */
async function expectSchemaAfter(ds: DataSource, applied: number): Promise<void> {
  const names = STEPS.slice(0, applied).flatMap((step) => step.tables);
  const later = STEPS.slice(applied).flatMap((step) => Object.entries(step.addsColumns ?? {}));
  expect(await esdTables(ds)).toEqual(sorted(names));
  const qr = ds.createQueryRunner();
  try {
    for (const name of names) {
      const table = await qr.getTable(name);
      if (!table) throw new Error(`${name} is missing`);
      const expected = SCHEMA[name];
      const notYet = new Set(later.filter(([table]) => table === name).flatMap(([, columns]) => columns));
      expect({ table: name, columns: columnSpec(table) }).toEqual({
        table: name,
        columns: expected.columns
          .split(/\s+/)
          .filter((column) => !notYet.has(column))
          .sort(),
      });
      expect({ table: name, primary: table.primaryColumns.map((c) => c.name) }).toEqual({
        table: name,
        primary: expected.primary,
      });
      expect({ table: name, unique: uniqueSets(table) }).toEqual({
        table: name,
        unique: sorted(expected.unique),
      });
      expect({ table: name, foreignKeys: foreignKeySpecs(table) }).toEqual({
        table: name,
        foreignKeys: sorted(expected.foreignKeys),
      });
    }
  } finally {
    await qr.release();
  }
}

async function executedNames(ds: DataSource): Promise<string[]> {
  const executed = await new MigrationExecutor(ds).getExecutedMigrations();
  return executed.map((m) => m.name).filter((name) => MIGRATION_NAMES.includes(name));
}

describe.each(DATABASE_KINDS)('migrations on %s', (kind) => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    ds = new DataSource(db.dataSourceOptions);
    await ds.initialize();
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('goes all up, all down one at a time, and up again, leaving the expected schema each time', async () => {
    expect(ds.options.synchronize).toBe(false);
    expect(ds.options.migrationsRun).toBe(false);

    const firstRun = await ds.runMigrations({ transaction: 'each' });
    expect(ESD_MIGRATIONS).toHaveLength(STEPS.length);
    expect(firstRun.map((m) => m.name)).toEqual(MIGRATION_NAMES);
    expect(await executedNames(ds)).toEqual([...MIGRATION_NAMES].reverse());
    await expectSchemaAfter(ds, STEPS.length);

    for (let remaining = ESD_MIGRATIONS.length - 1; remaining >= 0; remaining--) {
      await ds.undoLastMigration({ transaction: 'each' });
      await expectSchemaAfter(ds, remaining);
      expect(await executedNames(ds)).toHaveLength(remaining);
    }
    expect(await esdTables(ds)).toEqual([]);
    expect(await executedNames(ds)).toEqual([]);

    const secondRun = await ds.runMigrations({ transaction: 'each' });
    expect(secondRun.map((m) => m.name)).toEqual(MIGRATION_NAMES);
    await expectSchemaAfter(ds, STEPS.length);
    expect(await ds.runMigrations()).toEqual([]);
  });

  it('adds the page fingerprints to a database in use, keeping its runs, its offers and their links', async () => {
    if ((await executedNames(ds)).length !== MIGRATION_NAMES.length) await ds.runMigrations();
    await ds.undoLastMigration({ transaction: 'each' });
    const instance = await ds.getRepository(InstanceEntity).save(instanceRow());
    const runId = newId();
    // Written as the table stands before the step (the entity knows the column it adds).
    const marks = ds.options.type === 'postgres' ? ['$1', '$2'] : ['?', '?'];
    await ds.query(
      `INSERT INTO esd_catalog_run (id, instance_id, run_trigger, status, progress, log) VALUES (${marks.join(', ')}, 'manual', 'succeeded', 100, '[]')`,
      [runId, instance.id],
    );
    await ds.getRepository(OfferEntity).insert(
      Object.assign(new OfferEntity(), {
        instanceId: instance.id,
        offerId: 'OFFER-1',
        offerUri: 'urn:offer:1',
        name: 'Offer 1',
        shortDescription: null,
        productFamily: null,
        minQuantity: 1,
        maxQuantity: 5,
        isReturnable: true,
        vendorStatus: 'Active',
        catalogStatus: 'current',
        lastModified: null,
        contentHash: 'a'.repeat(64),
        firstSeenRunId: runId,
        lastChangedRunId: runId,
        hostProductRef: null,
        missingSince: null,
      }),
    );

    // On SQLite the column is added by copying the table: the offers' links to the run must survive it.
    expect((await ds.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual([
      MIGRATION_NAMES[MIGRATION_NAMES.length - 1],
    ]);
    const run = await ds.getRepository(CatalogRunEntity).findOneByOrFail({ id: runId });
    expect({ status: run.status, pageFingerprints: run.pageFingerprints }).toEqual({
      status: 'succeeded',
      pageFingerprints: null,
    });
    const offer = await ds.getRepository(OfferEntity).findOneByOrFail({ instanceId: instance.id });
    expect({ first: offer.firstSeenRunId, last: offer.lastChangedRunId }).toEqual({
      first: runId,
      last: runId,
    });
    await ds.getRepository(InstanceEntity).delete({ id: instance.id });
  });

  it('maps every entity column onto a migrated column with the same nullability, and back', async () => {
    if ((await executedNames(ds)).length !== MIGRATION_NAMES.length) await ds.runMigrations();
    const qr = ds.createQueryRunner();
    try {
      expect(sorted(ESD_ENTITIES.map((e) => ds.getMetadata(e).tableName))).toEqual(
        sorted(STEPS.flatMap((step) => step.tables)),
      );
      for (const entity of ESD_ENTITIES) {
        const metadata = ds.getMetadata(entity);
        const table = await qr.getTable(metadata.tableName);
        if (!table) throw new Error(`${metadata.tableName} is missing`);
        const mapped = metadata.columns.map((c) => `${c.databaseName}${c.isNullable ? '?' : ''}`).sort();
        expect({ entity: metadata.name, columns: mapped }).toEqual({
          entity: metadata.name,
          columns: columnSpec(table),
        });
      }
    } finally {
      await qr.release();
    }
  });

  it('names in UNIQUE_KEYS exactly the unique keys the migrations made', async () => {
    if ((await executedNames(ds)).length !== MIGRATION_NAMES.length) await ds.runMigrations();
    const qr = ds.createQueryRunner();
    try {
      for (const [name, { table, columns }] of Object.entries(UNIQUE_KEYS)) {
        const t = await qr.getTable(table);
        if (!t) throw new Error(`${table} is missing`);
        const keys = name.startsWith('PK_')
          ? [t.primaryColumns.map((c) => c.name).join(',')]
          : t.indices.filter((i) => i.isUnique && i.name === name).map((i) => i.columnNames.join(','));
        expect({ name, keys }).toEqual({ name, keys: [columns.join(',')] });
      }
      const named = Object.keys(UNIQUE_KEYS).filter((n) => !n.startsWith('PK_')).length;
      expect(named).toBe(Object.values(SCHEMA).reduce((n, t) => n + t.unique.length, 0));
    } finally {
      await qr.release();
    }
  });

  it('gives times millisecond precision in the driver-specific column type', async () => {
    const qr = ds.createQueryRunner();
    try {
      const table = await qr.getTable('esd_license');
      const column = table?.findColumnByName('purchase_date');
      const expected = {
        sqlite: { type: 'datetime' },
        postgres: { type: 'timestamp with time zone', precision: 3 },
        mariadb: { type: 'datetime', precision: 3 },
      }[kind];
      expect({ type: column?.type, ...(expected.precision ? { precision: column?.precision } : {}) }).toEqual(
        expected,
      );
    } finally {
      await qr.release();
    }
  });
});

describe('dataSourceOptionsFromUrl', () => {
  it('reads each accepted form and never synchronizes or runs migrations itself', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esd-url-'));
    try {
      const file = path.join(dir, 'nested', 'esd.sqlite');
      const sqlite = dataSourceOptionsFromUrl(`sqlite:${file}`);
      expect(sqlite).toMatchObject({ type: 'better-sqlite3', database: file, enableWAL: true });
      expect(fs.existsSync(path.dirname(file))).toBe(true);

      const pg = dataSourceOptionsFromUrl('postgresql://u:p%40ss@db.example:6543/esd?schema=plugin');
      expect(pg).toMatchObject({ type: 'postgres', host: 'db.example', port: 6543, username: 'u' });
      expect(pg).toMatchObject({ password: 'p@ss', database: 'esd', schema: 'plugin' });

      const maria = dataSourceOptionsFromUrl('mariadb://root@127.0.0.1/esd');
      expect(maria).toMatchObject({
        type: 'mariadb',
        port: 3306,
        database: 'esd',
        timezone: 'Z',
        charset: 'utf8mb4',
      });

      for (const options of [sqlite, pg, maria]) {
        expect(options).toMatchObject({ synchronize: false, migrationsRun: false });
        expect(options.migrations).toEqual([...ESD_MIGRATIONS]);
        expect(options.entities).toEqual([...ESD_ENTITIES]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot read, naming DATABASE_URL and the accepted forms, never echoing a password', () => {
    expect(() => dataSourceOptionsFromUrl('mssql://sa:secret@host/db')).toThrow(
      /^DATABASE_URL "mssql:\/\/sa:\*\*\*@host\/db" uses the scheme "mssql:".*Accepted forms: sqlite:<path>.*postgres:\/\/.*mysql:\/\//,
    );
    expect(() => dataSourceOptionsFromUrl('postgres://h/db?sslmode=require')).toThrow(/parameter "sslmode"/);
    expect(() => dataSourceOptionsFromUrl('postgres://h/db?schema=a;drop')).toThrow(/not a plain identifier/);
    expect(() => dataSourceOptionsFromUrl('mysql://h:3306/')).toThrow(/names no database/);
    expect(() => dataSourceOptionsFromUrl('./data/esd.sqlite')).toThrow(/DATABASE_URL/);
  });
});
