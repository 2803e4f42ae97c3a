import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, In, LessThanOrEqual, Not } from 'typeorm';
import { CisError, type CisClient, type CisOfferEntry, type CisOfferKey } from '../cis';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { ESD_OPTIONS } from '../constants';
import { loadPluginManifest } from '../host/plugin-manifest';
import type { HostCatalog, HostProductInput, HostProductRef } from '../host/ports';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import type { InstanceEntity } from '../settings/instance.entity';
import { EsdMetrics } from '../observability/metrics.service';
import { InstancesService } from '../settings/instances.service';
import { newId } from '../storage/entity-columns';
import {
  CatalogResultTally,
  diffOfferPage,
  diffVanished,
  type CatalogWritePlan,
  type OfferRowValues,
} from './catalog-diff';
import {
  countOpenOffers,
  countStoredOffers,
  insertOfferRows,
  readOfferKeys,
  readStoredOffers,
  runWroteOffers,
  type NewOfferRow,
} from './catalog-offer-store';
import { catalogOfferFrom, type SkippedOffer } from './catalog-offer';
import { readAhead } from './read-ahead';
import {
  ACTIVE_CATALOG_RUN_STATUSES,
  CatalogRunEntity,
  type CatalogPageFingerprints,
  type CatalogRunLogEntry,
  type CatalogRunResult,
  runLogEntry,
} from './catalog-run.entity';
import { OfferEntity } from './offer.entity';
import { hostProductFor, microsoftEsdProductType } from './product-mapping';

/**
 * Offers asked per CIS call: Microsoft's maximum. Each page is checked, diffed, pushed and written while the next
 * one is fetched (`readAhead`, never further ahead), so a run holds at most two pages' offers at once.
 */
export const CATALOG_PAGE_SIZE = 1000;
/** Products per `upsertProducts` / `setProductsStatus` call. */
export const CATALOG_BATCH_SIZE = 200;
/** Rows per multi-row INSERT (18 columns each: well under every driver's bind-parameter limit). */
const INSERT_BATCH_SIZE = 1000;
/**
 * The run row is written at most this often while pages come (log lines wait for the next write): often enough
 * for a progress bar and to show the run is alive, rarely enough not to cost a commit per page.
 */
const HEARTBEAT_MS = 1000;
/** Stored rows read per query when looking for offers that vanished (keyset pages by offer ID). */
const VANISH_SCAN_SIZE = 2000;
/** Restarts from page 1 when Microsoft's catalog changed under a listing (stale continuation token). */
const MAX_LISTING_RESTARTS = 2;
/** Skipped offers named one by one in the log; the result lists them all. */
const MAX_SKIPPED_LOG_LINES = 50;

/** Where the progress bar stands: pages move it from `started` to `listed`, the vanished check to `swept`. */
const PROGRESS = { started: 5, listed: 90, swept: 95, done: 100 } as const;

/** How one attempt of a run ended, for the processor. */
export type CatalogSyncOutcome =
  | { outcome: 'succeeded'; result: CatalogRunResult }
  | { outcome: 'failed'; error: Error }
  /** Transient: the run stays `running`; the processor rethrows so Bull retries with backoff. */
  | { outcome: 'retry'; error: Error }
  /** The run is gone or finished already (deleted instance, a run failed as stale): nothing to do. */
  | { outcome: 'skipped'; reason: string };

/** What one attempt of a run works with, page after page. */
interface RunContext {
  run: CatalogRunEntity;
  instance: InstanceEntity;
  currency: string;
  progress: RunProgress;
  productType: ProductTypeUpkeep;
  /** This attempt's writes and pushes, for the closing log lines. */
  work: { inserted: number; updated: number; pushed: number; discontinued: number };
  /** Skipped offers named in the log so far (across listing restarts). */
  skippedLogged: number;
  /** The pages of the instance's last run, when that run's listing may stand in for this one's (see `knownPages`). */
  lastListing: readonly (string | null)[] | undefined;
}

