import {
  CatalogResultTally,
  diffCatalog,
  diffOfferPage,
  diffVanished,
  offerContentHash,
  type CatalogWritePlan,
  type StoredOfferState,
} from '../../src/catalog/catalog-diff';
import { catalogOfferFrom, type CatalogOffer, type CatalogOfferCheck } from '../../src/catalog/catalog-offer';
import { parseCisOffer } from '../../src/cis/cis-offers';
import { readAhead } from '../../src/catalog/read-ahead';
import { createHash } from 'node:crypto';
import type { OfferCatalogStatus } from '../../src/catalog/offer.entity';

const NOW = new Date('2025-03-01T03:00:00Z');
const EARLIER = new Date('2025-02-01T03:00:00Z');

/** A valid offer with overrides. */
function offer(offerId: string, overrides: Partial<CatalogOffer> = {}): CatalogOffer {
  return {
    offerId,
    offerUri: `https://cis.example/offers/${offerId}`,
    name: `Windows 11 Pro ${offerId}`,
    shortDescription: 'Windows for small businesses.',
    productFamily: 'Windows',
    minQuantity: 1,
    maxQuantity: 10,
    isReturnable: true,
    vendorStatus: 'Active',
    lastModified: new Date('2024-06-01T00:00:00Z'),
    ...overrides,
  };
}

function ok(o: CatalogOffer): CatalogOfferCheck {
  return { ok: true, offer: o };
}

/** The stored row the last run would have left for `o`. */
function stored(
  o: CatalogOffer,
  catalogStatus: OfferCatalogStatus = 'current',
  extra: Partial<StoredOfferState> = {},
): StoredOfferState {
  return {
    offerId: o.offerId,
    contentHash: offerContentHash(o),
    catalogStatus,
    vendorStatus: o.vendorStatus,
    missingSince: null,
    ...extra,
  };
}

