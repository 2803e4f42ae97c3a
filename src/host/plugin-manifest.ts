import * as fs from 'node:fs';
import * as path from 'node:path';
import * as semver from 'semver';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import type { PluginManifest } from './manifest';

const MANIFEST_FILE = 'plugin.manifest.json';

/** The package root: the nearest folder above this file holding the manifest (works from src/ and dist/src/). */
export function pluginRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, MANIFEST_FILE)) && fs.existsSync(path.join(dir, 'package.json')))
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`${MANIFEST_FILE} not found above ${from}: the package is incomplete`);
    dir = parent;
  }
}

let cached: PluginManifest | undefined;

/** The plugin's own manifest, read once. */
export function loadPluginManifest(): PluginManifest {
  cached ??= JSON.parse(fs.readFileSync(path.join(pluginRoot(), MANIFEST_FILE), 'utf8')) as PluginManifest;
  return cached;
}

/**
 * Refuses a host whose contract version is outside the manifest's `hostApi` range, with a message that says
 * both versions and what to do.
 */
export function assertHostCompatible(
  hostApiVersion: string,
  manifest: PluginManifest = loadPluginManifest(),
): void {
  if (!semver.satisfies(hostApiVersion, manifest.hostApi, { includePrerelease: true })) {
    throw new EsdError(
      EsdErrorCode.HOST_API_INCOMPATIBLE,
      `The host implements host contract ${hostApiVersion}, but ${manifest.name} ${manifest.version} supports ` +
        `host contract ${manifest.hostApi}. Install a plugin version that supports ${hostApiVersion}, or upgrade the host.`,
      { hostApiVersion, supported: manifest.hostApi, pluginVersion: manifest.version },
    );
  }
}