/** What one pass over the listing learnt: the result so far, and how many stored rows it named. */
interface ListingPass {
  tally: CatalogResultTally;
  /** Offers listed, good and malformed. */
  listed: number;
  /** Rows of the instance the listing named (read, or inserted by this pass): if all, none vanished. */
  rowsNamed: number;
  /**
   * Of those, the rows not discontinued when the listing ends, or last changed by this run (see
   * `countOpenOffers`): if the instance has no others, every row the listing did not name was discontinued by
   * an earlier run and stays so — unchanged, nothing to read.
   */
  openNamed: number;
  /** Per page, its fingerprint when it is clean (see {@link CatalogPageFingerprints}), null otherwise. */
  fingerprints: (string | null)[];
  /** Pages taken as the last run listed them. */
  knownPages: number;
}

/**
 * Ties the page fingerprints a run keeps to the plugin version: an upgrade may check offers otherwise, so its
 * first run checks every offer again.
 */
function fingerprintsVersion(): string {
  return `${loadPluginManifest().version}/1`;
}

/**
 * One Get Services Definition run (host-contract.md §3, docs/catalog.md): the market's offers are streamed
 * page by page — each page checked, diffed against the stored rows of its offers, pushed into the host
 * catalog, then written (unchanged offers cost no write) — and after the last page the stored offers the
 * listing did not name are discontinued. The host goes first on every page, so a failed write is redone,
 * idempotently, by the next attempt instead of leaving the host behind the database. Only offer IDs and
 * their outcomes are kept across pages; the catalog itself is never held at once.
 */
@Injectable()
export class CatalogSyncService {
  private readonly logger = new Logger(CatalogSyncService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly instances: InstancesService,
    private readonly metrics: EsdMetrics,
  ) {}

  /**
   * Runs the run, or resumes it — a Bull retry, or a job the sweeper enqueued again after its first was lost.
   * Never throws for the run's own failures.
   */
  async execute(runId: string, attempt: { number: number; final: boolean }): Promise<CatalogSyncOutcome> {
    const repo = this.dataSource.getRepository(CatalogRunEntity);
    const run = await repo.findOneBy({ id: runId });
    if (!run || !ACTIVE_CATALOG_RUN_STATUSES.includes(run.status)) {
      return {
        outcome: 'skipped',
        reason: run ? `run ${runId} is ${run.status} already` : `no run ${runId}`,
      };
    }
    const progress = new RunProgress(this.dataSource, run);
    const started = await progress.markRunning(attempt.number);
    if (!started) return { outcome: 'skipped', reason: `run ${runId} finished meanwhile` };

    try {
      const { result, pageFingerprints } = await this.sync(run, progress);
      await progress.finish('succeeded', { result, pageFingerprints });
      await this.announce(run, 'succeeded', result);
      return { outcome: 'succeeded', result };
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const message = sentenceOf(failure);
      if (retryable(failure) && !attempt.final) {
        await progress.log('warn', `Attempt ${attempt.number} failed: ${message} It is retried.`);
        return { outcome: 'retry', error: failure };
      }
      if (!(failure instanceof EsdError)) {
        this.logger.error(`Catalog run ${runId} failed: ${failure.stack ?? failure.message}`);
      }
      await progress.finish('failed', { error: message });
      await this.announce(run, 'failed', null);
      return { outcome: 'failed', error: failure };
    }
  }

