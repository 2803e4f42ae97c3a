import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { DynamicModule } from '@nestjs/common';
import type { PluginManifest } from '../../src/host/manifest';

/** What the reference host uses of a loaded plugin package: its declared module and its storage. */
export interface LoadedPlugin {
  root: string;
  manifest: PluginManifest;
  /** The package's exports, as `require(entry)` gave them. */
  exports: typeof import('../../src/index');
  module: { forRootAsync(options: Record<string, unknown>): DynamicModule };
}

/**
 * Loads a service-manager plugin the way a host does: reads `plugin.manifest.json` before any code, validates it
 * against the schema the package ships, then requires `entry` and takes the class named by `module`.
 */
export function loadPlugin(root: string): LoadedPlugin {
  const read = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
  const manifest = read('plugin.manifest.json') as PluginManifest;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(read('plugin.manifest.schema.json') as object);
  if (!validate(manifest)) {
    const problems = (validate.errors ?? [])
      .map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
      .join('; ');
    throw new Error(`plugin.manifest.json in ${root} is not valid: ${problems}`);
  }
  const entry = path.join(root, manifest.entry);
  if (!fs.existsSync(entry)) {
    throw new Error(
      `The plugin's entry ${manifest.entry} does not exist in ${root}: build the plugin first (npm run build).`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exports = require(entry) as LoadedPlugin['exports'];
  const module = (exports as unknown as Record<string, unknown>)[manifest.module] as
    LoadedPlugin['module'] | undefined;
  if (typeof (module as { forRootAsync?: unknown } | undefined)?.forRootAsync !== 'function') {
    throw new Error(`${manifest.entry} does not export a NestJS module named ${manifest.module}.`);
  }
  return { root, manifest, exports, module: module as LoadedPlugin['module'] };
}

/** This repository's root: the plugin package the reference host loads by default. */
export function defaultPluginRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'plugin.manifest.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('plugin.manifest.json not found above the reference host');
    dir = parent;
  }
  return dir;
}
