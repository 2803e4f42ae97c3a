import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { CisError, type CisClient, type CisOfferEntry } from '../cis';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { ESD_OPTIONS } from '../constants';
import type { HostProductInput, HostProductRef } from '../host/ports';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import type { InstanceEntity } from '../settings/instance.entity';
import { InstancesService } from '../settings/instances.service';
import { newId } from '../storage/entity-columns';
import { diffCatalog, type CatalogDiff, type OfferRowValues, type StoredOfferState } from './catalog-diff';
import { catalogOfferFrom } from './catalog-offer';
import {
  ACTIVE_CATALOG_RUN_STATUSES,
  CatalogRunEntity,
  type CatalogRunLogEntry,
  type CatalogRunResult,
} from './catalog-run.entity';
import { entry } from './catalog-runs.service';
import { OfferEntity } from './offer.entity';
import { hostProductFor, microsoftEsdProductType } from './product-mapping';

/** Offers asked per CIS call. */
export const CATALOG_PAGE_SIZE = 500;
/** Products per `upsertProducts` / `setProductsStatus` call, and rows per database transaction. */
export const CATALOG_BATCH_SIZE = 200;
/** Restarts from page 1 when Microsoft's catalog changed under a listing (stale continuation token). */
const MAX_LISTING_RESTARTS = 2;
/** Skipped offers named one by one in the log; the result lists them all. */
const MAX_SKIPPED_LOG_LINES = 50;

/** Where the progress bar stands after each phase. */
const PROGRESS = { started: 5, listed: 80, pushed: 95, done: 100 } as const;

/** How one attempt of a run ended, for the processor. */
export type CatalogSyncOutcome =
  | { outcome: 'succeeded'; result: CatalogRunResult }
  | { outcome: 'failed'; error: Error }
  /** Transient: the run stays `running`; the processor rethrows so Bull retries with backoff. */
  | { outcome: 'retry'; error: Error }
  /** The run is gone or finished already (deleted instance, a run failed as stale): nothing to do. */
  | { outcome: 'skipped'; reason: string };

/** One stored offer: what the diff needs, plus the row id and the host product ref. */
type StoredOffer = StoredOfferState & { id: string; hostProductRef: string | null };

/**
 * One Get Services Definition run (host-contract.md §3, docs/catalog.md): list the market's offers page by
 * page, check each, diff them against `esd_offer`, push what changed into the host catalog, then write what
 * changed (unchanged offers cost no write) — the host first, so a failed write is redone, idempotently, by
 * the next attempt instead of leaving the host behind the database.
 */
@Injectable()
export class CatalogSyncService {
  private readonly logger = new Logger(CatalogSyncService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly instances: InstancesService,
  ) {}

  /** Runs (or resumes, on a retry) the run; never throws for the run's own failures. */
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
      const result = await this.sync(run, progress);
      await progress.finish('succeeded', { result });
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