  private async sync(
    run: CatalogRunEntity,
    progress: RunProgress,
  ): Promise<{ result: CatalogRunResult; pageFingerprints: CatalogPageFingerprints }> {
    const { instance, client } = await this.instances.clientForInstance(run.instanceId);
    const market = { country: instance.country!, language: instance.language! };
    const currency = await this.currencyOf(client, market.country);
    const storedCount = await countStoredOffers(this.dataSource.manager, run.instanceId);
    const context: RunContext = {
      run,
      instance,
      currency,
      progress,
      productType: new ProductTypeUpkeep(this.dataSource, this.options.catalog),
      work: { inserted: 0, updated: 0, pushed: 0, discontinued: 0 },
      skippedLogged: 0,
      lastListing: await this.lastListing(run, storedCount),
    };

    const { tally, listed, rowsNamed, openNamed, fingerprints, knownPages } = await this.syncListing(
      context,
      client,
      market,
      storedCount,
    );
    // Every stored row named by the listing: none vanished, and none needs reading again.
    const offersStored = await countStoredOffers(this.dataSource.manager, run.instanceId);
    const unnamed = offersStored - rowsNamed;
    if (unnamed > 0) {
      // Rows the listing did not name: unless some are still open (not discontinued, or this run's own), all
      // were discontinued by an earlier run and are reported unchanged without being read — the usual case
      // once offers have vanished, which every later run would otherwise pay a scan of every row for.
      if ((await countOpenOffers(this.dataSource.manager, run.instanceId, run.id)) > openNamed) {
        progress.note(
          'info',
          `Offers stored but not listed: ${unnamed}; those Microsoft no longer lists are discontinued.`,
        );
        await this.syncVanished(context, tally);
      } else {
        tally.addUnchanged(unnamed);
        progress.note(
          'info',
          `Offers stored but not listed: ${unnamed}, all discontinued by earlier runs; they stay so.`,
        );
      }
    }
    await context.productType.complete();

    const { counts } = tally;
    if (counts.skipped > context.skippedLogged) {
      progress.note(
        'warn',
        `… and ${counts.skipped - context.skippedLogged} more skipped offers (listed in the result).`,
      );
    }
    const { work } = context;
    if (knownPages > 0) {
      progress.note(
        'info',
        `${knownPages} of ${fingerprints.length} pages were as the last run listed them: their offers needed no check.`,
      );
    }
    progress.note(
      'info',
      `Listed ${listed} offers (${storedCount} stored before): ${counts.new} new, ${counts.updated} updated, ${counts.discontinued} discontinued, ${counts.unchanged} unchanged, ${counts.skipped} skipped.`,
    );
    await progress.update(
      PROGRESS.swept,
      'info',
      work.pushed + work.discontinued + work.inserted + work.updated === 0
        ? 'Host catalog and offers already in step: nothing pushed, nothing written.'
        : `Pushed ${work.pushed} products to the host catalog and marked ${work.discontinued} discontinued (unsellable, kept); saved ${work.inserted} new and ${work.updated} changed offers, every other offer needed no write.`,
    );
    return {
      result: tally.result(),
      pageFingerprints: { version: fingerprintsVersion(), offersStored, pages: fingerprints },
    };
  }

  /**
   * The page fingerprints of the instance's run before this one, when its listing may stand in for pages that
   * are the same in this one: it succeeded (every page it listed was stored whole), by this plugin version, no
   * run came between (only catalog runs write offers' catalog columns; an administrator's acknowledgement moves
   * `new`/`updated` to `current`, which no check reads), and the instance still has the offers it left (offers
   * deleted by hand to start afresh are listed and checked again).
   */
  private async lastListing(
    run: CatalogRunEntity,
    offersStored: number,
  ): Promise<readonly (string | null)[] | undefined> {
    const [last] = await this.dataSource.getRepository(CatalogRunEntity).find({
      where: { instanceId: run.instanceId, id: Not(run.id), createdAt: LessThanOrEqual(run.createdAt) },
      order: { createdAt: 'DESC', id: 'DESC' },
      select: { id: true, status: true, pageFingerprints: true },
      take: 1,
    });
    const kept = last?.status === 'succeeded' ? last.pageFingerprints : null;
    if (kept?.version !== fingerprintsVersion() || kept.offersStored !== offersStored) return undefined;
    return kept.pages;
  }

  /** The market's currency (products are priced in it). */
  private async currencyOf(client: CisClient, country: string): Promise<string> {
    const markets = await client.getMarkets();
    const market = markets.find((m) => m.country === country);
    if (!market) {
      throw new EsdError(
        EsdErrorCode.MARKET_NOT_OFFERED,
        `Microsoft no longer offers ${country} to this channel. Choose a market from the instance's options.`,
      );
    }
    return market.currency;
  }