describe('catalog diff', () => {
  it('a first run lists every Active offer as new and plans one insert each', () => {
    const a = offer('A');
    const b = offer('B');
    const { plan, result } = diffCatalog({ stored: [], fetched: [ok(a), ok(b)], now: NOW });
    expect(result).toEqual({
      counts: { new: 2, updated: 0, discontinued: 0, unchanged: 0, skipped: 0 },
      new: ['A', 'B'],
      updated: [],
      discontinued: [],
      skipped: [],
    });
    expect(plan.insert).toEqual([
      { ...a, contentHash: offerContentHash(a), catalogStatus: 'new', missingSince: null },
      { ...b, contentHash: offerContentHash(b), catalogStatus: 'new', missingSince: null },
    ]);
    expect(plan.update).toEqual([]);
  });

  it('the same listing again changes nothing and plans no write', () => {
    const offers = [offer('A'), offer('B'), offer('C')];
    const first = diffCatalog({ stored: [], fetched: offers.map(ok), now: EARLIER });
    const rows = first.plan.insert.map((row) => stored(row, row.catalogStatus));
    const { plan, result } = diffCatalog({ stored: rows, fetched: offers.map(ok), now: NOW });
    expect(result.counts).toEqual({ new: 0, updated: 0, discontinued: 0, unchanged: 3, skipped: 0 });
    expect(plan).toEqual({ insert: [], update: [], unchanged: ['A', 'B', 'C'] });
  });

  it('a rename in the instance language is an update; a lastModified or family change alone is not', () => {
    const before = offer('A', { name: 'Windows 11 Επαγγελματική έκδοση' });
    const renamed = { ...before, name: 'Windows 11 Επαγγελματική έκδοση – νέα έκδοση' };
    const bumped = offer('B', { lastModified: new Date('2025-01-01T00:00:00Z'), productFamily: 'OS' });
    const { plan, result } = diffCatalog({
      stored: [stored(before), stored(offer('B'))],
      fetched: [ok(renamed), ok(bumped)],
      now: NOW,
    });
    expect(result.updated).toEqual(['A']);
    expect(result.counts).toMatchObject({ updated: 1, unchanged: 1 });
    expect(plan.update).toEqual([
      {
        offerId: 'A',
        outcome: 'updated',
        values: {
          ...renamed,
          contentHash: offerContentHash(renamed),
          catalogStatus: 'updated',
          missingSince: null,
        },
      },
    ]);
    expect(plan.unchanged).toEqual(['B']);
  });

  it.each<[string, Partial<CatalogOffer>]>([
    ['short description', { shortDescription: 'Now with more.' }],
    ['offer URI', { offerUri: 'https://cis.example/offers/A-v2' }],
    ['min quantity', { minQuantity: 2 }],
    ['max quantity', { maxQuantity: 50 }],
    ['returnability', { isReturnable: false }],
  ])('a change of the %s (shown by the host) is an update', (_field, change) => {
    const before = offer('A');
    const { result } = diffCatalog({
      stored: [stored(before)],
      fetched: [ok({ ...before, ...change })],
      now: NOW,
    });
    expect(result.updated).toEqual(['A']);
  });

  it.each<[string, Partial<CatalogOffer>]>([
    [
      'plain Greek',
      { name: 'Windows 11 Επαγγελματική έκδοση', shortDescription: 'Για μικρές επιχειρήσεις.' },
    ],
    ['no short description', { shortDescription: null }],
    ['quotes and backslashes', { name: 'Office "Home" \\ Business', offerUri: 'https://cis.example/a\\b"c' }],
    [
      'control characters',
      { name: 'Tab\there, new\nline, bell\u0007, nul\u0000', shortDescription: '\r\n\u001f' },
    ],
    [
      'a surrogate pair and lone surrogates',
      { name: 'Emoji 🎁 \ud800 \udfff', shortDescription: '\udc00x\ud83d' },
    ],
    ['big quantities, not returnable', { minQuantity: 1, maxQuantity: 2 ** 53 - 1, isReturnable: false }],
  ])(
    'the content hash is SHA-256 of the JSON array of the shown fields, as stored hashes were made (%s)',
    (_case, fields) => {
      const o = offer('A', fields);
      const shown = JSON.stringify([
        o.name,
        o.shortDescription,
        o.offerUri,
        o.minQuantity,
        o.maxQuantity,
        o.isReturnable,
      ]);
      expect(offerContentHash(o)).toBe(createHash('sha256').update(shown).digest('hex'));
    },
  );

  it('an update of a never-acknowledged new offer is reported as updated but the row stays new', () => {
    const before = offer('A');
    const after = { ...before, maxQuantity: 25 };
    const { plan, result } = diffCatalog({ stored: [stored(before, 'new')], fetched: [ok(after)], now: NOW });
    expect(result.updated).toEqual(['A']);
    expect(plan.update[0].values).toMatchObject({ catalogStatus: 'new', maxQuantity: 25 });
  });

  it('vendor status Discontinued discontinues the offer once, keeping its content', () => {
    const before = offer('A');
    const gone = { ...before, vendorStatus: 'Discontinued' as const, name: 'Old name' };
    const first = diffCatalog({ stored: [stored(before)], fetched: [ok(gone)], now: NOW });
    expect(first.result.discontinued).toEqual(['A']);
    expect(first.plan.update).toEqual([
      {
        offerId: 'A',
        outcome: 'discontinued',
        values: {
          ...gone,
          contentHash: offerContentHash(gone),
          catalogStatus: 'discontinued',
          missingSince: null,
        },
      },
    ]);

    const again = diffCatalog({ stored: [stored(gone, 'discontinued')], fetched: [ok(gone)], now: NOW });
    expect(again.result.counts).toEqual({ new: 0, updated: 0, discontinued: 0, unchanged: 1, skipped: 0 });
    expect(again.plan).toEqual({ insert: [], update: [], unchanged: ['A'] });
  });

  it('an offer that vanished is discontinued once (missingSince = now), not again on later runs', () => {
    const a = offer('A');
    const b = offer('B');
    const first = diffCatalog({ stored: [stored(a), stored(b, 'new')], fetched: [ok(a)], now: NOW });
    expect(first.result.discontinued).toEqual(['B']);
    expect(first.result.counts).toEqual({ new: 0, updated: 0, discontinued: 1, unchanged: 1, skipped: 0 });
    expect(first.plan.update).toEqual([
      { offerId: 'B', outcome: 'discontinued', values: { catalogStatus: 'discontinued', missingSince: NOW } },
    ]);

    const later = diffCatalog({
      stored: [stored(a), stored(b, 'discontinued', { missingSince: NOW })],
      fetched: [ok(a)],
      now: new Date(NOW.getTime() + 86_400_000),
    });
    expect(later.result.discontinued).toEqual([]);
    expect(later.plan.update).toEqual([]);
    expect(later.plan.unchanged).toEqual(['A', 'B']);
  });

  it('an offer that comes back after vanishing, or is re-activated, is updated (even with the same content)', () => {
    const back = offer('A');
    const reactivated = offer('B');
    const { plan, result } = diffCatalog({
      stored: [
        stored(back, 'discontinued', { missingSince: EARLIER }),
        stored({ ...reactivated, vendorStatus: 'Discontinued' }, 'discontinued'),
      ],
      fetched: [ok(back), ok(reactivated)],
      now: NOW,
    });
    expect(result.updated).toEqual(['A', 'B']);
    expect(result.discontinued).toEqual([]);
    for (const update of plan.update) {
      expect(update.values).toMatchObject({
        catalogStatus: 'updated',
        vendorStatus: 'Active',
        missingSince: null,
      });
    }
  });

  it('a malformed offer is skipped with its reason and counts as seen: its stored row is not discontinued', () => {
    const a = offer('A');
    const b = offer('B');
    const brokenB = catalogOfferFrom(parseCisOffer({ ...b, status: 'Active', maxQuantity: 'ten' }));
    const noId = catalogOfferFrom(parseCisOffer({ name: 'No id at all' }));
    expect(brokenB.ok).toBe(false);
    const { plan, result } = diffCatalog({
      stored: [stored(a), stored(b)],
      fetched: [ok(a), brokenB, noId],
      now: NOW,
    });
    expect(result.counts).toEqual({ new: 0, updated: 0, discontinued: 0, unchanged: 1, skipped: 2 });
    expect(result.skipped).toEqual([
      { offerId: 'B', reason: expect.stringContaining('maxQuantity') },
      { reason: expect.stringContaining('offerId is missing') },
    ]);
    expect(plan.update).toEqual([]);
    expect(plan.insert).toEqual([]);
  });

  it('a malformed offer the instance never had is only skipped, nothing is inserted', () => {
    const broken: CatalogOfferCheck = { ok: false, offerId: 'Z', reason: 'name is missing' };
    const { plan, result } = diffCatalog({ stored: [], fetched: [broken], now: NOW });
    expect(result).toMatchObject({ new: [], skipped: [{ offerId: 'Z', reason: 'name is missing' }] });
    expect(plan.insert).toEqual([]);
  });

  it('an offer listed Discontinued the first time it is seen is stored as discontinued, never as new', () => {
    const d = offer('D', { vendorStatus: 'Discontinued' });
    const { plan, result } = diffCatalog({ stored: [], fetched: [ok(d)], now: NOW });
    expect(result.new).toEqual([]);
    expect(result.discontinued).toEqual(['D']);
    expect(plan.insert[0]).toMatchObject({ offerId: 'D', catalogStatus: 'discontinued' });
  });

  it('a repeated offer ID is skipped after the first valid entry (a malformed one before it does not win)', () => {
    const a = offer('A');
    const { plan, result } = diffCatalog({
      stored: [],
      fetched: [{ ok: false, offerId: 'A', reason: 'name is missing' }, ok(a), ok({ ...a, name: 'Other' })],
      now: NOW,
    });
    expect(result.new).toEqual(['A']);
    expect(plan.insert.map((r) => r.name)).toEqual([a.name]);
    expect(result.skipped).toEqual([
      { offerId: 'A', reason: 'name is missing' },
      { offerId: 'A', reason: 'offerId appears more than once in the listing' },
    ]);
  });

  it('every transition at once: counts add up to the lists and every stored or listed offer is decided once', () => {
    const keep = offer('KEEP');
    const rename = offer('RENAME');
    const stop = offer('STOP');
    const vanish = offer('VANISH');
    const corrupt = offer('CORRUPT');
    const { plan, result } = diffCatalog({
      stored: [stored(keep), stored(rename), stored(stop), stored(vanish), stored(corrupt)],
      fetched: [
        ok(keep),
        ok({ ...rename, name: 'Renamed' }),
        ok({ ...stop, vendorStatus: 'Discontinued' }),
        { ok: false, offerId: 'CORRUPT', reason: 'status is missing' },
        ok(offer('FRESH')),
      ],
      now: NOW,
    });
    expect(result).toEqual({
      counts: { new: 1, updated: 1, discontinued: 2, unchanged: 1, skipped: 1 },
      new: ['FRESH'],
      updated: ['RENAME'],
      discontinued: ['STOP', 'VANISH'],
      skipped: [{ offerId: 'CORRUPT', reason: 'status is missing' }],
    });
    expect(plan.insert.map((r) => r.offerId)).toEqual(['FRESH']);
    expect(plan.update.map((u) => [u.offerId, u.outcome])).toEqual([
      ['RENAME', 'updated'],
      ['STOP', 'discontinued'],
      ['VANISH', 'discontinued'],
    ]);
    expect(plan.unchanged).toEqual(['KEEP']);
  });
});

