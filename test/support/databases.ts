/**
 * Isolated scratch databases on the real servers: each call makes its own PostgreSQL schema, MariaDB database
 * or SQLite file (random suffix), so suites that run against the same servers never see each other's tables.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { dataSourceOptionsFromUrl, type DataSourceExtras } from '../../src/storage/database-url';
import { requireService } from './services';

export type DatabaseKind = 'sqlite' | 'postgres' | 'mariadb';
export const DATABASE_KINDS: readonly DatabaseKind[] = ['sqlite', 'postgres', 'mariadb'];

export interface TestDatabase {
  kind: DatabaseKind;
  /** A DATABASE_URL pointing at the scratch database. */
  url: string;
  /** `dataSourceOptionsFromUrl(url, extra)`: the plugin's entities and migrations, never synchronize. */
  dataSourceOptions: DataSourceOptions;
  /** Drops the scratch schema / database / file. Close DataSources on it first. */
  drop(): Promise<void>;
}

function scratchName(): string {
  return `esd_test_${randomBytes(5).toString('hex')}`;
}

/** Creates an empty scratch database of `kind`; an unreachable server fails naming the command that starts it. */
export async function createTestDatabase(
  kind: DatabaseKind,
  extra: DataSourceExtras = {},
): Promise<TestDatabase> {
  switch (kind) {
    case 'sqlite': {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esd-test-'));
      const url = `sqlite:${path.join(dir, 'esd.sqlite')}`;
      return {
        kind,
        url,
        dataSourceOptions: dataSourceOptionsFromUrl(url, extra),
        drop: () => fs.promises.rm(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres': {
      const base = await requireService('postgres');
      const schema = scratchName();
      await onServer({ type: 'postgres', url: base }, `CREATE SCHEMA "${schema}"`);
      const u = new URL(base);
      u.searchParams.set('schema', schema);
      const url = u.toString();
      return {
        kind,
        url,
        dataSourceOptions: dataSourceOptionsFromUrl(url, extra),
        drop: () => onServer({ type: 'postgres', url: base }, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
      };
    }
    case 'mariadb': {
      const base = await requireService('mariadb');
      const database = scratchName();
      await onServer(
        { type: 'mariadb', url: base },
        `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      );
      const u = new URL(base);
      u.pathname = `/${database}`;
      const url = u.toString();
      return {
        kind,
        url,
        dataSourceOptions: dataSourceOptionsFromUrl(url, extra),
        drop: () => onServer({ type: 'mariadb', url: base }, `DROP DATABASE IF EXISTS \`${database}\``),
      };
    }
  }
}

/** Runs one administrative statement on the server's default database. */
async function onServer(options: { type: 'postgres' | 'mariadb'; url: string }, sql: string): Promise<void> {
  const admin = new DataSource({ ...options, poolSize: 1 });
  await admin.initialize();
  try {
    await admin.query(sql);
  } finally {
    await admin.destroy();
  }
}