  /**
   * Every page of the market, synced one after another, the next asked for while one is synced (`readAhead`:
   * Microsoft builds and sends page n + 1 while page n is diffed and written). Microsoft does not say how many
   * offers there are, so progress is estimated from the offers stored last time and never reaches the listing's
   * end mark before the last page. A listing whose continuation token went stale (the catalog changed under it)
   * starts again from page 1 rather than mixing two catalogs: the tally starts afresh, and the pages already
   * written read as this run's own rows (`lastChangedRunId`), so they are reported once, as what the run did.
   */
  private async syncListing(
    context: RunContext,
    client: CisClient,
    market: { country: string; language: string },
    storedCount: number,
  ): Promise<ListingPass> {
    const expectedPages = Math.max(1, Math.ceil(storedCount / CATALOG_PAGE_SIZE));
    const { run } = context;
    for (let restart = 0; ; restart++) {
      const pass: ListingPass = {
        tally: new CatalogResultTally(),
        listed: 0,
        rowsNamed: 0,
        openNamed: 0,
        fingerprints: [],
        knownPages: 0,
      };
      // A page is taken as the last run listed it only while this run has written no offer before the pass:
      // within a pass, an offer written on one page and listed again on a known one is caught as a repeat.
      const knownPages =
        context.lastListing && !(await runWroteOffers(this.dataSource.manager, run.instanceId, run.id))
          ? context.lastListing
          : undefined;
      let pages = 0;
      try {
        const listing = client.offerPages({ ...market, pageSize: CATALOG_PAGE_SIZE }, { knownPages });
        for await (const page of readAhead(listing)) {
          pages = page.page;
          pass.listed = page.totalSoFar;
          const clean =
            page.known && this.syncKnownPage(pass, page.known)
              ? true
              : await this.syncPage(context, pass, page.offers);
          pass.fingerprints.push(clean ? page.fingerprint : null);
          const fraction = pages / (Math.max(expectedPages, pages) + 1);
          await context.progress.update(
            PROGRESS.started + Math.floor((PROGRESS.listed - PROGRESS.started) * fraction),
            'info',
            `Page ${pages}: ${page.size} offers (${page.totalSoFar} so far).`,
          );
        }
        return pass;
      } catch (error) {
        const stale =
          error instanceof CisError && error.code === EsdErrorCode.CIS_INVALID_REQUEST && pages > 0;
        if (!stale || restart >= MAX_LISTING_RESTARTS) throw error;
        context.progress.note(
          'warn',
          `Microsoft refused page ${pages + 1} (its catalog changed during the listing); listing again from page 1.`,
        );
      }
    }
  }

  /**
   * A page with the fingerprint of the same page of the last run's listing, which was clean then: the same
   * offers, each valid, stored as listed by that run, and not written since. Each is unchanged — unless this
   * listing named it on an earlier page (then it is a repeat, and the page is diffed as any other: false).
   */
  private syncKnownPage(pass: ListingPass, keys: readonly CisOfferKey[]): boolean {
    const { tally } = pass;
    if (keys.some((key) => tally.naming(key.offerId) !== undefined)) return false;
    tally.addUnchangedOffers(keys.map((key) => key.offerId));
    pass.rowsNamed += keys.length;
    for (const key of keys) if (key.status !== 'Discontinued') pass.openNamed++;
    pass.knownPages++;
    return true;
  }

