import { Process, Processor } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Job } from 'bull';
import { runWithLogContext } from '../common/logging/log-context';
import { EXECUTE_RETURN_JOB, QUEUES } from '../constants';
import { EsdMetrics } from '../observability/metrics.service';
import type { ExecuteReturnJobData } from './returns-queue';
import { ReturnsService, type ReturnAttemptOutcome } from './returns.service';

/** Returns are rare next to token requests; a few side by side per worker keep a burst moving. */
export const RETURNS_CONCURRENCY = 4;

/**
 * Processes `execute-return` on the provisioning queue. Transient failures are rethrown so Bull retries with the
 * plugin's backoff (Retry-After honoured); an outcome — accepted, refused or failed for good — is stored and the job
 * completes.
 */
@Processor(QUEUES.provisioning)
export class ReturnsProcessor {
  private readonly logger = new Logger(ReturnsProcessor.name);

  constructor(
    private readonly returns: ReturnsService,
    private readonly metrics: EsdMetrics,
  ) {}

  @Process({ name: EXECUTE_RETURN_JOB, concurrency: RETURNS_CONCURRENCY })
  executeReturn(job: Job<ExecuteReturnJobData>): Promise<ReturnAttemptOutcome> {
    const context = { returnId: job.data.returnId, jobId: String(job.id), job: job.name };
    return runWithLogContext(context, async () => {
      const attempt = job.attemptsMade + 1;
      const outcome = await this.returns.execute(job.data.returnId, {
        final: attempt >= (job.opts.attempts ?? 1),
      });
      this.metrics.returnOutcome(
        outcome.outcome === 'finished' ? outcome.status.toLowerCase() : outcome.outcome,
      );
      if (outcome.outcome === 'retry') throw outcome.error;
      if (outcome.outcome === 'skipped') this.logger.debug(`${job.id}: ${outcome.reason}`);
      return outcome;
    });
  }
}