/** The rows after a run wrote `plan` (run `runId`), as the sync's write does: the diff's input for a resume. */
function applyPlan(
  rows: readonly StoredOfferState[],
  plan: CatalogWritePlan,
  runId: string,
): StoredOfferState[] {
  const byId = new Map(rows.map((row) => [row.offerId, { ...row }]));
  for (const insert of plan.insert) {
    byId.set(insert.offerId, {
      offerId: insert.offerId,
      contentHash: insert.contentHash,
      catalogStatus: insert.catalogStatus,
      vendorStatus: insert.vendorStatus,
      missingSince: insert.missingSince,
      firstSeenRunId: runId,
      lastChangedRunId: runId,
    });
  }
  for (const update of plan.update) {
    const row = byId.get(update.offerId)!;
    Object.assign(row, {
      catalogStatus: update.values.catalogStatus,
      missingSince: update.values.missingSince,
      lastChangedRunId: runId,
      ...('contentHash' in update.values
        ? { contentHash: update.values.contentHash, vendorStatus: update.values.vendorStatus }
        : {}),
    });
  }
  return [...byId.values()];
}

/** A run streamed page by page as the sync does it: pages of `size`, one tally, then the vanished check. */
function streamed(input: {
  stored: readonly StoredOfferState[];
  fetched: readonly CatalogOfferCheck[];
  size: number;
  runId: string;
  now: Date;
  /** Stop after this many pages, as an interrupted attempt does (its pages written). */
  pages?: number;
}): { rows: StoredOfferState[]; result: ReturnType<CatalogResultTally['result']> } {
  let rows = [...input.stored];
  const tally = new CatalogResultTally();
  const pageCount = Math.ceil(input.fetched.length / input.size);
  for (let p = 0; p < Math.min(pageCount, input.pages ?? pageCount); p++) {
    const page = diffOfferPage({
      stored: rows,
      fetched: input.fetched.slice(p * input.size, (p + 1) * input.size),
      runId: input.runId,
      decidedBefore: (offerId) => tally.decided(offerId),
    });
    tally.addPage(page);
    rows = applyPlan(rows, page.plan, input.runId);
  }
  if (input.pages === undefined || input.pages >= pageCount) {
    const vanished = diffVanished({
      stored: rows,
      seen: (offerId) => tally.seen(offerId),
      runId: input.runId,
      now: input.now,
    });
    tally.addVerdicts(vanished.verdicts);
    rows = applyPlan(rows, { insert: [], update: vanished.plan.update, unchanged: [] }, input.runId);
  }
  return { rows, result: tally.result() };
}