  /**
   * One page: checked, its stored rows read (one query), diffed, pushed to the host, then written. Answers
   * whether the page was clean: every entry a valid offer named nowhere else in the listing so far.
   */
  private async syncPage(
    context: RunContext,
    pass: ListingPass,
    entries: readonly CisOfferEntry[],
  ): Promise<boolean> {
    const { tally } = pass;
    const checks = entries.map(catalogOfferFrom);
    // One look at the tally per entry. The rows to read: those a valid entry will decide, and those behind
    // malformed entries the listing has not named yet (seen, so not vanished). IDs an earlier page decided
    // (a valid entry here is a repeat) or named (their rows were counted then) are noted apart: rarely any.
    const wanted = new Set<string>();
    let decidedBefore: Set<string> | undefined;
    let namedBefore: Set<string> | undefined;
    for (const check of checks) {
      const offerId = check.ok ? check.offer.offerId : check.offerId;
      if (offerId === undefined) continue;
      const naming = tally.naming(offerId);
      if (naming === true) {
        (decidedBefore ??= new Set()).add(offerId);
        continue;
      }
      if (naming === false) {
        (namedBefore ??= new Set()).add(offerId);
        if (!check.ok) continue;
      }
      wanted.add(offerId);
    }
    const stored = await readStoredOffers(this.dataSource.manager, context.run.instanceId, [...wanted]);
    const runId = context.run.id;
    const diff = diffOfferPage({
      stored,
      fetched: checks,
      runId,
      decidedBefore: (offerId) => decidedBefore?.has(offerId) ?? false,
    });
    tally.addPage(diff);
    // The rows this pass names for the first time, and which of them are open when the listing ends: rows
    // this page inserts or updates are the run's own; the others stay as read.
    const updated = diff.plan.update.length > 0 ? new Set(diff.plan.update.map((u) => u.offerId)) : undefined;
    for (const row of stored) {
      const openAsRead = row.catalogStatus !== 'discontinued' || row.lastChangedRunId === runId;
      if (namedBefore?.has(row.offerId)) {
        // Counted when a malformed entry named it; a valid one has now rewritten it.
        if (!openAsRead && updated?.has(row.offerId)) pass.openNamed++;
        continue;
      }
      pass.rowsNamed++;
      if (openAsRead || updated?.has(row.offerId)) pass.openNamed++;
    }
    pass.rowsNamed += diff.plan.insert.length;
    pass.openNamed += diff.plan.insert.length;
    this.logSkipped(context, diff.skipped);
    const clean =
      diff.skipped.length === 0 && diff.malformedIds.length === 0 && !decidedBefore && !namedBefore;
    // An unchanged page has nothing to push or write: it stops here.
    if (diff.plan.insert.length === 0 && diff.plan.update.length === 0) return clean;
    const storedRefs = new Map(stored.map((s) => [s.offerId, s.hostProductRef]));
    const hostRefs = await this.push(context, diff.plan, storedRefs);
    await this.write(context, diff.plan, storedRefs, hostRefs);
    return clean;
  }

  /**
   * After the last page: the instance's stored offers the listing did not name vanished. The stored rows are
   * read in keyset pages by offer ID (only the columns the check needs), and each page's discontinued offers
   * are pushed (those the host was given) and written before the next is read.
   */
  private async syncVanished(context: RunContext, tally: CatalogResultTally): Promise<void> {
    const instanceId = context.run.instanceId;
    const now = new Date();
    let after: string | null = null;
    for (;;) {
      const rows = await readOfferKeys(this.dataSource.manager, instanceId, after, VANISH_SCAN_SIZE);
      if (rows.length === 0) return;
      after = rows[rows.length - 1].offerId;
      const vanished = diffVanished({
        stored: rows,
        seen: (offerId) => tally.seen(offerId),
        runId: context.run.id,
        now,
      });
      tally.addVerdicts(vanished.verdicts);
      if (vanished.plan.update.length > 0) {
        const plan: CatalogWritePlan = { insert: [], update: vanished.plan.update, unchanged: [] };
        const storedRefs = new Map(rows.map((r) => [r.offerId, r.hostProductRef]));
        await this.push(context, plan, storedRefs);
        await this.write(context, plan, storedRefs, new Map());
        await context.progress.touch(PROGRESS.listed);
      }
      if (rows.length < VANISH_SCAN_SIZE) return;
    }
  }

  /** The page's skipped offers, named in the log up to {@link MAX_SKIPPED_LOG_LINES} per run. */
  private logSkipped(context: RunContext, skipped: readonly SkippedOffer[]): void {
    for (const offer of skipped) {
      if (context.skippedLogged >= MAX_SKIPPED_LOG_LINES) return;
      context.skippedLogged++;
      context.progress.note(
        'warn',
        `Skipped offer ${offer.offerId ?? '(no usable offer ID)'}: ${offer.reason}.`,
      );
    }
  }

