/** The roles the plugin distinguishes. */
export type EsdRole = 'admin' | 'reseller' | 'customer';

/** The plugin's permission names, as declared in the manifest. */
export const ESD_PERMISSIONS = [
  'esd.settings.manage',
  'esd.catalog.sync',
  'esd.catalog.manage',
  'esd.licenses.read',
  'esd.licenses.reveal',
  'esd.licenses.manage',
  'esd.licenses.cancel',
  'esd.cancellations.decide',
] as const;
export type EsdPermission = (typeof ESD_PERMISSIONS)[number];

/**
 * The caller of a plugin route, as the host knows it. The host reads it from its own session; the plugin
 * decides what each principal may see and do.
 */
export interface EsdPrincipal {
  role: EsdRole;
  /** The host account the caller acts for (the reseller's or the customer's account; the provider's for admins). */
  accountId: string;
  /** The person behind the call, for audit. */
  userId?: string;
  /** Plugin permissions the host grants this caller (admins need them; customers and resellers act on their own). */
  permissions: string[];
}

/**
 * How the plugin reads the principal from an HTTP request (an Express or Fastify request object). Answer
 * `undefined` (or `null`) for an anonymous caller: plugin routes then answer 401.
 */
export type PrincipalResolver = (request: unknown) => EsdPrincipal | null | undefined;
