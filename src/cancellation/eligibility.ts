import type { LicenseEntity } from '../licenses/license.entity';

/** Why a license cannot be cancelled now (host contract §7, Eligibility). */
export const ELIGIBILITY_REASON_CODES = [
  'NOT_RETURNABLE',
  'TOKEN_REDEEMED',
  'RETURN_WINDOW_EXPIRED',
  'ALREADY_CANCELLED',
  'REQUEST_PENDING',
  'NOT_PROVISIONED',
] as const;
export type EligibilityReasonCode = (typeof ELIGIBILITY_REASON_CODES)[number];

/**
 * The reasons that describe the license itself rather than the moment: when the plugin refuses a cancellation
 * for one of them, the license records it as its `returnReason` (its return status stays `None`).
 */
export const LICENSE_REFUSAL_CODES: ReadonlySet<EligibilityReasonCode> = new Set([
  'NOT_RETURNABLE',
  'TOKEN_REDEEMED',
  'RETURN_WINDOW_EXPIRED',
]);

export interface EligibilityReason {
  code: EligibilityReasonCode;
  /** A sentence the customer or the administrator can act on. */
  message: string;
}

/** Whether a license may be cancelled now, every reason why not, and until when it may be. */
export interface Eligibility {
  eligible: boolean;
  reasons: EligibilityReason[];
  /** The end of the return window (null while the license has no token: the window starts with it). */
  deadline: Date | null;
}

/** What the decision reads: the license as stored, the terms of the sale, and what else is under way. */
export interface EligibilityFacts {
  license: Pick<
    LicenseEntity,
    | 'status'
    | 'provisioningStatus'
    | 'tokenStatus'
    | 'tokenCreatedAt'
    | 'redeemedAt'
    | 'purchaseDate'
    | 'returnStatus'
    | 'returnReasonCode'
    | 'returnReasonMessage'
  >;
  /** The offer's returnable flag as the catalog holds it; null when the offer row is gone (Microsoft judges). */
  returnable: boolean | null;
  /** The instance's return window, in days from the token's creation. */
  returnWindowDays: number;
  /** Another cancellation of the license waits for a decision or is under way (a pending request or return). */
  cancellationUnderWay: boolean;
  /** The plugin clock's now. */
  now: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The end of the return window: `returnWindowDays` after the token was created at Microsoft (cis-api.md §2), or
 * after the purchase for a license stored before the token's creation time was kept.
 */
export function returnDeadline(
  license: Pick<LicenseEntity, 'tokenCreatedAt' | 'purchaseDate' | 'provisioningStatus'>,
  returnWindowDays: number,
): Date | null {
  if (license.provisioningStatus !== 'Synchronized') return null;
  const start = license.tokenCreatedAt ?? license.purchaseDate;
  return new Date(start.getTime() + returnWindowDays * DAY_MS);
}

/**
 * The one place that decides whether a license may be cancelled (ARCHITECTURE.md §1.6): the storefront's
 * eligibility view, a new request, an accepted request and an immediate cancel all ask it, so what a customer is
 * shown is what the plugin later does. Microsoft stays the final judge: a refusal it gives later is recorded too.
 */
export function evaluateEligibility(facts: EligibilityFacts): Eligibility {
  const { license } = facts;
  const deadline = returnDeadline(license, facts.returnWindowDays);
  const reasons: EligibilityReason[] = [];
  const add = (code: EligibilityReasonCode, message: string) => reasons.push({ code, message });

  if (license.status === 'cancelled' || license.tokenStatus === 'ReturnAccepted') {
    add('ALREADY_CANCELLED', 'This license is already cancelled: Microsoft has taken its product key back.');
    return { eligible: false, reasons, deadline };
  }
  if (license.provisioningStatus !== 'Synchronized') {
    add(
      'NOT_PROVISIONED',
      license.provisioningStatus === 'Failed'
        ? 'This license never received a product key (its provisioning failed), so there is nothing to return.'
        : 'This license is still waiting for its product key; it can be cancelled once the key is issued.',
    );
  }
  if (facts.returnable === false) {
    add('NOT_RETURNABLE', 'Microsoft does not take this product back: its offer is not returnable.');
  }
  if (license.tokenStatus === 'Redeemed') {
    add(
      'TOKEN_REDEEMED',
      license.redeemedAt
        ? `The product key was redeemed on ${utc(license.redeemedAt)}, and a used license cannot be returned.`
        : 'The product key has been redeemed, and a used license cannot be returned.',
    );
  }
  if (deadline !== null && facts.now.getTime() > deadline.getTime()) {
    add(
      'RETURN_WINDOW_EXPIRED',
      `The return window closed on ${utc(deadline)}, ${facts.returnWindowDays} days after the product key was issued.`,
    );
  }
  // Microsoft's own refusal stands where the plugin's facts disagree (its clock, the terms it sold under): neither
  // a window nor a sale's terms change in the license's favour, so asking again would only be refused again.
  const vendorRefusal = license.returnStatus === 'Rejected' ? license.returnReasonCode : null;
  if (
    (vendorRefusal === 'RETURN_WINDOW_EXPIRED' || vendorRefusal === 'NOT_RETURNABLE') &&
    !reasons.some((r) => r.code === vendorRefusal)
  ) {
    add(
      vendorRefusal,
      `Microsoft refused to take this license back: ${license.returnReasonMessage ?? 'no reason given.'}`,
    );
  }
  if (facts.cancellationUnderWay) {
    add('REQUEST_PENDING', 'A cancellation of this license is already waiting for a decision or under way.');
  }
  return { eligible: reasons.length === 0, reasons, deadline };
}

/** `2025-01-31 14:02 UTC`: exact to the minute, and unambiguous whatever the reader's time zone. */
function utc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
