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

  /** Raw rows back to entity values, by property (dates and booleans as the driver hydrates them). */
  fromDatabase<K extends string>(
    properties: readonly K[],
    rows: readonly Record<string, unknown>[],
  ): Record<K, unknown>[] {
    const driver = this.dataSource.driver;
    // Looked up once per query, not once per row and column. A text column without a transformer comes back
    // from every driver as the string it stores: nothing to hydrate.
    const columns = properties.map((property) => {
      const column = this.column(property);
      const asIs = column.transformer === undefined && (column.type === 'varchar' || column.type === 'text');
      return { property, column, name: column.databaseName, asIs };
    });
    return rows.map((raw) => {
      const values = {} as Record<K, unknown>;
      for (const { property, column, name, asIs } of columns) {
        const value = raw[name];
        values[property] =
          value === null || value === undefined
            ? null
            : asIs && typeof value === 'string'
              ? value
              : (driver.prepareHydratedValue(value, column) as unknown);
      }
      return values;
    });
  }
}

/**
 * The stored rows of the given offers of one instance, in one query. On PostgreSQL the IDs go as one array
 * parameter, each looked up on its own in the unique `(instance_id, offer_id)` index (a LATERAL probe per ID):
 * that plan needs no statistics. The plain `offer_id = ANY($2)` form leaves the choice to them, and while they
 * still say the instance has a handful of rows (a first sync of 50,000 offers, before autovacuum analyses the
 * table) PostgreSQL reads every row of the instance for every page — 14 ms a page instead of 5.
 */
export async function readStoredOffers(
  manager: EntityManager,
  instanceId: string,
  offerIds: readonly string[],
): Promise<StoredOffer[]> {
  if (offerIds.length === 0) return [];
  const sql = OfferSql.of(manager);
  const where = `${sql.name('instanceId')} = ${sql.placeholder(1)}`;
  const raw: Record<string, unknown>[] = sql.postgres
    ? await manager.query(
        `SELECT o.* FROM unnest(${sql.placeholder(2)}::text[]) AS wanted(id) CROSS JOIN LATERAL ` +
          `(SELECT ${sql.select(STORED_COLUMNS)} FROM ${sql.table} WHERE ${where} AND ${sql.name('offerId')} = wanted.id LIMIT 1) AS o`,
        [instanceId, [...new Set(offerIds)]],
      )
    : await manager.query(
        `SELECT ${sql.select(STORED_COLUMNS)} FROM ${sql.table} WHERE ${where} AND ${sql.name('offerId')} IN (${sql.placeholders(2, offerIds.length)})`,
        [instanceId, ...offerIds],
      );
  return sql.fromDatabase(STORED_COLUMNS, raw) as StoredOffer[];
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
  return sql.fromDatabase(KEY_COLUMNS, raw) as StoredOfferKey[];
}

/**
 * How many stored offers of the instance the vanished check could still have to write or report: those not
 * discontinued, and those the run itself last changed. The rest (discontinued by an earlier run) stay as they
 * are whether the listing named them or not.
 */
export async function countOpenOffers(
  manager: EntityManager,
  instanceId: string,
  runId: string,
): Promise<number> {
  const sql = OfferSql.of(manager);
  const raw: { n: unknown }[] = await manager.query(
    `SELECT COUNT(*) AS n FROM ${sql.table} WHERE ${sql.name('instanceId')} = ${sql.placeholder(1)} AND ` +
      `(${sql.name('catalogStatus')} <> ${sql.placeholder(2)} OR ${sql.name('lastChangedRunId')} = ${sql.placeholder(3)})`,
    [instanceId, 'discontinued', runId],
  );
  return Number(raw[0].n);
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

/** Whether the run wrote any offer of the instance already (an earlier attempt, or an earlier pass over the listing). */
export async function runWroteOffers(
  manager: EntityManager,
  instanceId: string,
  runId: string,
): Promise<boolean> {
  const found = await manager.getRepository(OfferEntity).findOne({
    where: [
      { instanceId, firstSeenRunId: runId },
      { instanceId, lastChangedRunId: runId },
    ],
    select: { id: true },
  });
  return found !== null;
}
