/** Injection token of the validated {@link MicrosoftEsdModuleOptions}. */
export const ESD_OPTIONS = Symbol('ESD_OPTIONS');
/** Injection tokens of the host ports, resolved from the module options. */
export const HOST_CATALOG = Symbol('HOST_CATALOG');
export const HOST_NOTIFIER = Symbol('HOST_NOTIFIER');
export const HOST_EVENTS = Symbol('HOST_EVENTS');
/** Injection token of the plugin's clock (tests and the sandbox may move time). */
export const ESD_CLOCK = Symbol('ESD_CLOCK');

/** The plugin id from the manifest: routes, queue names and table prefixes derive from it. */
export const PLUGIN_ID = 'microsoft-esd';
/** Prefix of every table the plugin owns. */
export const TABLE_PREFIX = 'esd_';
/** TypeORM connection name the plugin uses when the host hands it a DataSource. */
export const ESD_DATA_SOURCE = 'esd';

/** Bull queues the plugin owns. */
export const QUEUES = {
  provisioning: 'esd-provisioning',
  catalog: 'esd-catalog',
  maintenance: 'esd-maintenance',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * Every job the plugin enqueues, by queue. The boot check compares this table with the `@Process`
 * handlers registered on the queue processors: each name must have exactly one handler.
 */
export const JOBS: { readonly [Q in QueueName]: readonly string[] } = {
  [QUEUES.provisioning]: [],
  [QUEUES.catalog]: ['catalog-sync'],
  [QUEUES.maintenance]: ['reseal-secrets'],
};

/** Get Services Definition: one catalog run of one instance (manual trigger or schedule). */
export const CATALOG_SYNC_JOB = 'catalog-sync';

/** Default options of every job: bounded attempts, exponential backoff, finished jobs dropped. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 1000,
  removeOnFail: 5000,
} as const;
