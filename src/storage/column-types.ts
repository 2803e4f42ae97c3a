import type { QueryRunner, TableColumnOptions, TableForeignKeyOptions } from 'typeorm';

/** The three database families the plugin's schema is written for. */
export type PortableDriver = 'postgres' | 'mysql' | 'sqlite';

/** Maps a TypeORM `type` option to the family whose SQL it speaks; anything else is refused. */
export function portableDriverOf(type: string): PortableDriver {
  switch (type) {
    case 'postgres':
    case 'aurora-postgres':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
    case 'aurora-mysql':
      return 'mysql';
    case 'better-sqlite3':
    case 'sqljs':
      return 'sqlite';
    default:
      throw new Error(
        `The Microsoft ESD plugin's storage runs on PostgreSQL, MariaDB/MySQL or SQLite; the DataSource type "${type}" is not one of them.`,
      );
  }
}

/** Length of every id column: a UUID in its 36-character text form. */
export const UUID_LENGTH = 36;

type ColumnExtras = Pick<TableColumnOptions, 'isNullable' | 'default'>;

/**
 * The column builders the migrations use, one place where the three drivers differ:
 *
 * - times: `timestamptz(3)` on PostgreSQL, `datetime(3)` on MariaDB (its `timestamp` has no milliseconds and
 *   ends in 2038), `datetime` text on SQLite (TypeORM writes `YYYY-MM-DD HH:MM:SS.SSS` in UTC there);
 * - keys: on MariaDB the identifier columns use the binary collation so uniqueness is case-sensitive as on
 *   the other two, and every column a foreign key joins has the same collation on both ends;
 * - long text: `mediumtext` on MariaDB, whose `text` stops at 64 KB.
 *
 * Migrations are history: once a migration ships, the output of the builders it calls must never change.
 * Add a new builder rather than alter one.
 */
export function storageColumns(queryRunner: QueryRunner) {
  const driver = portableDriverOf(queryRunner.connection.options.type);
  const keyCollation = driver === 'mysql' ? { collation: 'utf8mb4_bin' } : {};
  const nowDefault = {
    postgres: 'CURRENT_TIMESTAMP',
    mysql: 'CURRENT_TIMESTAMP(3)',
    sqlite: "(strftime('%Y-%m-%d %H:%M:%f', 'now'))",
  }[driver];
  const timestampType: Pick<TableColumnOptions, 'type' | 'precision'> = {
    postgres: { type: 'timestamp with time zone', precision: 3 },
    mysql: { type: 'datetime', precision: 3 },
    sqlite: { type: 'datetime' },
  }[driver];

  const columns = {
    driver,
    /** The primary key: a UUID the plugin generates. */
    id: (): TableColumnOptions => ({
      name: 'id',
      type: 'varchar',
      length: String(UUID_LENGTH),
      isPrimary: true,
      isNullable: false,
      ...keyCollation,
    }),
    /** A UUID column, usually a foreign key or an active key. */
    uuid: (name: string, extras: ColumnExtras = {}): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(UUID_LENGTH),
      isNullable: false,
      ...keyCollation,
      ...extras,
    }),
    /** An identifier compared byte for byte (client ids, offer ids, thumbprints, country codes). */
    key: (name: string, length: number, extras: ColumnExtras = {}): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: false,
      ...keyCollation,
      ...extras,
    }),
    /** Free text up to `length` characters (names, URLs, enum-like values). */
    varchar: (name: string, length: number, extras: ColumnExtras = {}): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: false,
      ...extras,
    }),
    /** Text up to 64 KB everywhere (PEM certificates, sealed secrets, messages). */
    text: (name: string, extras: ColumnExtras = {}): TableColumnOptions => ({
      name,
      type: 'text',
      isNullable: false,
      ...extras,
    }),
    /** Text up to 16 MB on MariaDB and unbounded elsewhere (catalog run logs and results). */
    longText: (name: string, extras: ColumnExtras = {}): TableColumnOptions => ({
      name,
      type: driver === 'mysql' ? 'mediumtext' : 'text',
      isNullable: false,
      ...extras,
    }),
    integer: (name: string, extras: { isNullable?: boolean; default?: number } = {}): TableColumnOptions => ({
      name,
      type: 'integer',
      isNullable: extras.isNullable ?? false,
      ...(extras.default === undefined ? {} : { default: String(extras.default) }),
    }),
    boolean: (
      name: string,
      extras: { isNullable?: boolean; default?: boolean } = {},
    ): TableColumnOptions => ({
      name,
      type: 'boolean',
      isNullable: extras.isNullable ?? false,
      ...(extras.default === undefined ? {} : { default: booleanLiteral(driver, extras.default) }),
    }),
    /** An ISO 4217 currency code: `char(3)`. */
    currency: (name: string): TableColumnOptions => ({
      name,
      type: driver === 'sqlite' ? 'character' : 'char',
      length: '3',
      isNullable: false,
    }),
    /** A UTC instant with milliseconds. */
    timestamp: (
      name: string,
      extras: { isNullable?: boolean; defaultNow?: boolean } = {},
    ): TableColumnOptions => ({
      name,
      ...timestampType,
      isNullable: extras.isNullable ?? false,
      ...(extras.defaultNow ? { default: nowDefault } : {}),
    }),
    /** `created_at` and `updated_at`, defaulting to the database clock. */
    auditTimes: (): TableColumnOptions[] => [
      columns.timestamp('created_at', { defaultNow: true }),
      columns.timestamp('updated_at', { defaultNow: true }),
    ],
  };
  return columns;
}

function booleanLiteral(driver: PortableDriver, value: boolean): string {
  if (driver === 'postgres') return value ? 'true' : 'false';
  return value ? '1' : '0';
}

/** A foreign key named after its table and column, so names are unique across the database (MariaDB needs that). */
export function foreignKey(
  table: string,
  column: string,
  referencedTable: string,
  onDelete: 'CASCADE' | 'SET NULL' | 'RESTRICT',
  referencedColumn = 'id',
): TableForeignKeyOptions {
  return {
    name: `FK_${table}_${column}`,
    columnNames: [column],
    referencedTableName: referencedTable,
    referencedColumnNames: [referencedColumn],
    onDelete,
  };
}