  /**
   * Pushes a plan's new and updated offers (batches of {@link CATALOG_BATCH_SIZE}), the product type first
   * when the run has not sent it yet, and marks discontinued products unsellable — only those the host was
   * given: an offer that arrived discontinued was never offered for sale. Answers the host product id per
   * offer ID pushed.
   */
  private async push(
    context: RunContext,
    plan: CatalogWritePlan,
    storedRefs: ReadonlyMap<string, string | null>,
  ): Promise<Map<string, string>> {
    const catalog = this.options.catalog;
    const { instance, currency } = context;
    const mapping = { instanceId: instance.id, language: instance.language!, currency };
    const products: HostProductInput[] = [];
    for (const row of plan.insert) {
      if (row.catalogStatus !== 'discontinued') {
        products.push(hostProductFor(row, { ...mapping, catalogStatus: row.catalogStatus }));
      }
    }
    for (const u of plan.update) {
      if (u.outcome === 'updated' && isFullRow(u.values)) {
        products.push(hostProductFor(u.values, { ...mapping, catalogStatus: u.values.catalogStatus }));
      }
    }
    const refs = new Map<string, string>();
    if (products.length > 0) {
      await context.productType.beforePush(products.map((p) => p.properties.offerUri));
      for (let i = 0; i < products.length; i += CATALOG_BATCH_SIZE) {
        const results = await catalog.upsertProducts(products.slice(i, i + CATALOG_BATCH_SIZE));
        for (const r of results) if (r.instanceId === instance.id) refs.set(r.code, r.hostProductId);
      }
      context.work.pushed += products.length;
    }
    const discontinued: HostProductRef[] = plan.update
      .filter((u) => u.outcome === 'discontinued' && (storedRefs.get(u.offerId) ?? null) !== null)
      .map((u) => ({ instanceId: instance.id, code: u.offerId }));
    for (let i = 0; i < discontinued.length; i += CATALOG_BATCH_SIZE) {
      await catalog.setProductsStatus(discontinued.slice(i, i + CATALOG_BATCH_SIZE), {
        catalogStatus: 'discontinued',
        sellable: false,
      });
    }
    context.work.discontinued += discontinued.length;
    return refs;
  }

  /**
   * Writes a plan in one transaction — a page is stored whole or not at all: new rows in multi-row INSERTs,
   * changed rows one UPDATE each, both stamped with this run (`first_seen_run_id` / `last_changed_run_id`, which
   * a resumed attempt reads back). Unchanged rows are not touched.
   */
  private async write(
    context: RunContext,
    plan: CatalogWritePlan,
    storedRefs: ReadonlyMap<string, string | null>,
    hostRefs: ReadonlyMap<string, string>,
  ): Promise<void> {
    if (plan.insert.length === 0 && plan.update.length === 0) return;
    const { run } = context;
    const instanceId = run.instanceId;
    await this.dataSource.transaction(async (m) => {
      for (let i = 0; i < plan.insert.length; i += INSERT_BATCH_SIZE) {
        await insertOfferRows(
          m,
          plan.insert
            .slice(i, i + INSERT_BATCH_SIZE)
            .map((values) => newOfferRow(values, instanceId, run.id, hostRefs.get(values.offerId) ?? null)),
        );
      }
      for (const u of plan.update) {
        const hostRef = hostRefs.get(u.offerId);
        await m.update(
          OfferEntity,
          { instanceId, offerId: u.offerId },
          {
            ...u.values,
            lastChangedRunId: run.id,
            ...(hostRef !== undefined && hostRef !== storedRefs.get(u.offerId)
              ? { hostProductRef: hostRef }
              : {}),
          },
        );
      }
    });
    context.work.inserted += plan.insert.length;
    context.work.updated += plan.update.length;
    if (plan.insert.length > 0 || plan.update.some((u) => isFullRow(u.values))) {
      context.productType.offerUrisWritten();
    }
  }

