import type { DataSource, EntityManager, EntityMetadata } from 'typeorm';
import { portableDriverOf } from '../storage/column-types';
import type { StoredOfferState, VanishCandidate } from './catalog-diff';
import { OfferEntity } from './offer.entity';

/**
 * The `esd_offer` reads and inserts a catalog run makes on every page, in plain SQL written once per shape.
 * TypeORM's query builder gives every value its own named parameter and rewrites the statement around them:
 * for a page of new offers (17 columns × hundreds of rows) that costs more than the database spends storing
 * them. These helpers take the column names and value conversions from the entity metadata and the driver, so
 * they stay portable across PostgreSQL, MariaDB/MySQL and SQLite like the rest of the plugin's storage.
 */

/** One stored offer of a page: what the diff needs, plus the host product ref. */
export type StoredOffer = StoredOfferState & { hostProductRef: string | null };

/** A stored row as the vanished check reads it. */
export type StoredOfferKey = VanishCandidate & { hostProductRef: string | null };

/** A new `esd_offer` row, every column given. */
export type NewOfferRow = Omit<OfferEntity, 'instance' | 'createdAt' | 'updatedAt'>;

const STORED_COLUMNS = [
  'offerId',
  'contentHash',
  'catalogStatus',
  'vendorStatus',
  'missingSince',
  'hostProductRef',
  'firstSeenRunId',
  'lastChangedRunId',
] as const satisfies readonly (keyof StoredOffer)[];

const KEY_COLUMNS = [
  'offerId',
  'catalogStatus',
  'lastChangedRunId',
  'hostProductRef',
] as const satisfies readonly (keyof StoredOfferKey)[];

const INSERT_COLUMNS = [
  'id',
  'instanceId',
  'offerId',
  'offerUri',
  'name',
  'shortDescription',
  'productFamily',
  'minQuantity',
  'maxQuantity',
  'isReturnable',
  'vendorStatus',
  'catalogStatus',
  'lastModified',
  'contentHash',
  'firstSeenRunId',
  'lastChangedRunId',
  'hostProductRef',
  'missingSince',
] as const satisfies readonly (keyof NewOfferRow)[];

/** INSERT texts kept per database (by row count). */
const MAX_CACHED_INSERTS = 4;

type ColumnMetadata = NonNullable<ReturnType<EntityMetadata['findColumnWithPropertyName']>>;

/** The statement pieces of one database — quoted names, placeholders, value conversions — worked out once. */
class OfferSql {
  readonly table: string;
  readonly postgres: boolean;
  private readonly columns = new Map<string, ColumnMetadata>();
  private readonly inserts = new Map<number, string>();

  constructor(private readonly dataSource: DataSource) {
    const metadata = dataSource.getMetadata(OfferEntity);
    const driver = dataSource.driver;
    this.table = metadata.tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    this.postgres = portableDriverOf(dataSource.options.type) === 'postgres';
    for (const column of metadata.columns) this.columns.set(column.propertyName, column);
  }

  private static readonly byDataSource = new WeakMap<DataSource, OfferSql>();

  static of(manager: EntityManager): OfferSql {
    let sql = OfferSql.byDataSource.get(manager.connection);
    if (!sql) {
      sql = new OfferSql(manager.connection);
      OfferSql.byDataSource.set(manager.connection, sql);
    }
    return sql;
  }

  column(property: string): ColumnMetadata {
    const column = this.columns.get(property);
    if (!column) throw new Error(`esd_offer has no column for ${property}`);
    return column;
  }

  name(property: string): string {
    return this.dataSource.driver.escape(this.column(property).databaseName);
  }

  /** `$n` on PostgreSQL, `?` elsewhere; `n` is 1-based. */
  placeholder(n: number): string {
    return this.postgres ? `$${n}` : '?';
  }

  placeholders(from: number, count: number): string {
    return Array.from({ length: count }, (_, i) => this.placeholder(from + i)).join(', ');
  }

  select(properties: readonly string[]): string {
    return properties.map((p) => this.name(p)).join(', ');
  }

