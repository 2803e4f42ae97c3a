import { QueryFailedError } from 'typeorm';

/**
 * Every unique key of the schema, by index name (the same names the migrations create). SQLite reports a
 * violation by its columns, not its name; this table lets one check name the key on all three drivers.
 */
export const UNIQUE_KEYS = {
  UQ_esd_certificate_thumbprint: { table: 'esd_certificate', columns: ['thumbprint'] },
  UQ_esd_client_country_pair: { table: 'esd_client_country', columns: ['client_id', 'country'] },
  PK_esd_client_country: { table: 'esd_client_country', columns: ['client_id'] },
  UQ_esd_instance_system_name: { table: 'esd_instance', columns: ['system_name'] },
  UQ_esd_instance_client_market: { table: 'esd_instance', columns: ['client_id', 'country', 'language'] },
  UQ_esd_catalog_run_active_instance: { table: 'esd_catalog_run', columns: ['active_instance_id'] },
  UQ_esd_offer_instance_offer: { table: 'esd_offer', columns: ['instance_id', 'offer_id'] },
  UQ_esd_license_order_item_unit: { table: 'esd_license', columns: ['host_order_item_id', 'unit_index'] },
  UQ_esd_license_client_transaction: { table: 'esd_license', columns: ['client_transaction_id'] },
  UQ_esd_return_client_transaction: { table: 'esd_return', columns: ['client_transaction_id'] },
  UQ_esd_return_active_license: { table: 'esd_return', columns: ['active_license_id'] },
  UQ_esd_cancellation_request_active_license: {
    table: 'esd_cancellation_request',
    columns: ['active_license_id'],
  },
} as const satisfies Record<string, { table: string; columns: readonly string[] }>;
export type UniqueKeyName = keyof typeof UNIQUE_KEYS;

/** Foreign keys whose violation the code turns into a business answer. */
export const FOREIGN_KEYS = {
  /** An instance's (client_id, country) has no binding: the client ID serves another country, or none yet. */
  FK_esd_instance_client_country: { table: 'esd_instance', columns: ['client_id', 'country'] },
} as const;

interface DriverError {
  code?: string;
  errno?: number;
  constraint?: string;
  message?: string;
  sqlMessage?: string;
}

function driverError(error: unknown): DriverError | null {
  if (!(error instanceof QueryFailedError)) return null;
  return (error.driverError ?? {}) as DriverError;
}

/**
 * True when `error` is a unique-key violation — of `key` if given. Use it to turn a lost race into the
 * existing row (idempotent inserts) or a 409, on every driver.
 */
export function isUniqueViolation(error: unknown, key?: UniqueKeyName): boolean {
  const e = driverError(error);
  if (!e) return false;
  const message = e.sqlMessage ?? e.message ?? '';
  if (e.code === '23505') return key === undefined || e.constraint === key;
  // MariaDB names every primary key PRIMARY: a PK_ key matches any primary-key violation.
  if (e.errno === 1062) {
    return (
      key === undefined ||
      message.includes(`'${key}'`) ||
      (key.startsWith('PK_') && /'(\w+\.)?PRIMARY'/.test(message))
    );
  }
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    if (key === undefined) return true;
    const { table, columns } = UNIQUE_KEYS[key];
    const failed = /constraint failed: (.*)$/.exec(message)?.[1];
    return failed === columns.map((c) => `${table}.${c}`).join(', ');
  }
  return false;
}

/** True when `error` is a foreign-key violation — of `key` if given (SQLite does not say which one). */
export function isForeignKeyViolation(error: unknown, key?: keyof typeof FOREIGN_KEYS): boolean {
  const e = driverError(error);
  if (!e) return false;
  const message = e.sqlMessage ?? e.message ?? '';
  if (e.code === '23503') return key === undefined || e.constraint === key;
  if (e.errno === 1451 || e.errno === 1452) return key === undefined || message.includes(`\`${key}\``);
  return e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
