/**
 * Pages as the last run listed them (docs/catalog.md): a run takes a page whose bytes, continuation token aside,
 * match a clean page of its instance's last succeeded run as unchanged, without checking its offers. On
 * PostgreSQL and Redis against the CIS sandbox over HTTPS, with the reference host's real catalog.
 *
 * Two instances list one catalog: `trusting` may take pages as its last run listed them; `checking` never does
 * (its runs' fingerprints are dropped before each run), so it checks every offer. After every pair of runs both
 * must have the same result, the same stored offers and the same host products — while `trusting`'s log says
 * how many pages it took as listed. The cases where taking a page as listed would be wrong (a repeat on an
 * earlier page, a run between that failed, a resumed run that wrote offers, an upgrade, offers deleted by hand)
 * each end where checking every offer ends.
 */
import { randomInt } from 'node:crypto';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { CATALOG_PAGE_SIZE } from '../../src/catalog/catalog-sync.service';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { catalogRunHelpers, startCatalogTestApp, type CatalogTestApp } from '../support/catalog-app';

const MARKET = { country: 'GR', language: 'el-GR' };
const SEED = randomInt(1, 1_000_000);
/** Four pages: 1,000 + 1,000 + 1,000 + 500. */
const COUNT = 3 * CATALOG_PAGE_SIZE + 500;
const PAGES = 4;

