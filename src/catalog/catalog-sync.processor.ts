import { Process, Processor } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { CATALOG_SYNC_JOB, QUEUES } from '../constants';
import { EsdError } from '../common/esd-error';
import { CatalogRunsService, type CatalogSyncJobData } from './catalog-runs.service';
import { CatalogSyncService, type CatalogSyncOutcome } from './catalog-sync.service';

/**
 * Processes `catalog-sync` on the catalog queue. A manual job carries its run id; a scheduled one (a Bull
 * repeatable job, fired once cluster-wide) creates its run first — or skips, with a log line, when the
 * instance already has a run queued or running, or is not ready. Transient failures are rethrown so Bull
 * retries with the default attempts and backoff; a permanent failure fails the run and discards the job.
 */
@Processor(QUEUES.catalog)
export class CatalogSyncProcessor {
  private readonly logger = new Logger(CatalogSyncProcessor.name);

  constructor(
    private readonly runs: CatalogRunsService,
    private readonly sync: CatalogSyncService,
  ) {}

  @Process(CATALOG_SYNC_JOB)
  async catalogSync(job: Job<CatalogSyncJobData>): Promise<CatalogSyncOutcome> {
    let runId = job.data.runId;
    if (runId === undefined) {
      const created = await this.startScheduledRun(job.data.instanceId);
      if (typeof created !== 'string') return created;
      runId = created;
      // A retry of this job must resume the same run, not start another.
      await job.update({ ...job.data, runId });
    }
    const attempt = job.attemptsMade + 1;
    const outcome = await this.sync.execute(runId, {
      number: attempt,
      final: attempt >= (job.opts.attempts ?? 1),
    });
    switch (outcome.outcome) {
      case 'retry':
        throw outcome.error;
      case 'failed':
        await job.discard();
        throw outcome.error;
      case 'skipped':
        this.logger.log(`catalog-sync job ${job.id}: ${outcome.reason}; nothing to do.`);
        return outcome;
      case 'succeeded':
        return outcome;
    }
  }

  private async startScheduledRun(instanceId: string): Promise<string | CatalogSyncOutcome> {
    try {
      const run = await this.runs.createScheduledRun(instanceId);
      if (run) return run.id;
      const reason = `scheduled run of instance ${instanceId} skipped: a run is already queued or running`;
      this.logger.log(reason);
      return { outcome: 'skipped', reason };
    } catch (error) {
      if (!(error instanceof EsdError)) throw error;
      const reason = `scheduled run of instance ${instanceId} skipped: ${error.message}`;
      this.logger.warn(reason);
      return { outcome: 'skipped', reason };
    }
  }
}
