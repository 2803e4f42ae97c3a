/**
 * Get Services Definition runs that are interrupted and resumed, on PostgreSQL and Redis against the CIS sandbox
 * over HTTPS, with the reference host's real catalog on the same database: a Bull retry after a host failure on
 * a later page, a run whose job the queue lost (resumed by the sweeper's `recoverLostRuns`), the sweeper's
 * verdicts on live, stale and too-often-resumed runs, and a worker process SIGKILLed mid-run.
 *
 * Every interrupted run is compared with an uninterrupted run of another instance over the same catalog: the
 * same result (lists and counts), the same stored offers and the same host products. The sandbox's control says
 * what the catalog holds, so the expectations never come from the code under test.
 *
 * The queues live in a Redis database of their own; the SIGKILL test needs `npm run build` first (the worker
 * process runs the compiled plugin, as a host does).
 */
import type { Queue } from 'bull';
import { randomInt, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import type { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { HostEventRow } from '../../sandbox/host/host.entities';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import {
  CATALOG_RUN_RECOVERY_GRACE_MS,
  CATALOG_RUN_STALE_MS,
  CatalogRunsService,
  MAX_CATALOG_RUN_RESUMES,
} from '../../src/catalog/catalog-runs.service';
import { CATALOG_PAGE_SIZE, CatalogSyncService } from '../../src/catalog/catalog-sync.service';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { CATALOG_SYNC_JOB } from '../../src/constants';
import {
  catalogRunHelpers,
  startCatalogTestApp,
  type CatalogAnswer,
  type CatalogTestApp,
} from '../support/catalog-app';
import type { TestDatabase } from '../support/databases';
import type { ScriptedHostCatalog } from '../support/host-ports';
import { sandboxControl } from '../support/sandbox-control';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

const MARKET = { country: 'GR', language: 'el-GR' };
const SEED = randomInt(1, 1_000_000);
/** Three pages. */
const COUNT = 2 * CATALOG_PAGE_SIZE + 500;
const MINUTE = 60_000;

describe('Get Services Definition interrupted and resumed (PostgreSQL, Redis, CIS sandbox, reference host)', () => {
  let t: CatalogTestApp;
  let db: TestDatabase;
  let dataSource: DataSource;
  let sandbox: CisSandbox;
  let app: CatalogTestApp['app'];
  let queue: Queue;
  let host: ScriptedHostCatalog;
  let runs: CatalogRunsService;
  let redisUrl: string;
  let secretKey: string;
  let offerPagesAnswered = 0;
  const readyInstance: CatalogTestApp['readyInstance'] = (...args) => t.readyInstance(...args);
  const control = <T>(method: 'post' | 'delete', path: string, body?: unknown) =>
    sandboxControl<T>(sandbox, method, path, body);
  const { setCatalog, trigger, finished, runToEnd, hostStates, expectSameOutcome } = catalogRunHelpers(
    () => t,
    MARKET,
    SEED,
  );

  const offerIdsOf = (catalog: CatalogAnswer) => catalog.offers.map((o) => o.offerId);
  const log = (run: CatalogRunEntity) => run.log.map((l) => l.message);

  beforeAll(async () => {
    t = await startCatalogTestApp({
      // Offer pages the sandbox has answered (logged once the answer is sent), for the restarted listing.
      sandboxLog: (line) => {
        if (/^GET \S*\/offers 200 /.test(line)) offerPagesAnswered++;
      },
    });
    ({ db, dataSource, sandbox, app, queue, host, runs, redisUrl, secretKey } = t);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  afterEach(async () => {
    await control('delete', '/__sandbox/faults');
  });

  describe('two instances over one catalog: one interrupted, one not', () => {
    let uninterrupted: string;
    let interrupted: string;
    let ids: string[];

    beforeAll(async () => {
      ids = offerIdsOf(await setCatalog(COUNT));
      uninterrupted = (await readyInstance({}, MARKET)).id as string;
      interrupted = (await readyInstance({}, MARKET)).id as string;
      for (const id of [uninterrupted, interrupted]) {
        expect((await runToEnd(id)).result!.counts.new).toBe(COUNT);
      }
    }, 60_000);

    it('a Bull retry after a host failure on the third page goes on from the saved pages to the same outcome', async () => {
      // Changes on every page: page 1 and 3 renamed, discontinued and removed offers, a corrupt one on page 2.
      const p1 = (i: number) => ids[i];
      const p3 = (i: number) => ids[2 * CATALOG_PAGE_SIZE + i];
      const changes = {
        add: 3,
        rename: [p1(10), p3(100)],
        discontinue: [p1(20), p3(200)],
        remove: [p1(30), p3(300)],
        corrupt: [ids[CATALOG_PAGE_SIZE + 500]],
      };
      await setCatalog(COUNT, changes);
      const reference = await runToEnd(uninterrupted);
      expect(reference.result!.counts).toEqual({
        new: 3,
        updated: 2,
        discontinued: 4,
        unchanged: COUNT - 2 - 2 - 2 - 1,
        skipped: 1,
      });

      host.failOnce({ method: 'upsertProducts', instanceId: interrupted, code: p3(100) });
      const run = await runToEnd(interrupted);
      expect(host.fired).toHaveLength(1);
      expect(log(run)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Attempt 1 failed: .* It is retried\.$/),
          'Running again (attempt 2).',
        ]),
      );
      // The first attempt had saved pages 1 and 2 before the host failed on page 3.
      const pages = log(run).filter((m) => /^Page \d+:/.test(m));
      expect(pages.slice(0, 2)).toEqual([
        `Page 1: ${CATALOG_PAGE_SIZE} offers (${CATALOG_PAGE_SIZE} so far).`,
        `Page 2: ${CATALOG_PAGE_SIZE} offers (${2 * CATALOG_PAGE_SIZE} so far).`,
      ]);
      await expectSameOutcome(
        { instanceId: interrupted, run },
        { instanceId: uninterrupted, run: reference },
      );
    });

    it('a run whose job the queue lost is resumed by the sweeper, after its grace period, to the same outcome', async () => {
      // Offers vanish this time, and the host fails while they are being discontinued: after every page.
      const changes = { rename: [ids[5]], discontinue: [ids[1200]], remove: [ids[40], ids[2400]] };
      await setCatalog(COUNT, changes);
      const reference = await runToEnd(uninterrupted);
      expect(reference.result!.discontinued).toEqual(expect.arrayContaining([ids[40], ids[2400]]));

      await queue.pause(true);
      let runId: string;
      try {
        runId = await trigger(interrupted);
        host.failOnce({ method: 'setProductsStatus', instanceId: interrupted, code: ids[2400] });
        // The attempt a worker would make, here in the test: it fails after writing every page.
        const attempt = await app.get(CatalogSyncService).execute(runId, { number: 1, final: false });
        expect(attempt.outcome).toBe('retry');
        const written = await dataSource
          .getRepository(OfferEntity)
          .countBy({ instanceId: interrupted, lastChangedRunId: runId });
        expect(written).toBeGreaterThan(0);
        // Redis lost the job (flushed, or a worker died holding it and Bull gave up on it).
        await (await queue.getJob(runId))!.remove();

        expect(await runs.recoverLostRuns()).toEqual({ resumed: [], failed: [] });
        const later = new Date(Date.now() + CATALOG_RUN_RECOVERY_GRACE_MS + 1000);
        expect(await runs.recoverLostRuns(later)).toEqual({ resumed: [runId], failed: [] });
        const job = await queue.getJob(runId);
        expect(job?.data).toEqual({ trigger: 'manual', instanceId: interrupted, runId });
        expect(await job?.getState()).toBe('waiting');
        // A second sweep (another node) does not resume it twice: its job is there now.
        expect(await runs.recoverLostRuns(later)).toEqual({ resumed: [], failed: [] });
      } finally {
        await queue.resume(true);
      }
      const run = await finished(runId);
      expect(run.status).toBe('succeeded');
      expect(log(run)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^Resumed by the sweeper \(1 of 3\): no progress since .* and the queue no longer holds its job\./,
          ),
          'Running again (resumed).',
        ]),
      );
      await expectSameOutcome(
        { instanceId: interrupted, run },
        { instanceId: uninterrupted, run: reference },
      );
    });
  });

  it('a listing restarted after a catalog change mid-run reports each offer once, as a run over the new catalog', async () => {
    const ids = offerIdsOf(await setCatalog(COUNT));
    const restarted = (await readyInstance({}, MARKET)).id as string;
    const page3 = (i: number) => ids[2 * CATALOG_PAGE_SIZE + i];
    // Microsoft changes its catalog while page 1 is being pushed. The run asks for each page while it syncs the
    // one before, so page 2 is on its way by then: the change waits for the sandbox to have answered it (from
    // the old catalog). Page 1 is saved, page 2 is saved next, and page 3's continuation token has gone stale.
    const changes = { add: 3, rename: [ids[10], page3(10)], discontinue: [page3(20)], remove: [page3(30)] };
    const answeredBefore = offerPagesAnswered;
    let answeredAtChange = 0;
    host.onceBefore({ method: 'upsertProducts', instanceId: restarted, code: ids[10] }, async () => {
      const deadline = Date.now() + 10_000;
      while (offerPagesAnswered < answeredBefore + 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      answeredAtChange = offerPagesAnswered - answeredBefore;
      await setCatalog(COUNT, changes);
    });
    const run = await runToEnd(restarted);
    expect(answeredAtChange).toBe(2);
    expect(host.fired.at(-1)?.instanceId).toBe(restarted);
    const pages = log(run).filter((m) => /^Page \d+:|listing again/.test(m));
    expect(pages).toEqual([
      `Page 1: ${CATALOG_PAGE_SIZE} offers (${CATALOG_PAGE_SIZE} so far).`,
      `Page 2: ${CATALOG_PAGE_SIZE} offers (${2 * CATALOG_PAGE_SIZE} so far).`,
      'Microsoft refused page 3 (its catalog changed during the listing); listing again from page 1.',
      `Page 1: ${CATALOG_PAGE_SIZE} offers (${CATALOG_PAGE_SIZE} so far).`,
      `Page 2: ${CATALOG_PAGE_SIZE} offers (${2 * CATALOG_PAGE_SIZE} so far).`,
      `Page 3: ${COUNT - 2 * CATALOG_PAGE_SIZE - 1 + 3} offers (${COUNT - 1 + 3} so far).`,
    ]);
    expect(run.result!.counts).toEqual({
      new: COUNT - 1 - 1 + 3,
      updated: 0,
      discontinued: 1,
      unchanged: 0,
      skipped: 0,
    });

    const fresh = (await readyInstance({}, MARKET)).id as string;
    await expectSameOutcome(
      { instanceId: restarted, run },
      { instanceId: fresh, run: await runToEnd(fresh) },
    );
  });

  describe('the sweeper’s verdicts', () => {
    /** An active run row with no job, as a lost run looks, its log as given. */
    async function lostRun(instanceId: string, log: { message: string }[] = []): Promise<string> {
      const id = randomUUID();
      await dataSource.getRepository(CatalogRunEntity).insert({
        id,
        instanceId,
        trigger: 'manual',
        status: 'running',
        progress: 40,
        activeInstanceId: instanceId,
        startedAt: new Date(),
        log: log.map((l) => ({ at: new Date().toISOString(), level: 'info', message: l.message })),
      } as never);
      return id;
    }

    it('leaves a live run alone, fails a run lost too long or resumed too often, resumes one whose job failed', async () => {
      await setCatalog(20);
      const instances: string[] = [];
      for (let i = 0; i < 4; i++) instances.push((await readyInstance({}, MARKET)).id as string);
      const [live, stale, tooOften, failedJob] = instances;
      await queue.pause(true);
      let liveRun: string;
      let failedRun: string;
      try {
        // A job Bull gave up on while its run was still active: taken, discarded, failed.
        failedRun = await lostRun(failedJob);
        await queue.add(
          CATALOG_SYNC_JOB,
          { trigger: 'manual', instanceId: failedJob, runId: failedRun },
          { jobId: failedRun },
        );
        const taken = (await queue.getNextJob())!;
        expect(taken.id).toBe(failedRun);
        await taken.discard();
        await taken.moveToFailed({ message: 'worker lost' });
        expect(await taken.getState()).toBe('failed');

        liveRun = await trigger(live);
        const staleRun = await lostRun(stale);
        const resumedLine = { message: 'Resumed by the sweeper (n of 3): …' };
        const tooOftenRun = await lostRun(tooOften, Array(MAX_CATALOG_RUN_RESUMES).fill(resumedLine));

        // Within the grace period nothing is touched.
        expect(await runs.recoverLostRuns()).toEqual({ resumed: [], failed: [] });

        // Quiet for longer than the grace period: the live run (its job waits) stays, the others are decided.
        const later = new Date(Date.now() + CATALOG_RUN_RECOVERY_GRACE_MS + 1000);
        const verdict = await runs.recoverLostRuns(later);
        expect(verdict.resumed.sort()).toEqual([staleRun, failedRun].sort());
        expect(verdict.failed).toEqual([tooOftenRun]);
        const replaced = await queue.getJob(failedRun);
        expect(await replaced?.getState()).toBe('waiting');
        expect(replaced?.attemptsMade).toBe(0);
        const gaveUp = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: tooOftenRun });
        expect(gaveUp).toMatchObject({
          status: 'failed',
          activeInstanceId: null,
          error: ERROR_DESCRIPTIONS[EsdErrorCode.CATALOG_RUN_STALE].message,
        });
        expect(gaveUp.log.at(-1)?.message).toMatch(
          /^Marked failed: no progress since .* and the queue no longer holds its job, after 3 resumes already\.$/,
        );

        // Lost for longer than the stale limit: failed, not resumed (the resumed one's new job is removed
        // first, as if lost again).
        await (await queue.getJob(staleRun))!.remove();
        const muchLater = new Date(Date.now() + CATALOG_RUN_STALE_MS + MINUTE);
        expect(await runs.recoverLostRuns(muchLater)).toEqual({ resumed: [], failed: [staleRun] });
        const failed = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: staleRun });
        expect(failed).toMatchObject({ status: 'failed', activeInstanceId: null });
        expect(failed.log.at(-1)?.message).toMatch(/lost too long to resume\.$/);
        const event = await dataSource.getRepository(HostEventRow).findOneByOrFail({ id: staleRun });
        expect(JSON.parse(event.payload)).toMatchObject({
          runId: staleRun,
          instanceId: stale,
          status: 'failed',
        });

        // The live run was never touched, however quiet it looked.
        const liveRow = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: liveRun });
        expect(liveRow.status).toBe('queued');
        expect(liveRow.log.map((l) => l.message).join(' ')).not.toMatch(/Resumed|Marked failed/);
      } finally {
        await queue.resume(true);
      }
      // The live run and the resumed one finish normally.
      for (const runId of [liveRun, failedRun]) {
        const run = await finished(runId);
        expect(run.status).toBe('succeeded');
        expect(run.result!.counts.new).toBe(20);
      }
    });
  });

  describe('a worker process killed mid-run', () => {
    let worker: WorkerProcess | undefined;

    afterEach(async () => {
      await worker?.kill('SIGKILL');
      worker = undefined;
    });

    it('leaves the run running; the sweeper resumes it in another worker and the catalog converges', async () => {
      requireFreshBuild([
        'src/catalog/catalog-sync.service.ts',
        'src/catalog/catalog-runs.service.ts',
        'src/catalog/catalog-diff.ts',
        'src/catalog/catalog-offer-store.ts',
      ]);
      const count = 5 * CATALOG_PAGE_SIZE;
      const catalog = await setCatalog(count);
      const instanceId = (await readyInstance({}, MARKET)).id as string;
      // Slow pages, so the kill lands between them.
      await control('post', '/__sandbox/faults', { method: 'GET', path: '/offers$', latencyMs: 500 });
      await queue.pause(true);
      let runId: string;
      try {
        worker = await startWorkerProcess({ databaseUrl: db.url, redisUrl, secretKey, cisUrl: sandbox.url });
        runId = await trigger(instanceId);
        // The other process took the job and saved its first page: kill it there.
        const deadline = Date.now() + 30_000;
        while ((await dataSource.getRepository(OfferEntity).countBy({ instanceId })) === 0) {
          if (Date.now() > deadline) {
            const run = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: runId });
            const state = await (await queue.getJob(runId))?.getState();
            throw new Error(
              `the worker process saved nothing (run ${run.status}, job ${state}): ${JSON.stringify(run.log)}\n${worker.output()}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await worker.kill('SIGKILL');
        const saved = await dataSource.getRepository(OfferEntity).countBy({ instanceId });
        expect(saved).toBeGreaterThan(0);
        expect(saved).toBeLessThan(count);
        const stuck = await dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id: runId });
        expect(stuck.status).toBe('running');
        const job = (await queue.getJob(runId))!;
        expect(await job.getState()).toBe('active');

        // While the dead worker's lock holds, the job looks alive: the sweeper leaves it to Bull.
        const later = new Date(Date.now() + CATALOG_RUN_RECOVERY_GRACE_MS + 1000);
        expect(await runs.recoverLostRuns(later)).toEqual({ resumed: [], failed: [] });
        // Redis then loses it (flushed, or Bull gave up after the stall): the lock and the job are gone.
        await queue.client.del(queue.toKey(`${runId}:lock`));
        await job.remove();
        expect(await runs.recoverLostRuns(later)).toEqual({ resumed: [runId], failed: [] });
      } finally {
        await control('delete', '/__sandbox/faults');
        await queue.resume(true);
      }
      const run = await finished(runId);
      expect(run.status).toBe('succeeded');
      const ids = offerIdsOf(catalog);
      expect(run.result!.counts).toEqual({
        new: count,
        updated: 0,
        discontinued: 0,
        unchanged: 0,
        skipped: 0,
      });
      expect([...run.result!.new].sort()).toEqual([...ids].sort());
      const rows = await dataSource.getRepository(OfferEntity).findBy({ instanceId });
      expect(rows).toHaveLength(count);
      for (const row of rows) {
        expect(row).toMatchObject({ catalogStatus: 'new', firstSeenRunId: runId, lastChangedRunId: runId });
        expect(row.hostProductRef).not.toBeNull();
      }
      expect((await hostStates(instanceId)).length).toBe(count);
      // A next run over the same catalog finds nothing to do: the catalog converged.
      const next = await runToEnd(instanceId);
      expect(next.result!.counts).toEqual({
        new: 0,
        updated: 0,
        discontinued: 0,
        unchanged: count,
        skipped: 0,
      });
    }, 90_000);
  });
});

/**
 * The worker process runs the compiled plugin: fails, saying what to do, unless `dist/` is at least as new as the
 * given sources (a stale build would test old code).
 */
function requireFreshBuild(sources: readonly string[]): void {
  const root = path.resolve(__dirname, '..', '..');
  for (const source of sources) {
    const compiled = path.join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (
      !fs.existsSync(compiled) ||
      fs.statSync(compiled).mtimeMs < fs.statSync(path.join(root, source)).mtimeMs
    ) {
      throw new Error(`dist/ is older than ${source}: run npm run build first.`);
    }
  }
}
