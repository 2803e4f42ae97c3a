/** The shape of `plugin.manifest.json` (host contract §1); `plugin.manifest.schema.json` is its JSON Schema. */
export interface PluginManifest {
  id: string;
  name: string;
  version: string;
  description: string;
  kind: 'service-manager';
  /** Semver range of the host contract the plugin supports. */
  hostApi: string;
  /** Compiled CommonJS file exporting the module, relative to the package root. */
  entry: string;
  /** Name of the exported NestJS module class. */
  module: string;
  productTypes: Array<{
    code: string;
    name: string;
    billing: 'one-time';
    quantityPerItem: number;
    returnable: boolean;
  }>;
  hooks: { precheck: boolean; order: boolean; cancel: boolean; status: boolean };
  settings: { schemaRoute: string; secretFields: string[] };
  jobs: Array<{ name: string; queue: string; defaultSchedule?: string; description: string }>;
  migrations: string;
  permissions: string[];
  notifications: Array<{ template: string; description: string; data: string[] }>;
}
