import type { EsdPrincipal } from '../../src/host/principal';

/** Every plugin permission: the reference host's admin holds them all. */
const ADMIN_PERMISSIONS = [
  'esd.settings.manage',
  'esd.catalog.sync',
  'esd.catalog.manage',
  'esd.licenses.read',
  'esd.licenses.reveal',
  'esd.licenses.manage',
  'esd.licenses.cancel',
  'esd.cancellations.decide',
];

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
