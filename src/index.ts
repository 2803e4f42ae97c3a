/** Public exports of the Microsoft ESD service manager plugin. */
export { MicrosoftEsdModule } from './microsoft-esd.module';
export { EsdHooksService } from './licenses/esd-hooks.service';
export type { LicenseView } from './licenses/license-view';
export type {
  MicrosoftEsdModuleOptions,
  MicrosoftEsdModuleExtras,
  ResolvedEsdOptions,
} from './microsoft-esd.options';
export * from './host/ports';
export * from './host/hooks';
export * from './host/principal';
export type { PluginManifest } from './host/manifest';
export { loadPluginManifest, assertHostCompatible } from './host/plugin-manifest';
export { ESD_OPTIONS, QUEUES, JOBS, PLUGIN_ID, TABLE_PREFIX } from './constants';
export { EsdErrorCode, ERROR_DESCRIPTIONS } from './common/error-codes';
export { EsdError } from './common/esd-error';
export { ESD_ENTITIES } from './storage/entities';
export { ESD_MIGRATIONS } from './storage/migrations';
export { dataSourceOptionsFromUrl } from './storage/database-url';
export * from './cis';
export * from './common/logging';
