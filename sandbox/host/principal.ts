import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PluginManifest } from '../../src/host/manifest';
import type { EsdPrincipal } from '../../src/host/principal';
import { defaultPluginRoot } from './plugin-loader';

/** The reference host's admin holds every permission the plugin's manifest declares. */
const ADMIN_PERMISSIONS = (
  JSON.parse(
    fs.readFileSync(path.join(defaultPluginRoot(), 'plugin.manifest.json'), 'utf8'),
  ) as PluginManifest
).permissions;

const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,36}$/;

/**
 * The reference host's stand-in for a login: header `x-principal: admin`, `reseller:<accountId>` or
 * `customer:<accountId>`. Anything else is anonymous.
 */
export function principalFromRequest(request: unknown): EsdPrincipal | undefined {
  const headers = (request as { headers?: Record<string, string | string[] | undefined> }).headers ?? {};
  const raw = headers['x-principal'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (value === 'admin')
    return { role: 'admin', accountId: 'provider', userId: 'admin', permissions: ADMIN_PERMISSIONS };
  const [role, accountId, ...rest] = value.split(':');
  if (rest.length > 0 || !accountId || !ACCOUNT_ID.test(accountId)) return undefined;
  if (role === 'reseller' || role === 'customer')
    return { role, accountId, userId: accountId, permissions: [] };
  return undefined;
}