  private async announce(
    run: CatalogRunEntity,
    status: 'succeeded' | 'failed',
    result: CatalogRunResult | null,
  ): Promise<void> {
    this.metrics.catalogRunFinished(status, run.startedAt ?? run.createdAt, new Date());
    await announceRunFinished(this.options, run, status, result?.counts ?? null, this.logger);
  }
}

/**
 * Raises `catalogRunFinished` (event id = run id). An event the host cannot take is logged: the run's outcome is
 * stored either way, and the host can read it from the runs route.
 */
export async function announceRunFinished(
  options: Pick<ResolvedEsdOptions, 'events'>,
  run: Pick<CatalogRunEntity, 'id' | 'instanceId'>,
  status: 'succeeded' | 'failed',
  counts: CatalogRunResult['counts'] | null,
  logger: Logger,
): Promise<void> {
  try {
    await options.events.publish({
      id: run.id,
      name: 'catalogRunFinished',
      occurredAt: new Date().toISOString(),
      payload: { runId: run.id, instanceId: run.instanceId, status, counts: { ...(counts ?? {}) } },
    });
  } catch (error) {
    logger.warn(
      `catalogRunFinished for run ${run.id} could not be handed to the host: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * The product type is shared by every instance and its drop-down lists every stored offer URI. A product must
 * not reach the host before its URI is in the type, and the type must match the stored offers when the run
 * ends. Sending it once per page with a growing list would cost the whole list per page; instead it is sent
 * once before the run's first push (the stored URIs and that page's), and once more at the end when the run
 * wrote offer URIs and the stored URIs no longer give the definition sent.
 */
class ProductTypeUpkeep {
  private sent: string | null = null;
  private written = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly catalog: HostCatalog,
  ) {}

  /** Before a push: the first of the run sends the type with the stored URIs and the page's. */
  async beforePush(pageUris: readonly string[]): Promise<void> {
    if (this.sent !== null) return;
    await this.send([...(await this.storedUris()), ...pageUris]);
  }

  /** A write stored new or rewritten offer URIs: the type is checked again at the end. */
  offerUrisWritten(): void {
    this.written = true;
  }

  /** At the end of the run: sends the type again if the stored URIs no longer give the definition sent. */
  async complete(): Promise<void> {
    if (!this.written) return;
    await this.send(await this.storedUris());
  }

  private async send(uris: readonly string[]): Promise<void> {
    const definition = microsoftEsdProductType(uris);
    const digest = createHash('sha256').update(JSON.stringify(definition)).digest('hex');
    if (digest === this.sent) return;
    await this.catalog.upsertProductType(definition);
    this.sent = digest;
  }

  /** Every offer URI of every instance: the type is shared by all of them. */
  private async storedUris(): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(OfferEntity)
      .createQueryBuilder('o')
      .select('DISTINCT o.offerUri', 'uri')
      .getRawMany<{ uri: string }>();
    return rows.map((r) => r.uri);
  }
}

/**
 * The run row as one attempt moves it. The log lives in memory for the attempt and is written with every
 * progress step, so the row's `updated_at` also tells how long ago the run last moved: every page writes it,
 * which is what tells a live run from a lost one (see `CatalogRunsService.recoverLostRuns`).
 */
class RunProgress {
  private readonly entries: CatalogRunLogEntry[];
  private progress: number;
  /** When this attempt last wrote the row (epoch ms). */
  private savedAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly run: CatalogRunEntity,
  ) {
    this.entries = [...(run.log ?? [])];
    this.progress = run.progress;
  }

  /** queued → running (or running again, on a retry or resume). False when the run is no longer active. */
  async markRunning(attempt: number): Promise<boolean> {
    this.entries.push(
      runLogEntry(
        'info',
        attempt > 1
          ? `Running again (attempt ${attempt}).`
          : this.run.startedAt !== null
            ? 'Running again (resumed).'
            : 'Running.',
      ),
    );
    this.progress = Math.max(this.progress, 1);
    this.savedAt = Date.now();
    const result = await this.dataSource.getRepository(CatalogRunEntity).update(
      { id: this.run.id, status: In([...ACTIVE_CATALOG_RUN_STATUSES]) },
      {
        status: 'running',
        progress: this.progress,
        startedAt: this.run.startedAt ?? new Date(),
        log: this.entries,
      },
    );
    return (result.affected ?? 0) > 0;
  }

  async update(progress: number, level: CatalogRunLogEntry['level'], message: string): Promise<void> {
    this.entries.push(runLogEntry(level, message));
    await this.touch(progress);
  }

  /**
   * Moves the bar (never back) and writes the row with whatever lines were noted since — unless the row was
   * written less than {@link HEARTBEAT_MS} ago: then the next write carries both.
   */
  async touch(progress: number): Promise<void> {
    this.progress = Math.min(99, Math.max(this.progress, progress));
    if (Date.now() - this.savedAt < HEARTBEAT_MS) return;
    await this.save({ progress: this.progress, log: this.entries });
  }

  /** Adds a log line without a write of its own (the next progress step carries it). */
  note(level: CatalogRunLogEntry['level'], message: string): void {
    this.entries.push(runLogEntry(level, message));
  }

  async log(level: CatalogRunLogEntry['level'], message: string): Promise<void> {
    this.entries.push(runLogEntry(level, message));
    await this.save({ log: this.entries });
  }

  async finish(
    status: 'succeeded' | 'failed',
    outcome: { result?: CatalogRunResult; error?: string; pageFingerprints?: CatalogPageFingerprints },
  ): Promise<void> {
    this.entries.push(
      status === 'succeeded'
        ? runLogEntry('info', 'Succeeded.')
        : runLogEntry('error', `Failed: ${outcome.error ?? 'unknown error'}`),
    );
    await this.save({
      status,
      progress: status === 'succeeded' ? PROGRESS.done : this.progress,
      activeInstanceId: null,
      finishedAt: new Date(),
      result: outcome.result ?? null,
      error: outcome.error ?? null,
      pageFingerprints: outcome.pageFingerprints ?? null,
      log: this.entries,
    });
  }

  private async save(values: Partial<CatalogRunEntity>): Promise<void> {
    this.savedAt = Date.now();
    await this.dataSource
      .getRepository(CatalogRunEntity)
      .update({ id: this.run.id, status: In([...ACTIVE_CATALOG_RUN_STATUSES]) }, values);
  }
}

/** A row to insert, stamped with the run: written out, not spread (see `rowValues` in catalog-diff.ts). */
function newOfferRow(
  values: OfferRowValues,
  instanceId: string,
  runId: string,
  hostProductRef: string | null,
): NewOfferRow {
  return {
    id: newId(),
    instanceId,
    offerId: values.offerId,
    offerUri: values.offerUri,
    name: values.name,
    shortDescription: values.shortDescription,
    productFamily: values.productFamily,
    minQuantity: values.minQuantity,
    maxQuantity: values.maxQuantity,
    isReturnable: values.isReturnable,
    vendorStatus: values.vendorStatus,
    catalogStatus: values.catalogStatus,
    lastModified: values.lastModified,
    contentHash: values.contentHash,
    firstSeenRunId: runId,
    lastChangedRunId: runId,
    hostProductRef,
    missingSince: values.missingSince,
  };
}

function isFullRow(values: object): values is OfferRowValues {
  return 'offerUri' in values;
}

/** Worth another Bull attempt: a transient CIS failure, the database or queue gone, or anything unexpected. */
function retryable(error: Error): boolean {
  if (error instanceof CisError) return error.transient;
  if (error instanceof EsdError) {
    return error.code === EsdErrorCode.DATABASE_UNAVAILABLE || error.code === EsdErrorCode.QUEUE_UNAVAILABLE;
  }
  return true;
}

/** The sentence the run shows: the plugin's own for its errors, a generic one (details in the log) else. */
function sentenceOf(error: Error): string {
  return error instanceof EsdError ? error.message : ERROR_DESCRIPTIONS[EsdErrorCode.INTERNAL].message;
}
