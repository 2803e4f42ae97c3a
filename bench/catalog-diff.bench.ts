/**
 * catalog-diff: the in-memory diff of a 50,000-offer market, measured side by side with its limit — hashing each
 * offer's host-visible fields once, the least work any diff must do to notice a change.
 */
import { performance } from 'node:perf_hooks';
import { generateOffers } from '../sandbox/cis/catalog-generator';
import { parseCisOffer } from '../src/cis/cis-offers';
import { catalogOfferFrom, type CatalogOffer } from '../src/catalog/catalog-offer';
import { diffCatalog, offerContentHash, type StoredOfferState } from '../src/catalog/catalog-diff';

const OFFERS = 50_000;
const ROUNDS = 5;

/** The fastest of a few rounds: the least disturbed by the rest of the machine. */
function best(run: () => unknown): number {
  let fastest = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

export function catalogDiffBench(): void {
  const vendor = generateOffers({ language: 'el-GR', count: OFFERS, seed: 42 });
  const fetched = vendor.map((item, index) => catalogOfferFrom(parseCisOffer(item, index)));
  const offers = fetched.filter((f): f is { ok: true; offer: CatalogOffer } => f.ok).map((f) => f.offer);
  const stored: StoredOfferState[] = offers.map((offer) => ({
    offerId: offer.offerId,
    contentHash: offerContentHash(offer),
    catalogStatus: 'current',
    vendorStatus: offer.vendorStatus,
    missingSince: null,
  }));
  const now = new Date();

  const heapBefore = process.memoryUsage().heapUsed;
  const limit = best(() => offers.map(offerContentHash));
  const first = best(() => diffCatalog({ stored: [], fetched, now }));
  const unchanged = best(() => diffCatalog({ stored, fetched, now }));
  const heapAfter = process.memoryUsage().heapUsed;

  const check = diffCatalog({ stored, fetched, now }).result.counts;
  if (check.unchanged !== offers.length)
    throw new Error(`expected every offer unchanged, got ${JSON.stringify(check)}`);

  console.log(`catalog-diff: ${offers.length} offers, best of ${ROUNDS} rounds each`);
  console.log(`  limit (hash every offer once)   ${limit.toFixed(1)} ms`);
  console.log(
    `  first sync diff (all new)       ${first.toFixed(1)} ms   ${(first / limit).toFixed(2)}x the limit`,
  );
  console.log(
    `  unchanged re-sync diff          ${unchanged.toFixed(1)} ms   ${(unchanged / limit).toFixed(2)}x the limit`,
  );
  console.log(`  heap growth over the runs       ${((heapAfter - heapBefore) / 2 ** 20).toFixed(1)} MB`);
}
