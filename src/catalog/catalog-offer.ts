import type { CisOffer, CisOfferEntry } from '../cis';
import type { OfferVendorStatus } from './offer.entity';

/**
 * An offer as the catalog keeps it: Microsoft's offer checked against the `esd_offer` columns, its status
 * renamed to say whose it is.
 */
export type CatalogOffer = Omit<CisOffer, 'status'> & { vendorStatus: OfferVendorStatus };

/** An offer the run could not use, as the run's result lists it (host-contract.md §7). */
export interface SkippedOffer {
  offerId?: string;
  reason: string;
}

/** One vendor offer after the catalog's checks: usable, or skipped with the reason. */
export type CatalogOfferCheck = { ok: true; offer: CatalogOffer } | ({ ok: false } & SkippedOffer);

/** Longest values the `esd_offer` columns take; a longer value would fail the whole run's write. */
export const CATALOG_OFFER_LIMITS = {
  offerId: 100,
  offerUri: 1000,
  name: 500,
  productFamily: 200,
} as const;

/** Offer IDs become host product codes: printable, no spaces. */
const OFFER_ID_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Turns one entry of the CIS listing into a {@link CatalogOffer}, or says why the run skips it. The CIS
 * client already checked types and ranges; this adds what the plugin needs to store and sell the offer.
 */
export function catalogOfferFrom(entry: CisOfferEntry): CatalogOfferCheck {
  if (!entry.ok) {
    const offerId = entry.offerId !== undefined && usableOfferId(entry.offerId) ? entry.offerId : undefined;
    return { ok: false, ...(offerId !== undefined ? { offerId } : {}), reason: entry.reason };
  }
  const offer = entry.offer;
  const problems: string[] = [];
  if (!usableOfferId(offer.offerId)) {
    problems.push(`offerId is not 1–${CATALOG_OFFER_LIMITS.offerId} printable characters without spaces`);
  }
  for (const field of ['offerUri', 'name', 'productFamily'] as const) {
    const value = offer[field];
    if (value !== null && value.length > CATALOG_OFFER_LIMITS[field]) {
      problems.push(`${field} is longer than ${CATALOG_OFFER_LIMITS[field]} characters`);
    }
  }
  if (problems.length > 0) {
    return {
      ok: false,
      ...(usableOfferId(offer.offerId) ? { offerId: offer.offerId } : {}),
      reason: problems.join('; '),
    };
  }
  return {
    ok: true,
    offer: {
      offerId: offer.offerId,
      offerUri: offer.offerUri,
      name: offer.name,
      shortDescription: offer.shortDescription,
      productFamily: offer.productFamily,
      minQuantity: offer.minQuantity,
      maxQuantity: offer.maxQuantity,
      isReturnable: offer.isReturnable,
      vendorStatus: offer.status,
      lastModified: offer.lastModified,
    },
  };
}

function usableOfferId(offerId: string): boolean {
  return offerId.length <= CATALOG_OFFER_LIMITS.offerId && OFFER_ID_PATTERN.test(offerId);
}