describe('catalog diff, page by page and resumed', () => {
  const RUN = 'run-2';
  const sortedResult = (r: ReturnType<CatalogResultTally['result']>) => ({
    ...r,
    new: [...r.new].sort(),
    updated: [...r.updated].sort(),
    discontinued: [...r.discontinued].sort(),
  });

  /** Ten stored offers and a listing that renames, discontinues, removes, corrupts, repeats and adds some. */
  function scenario(): { stored: StoredOfferState[]; fetched: CatalogOfferCheck[] } {
    const offers = Array.from({ length: 10 }, (_, i) => offer(`O${i}`));
    const stored = offers.map((o, i) =>
      i === 9 ? stored_(o, 'discontinued', { missingSince: EARLIER }) : stored_(o, i % 2 ? 'current' : 'new'),
    );
    const fetched: CatalogOfferCheck[] = [
      ok(offers[0]),
      ok({ ...offers[1], name: 'Renamed 1' }),
      ok({ ...offers[2], vendorStatus: 'Discontinued' }),
      { ok: false, offerId: 'O3', reason: 'status is missing' },
      ok(offers[5]),
      ok(offer('N1')),
      ok({ ...offers[0], name: 'A repeat of O0 on a later page' }),
      ok(offers[6]),
      ok({ ...offers[7], maxQuantity: 99 }),
      ok(offer('N2', { vendorStatus: 'Discontinued' })),
      ok(offers[9]),
    ];
    // O4 and O8 vanish; O9 comes back.
    return { stored, fetched };
  }
  const stored_ = stored;

  it('pages streamed through one tally give the result and rows of the whole listing at once', () => {
    const { stored: rows, fetched } = scenario();
    const whole = diffCatalog({ stored: rows, fetched, now: NOW, runId: RUN });
    for (const size of [1, 2, 3, 4, 11]) {
      const paged = streamed({ stored: rows, fetched, size, runId: RUN, now: NOW });
      expect(paged.result).toEqual(whole.result);
      expect(paged.rows).toEqual(applyPlan(rows, whole.plan, RUN));
    }
    expect(whole.result).toEqual({
      counts: { new: 1, updated: 3, discontinued: 4, unchanged: 3, skipped: 2 },
      new: ['N1'],
      updated: ['O1', 'O7', 'O9'],
      discontinued: ['O2', 'N2', 'O4', 'O8'],
      skipped: [
        { offerId: 'O3', reason: 'status is missing' },
        { offerId: 'O0', reason: 'offerId appears more than once in the listing' },
      ],
    });
  });

  it('a repeat on a later page is skipped; a malformed entry on an earlier page keeps its row from vanishing', () => {
    const a = offer('A');
    const tally = new CatalogResultTally();
    const first = diffOfferPage({
      stored: [stored(a)],
      fetched: [{ ok: false, offerId: 'A', reason: 'name is missing' }, ok(offer('B'))],
      runId: RUN,
      decidedBefore: (id) => tally.decided(id),
    });
    tally.addPage(first);
    expect(tally.seen('A')).toBe(true);
    expect(tally.decided('A')).toBe(false);
    const second = diffOfferPage({
      stored: [stored(a)],
      fetched: [ok(offer('B', { name: 'B again' })), ok(a)],
      runId: RUN,
      decidedBefore: (id) => tally.decided(id),
    });
    expect(second.skipped).toEqual([
      { offerId: 'B', reason: 'offerId appears more than once in the listing' },
    ]);
    expect(second.verdicts).toEqual([{ offerId: 'A', outcome: 'unchanged' }]);
    tally.addPage(second);
    const vanished = diffVanished({
      stored: [stored(a)],
      seen: (id) => tally.seen(id),
      runId: RUN,
      now: NOW,
    });
    expect(vanished).toEqual({ plan: { update: [], unchanged: [] }, verdicts: [] });
  });

  it.each([0, 1, 2, 3, 4, 5, 6])(
    'a run interrupted after %i pages of 2 and resumed reports and writes what an uninterrupted run does',
    (pages) => {
      const { stored: rows, fetched } = scenario();
      const uninterrupted = streamed({ stored: rows, fetched, size: 2, runId: RUN, now: NOW });
      const interrupted = streamed({ stored: rows, fetched, size: 2, runId: RUN, now: NOW, pages });
      const resumed = streamed({ stored: interrupted.rows, fetched, size: 2, runId: RUN, now: NOW });
      expect(resumed.result).toEqual(uninterrupted.result);
      expect(resumed.rows).toEqual(uninterrupted.rows);
    },
  );

  it('a resumed run writes nothing again: rows the run already wrote cost no write and are reported once', () => {
    const { stored: rows, fetched } = scenario();
    const done = streamed({ stored: rows, fetched, size: 3, runId: RUN, now: NOW });
    const again = diffCatalog({ stored: done.rows, fetched, now: NOW, runId: RUN });
    expect(again.plan.insert).toEqual([]);
    expect(again.plan.update).toEqual([]);
    expect(sortedResult(again.result)).toEqual(sortedResult(done.result));
    // Another run sees the same rows as unchanged.
    const next = diffCatalog({ stored: done.rows, fetched, now: NOW, runId: 'run-3' });
    expect(next.result.counts).toEqual({ new: 0, updated: 0, discontinued: 0, unchanged: 11, skipped: 2 });
  });

  it('an offer this run inserted stays new when the listing changes it before the run ends', () => {
    const a = offer('A');
    const inserted = stored(a, 'new', { firstSeenRunId: RUN, lastChangedRunId: RUN });
    const renamed = { ...a, name: 'A, renamed meanwhile' };
    const page = diffOfferPage({ stored: [inserted], fetched: [ok(renamed)], runId: RUN });
    expect(page.verdicts).toEqual([{ offerId: 'A', outcome: 'new' }]);
    expect(page.plan.update).toEqual([
      {
        offerId: 'A',
        outcome: 'updated',
        values: {
          ...renamed,
          contentHash: offerContentHash(renamed),
          catalogStatus: 'new',
          missingSince: null,
        },
      },
    ]);
    const stopped = diffOfferPage({
      stored: [inserted],
      fetched: [ok({ ...a, vendorStatus: 'Discontinued' })],
      runId: RUN,
    });
    expect(stopped.verdicts).toEqual([{ offerId: 'A', outcome: 'discontinued' }]);
    expect(stopped.plan.update[0]).toMatchObject({
      outcome: 'discontinued',
      values: { catalogStatus: 'discontinued' },
    });
    // The same row seen by a later run is an ordinary new offer: unchanged.
    expect(diffOfferPage({ stored: [inserted], fetched: [ok(a)], runId: 'run-3' }).verdicts).toEqual([
      { offerId: 'A', outcome: 'unchanged' },
    ]);
  });

  it('a vanished row this run already discontinued is reported discontinued again, another run’s is unchanged', () => {
    const mine = { offerId: 'M', catalogStatus: 'discontinued' as const, lastChangedRunId: RUN };
    const older = { offerId: 'O', catalogStatus: 'discontinued' as const, lastChangedRunId: 'run-1' };
    const { plan, verdicts } = diffVanished({
      stored: [mine, older],
      seen: () => false,
      runId: RUN,
      now: NOW,
    });
    expect(plan).toEqual({ update: [], unchanged: ['M', 'O'] });
    expect(verdicts).toEqual([
      { offerId: 'M', outcome: 'discontinued' },
      { offerId: 'O', outcome: 'unchanged' },
    ]);
  });
});

