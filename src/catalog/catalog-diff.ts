import * as crypto from 'node:crypto';
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
  /**
   * The run that inserted the row and the last run that wrote it. A run that is resumed (a Bull retry, a job
   * the sweeper enqueued again, a listing restarted from page 1) finds rows an earlier attempt of itself
   * already wrote: they read as unchanged, yet the run changed them, and its result must say so. Absent
   * means unknown, as for a row no run stamped.
   */
  firstSeenRunId?: string | null;
  lastChangedRunId?: string | null;
}

/** What the vanished check needs of a stored row. */
export type VanishCandidate = Pick<StoredOfferState, 'offerId' | 'catalogStatus' | 'lastChangedRunId'>;

/** What this run did to one offer. */
export type OfferOutcome = 'new' | 'updated' | 'discontinued' | 'unchanged' | 'skipped';

/** What a run did to an offer it decided (skipped entries are reported with their reason instead). */
export interface OfferVerdict {
  offerId: string;
  outcome: Exclude<OfferOutcome, 'skipped'>;
}

/** A full `esd_offer` row's catalog columns: the offer as fetched and the run's verdict on it. */
export interface OfferRowValues extends CatalogOffer {
  contentHash: string;
  catalogStatus: OfferCatalogStatus;
  missingSince: Date | null;
}

/**
 * A change to an existing row, by offer ID (the instance is the caller's). `outcome` says what the host must
 * be told — `updated`: push the product again; `discontinued`: make it unsellable — which is not always what
 * the result reports (an offer this run inserted and then saw renamed is pushed again, and reported new).
 */
export type OfferRowUpdate =
  /** The offer is in the listing: every catalog column is rewritten. */
  | { offerId: string; outcome: 'updated' | 'discontinued'; values: OfferRowValues }
  /** The offer vanished from the listing: only its status and `missingSince` change. */
  | {
      offerId: string;
      outcome: 'discontinued';
      values: { catalogStatus: 'discontinued'; missingSince: Date };
    };

/** The writes a run makes; `unchanged` lists the offer IDs that need none. */
export interface CatalogWritePlan {
  insert: OfferRowValues[];
  update: OfferRowUpdate[];
  /** Offers that cost no write: unchanged, or changed already by an earlier attempt of this run. */
  unchanged: string[];
}

export interface CatalogDiff {
  plan: CatalogWritePlan;
  /** The run's result (host-contract.md §7): what this run changed. */
  result: CatalogRunResult;
}

/** One page of the listing, diffed. */
export interface OfferPageDiff {
  plan: CatalogWritePlan;
  /** What the run did to each offer a valid entry decided, in listing order. */
  verdicts: OfferVerdict[];
  skipped: SkippedOffer[];
  /** Offer IDs only malformed entries named: not decided, yet not vanished either. */
  malformedIds: string[];
}

/** The vanished offers of one batch of stored rows, diffed. */
export interface VanishedDiff {
  plan: Pick<CatalogWritePlan, 'update' | 'unchanged'>;
  verdicts: OfferVerdict[];
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
  return sha256Hex(JSON.stringify(shown));
}

/**
 * SHA-256 of a text, hex. `crypto.hash` (Node.js 20.12+) does it in one call, without a `Hash` object: a third
 * cheaper per offer. Same digest either way.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * Compares one page of the listing (valid and skipped entries, in Microsoft's order) with the stored rows of
 * its offers and says, per offer, what changed:
 * - `new`: not stored yet. Stored with catalog status `new` — or `discontinued` if Microsoft already lists
 *   it Discontinued (it is reported under `discontinued` then, and never sold).
 * - `updated`: a shown field changed, or a discontinued (or vanished) offer is Active again. A row still
 *   `new` (never acknowledged) keeps `new`, since the admin has yet to price and activate it; it is listed
 *   under `updated` all the same.
 * - `discontinued`: Microsoft lists it Discontinued — once: a row already `discontinued` is left alone.
 * - `unchanged`: nothing to write.
 * - `skipped`: malformed. Its ID (when usable) counts as seen, so a stored offer behind it is not taken for
 *   vanished; the row keeps what the last good listing said. A second valid entry with an offer ID already
 *   decided — on this page or, per `decidedBefore`, an earlier one — is skipped too.
 *
 * A row this run already wrote (`lastChangedRunId` = `runId`: an earlier attempt, or the pass before a
 * restarted listing) is reported as what the run did to it, not as unchanged; a row this run inserted
 * (`firstSeenRunId` = `runId`) stays new — or discontinued — whatever the listing says of it now, since the
 * admin has not seen it yet. So a resumed run reports what an uninterrupted one would, and no offer twice.
 *
 * `stored` may hold rows of offers not on the page; only the page's are read.
 */
