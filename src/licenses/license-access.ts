import { Brackets, type SelectQueryBuilder } from 'typeorm';
import type { EsdPermission, EsdPrincipal } from '../host/principal';
import type { LicenseEntity } from './license.entity';

/** The columns that decide who may see a license. */
export type LicenseOwnership = Pick<
  LicenseEntity,
  'customerAccountId' | 'billToAccountId' | 'resellerAccountId'
>;

/**
 * Who sees a license (ARCHITECTURE.md §1.5): an admin every license; a reseller those billed to it and its
 * customers'; an end customer their own. Anyone else must not learn that it exists (the routes answer 404).
 */
export function maySee(principal: EsdPrincipal, license: LicenseOwnership): boolean {
  switch (principal.role) {
    case 'admin':
      return true;
    case 'reseller':
      return (
        license.billToAccountId === principal.accountId || license.resellerAccountId === principal.accountId
      );
    case 'customer':
      return license.customerAccountId === principal.accountId;
  }
}

/** {@link maySee} as a query condition on alias `l`, so lists and counts never read another account's rows. */
export function scopeQuery(
  query: SelectQueryBuilder<LicenseEntity>,
  principal: EsdPrincipal,
): SelectQueryBuilder<LicenseEntity> {
  switch (principal.role) {
    case 'admin':
      return query;
    case 'reseller':
      return query.andWhere(
        new Brackets((q) =>
          q
            .where('l.billToAccountId = :scopeAccount', { scopeAccount: principal.accountId })
            .orWhere('l.resellerAccountId = :scopeAccount', { scopeAccount: principal.accountId }),
        ),
      );
    case 'customer':
      return query.andWhere('l.customerAccountId = :scopeAccount', { scopeAccount: principal.accountId });
  }
}

/** What the caller may do with a license now; the record shows it so a UI offers only these. */
export type LicenseAction =
  'reveal' | 'resend' | 'refresh-status' | 'resync' | 'cancel' | 'request-cancellation';

type ActionState = Pick<LicenseEntity, 'provisioningStatus' | 'status' | 'tokenStatus' | 'returnStatus'>;

/**
 * A license that may be worth cancelling: issued, active, its key unused, no return under way. The window and the
 * offer's terms are judged by the eligibility route (`GET /my/licenses/:id/cancellation`), which says why not.
 */
const cancellable = (l: ActionState) =>
  l.provisioningStatus === 'Synchronized' &&
  l.status === 'active' &&
  l.tokenStatus === 'Activated' &&
  l.returnStatus !== 'Pending';

const ADMIN_ACTIONS: ReadonlyArray<{
  action: LicenseAction;
  permission: EsdPermission;
  when: (l: ActionState) => boolean;
}> = [
  {
    action: 'reveal',
    permission: 'esd.licenses.reveal',
    when: (l) => l.provisioningStatus === 'Synchronized',
  },
  {
    action: 'resend',
    permission: 'esd.licenses.manage',
    when: (l) => l.provisioningStatus === 'Synchronized' && l.status === 'active',
  },
  {
    action: 'refresh-status',
    permission: 'esd.licenses.manage',
    when: (l) => l.provisioningStatus === 'Synchronized',
  },
  { action: 'resync', permission: 'esd.licenses.manage', when: (l) => l.provisioningStatus === 'Failed' },
  { action: 'cancel', permission: 'esd.licenses.cancel', when: cancellable },
];

export function actionsFor(principal: EsdPrincipal, license: ActionState): LicenseAction[] {
  if (principal.role !== 'admin') {
    // A cancelled license's key is Microsoft's again: the storefront has nothing to show or ask.
    if (license.provisioningStatus !== 'Synchronized' || license.status !== 'active') return [];
    return cancellable(license) ? ['reveal', 'request-cancellation'] : ['reveal'];
  }
  return ADMIN_ACTIONS.filter((a) => principal.permissions.includes(a.permission) && a.when(license)).map(
    (a) => a.action,
  );
}