describe('Pages as the last run listed them (PostgreSQL, Redis, CIS sandbox, reference host)', () => {
  let t: CatalogTestApp;
  let trusting: string;
  let checking: string;
  /** The base catalog's offer IDs: offer i is on page ⌊i / 1000⌋ + 1. */
  let ids: string[];
  let names: Map<string, string>;
  const { setCatalog, finished, trigger, runToEnd, offerStates, hostStates, expectSameOutcome } =
    catalogRunHelpers(() => t, MARKET, SEED);

  /** The log's line on pages taken as listed, if any. */
  const knownLine = (run: CatalogRunEntity) =>
    run.log.map((l) => l.message).find((m) => m.includes('as the last run listed them'));
  const knownPages = (n: number) =>
    `${n} of ${PAGES} pages were as the last run listed them: their offers needed no check.`;

  /** `checking` then `trusting` over the current catalog; both end alike. */
  async function runBoth(): Promise<{ trusted: CatalogRunEntity; checked: CatalogRunEntity }> {
    await t.dataSource
      .getRepository(CatalogRunEntity)
      .update({ instanceId: checking }, { pageFingerprints: null });
    const checked = await runToEnd(checking);
    const trusted = await runToEnd(trusting);
    expect(knownLine(checked)).toBeUndefined();
    await expectSameOutcome({ instanceId: trusting, run: trusted }, { instanceId: checking, run: checked });
    return { trusted, checked };
  }

  /** Both instances on the base catalog, with clean fingerprints of every page. */
  async function fromBase(): Promise<void> {
    await setCatalog(COUNT);
    await runBoth();
  }

  beforeAll(async () => {
    t = await startCatalogTestApp({ jobRetry: { attempts: 2, baseMs: 50, maxMs: 200 } });
    const base = await setCatalog(COUNT);
    ids = base.offers.map((o) => o.offerId);
    names = new Map(base.offers.map((o) => [o.offerId, o.name as string]));
    trusting = (await t.readyInstance({}, MARKET)).id as string;
    checking = (await t.readyInstance({}, MARKET)).id as string;
    const { trusted } = await runBoth();
    expect(trusted.result!.counts.new).toBe(COUNT);
    expect(knownLine(trusted)).toBeUndefined();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('takes every page of an unchanged catalog as listed: every offer unchanged, nothing pushed or written', async () => {
    const calls = t.host.calls.length;
    const { trusted } = await runBoth();
    expect(knownLine(trusted)).toBe(knownPages(PAGES));
    expect(trusted.result!.counts).toEqual({
      new: 0,
      updated: 0,
      discontinued: 0,
      unchanged: COUNT,
      skipped: 0,
    });
    expect(t.host.calls.length).toBe(calls);
    expect(trusted.pageFingerprints!.pages).toHaveLength(PAGES);
    expect(trusted.pageFingerprints!.pages.every((f) => typeof f === 'string')).toBe(true);
    expect(trusted.pageFingerprints!.offersStored).toBe(COUNT);
  });

  it('checks the pages that changed, and only those', async () => {
    await fromBase();
    const changed = await setCatalog(COUNT, { rename: [ids[1500]], discontinue: [ids[2999]] });
    const { trusted } = await runBoth();
    expect(knownLine(trusted)).toBe(knownPages(PAGES - 2));
    expect(trusted.result).toMatchObject({ updated: changed.affected.rename, discontinued: [ids[2999]] });
  });

  it('checks a page with a malformed offer on every run, and reports the offer each time', async () => {
    await fromBase();
    await setCatalog(COUNT, { corrupt: [ids[500]] });
    for (let run = 0; run < 2; run++) {
      const { trusted } = await runBoth();
      expect(knownLine(trusted)).toBe(knownPages(PAGES - 1));
      expect(trusted.result!.skipped).toEqual([{ offerId: ids[500], reason: expect.any(String) }]);
      expect(trusted.pageFingerprints!.pages[0]).toBeNull();
    }
  });

  it('checks an unchanged page that lists again an offer an earlier page listed, and skips the repeat', async () => {
    await fromBase();
    // Page 1 lists the offer of page 3 first and loses one of its own: pages 2 to 4 are as before.
    const repeated = ids[2500];
    await setCatalog(COUNT, { repeat: [repeated], remove: [ids[10]] });
    const { trusted } = await runBoth();
    expect(knownLine(trusted)).toBe(knownPages(2));
    expect(trusted.result!.counts).toEqual({
      new: 0,
      updated: 0,
      discontinued: 1,
      unchanged: COUNT - 1,
      skipped: 1,
    });
    expect(trusted.result!.skipped).toEqual([
      { offerId: repeated, reason: 'offerId appears more than once in the listing' },
    ]);
    expect(trusted.pageFingerprints!.pages.map((f) => f !== null)).toEqual([true, true, false, true]);
  });

  it('trusts no page after a failed run: offers that run wrote are checked and set right', async () => {
    await fromBase();
    await setCatalog(COUNT, { rename: [ids[100]], discontinue: [ids[3100]] });
    // The run saves page 1 (the rename), then the host fails on page 4 on both attempts.
    for (let i = 0; i < 2; i++) {
      t.host.failOnce({ method: 'setProductsStatus', instanceId: trusting, code: ids[3100] });
    }
    const failed = await finished(await trigger(trusting));
    expect(failed.status).toBe('failed');
    expect(
      (
        await t.dataSource
          .getRepository(OfferEntity)
          .findOneByOrFail({ instanceId: trusting, offerId: ids[100] })
      ).name,
    ).not.toBe(names.get(ids[100]));

    // Back to the catalog of the last succeeded run: its page 1 fingerprint matches again, yet the failed run
    // wrote page 1 since.
    await setCatalog(COUNT);
    const run = await runToEnd(trusting);
    expect(knownLine(run)).toBeUndefined();
    expect(run.result).toMatchObject({ updated: [ids[100]], discontinued: [] });
    expect(await offerStates(trusting)).toEqual(await offerStates(checking));
    expect(await hostStates(trusting)).toEqual(await hostStates(checking));
  });

  it('trusts no page once a resumed run has written offers, though a page matches the last run’s', async () => {
    await fromBase();
    await setCatalog(COUNT, { rename: [ids[100], ids[3100]] });
    // Attempt 1 saves page 1 (a rename); before page 4 is pushed the catalog goes back to the base one and the
    // host fails. Attempt 2 lists the base catalog: page 1 matches the last succeeded run's page 1 again.
    t.host.onceBefore({ method: 'upsertProducts', instanceId: trusting, code: ids[3100] }, async () => {
      await setCatalog(COUNT);
      throw new Error('The host catalog is unavailable (scripted by the test).');
    });
    const run = await runToEnd(trusting);
    expect(run.log.map((l) => l.message)).toContain('Running again (attempt 2).');
    expect(knownLine(run)).toBeUndefined();
    expect(run.result).toMatchObject({ updated: [ids[100]], discontinued: [] });
    expect(await offerStates(trusting)).toEqual(await offerStates(checking));
    expect(await hostStates(trusting)).toEqual(await hostStates(checking));
  });

  it('trusts no page kept by another plugin version', async () => {
    await fromBase();
    const [last] = await t.dataSource
      .getRepository(CatalogRunEntity)
      .find({ where: { instanceId: trusting }, order: { createdAt: 'DESC' }, take: 1 });
    await t.dataSource
      .getRepository(CatalogRunEntity)
      .update({ id: last.id }, { pageFingerprints: { ...last.pageFingerprints!, version: '0.0.1/1' } });
    const { trusted } = await runBoth();
    expect(knownLine(trusted)).toBeUndefined();
    expect(trusted.result!.counts.unchanged).toBe(COUNT);
  });

  it('lists and checks every offer again once the offers were deleted by hand', async () => {
    await fromBase();
    await t.dataSource.getRepository(OfferEntity).delete({ instanceId: trusting });
    const run = await runToEnd(trusting);
    expect(knownLine(run)).toBeUndefined();
    expect(run.result!.counts).toEqual({ new: COUNT, updated: 0, discontinued: 0, unchanged: 0, skipped: 0 });
  });
});