export function diffOfferPage(input: {
  stored: readonly StoredOfferState[];
  fetched: readonly CatalogOfferCheck[];
  /** This run's id; null when no row can be the run's own (a run that never wrote). */
  runId: string | null;
  /** Whether a valid entry of an earlier page already decided this offer ID. */
  decidedBefore?: (offerId: string) => boolean;
}): OfferPageDiff {
  const stored = new Map<string, StoredOfferState>();
  for (const row of input.stored) stored.set(row.offerId, row);
  const decidedBefore = input.decidedBefore ?? (() => false);
  const decided = new Set<string>();
  const plan: CatalogWritePlan = { insert: [], update: [], unchanged: [] };
  const verdicts: OfferVerdict[] = [];
  const skipped: SkippedOffer[] = [];
  const malformedIds: string[] = [];
  const runId = input.runId;

  for (const entry of input.fetched) {
    if (!entry.ok) {
      if (entry.offerId !== undefined) malformedIds.push(entry.offerId);
      skipped.push(
        entry.offerId !== undefined
          ? { offerId: entry.offerId, reason: entry.reason }
          : { reason: entry.reason },
      );
      continue;
    }
    const offer = entry.offer;
    if (decided.has(offer.offerId) || decidedBefore(offer.offerId)) {
      skipped.push({ offerId: offer.offerId, reason: 'offerId appears more than once in the listing' });
      continue;
    }
    decided.add(offer.offerId);
    const contentHash = offerContentHash(offer);
    const row = stored.get(offer.offerId);
    const offerId = offer.offerId;
    const discontinuedNow = offer.vendorStatus === 'Discontinued';

    if (row === undefined) {
      const catalogStatus = discontinuedNow ? 'discontinued' : 'new';
      plan.insert.push(rowValues(offer, contentHash, catalogStatus));
      verdicts.push({ offerId, outcome: catalogStatus });
      continue;
    }

    if (runId !== null && row.firstSeenRunId === runId) {
      const catalogStatus = discontinuedNow ? 'discontinued' : 'new';
      const changed =
        row.contentHash !== contentHash ||
        row.catalogStatus !== catalogStatus ||
        row.vendorStatus !== offer.vendorStatus ||
        row.missingSince !== null;
      if (changed) {
        plan.update.push({
          offerId,
          outcome: discontinuedNow ? 'discontinued' : 'updated',
          values: rowValues(offer, contentHash, catalogStatus),
        });
      } else {
        plan.unchanged.push(offerId);
      }
      verdicts.push({ offerId, outcome: catalogStatus });
      continue;
    }

    const mine = runId !== null && row.lastChangedRunId === runId;
    const wasDiscontinued = row.catalogStatus === 'discontinued';
    if (discontinuedNow) {
      if (wasDiscontinued) {
        plan.unchanged.push(offerId);
        verdicts.push({ offerId, outcome: mine ? 'discontinued' : 'unchanged' });
      } else {
        const values = rowValues(offer, contentHash, 'discontinued');
        plan.update.push({ offerId, outcome: 'discontinued', values });
        verdicts.push({ offerId, outcome: 'discontinued' });
      }
      continue;
    }
    const changed =
      wasDiscontinued ||
      row.contentHash !== contentHash ||
      row.vendorStatus !== 'Active' ||
      row.missingSince !== null;
    if (!changed) {
      plan.unchanged.push(offerId);
      verdicts.push({ offerId, outcome: mine ? 'updated' : 'unchanged' });
      continue;
    }
    const catalogStatus: OfferCatalogStatus = row.catalogStatus === 'new' ? 'new' : 'updated';
    plan.update.push({
      offerId,
      outcome: 'updated',
      values: rowValues(offer, contentHash, catalogStatus),
    });
    verdicts.push({ offerId, outcome: 'updated' });
  }

  return { plan, verdicts, skipped, malformedIds };
}

/**
 * A listed offer's row values (`missingSince` cleared). Written out rather than spread: V8 builds `{ ...offer,
 * more }` as a small object plus a property array it grows for each added field, several times the memory of
 * this literal — on every row a first sync writes.
 */
function rowValues(
  offer: CatalogOffer,
  contentHash: string,
  catalogStatus: OfferCatalogStatus,
): OfferRowValues {
  return {
    offerId: offer.offerId,
    offerUri: offer.offerUri,
    name: offer.name,
    shortDescription: offer.shortDescription,
    productFamily: offer.productFamily,
    minQuantity: offer.minQuantity,
    maxQuantity: offer.maxQuantity,
    isReturnable: offer.isReturnable,
    vendorStatus: offer.vendorStatus,
    lastModified: offer.lastModified,
    contentHash,
    catalogStatus,
    missingSince: null,
  };
}

/**
 * Stored offers the whole listing did not name (`seen` false) vanished: each is discontinued once
 * (`missingSince` = `now`, vendor status kept); a row already `discontinued` is left alone — reported
 * discontinued when this run wrote it (an earlier attempt), unchanged otherwise. Rows the listing named are
 * not this function's business and are ignored, so callers may pass any batch of the instance's rows.
 */