describe('catalog offer checks', () => {
  it('maps a good vendor offer to the catalog type (status → vendorStatus)', () => {
    const entry = parseCisOffer({
      offerId: 'DG7G00010002',
      offerUri: 'https://x/o',
      name: ' Word 2021 ',
      shortDescription: null,
      minQuantity: 1,
      maxQuantity: 10,
      isReturnable: false,
      status: 'Discontinued',
      lastModified: '2024-05-01T00:00:00Z',
    });
    expect(catalogOfferFrom(entry)).toEqual({
      ok: true,
      offer: {
        offerId: 'DG7G00010002',
        offerUri: 'https://x/o',
        name: 'Word 2021',
        shortDescription: null,
        productFamily: null,
        minQuantity: 1,
        maxQuantity: 10,
        isReturnable: false,
        vendorStatus: 'Discontinued',
        lastModified: new Date('2024-05-01T00:00:00Z'),
      },
    });
  });

  it('skips values that would not fit the offer columns, naming the field', () => {
    const good = parseCisOffer({
      offerId: 'X1',
      offerUri: 'u',
      name: 'n'.repeat(501),
      minQuantity: 1,
      maxQuantity: 10,
      isReturnable: true,
      status: 'Active',
    });
    expect(catalogOfferFrom(good)).toEqual({
      ok: false,
      offerId: 'X1',
      reason: 'name is longer than 500 characters',
    });
    const spaced = parseCisOffer({
      offerId: 'has space',
      offerUri: 'u',
      name: 'n',
      minQuantity: 1,
      maxQuantity: 10,
      isReturnable: true,
      status: 'Active',
    });
    const check = catalogOfferFrom(spaced);
    expect(check.ok).toBe(false);
    expect(check).not.toHaveProperty('offerId');
  });
});

