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
  [QUEUES.provisioning]: ['provision-license', 'execute-return'],
  [QUEUES.catalog]: ['catalog-sync'],
  [QUEUES.maintenance]: ['reseal-secrets', 'sweeper', 'token-status-sync'],
};

/** Get Services Definition: one catalog run of one instance (manual trigger or schedule). */
export const CATALOG_SYNC_JOB = 'catalog-sync';
/** One license's token request (and, once it has its token, its welcome notification and event). */
export const PROVISION_LICENSE_JOB = 'provision-license';
/** One return of a license's token to Microsoft (and, once it has an outcome, the credit and notifications). */
export const EXECUTE_RETURN_JOB = 'execute-return';
/** Re-enqueues work whose job was lost (Redis flushed, worker killed): licenses, catalog runs. */
export const SWEEPER_JOB = 'sweeper';
/** Asks Microsoft which Activated tokens were redeemed. */
export const TOKEN_STATUS_SYNC_JOB = 'token-status-sync';