export function diffVanished(input: {
  stored: readonly VanishCandidate[];
  /** Whether the listing named the offer ID (a valid entry, or a malformed one with a usable ID). */
  seen: (offerId: string) => boolean;
  runId: string | null;
  now: Date;
}): VanishedDiff {
  const plan: VanishedDiff['plan'] = { update: [], unchanged: [] };
  const verdicts: OfferVerdict[] = [];
  for (const row of input.stored) {
    if (input.seen(row.offerId)) continue;
    if (row.catalogStatus === 'discontinued') {
      plan.unchanged.push(row.offerId);
      const mine = input.runId !== null && row.lastChangedRunId === input.runId;
      verdicts.push({ offerId: row.offerId, outcome: mine ? 'discontinued' : 'unchanged' });
      continue;
    }
    plan.update.push({
      offerId: row.offerId,
      outcome: 'discontinued',
      values: { catalogStatus: 'discontinued', missingSince: input.now },
    });
    verdicts.push({ offerId: row.offerId, outcome: 'discontinued' });
  }
  return { plan, verdicts };
}

/**
 * A run's result, built page by page. It keeps what the result lists anyway — offer IDs per outcome, the
 * skipped entries — and which offer IDs the listing named (for repeats and the vanished check): a few bytes
 * per offer, never the offers themselves.
 */
export class CatalogResultTally {
  private readonly lists = { new: [] as string[], updated: [] as string[], discontinued: [] as string[] };
  private unchanged = 0;
  private readonly skipped: SkippedOffer[] = [];
  /** Every offer ID the listing named: true once a valid entry decided it, false while only malformed ones did. */
  private readonly named = new Map<string, boolean>();

  /** Whether a valid entry already decided the offer (a later one is a repeat). */
  decided(offerId: string): boolean {
    return this.named.get(offerId) === true;
  }

  /** Whether the listing named the offer at all: such an offer did not vanish. */
  seen(offerId: string): boolean {
    return this.named.has(offerId);
  }

  /**
   * Both questions in one look-up: `true` when a valid entry decided the offer, `false` when only malformed
   * entries named it, `undefined` when the listing has not named it (yet).
   */
  naming(offerId: string): boolean | undefined {
    return this.named.get(offerId);
  }

  addPage(page: OfferPageDiff): void {
    for (const offerId of page.malformedIds) if (!this.named.has(offerId)) this.named.set(offerId, false);
    this.addVerdicts(page.verdicts);
    for (const { offerId } of page.verdicts) this.named.set(offerId, true);
    this.skipped.push(...page.skipped);
  }

  /** Offers a listed page named that are all unchanged, none of them named before (see `syncKnownPage`). */
  addUnchangedOffers(offerIds: readonly string[]): void {
    for (const offerId of offerIds) this.named.set(offerId, true);
    this.unchanged += offerIds.length;
  }

  /**
   * Stored offers the listing did not name that were discontinued before this run: each is `unchanged` (see
   * {@link diffVanished}), and only their number is reported.
   */
  addUnchanged(count: number): void {
    this.unchanged += count;
  }

  addVerdicts(verdicts: readonly OfferVerdict[]): void {
    for (const { offerId, outcome } of verdicts) {
      if (outcome === 'unchanged') this.unchanged++;
      else this.lists[outcome].push(offerId);
    }
  }

  get counts(): CatalogRunResult['counts'] {
    return {
      new: this.lists.new.length,
      updated: this.lists.updated.length,
      discontinued: this.lists.discontinued.length,
      unchanged: this.unchanged,
      skipped: this.skipped.length,
    };
  }

  result(): CatalogRunResult {
    return {
      counts: this.counts,
      new: [...this.lists.new],
      updated: [...this.lists.updated],
      discontinued: [...this.lists.discontinued],
      skipped: [...this.skipped],
    };
  }
}

/**
 * The whole catalog at once: {@link diffOfferPage} over every entry, then {@link diffVanished} over every
 * stored row. The run streams page by page instead; this is the same decision for a listing held in memory.
 */
export function diffCatalog(input: {
  stored: readonly StoredOfferState[];
  fetched: readonly CatalogOfferCheck[];
  now: Date;
  runId?: string;
}): CatalogDiff {
  const runId = input.runId ?? null;
  const tally = new CatalogResultTally();
  const page = diffOfferPage({ stored: input.stored, fetched: input.fetched, runId });
  tally.addPage(page);
  const vanished = diffVanished({
    stored: input.stored,
    seen: (offerId) => tally.seen(offerId),
    runId,
    now: input.now,
  });
  tally.addVerdicts(vanished.verdicts);
  return {
    plan: {
      insert: page.plan.insert,
      update: [...page.plan.update, ...vanished.plan.update],
      unchanged: [...page.plan.unchanged, ...vanished.plan.unchanged],
    },
    result: tally.result(),
  };
}