  private async sync(run: CatalogRunEntity, progress: RunProgress): Promise<CatalogRunResult> {
    const { instance, client } = await this.instances.clientForInstance(run.instanceId);
    const market = { country: instance.country!, language: instance.language! };
    const currency = await this.currencyOf(client, market.country);
    const stored = await this.storedOffers(run.instanceId);

    const entries = await this.listOffers(client, market, stored.length, progress);
    const checks = entries.map(catalogOfferFrom);
    const diff = diffCatalog({ stored, fetched: checks, now: new Date() });
    const { counts } = diff.result;
    const skippedLines = diff.result.skipped.slice(0, MAX_SKIPPED_LOG_LINES);
    for (const skipped of skippedLines) {
      progress.note('warn', `Skipped offer ${skipped.offerId ?? '(no usable offer ID)'}: ${skipped.reason}.`);
    }
    if (diff.result.skipped.length > skippedLines.length) {
      progress.note(
        'warn',
        `… and ${diff.result.skipped.length - skippedLines.length} more skipped offers (listed in the result).`,
      );
    }
    await progress.update(
      PROGRESS.listed,
      'info',
      `Compared ${entries.length} listed offers with ${stored.length} stored: ${counts.new} new, ${counts.updated} updated, ${counts.discontinued} discontinued, ${counts.unchanged} unchanged, ${counts.skipped} skipped.`,
    );

    const hostRefs = await this.pushToHost(instance, currency, diff, stored, progress);
    await this.write(run, diff, stored, hostRefs);
    progress.note(
      'info',
      `Saved ${diff.plan.insert.length} new and ${diff.plan.update.length} changed offers; ${diff.plan.unchanged.length} unchanged offers needed no write.`,
    );
    return diff.result;
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

  private async storedOffers(instanceId: string): Promise<StoredOffer[]> {
    return this.dataSource.getRepository(OfferEntity).find({
      where: { instanceId },
      select: {
        id: true,
        offerId: true,
        contentHash: true,
        catalogStatus: true,
        vendorStatus: true,
        missingSince: true,
        hostProductRef: true,
      },
    });
  }

  /**
   * Every page of the market. Microsoft does not say how many offers there are, so progress is estimated from
   * the offers stored last time and never reaches the listing's end mark before the last page. A listing whose
   * continuation token went stale (the catalog changed under it) starts again from page 1 rather than mixing
   * two catalogs.
   */
  private async listOffers(
    client: CisClient,
    market: { country: string; language: string },
    storedCount: number,
    progress: RunProgress,
  ): Promise<CisOfferEntry[]> {
    const expectedPages = Math.max(1, Math.ceil(storedCount / CATALOG_PAGE_SIZE));
    for (let restart = 0; ; restart++) {
      const entries: CisOfferEntry[] = [];
      let pages = 0;
      try {
        for await (const page of client.offerPages({ ...market, pageSize: CATALOG_PAGE_SIZE })) {
          pages = page.page;
          entries.push(...page.offers);
          const fraction = pages / (Math.max(expectedPages, pages) + 1);
          await progress.update(
            PROGRESS.started + Math.floor((PROGRESS.listed - PROGRESS.started) * fraction),
            'info',
            `Page ${pages}: ${page.offers.length} offers (${page.totalSoFar} so far).`,
          );
        }
        return entries;
      } catch (error) {
        const stale =
          error instanceof CisError && error.code === EsdErrorCode.CIS_INVALID_REQUEST && pages > 0;
        if (!stale || restart >= MAX_LISTING_RESTARTS) throw error;
        progress.note(
          'warn',
          `Microsoft refused page ${pages + 1} (its catalog changed during the listing); listing again from page 1.`,
        );
      }
    }
  }

  /**
   * Pushes new and updated offers (batches of {@link CATALOG_BATCH_SIZE}) and marks discontinued products
   * unsellable. Answers the host product id per offer ID pushed.
   */
  private async pushToHost(
    instance: InstanceEntity,
    currency: string,
    diff: CatalogDiff,
    stored: readonly StoredOffer[],
    progress: RunProgress,
  ): Promise<Map<string, string>> {
    const catalog = this.options.catalog;
    const context = { instanceId: instance.id, language: instance.language!, currency };
    const products: HostProductInput[] = [
      ...diff.plan.insert
        .filter((row) => row.catalogStatus !== 'discontinued')
        .map((row) => hostProductFor(row, { ...context, catalogStatus: row.catalogStatus })),
      ...diff.plan.update.flatMap((u) =>
        u.outcome === 'updated' && isFullRow(u.values)
          ? [hostProductFor(u.values, { ...context, catalogStatus: u.values.catalogStatus })]
          : [],
      ),
    ];
    const refs = new Map<string, string>();
    if (products.length > 0) {
      await catalog.upsertProductType(microsoftEsdProductType(await this.allOfferUris(diff)));
      for (let i = 0; i < products.length; i += CATALOG_BATCH_SIZE) {
        const results = await catalog.upsertProducts(products.slice(i, i + CATALOG_BATCH_SIZE));
        for (const r of results) if (r.instanceId === instance.id) refs.set(r.code, r.hostProductId);
      }
    }
    // Only products the host was given: an offer that arrived discontinued was never offered for sale.
    const pushed = new Map(stored.map((s) => [s.offerId, s.hostProductRef]));
    const discontinued: HostProductRef[] = diff.plan.update
      .filter((u) => u.outcome === 'discontinued' && (pushed.get(u.offerId) ?? null) !== null)
      .map((u) => ({ instanceId: instance.id, code: u.offerId }));
    for (let i = 0; i < discontinued.length; i += CATALOG_BATCH_SIZE) {
      await catalog.setProductsStatus(discontinued.slice(i, i + CATALOG_BATCH_SIZE), {
        catalogStatus: 'discontinued',
        sellable: false,
      });
    }
    await progress.update(
      PROGRESS.pushed,
      'info',
      products.length + discontinued.length === 0
        ? 'Host catalog already in step: nothing to push.'
        : `Pushed ${products.length} products to the host catalog and marked ${discontinued.length} discontinued (unsellable, kept).`,
    );
    return refs;
  }

  /** Every offer URI of every instance, with this listing's: the product type is shared by all instances. */
  private async allOfferUris(diff: CatalogDiff): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(OfferEntity)
      .createQueryBuilder('o')
      .select('DISTINCT o.offerUri', 'uri')
      .getRawMany<{ uri: string }>();
    return [
      ...rows.map((r) => r.uri),
      ...diff.plan.insert.map((r) => r.offerUri),
      ...diff.plan.update.flatMap((u) => (isFullRow(u.values) ? [u.values.offerUri] : [])),
    ];
  }

