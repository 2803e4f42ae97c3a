import { Process, Processor } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { PROVISION_LICENSE_JOB, QUEUES } from '../constants';
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
  async provisionLicense(job: Job<ProvisionLicenseJobData>): Promise<ProvisioningOutcome> {
    const attempt = job.attemptsMade + 1;
    const outcome = await this.provisioning.provision(job.data.licenseId, {
      final: attempt >= (job.opts.attempts ?? 1),
    });
    this.metrics.provisioningOutcome(
      outcome.outcome === 'synchronized' && outcome.reconciled ? 'reconciled' : outcome.outcome,
    );
    if (outcome.outcome === 'retry') throw outcome.error;
    if (outcome.outcome === 'skipped') this.logger.debug(`${job.id}: ${outcome.reason}`);
    return outcome;
  }
}
