import type { RedisOptions } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { HostCatalog, HostEvents, HostNotifier } from './host/ports';
import type { PrincipalResolver } from './host/principal';

/**
 * What a host gives the plugin (host contract §2). Validated at boot: a wrong option stops the boot with the
 * option's name and what was expected.
 */
export interface MicrosoftEsdModuleOptions {
  /** The version of the host contract this host implements, e.g. `1.2.0`; checked against the manifest's `hostApi`. */
  hostApiVersion: string;
  /** The host catalog port. (`catalogue` is accepted as an alias.) */
  catalog?: HostCatalog;
  /** @deprecated alias of {@link catalog}, as spelled in host contract §2. */
  catalogue?: HostCatalog;
  /** The host's notification port. */
  notifier: HostNotifier;
  /** The host's event intake. */
  events: HostEvents;
  /** Reads the caller from a request. */
  principal: PrincipalResolver;
  /** 32 bytes, base64: seals certificates, private keys and product keys (AES-256-GCM). */
  secretKey: string;
  /** Earlier secret keys (base64), still accepted for opening sealed values until they are re-sealed. */
  previousSecretKeys?: string[];
  /**
   * Redis for the plugin's Bull queues: a `redis://` URL or ioredis options. Omitted: the host's
   * `BullModule.forRoot` configuration is used.
   */
  redis?: string | RedisOptions;
  /**
   * The DataSource holding the plugin's tables (its entities registered, its migrations run by the host).
   * Omitted: the host's default `TypeOrmModule` DataSource.
   */
  dataSource?: DataSource;
  /**
   * The path the plugin's HTTP API is mounted under, default `esd`. Routes are mounted before asynchronous
   * options resolve, so with `forRootAsync` pass it beside `useFactory`; a different value from the factory
   * stops the boot.
   */
  routePrefix?: string;
  /** `false` on web-only nodes: no queue processors are registered there. Default `true`. */
  worker?: boolean;
  /** How long the `order` hook waits for tokens before answering `pending`. Default 5000 ms. */
  orderWaitMs?: number;
  /** Timeout of each CIS API call. Default 15000 ms. */
  cisTimeoutMs?: number;
  /**
   * How often a worker node checks that Bull still holds the repeatable jobs (sweeper, token-status sync, each
   * instance's Get Services Definition) and adds back any a Redis without persistence forgot. Default 60000 ms.
   */
  scheduleCheckMs?: number;
  /**
   * Retries of queued work (token requests, returns, catalog runs) after a transient failure: total attempts
   * (default 8), the first retry's wait bound (default 2000 ms, doubling, with full jitter) and the cap of any
   * one wait (default 60000 ms). A vendor's Retry-After is always honoured.
   */
  jobRetry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /**
   * The plugin's clock for business dates (the return window, eligibility deadlines). Default the system clock;
   * a test or a host replaying history may give its own. Waiting (timeouts, retry leases) keeps real time.
   */
  clock?: { now(): Date };
}

/** The options after validation, defaults applied. */
export interface ResolvedEsdOptions {
  hostApiVersion: string;
  catalog: HostCatalog;
  notifier: HostNotifier;
  events: HostEvents;
  principal: PrincipalResolver;
  secretKey: Buffer;
  previousSecretKeys: Buffer[];
  redis?: string | RedisOptions;
  dataSource?: DataSource;
  routePrefix: string;
  worker: boolean;
  orderWaitMs: number;
  cisTimeoutMs: number;
  scheduleCheckMs: number;
  jobRetry: { attempts: number; baseMs: number; maxMs: number };
  clock: { now(): Date };
}

/** Options given beside `useFactory` (read before asynchronous options resolve). */
export interface MicrosoftEsdModuleExtras {
  routePrefix?: string;
  worker?: boolean;
}
