import { Process, Processor } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { PROVISION_LICENSE_JOB, QUEUES } from '../constants';
import { runWithLogContext } from '../common/logging/log-context';
import { EsdMetrics } from '../observability/metrics.service';
import type { ProvisionLicenseJobData } from './provisioning-queue';
import { ProvisioningService, type ProvisioningOutcome } from './provisioning.service';

/**
 * Token requests run side by side on each worker: each waits mostly on Microsoft, and Microsoft's rate limit,
 * not this number, is what bounds the throughput.
 */
export const PROVISIONING_CONCURRENCY = 16;

/**
 * Processes `provision-license`. Transient failures are rethrown so Bull retries with the plugin's backoff
 * (Retry-After honoured); a license that failed for good is stored Failed and its job completes.
 */
@Processor(QUEUES.provisioning)
export class ProvisioningProcessor {
  private readonly logger = new Logger(ProvisioningProcessor.name);

  constructor(
    private readonly provisioning: ProvisioningService,
    private readonly metrics: EsdMetrics,
  ) {}

  @Process({ name: PROVISION_LICENSE_JOB, concurrency: PROVISIONING_CONCURRENCY })
  provisionLicense(job: Job<ProvisionLicenseJobData>): Promise<ProvisioningOutcome> {
    const context = { licenseId: job.data.licenseId, jobId: String(job.id), job: job.name };
    return runWithLogContext(context, async () => {
      const attempt = job.attemptsMade + 1;
      const outcome = await this.provisioning.provision(job.data.licenseId, {
        final: attempt >= (job.opts.attempts ?? 1),
        settledThrough: job.data.settledThrough,
      });
      this.metrics.provisioningOutcome(
        outcome.outcome === 'synchronized' && outcome.reconciled ? 'reconciled' : outcome.outcome,
      );
      if (outcome.outcome === 'retry') {
        if (outcome.settledThrough !== undefined) await this.recordSettled(job, outcome.settledThrough);
        throw outcome.error;
      }
      if (outcome.outcome === 'skipped') this.logger.debug(`${job.id}: ${outcome.reason}`);
      return outcome;
    });
  }

  /** Best effort: without the record the next attempt looks the transaction up first, which is always safe. */
  private async recordSettled(job: Job<ProvisionLicenseJobData>, settledThrough: number): Promise<void> {
    try {
      await job.update({ ...job.data, settledThrough });
    } catch (error) {
      this.logger.debug(
        `${job.id}: could not record the settled attempt (${error instanceof Error ? error.message : String(error)}).`,
      );
    }
  }
}