  /** The INSERT of `rows` new rows: the same text for every batch of that size. */
  insert(rows: number): string {
    let statement = this.inserts.get(rows);
    if (statement === undefined) {
      const width = INSERT_COLUMNS.length;
      const values = Array.from({ length: rows }, (_, r) => `(${this.placeholders(r * width + 1, width)})`);
      statement = `INSERT INTO ${this.table} (${this.select(INSERT_COLUMNS)}) VALUES ${values.join(', ')}`;
      // Full batches repeat; the last batch of each write has a size of its own: keep only a few texts.
      if (this.inserts.size >= MAX_CACHED_INSERTS) this.inserts.delete(this.inserts.keys().next().value!);
      this.inserts.set(rows, statement);
    }
    return statement;
  }

  /** A new row's bind values, in {@link INSERT_COLUMNS} order, as the driver stores them. */
  insertValues(row: NewOfferRow, into: unknown[]): void {
    const driver = this.dataSource.driver;
    for (const property of INSERT_COLUMNS) {
      into.push(driver.preparePersistentValue(row[property], this.column(property)));
    }
  }

  /** A raw row back to entity values, by property (dates and booleans as the driver hydrates them). */
  fromDatabase<K extends string>(properties: readonly K[], raw: Record<string, unknown>): Record<K, unknown> {
    const driver = this.dataSource.driver;
    const values = {} as Record<K, unknown>;
    for (const property of properties) {
      const column = this.column(property);
      const value = raw[column.databaseName];
      const hydrated: unknown =
        value === null || value === undefined ? null : driver.prepareHydratedValue(value, column);
      values[property] = hydrated;
    }
    return values;
  }
}

/**
 * The stored rows of the given offers of one instance, in one query (on PostgreSQL the IDs go as one array
 * parameter, which plans faster than a list of a thousand).
 */
export async function readStoredOffers(
  manager: EntityManager,
  instanceId: string,
  offerIds: readonly string[],
): Promise<StoredOffer[]> {
  if (offerIds.length === 0) return [];
  const sql = OfferSql.of(manager);
  const matches = sql.postgres
    ? { clause: `= ANY(${sql.placeholder(2)})`, parameters: [[...offerIds]] }
    : { clause: `IN (${sql.placeholders(2, offerIds.length)})`, parameters: offerIds };
  const raw: Record<string, unknown>[] = await manager.query(
    `SELECT ${sql.select(STORED_COLUMNS)} FROM ${sql.table} WHERE ${sql.name('instanceId')} = ${sql.placeholder(1)} AND ${sql.name('offerId')} ${matches.clause}`,
    [instanceId, ...matches.parameters],
  );
  return raw.map((row) => sql.fromDatabase(STORED_COLUMNS, row) as StoredOffer);
}

/**
 * Up to `limit` stored rows of the instance after offer ID `after` (null: from the start), by offer ID: a
 * keyset page, so a scan of every row holds one page at a time.
 */
export async function readOfferKeys(
  manager: EntityManager,
  instanceId: string,
  after: string | null,
  limit: number,
): Promise<StoredOfferKey[]> {
  const sql = OfferSql.of(manager);
  const offerId = sql.name('offerId');
  const raw: Record<string, unknown>[] = await manager.query(
    `SELECT ${sql.select(KEY_COLUMNS)} FROM ${sql.table} WHERE ${sql.name('instanceId')} = ${sql.placeholder(1)}` +
      (after === null ? '' : ` AND ${offerId} > ${sql.placeholder(2)}`) +
      ` ORDER BY ${offerId} LIMIT ${Math.floor(limit)}`,
    after === null ? [instanceId] : [instanceId, after],
  );
  return raw.map((row) => sql.fromDatabase(KEY_COLUMNS, row) as StoredOfferKey);
}

/** How many offers the instance has stored. */
export async function countStoredOffers(manager: EntityManager, instanceId: string): Promise<number> {
  return manager.getRepository(OfferEntity).countBy({ instanceId });
}

/**
 * New rows in one multi-row INSERT (18 bind parameters a row: keep batches within every driver's limit, e.g.
 * 500 rows); nothing is read back, the caller knows every value it wrote.
 */
export async function insertOfferRows(manager: EntityManager, rows: readonly NewOfferRow[]): Promise<void> {
  if (rows.length === 0) return;
  const sql = OfferSql.of(manager);
  const parameters: unknown[] = [];
  for (const row of rows) sql.insertValues(row, parameters);
  await manager.query(sql.insert(rows.length), parameters);
}
