import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mysql2 from 'mysql2';
import type { DataSourceOptions } from 'typeorm';
import { ESD_ENTITIES } from './entities';
import { ESD_MIGRATIONS } from './migrations';

type BetterSqlite3DataSourceOptions = Extract<DataSourceOptions, { type: 'better-sqlite3' }>;
type PostgresDataSourceOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
type MysqlDataSourceOptions = Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' }>;

/**
 * Options a caller may add to what the URL gives (its own entities and migrations, logging, a name, …).
 * `synchronize` and `migrationsRun` are not among them: the schema only ever changes through migrations, run
 * by the host.
 */
export type DataSourceExtras = Partial<
  Pick<
    DataSourceOptions,
    | 'entities'
    | 'migrations'
    | 'migrationsTableName'
    | 'migrationsTransactionMode'
    | 'subscribers'
    | 'logging'
    | 'logger'
    | 'maxQueryExecutionTime'
    | 'namingStrategy'
    | 'entityPrefix'
  >
>;

/**
 * mysql2 with every pooled connection's session in UTC. `timezone: 'Z'` only tells mysql2 how to convert the
 * values it sends and reads; the server's own clock (`CURRENT_TIMESTAMP` defaults and TypeORM's `updated_at`
 * updates) follows the session time zone, which is the server's system zone unless set.
 */
const mysql2InUtc = {
  ...mysql2,
  createPool(config: mysql2.PoolOptions): mysql2.Pool {
    const pool = mysql2.createPool(config);
    pool.on('connection', (connection) => {
      connection.query("SET time_zone = '+00:00'", () => undefined);
    });
    return pool;
  },
};

const ACCEPTED_FORMS =
  'sqlite:<path> (e.g. sqlite:./data/esd.sqlite), postgres://user:password@host:5432/db[?schema=name&ssl=true] ' +
  '(or postgresql://), mysql://user:password@host:3306/db[?ssl=true] (or mariadb://)';

function invalid(url: string, why: string): Error {
  const shown = url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  return new Error(`DATABASE_URL "${shown}" ${why}. Accepted forms: ${ACCEPTED_FORMS}.`);
}

function queryParams(url: string, parsed: URL, allowed: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of parsed.searchParams) {
    if (!allowed.includes(key)) {
      throw invalid(
        url,
        `has the parameter "${key}", which is not understood (allowed: ${allowed.join(', ')})`,
      );
    }
    params.set(key, value);
  }
  return params;
}

function flag(url: string, name: string, value: string | undefined): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw invalid(url, `has ${name}=${value}; use true or false`);
}

function databaseName(url: string, parsed: URL): string {
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!name || name.includes('/')) throw invalid(url, 'names no database (the path after host:port)');
  return name;
}

/**
 * TypeORM DataSource options from a `DATABASE_URL`: `sqlite:<path>` (better-sqlite3, the folder created, WAL
 * and foreign keys on), `postgres://…` / `postgresql://…` (pg; `?schema=` puts every table in that schema,
 * which must exist) or `mysql://…` / `mariadb://…` (mysql2 in UTC, utf8mb4). The plugin's entities and
 * migrations are included unless `extra` replaces them; `migrationsRun` and `synchronize` are always false.
 *
 * @throws Error naming DATABASE_URL and the accepted forms when the URL is not one of them.
 */
export function dataSourceOptionsFromUrl(url: string, extra: DataSourceExtras = {}): DataSourceOptions {
  const common = {
    entities: [...ESD_ENTITIES],
    migrations: [...ESD_MIGRATIONS],
    ...extra,
    synchronize: false as const,
    migrationsRun: false as const,
  };
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();

  if (scheme === 'sqlite') {
    let file = trimmed.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    if (!file) throw invalid(url, 'names no file');
    if (file !== ':memory:') {
      file = path.resolve(file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
    }
    const options: BetterSqlite3DataSourceOptions = {
      ...common,
      type: 'better-sqlite3',
      database: file,
      enableWAL: file !== ':memory:',
      // The driver turns foreign keys on for every connection; a busy writer makes others wait, not fail.
      timeout: 10_000,
    };
    return options;
  }

  if (scheme === 'postgres' || scheme === 'postgresql') {
    const parsed = parseUrl(url, trimmed);
    const params = queryParams(url, parsed, ['schema', 'ssl']);
    const schema = params.get('schema');
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) {
      throw invalid(url, `has schema=${schema}, which is not a plain identifier`);
    }
    const options: PostgresDataSourceOptions = {
      ...common,
      type: 'postgres',
      host: parsed.hostname || '127.0.0.1',
      port: parsed.port ? Number(parsed.port) : 5432,
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      database: databaseName(url, parsed),
      ssl: flag(url, 'ssl', params.get('ssl')),
      ...(schema === undefined
        ? {}
        : // Raw SQL finds the tables too: the session's search_path starts with the schema.
          { schema, extra: { options: `-c search_path=${schema},public` } }),
    };
    return options;
  }

  if (scheme === 'mysql' || scheme === 'mariadb') {
    const parsed = parseUrl(url, trimmed);
    const params = queryParams(url, parsed, ['ssl']);
    const options: MysqlDataSourceOptions = {
      ...common,
      type: scheme,
      host: parsed.hostname || '127.0.0.1',
      port: parsed.port ? Number(parsed.port) : 3306,
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      database: databaseName(url, parsed),
      ssl: flag(url, 'ssl', params.get('ssl')) ? {} : undefined,
      timezone: 'Z',
      charset: 'utf8mb4',
      driver: mysql2InUtc,
    };
    return options;
  }

  throw invalid(url, scheme ? `uses the scheme "${scheme}:", which is not supported` : 'is not a URL');
}

function parseUrl(url: string, trimmed: string): URL {
  try {
    return new URL(trimmed);
  } catch {
    throw invalid(url, 'cannot be parsed');
  }
}
