import { randomUUID } from 'node:crypto';
import { Column, CreateDateColumn, PrimaryColumn, UpdateDateColumn, type ValueTransformer } from 'typeorm';
import { UUID_LENGTH } from './column-types';

/**
 * Column decorators shared by the entities. Each maps onto what `storageColumns` creates and works unchanged on
 * PostgreSQL, MariaDB and SQLite: the entity never names a driver-specific type.
 *
 * Times use the `Date` column type on purpose: it is the one type each driver converts both ways itself
 * (a `Date` to pg's `timestamptz`, to mysql2's UTC `datetime` with `timezone: 'Z'`, to SQLite's UTC text).
 */

/** A new UUID for a row id or a client transaction id. */
export function newId(): string {
  return randomUUID();
}

/** The primary key: a UUID (varchar(36)) the plugin generates; see {@link assignIdBeforeInsert}. */
export function IdColumn(): PropertyDecorator {
  return PrimaryColumn({ name: 'id', type: 'varchar', length: UUID_LENGTH });
}

/** A UUID column that is not the primary key (a foreign key, an active key, a transaction id). */
export function UuidColumn(name: string, options: { nullable?: boolean } = {}): PropertyDecorator {
  return Column({ name, type: 'varchar', length: UUID_LENGTH, nullable: options.nullable ?? false });
}

/** A varchar column; enum-like values are validated in code against the entity file's const arrays. */
export function VarcharColumn(
  name: string,
  length: number,
  options: { nullable?: boolean; select?: boolean } = {},
): PropertyDecorator {
  return Column({
    name,
    type: 'varchar',
    length,
    nullable: options.nullable ?? false,
    select: options.select,
  });
}

export function TextColumn(
  name: string,
  options: { nullable?: boolean; select?: boolean } = {},
): PropertyDecorator {
  return Column({ name, type: 'text', nullable: options.nullable ?? false, select: options.select });
}

export function IntegerColumn(
  name: string,
  options: { nullable?: boolean; default?: number } = {},
): PropertyDecorator {
  return Column({ name, type: 'integer', nullable: options.nullable ?? false, default: options.default });
}

export function BooleanColumn(
  name: string,
  options: { nullable?: boolean; default?: boolean } = {},
): PropertyDecorator {
  return Column({ name, type: 'boolean', nullable: options.nullable ?? false, default: options.default });
}

/** A `char(3)` ISO 4217 code; typed as a plain string so every driver accepts the entity. */
export function CurrencyColumn(name: string): PropertyDecorator {
  return Column({ name, type: String, length: 3 });
}

/** A UTC instant with milliseconds. */
export function TimestampColumn(name: string, options: { nullable?: boolean } = {}): PropertyDecorator {
  return Column({ name, type: Date, precision: 3, nullable: options.nullable ?? false });
}

/** `created_at`: set by the database on insert unless the code gives it. */
export function CreatedAtColumn(): PropertyDecorator {
  return CreateDateColumn({ name: 'created_at', type: Date, precision: 3 });
}

/** `updated_at`: set by the database on insert and by TypeORM on every update. */
export function UpdatedAtColumn(): PropertyDecorator {
  return UpdateDateColumn({ name: 'updated_at', type: Date, precision: 3 });
}

/** Stores a JSON value as text (the schema never uses a driver's JSON type). */
export function jsonText<T>(): ValueTransformer {
  return {
    to: (value: T | null | undefined) =>
      value === undefined || value === null ? value : JSON.stringify(value),
    from: (value: string | null | undefined) =>
      value === undefined || value === null ? value : (JSON.parse(value) as T),
  };
}

/** A JSON value kept as text (the migrations make long ones `mediumtext` on MariaDB). */
export function JsonTextColumn(name: string, options: { nullable?: boolean } = {}): PropertyDecorator {
  return Column({ name, type: 'text', nullable: options.nullable ?? false, transformer: jsonText() });
}

/**
 * Ciphertext of a secret (AES-256-GCM, sealed by the settings code): never selected unless a query asks for it
 * with `addSelect` or `select`, so a list or an accidental log never carries it.
 */
export function SealedColumn(name: string): PropertyDecorator {
  return Column({ name, type: 'text', nullable: true, select: false });
}

/** The id of the key that sealed the column beside it (key rotation); not secret, but hidden with it. */
export function SealKeyIdColumn(name: string): PropertyDecorator {
  return Column({ name, type: 'varchar', length: 64, nullable: true, select: false });
}

/** Gives a new row its UUID before TypeORM inserts it; entities call this from a `@BeforeInsert` hook. */
export function assignIdBeforeInsert(entity: { id?: string }): void {
  if (!entity.id) entity.id = newId();
}
