import { createHash } from 'node:crypto';
import type { CatalogOffer, CatalogOfferCheck, SkippedOffer } from './catalog-offer';
import type { CatalogRunResult } from './catalog-run.entity';
import type { OfferCatalogStatus, OfferVendorStatus } from './offer.entity';

/** What the diff needs of an `esd_offer` row of the instance. */
export interface StoredOfferState {
  offerId: string;
  contentHash: string;
  catalogStatus: OfferCatalogStatus;
  vendorStatus: OfferVendorStatus;
  missingSince: Date | null;
}

/** What this run did to one offer. */
export type OfferOutcome = 'new' | 'updated' | 'discontinued' | 'unchanged' | 'skipped';

/** A full `esd_offer` row's catalog columns: the offer as fetched and the run's verdict on it. */
export interface OfferRowValues extends CatalogOffer {
  contentHash: string;
  catalogStatus: OfferCatalogStatus;
  missingSince: Date | null;
}

/** A change to an existing row, by offer ID (the instance is the caller's). */
export type OfferRowUpdate =
  /** The offer is in the listing: every catalog column is rewritten. */
  | { offerId: string; outcome: 'updated' | 'discontinued'; values: OfferRowValues }
  /** The offer vanished from the listing: only its status and `missingSince` change. */
  | {
      offerId: string;
      outcome: 'discontinued';
      values: { catalogStatus: 'discontinued'; missingSince: Date };
    };

/** The writes a run makes; `unchanged` rows cost none. */
export interface CatalogWritePlan {
  insert: OfferRowValues[];
  update: OfferRowUpdate[];
  unchanged: string[];
}

export interface CatalogDiff {
  plan: CatalogWritePlan;
  /** The run's result (host-contract.md §7): what this run changed. */
  result: CatalogRunResult;
}

/**
 * SHA-256 (hex) over exactly the fields the host shows for a product — name (in the instance's language),
 * short description, offer URI, quantities and returnability. Not the vendor status (a transition of its
 * own), the product family or `lastModified` (the host shows neither: a bump alone is no update).
 */
export function offerContentHash(offer: CatalogOffer): string {
  const shown = [
    offer.name,
    offer.shortDescription,
    offer.offerUri,
    offer.minQuantity,
    offer.maxQuantity,
    offer.isReturnable,
  ];
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex');
}

/**
 * Compares the instance's stored offers with a fresh listing (valid and skipped entries, in Microsoft's
 * order) and says, per offer, what changed:
 * - `new`: not stored yet. Stored with catalog status `new` — or `discontinued` if Microsoft already lists
 *   it Discontinued (it is reported under `discontinued` then, and never sold).
 * - `updated`: a shown field changed, or a discontinued (or vanished) offer is Active again. A row still
 *   `new` (never acknowledged) keeps `new`, since the admin has yet to price and activate it; it is listed
 *   under `updated` all the same.
 * - `discontinued`: Microsoft lists it Discontinued, or it vanished from the listing — once: a row already
 *   `discontinued` is left alone on later runs.
 * - `unchanged`: nothing to write.
 * - `skipped`: malformed. It counts as seen, so a stored offer behind it is not taken for vanished; the
 *   row keeps what the last good listing said. A second entry with an offer ID already listed is skipped
 *   too.
 */
export function diffCatalog(input: {
  stored: readonly StoredOfferState[];
  fetched: readonly CatalogOfferCheck[];
  now: Date;
}): CatalogDiff {
  const stored = new Map(input.stored.map((row) => [row.offerId, row]));
  /** Every offer ID the listing named, malformed entries included: none of them vanished. */
  const seen = new Set<string>();
  /** Offer IDs a valid entry already decided, to skip repeats. */
  const decided = new Set<string>();
  const plan: CatalogWritePlan = { insert: [], update: [], unchanged: [] };
  const lists = { new: [] as string[], updated: [] as string[], discontinued: [] as string[] };
  const skipped: SkippedOffer[] = [];

  for (const entry of input.fetched) {
    if (!entry.ok) {
      if (entry.offerId !== undefined) seen.add(entry.offerId);
      skipped.push(
        entry.offerId !== undefined
          ? { offerId: entry.offerId, reason: entry.reason }
          : { reason: entry.reason },
      );
      continue;
    }
    const offer = entry.offer;
    if (decided.has(offer.offerId)) {
      skipped.push({ offerId: offer.offerId, reason: 'offerId appears more than once in the listing' });
      continue;
    }
    decided.add(offer.offerId);
    seen.add(offer.offerId);
    const contentHash = offerContentHash(offer);
    const row = stored.get(offer.offerId);
    const discontinuedNow = offer.vendorStatus === 'Discontinued';

    if (row === undefined) {
      const catalogStatus = discontinuedNow ? 'discontinued' : 'new';
      plan.insert.push({ ...offer, contentHash, catalogStatus, missingSince: null });
      lists[catalogStatus].push(offer.offerId);
      continue;
    }
    const wasDiscontinued = row.catalogStatus === 'discontinued';
    if (discontinuedNow) {
      if (wasDiscontinued) {
        plan.unchanged.push(offer.offerId);
      } else {
        const values = { ...offer, contentHash, catalogStatus: 'discontinued' as const, missingSince: null };
        plan.update.push({ offerId: offer.offerId, outcome: 'discontinued', values });
        lists.discontinued.push(offer.offerId);
      }
      continue;
    }
    const changed =
      wasDiscontinued ||
      row.contentHash !== contentHash ||
      row.vendorStatus !== 'Active' ||
      row.missingSince !== null;
    if (!changed) {
      plan.unchanged.push(offer.offerId);
      continue;
    }
    const catalogStatus: OfferCatalogStatus = row.catalogStatus === 'new' ? 'new' : 'updated';
    plan.update.push({
      offerId: offer.offerId,
      outcome: 'updated',
      values: { ...offer, contentHash, catalogStatus, missingSince: null },
    });
    lists.updated.push(offer.offerId);
  }

  for (const row of input.stored) {
    if (seen.has(row.offerId)) continue;
    if (row.catalogStatus === 'discontinued') {
      plan.unchanged.push(row.offerId);
      continue;
    }
    plan.update.push({
      offerId: row.offerId,
      outcome: 'discontinued',
      values: { catalogStatus: 'discontinued', missingSince: input.now },
    });
    lists.discontinued.push(row.offerId);
  }

  return {
    plan,
    result: {
      counts: {
        new: lists.new.length,
        updated: lists.updated.length,
        discontinued: lists.discontinued.length,
        unchanged: plan.unchanged.length,
        skipped: skipped.length,
      },
      new: lists.new,
      updated: lists.updated,
      discontinued: lists.discontinued,
      skipped,
    },
  };
}