describe('reading the listing one page ahead', () => {
  /** A listing of `pages` pages that records what was asked when; `failAt` fails that page's request. */
  function listing(pages: number, failAt?: number) {
    const events: string[] = [];
    async function* source(): AsyncGenerator<number> {
      try {
        for (let page = 1; page <= pages; page++) {
          events.push(`ask ${page}`);
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (page === failAt) throw new Error(`page ${page} refused`);
          yield page;
        }
      } finally {
        events.push('closed');
      }
    }
    return { events, source };
  }

  it('hands out every page in order, asking for the next one while a page is synced, never two ahead', async () => {
    const { events, source } = listing(4);
    for await (const page of readAhead(source())) {
      events.push(`sync ${page}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`synced ${page}`);
    }
    expect(events).toEqual([
      'ask 1',
      'ask 2',
      'sync 1',
      'synced 1',
      'ask 3',
      'sync 2',
      'synced 2',
      'ask 4',
      'sync 3',
      'synced 3',
      // Asking past the last page ends the listing while page 4 syncs.
      'closed',
      'sync 4',
      'synced 4',
    ]);
  });

  it('a page that fails fails the listing once the page before it is synced', async () => {
    const { events, source } = listing(4, 3);
    const synced: number[] = [];
    await expect(
      (async () => {
        for await (const page of readAhead(source())) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          synced.push(page);
        }
      })(),
    ).rejects.toThrow('page 3 refused');
    expect(synced).toEqual([1, 2]);
    expect(events).toEqual(['ask 1', 'ask 2', 'ask 3', 'closed']);
  });

  it('when a page fails to sync, the page asked for ahead is dropped and the listing closed', async () => {
    const { events, source } = listing(4);
    await expect(
      (async () => {
        for await (const page of readAhead(source())) {
          if (page === 2) throw new Error('the host refused page 2');
        }
      })(),
    ).rejects.toThrow('the host refused page 2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['ask 1', 'ask 2', 'ask 3', 'closed']);
  });
});