  /** Inserts and updates in transactions of {@link CATALOG_BATCH_SIZE} rows; unchanged rows are not touched. */
  private async write(
    run: CatalogRunEntity,
    diff: CatalogDiff,
    stored: readonly StoredOffer[],
    hostRefs: ReadonlyMap<string, string>,
  ): Promise<void> {
    const instanceId = run.instanceId;
    const inserts = diff.plan.insert.map((values) => ({
      ...values,
      id: newId(),
      instanceId,
      firstSeenRunId: run.id,
      lastChangedRunId: run.id,
      hostProductRef: hostRefs.get(values.offerId) ?? null,
    }));
    for (let i = 0; i < inserts.length; i += CATALOG_BATCH_SIZE) {
      await this.dataSource.getRepository(OfferEntity).insert(inserts.slice(i, i + CATALOG_BATCH_SIZE));
    }
    const refs = new Map(stored.map((s) => [s.offerId, s.hostProductRef]));
    for (let i = 0; i < diff.plan.update.length; i += CATALOG_BATCH_SIZE) {
      const batch = diff.plan.update.slice(i, i + CATALOG_BATCH_SIZE);
      await this.dataSource.transaction(async (m) => {
        for (const u of batch) {
          const hostRef = hostRefs.get(u.offerId);
          await m.update(
            OfferEntity,
            { instanceId, offerId: u.offerId },
            {
              ...u.values,
              lastChangedRunId: run.id,
              ...(hostRef !== undefined && hostRef !== refs.get(u.offerId)
                ? { hostProductRef: hostRef }
                : {}),
            },
          );
        }
      });
    }
  }

  private async announce(
    run: CatalogRunEntity,
    status: 'succeeded' | 'failed',
    result: CatalogRunResult | null,
  ): Promise<void> {
    try {
      await this.options.events.publish({
        id: run.id,
        name: 'catalogRunFinished',
        occurredAt: new Date().toISOString(),
        payload: { runId: run.id, instanceId: run.instanceId, status, counts: { ...(result?.counts ?? {}) } },
      });
    } catch (error) {
      // The run's outcome is stored either way; the host can read it from the runs route.
      this.logger.warn(
        `catalogRunFinished for run ${run.id} could not be handed to the host: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

/**
 * The run row as one attempt moves it. The log lives in memory for the attempt and is written with every
 * progress step, so the row's `updated_at` also tells how long ago the run last moved.
 */
class RunProgress {
  private readonly entries: CatalogRunLogEntry[];
  private progress: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly run: CatalogRunEntity,
  ) {
    this.entries = [...(run.log ?? [])];
    this.progress = run.progress;
  }

  /** queued → running (or running again, on a retry). False when the run is no longer active. */
  async markRunning(attempt: number): Promise<boolean> {
    this.entries.push(entry('info', attempt > 1 ? `Running again (attempt ${attempt}).` : 'Running.'));
    this.progress = Math.max(this.progress, 1);
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
    this.entries.push(entry(level, message));
    this.progress = Math.min(99, Math.max(this.progress, progress));
    await this.save({ progress: this.progress, log: this.entries });
  }

  /** Adds a log line without a write of its own (the next progress step carries it). */
  note(level: CatalogRunLogEntry['level'], message: string): void {
    this.entries.push(entry(level, message));
  }

  async log(level: CatalogRunLogEntry['level'], message: string): Promise<void> {
    this.entries.push(entry(level, message));
    await this.save({ log: this.entries });
  }

  async finish(
    status: 'succeeded' | 'failed',
    outcome: { result?: CatalogRunResult; error?: string },
  ): Promise<void> {
    this.entries.push(
      status === 'succeeded'
        ? entry('info', 'Succeeded.')
        : entry('error', `Failed: ${outcome.error ?? 'unknown error'}`),
    );
    await this.save({
      status,
      progress: status === 'succeeded' ? PROGRESS.done : this.progress,
      activeInstanceId: null,
      finishedAt: new Date(),
      result: outcome.result ?? null,
      error: outcome.error ?? null,
      log: this.entries,
    });
  }

  private async save(values: Partial<CatalogRunEntity>): Promise<void> {
    await this.dataSource
      .getRepository(CatalogRunEntity)
      .update({ id: this.run.id, status: In([...ACTIVE_CATALOG_RUN_STATUSES]) }, values);
  }
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
