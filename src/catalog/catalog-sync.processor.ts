import { Process, Processor } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { CATALOG_SYNC_JOB, QUEUES } from '../constants';
import { EsdError } from '../common/esd-error';
import { runWithLogContext } from '../common/logging/log-context';
import { CatalogRunsService, type CatalogSyncJobData } from './catalog-runs.service';
import { CatalogSyncService, type CatalogSyncOutcome } from './catalog-sync.service';

/** What a scheduled job's firing did when it handed its new run to the run's own job. */
export interface CatalogRunHandedOver {
  outcome: 'handed-over';
  runId: string;
}

/**
 * Processes `catalog-sync` on the catalog queue. A job with a run id runs (or resumes) that run; its job id is
 * the run id. A scheduled firing (a Bull repeatable job, once cluster-wide) carries none: it creates the run and
 * hands it to a job of its own — or skips, with a log line, when the instance already has a run queued or
 * running, or is not ready. Transient failures are rethrown so Bull retries with the default attempts and
 * backoff; a permanent failure fails the run and discards the job.
 */
@Processor(QUEUES.catalog)
export class CatalogSyncProcessor {
  private readonly logger = new Logger(CatalogSyncProcessor.name);

  constructor(
    private readonly runs: CatalogRunsService,
    private readonly sync: CatalogSyncService,
  ) {}

  @Process(CATALOG_SYNC_JOB)
  catalogSync(job: Job<CatalogSyncJobData>): Promise<CatalogSyncOutcome | CatalogRunHandedOver> {
    const context = {
      runId: job.data.runId,
      instanceId: job.data.instanceId,
      jobId: String(job.id),
      job: job.name,
    };
    return runWithLogContext(context, () => this.runJob(job));
  }

  private async runJob(job: Job<CatalogSyncJobData>): Promise<CatalogSyncOutcome | CatalogRunHandedOver> {
    const runId = job.data.runId;
    if (runId === undefined) return this.startScheduledRun(job.data.instanceId);
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

  private async startScheduledRun(instanceId: string): Promise<CatalogSyncOutcome | CatalogRunHandedOver> {
    try {
      const run = await this.runs.startScheduledRun(instanceId);
      if (run) return { outcome: 'handed-over', runId: run.id };
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
