import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bull';
import { ESD_OPTIONS, QUEUES, SWEEPER_JOB, TOKEN_STATUS_SYNC_JOB } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';

/** The maintenance jobs' schedules (UTC), as plugin.manifest.json `jobs` declares them. */
export const MAINTENANCE_SCHEDULES: ReadonlyArray<{ job: string; cron: string }> = [
  /** Every minute: a lost job waits at most about this long (plus the work's own grace) to be found. */
  { job: SWEEPER_JOB, cron: '* * * * *' },
  /** Four times a day: a redeemed token is known within hours, long before a return is usually asked. */
  { job: TOKEN_STATUS_SYNC_JOB, cron: '0 */6 * * *' },
];

/**
 * Keeps the repeatable maintenance jobs. Each job id and cron is fixed, so every worker node adding them at boot
 * adds one schedule each, and Bull fires each once per tick across the cluster.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceScheduler.name);

  constructor(
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    @InjectQueue(QUEUES.maintenance) private readonly queue: Queue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.worker) return;
    for (const { job, cron } of MAINTENANCE_SCHEDULES) {
      try {
        await this.queue.add(job, {}, { repeat: { cron, tz: 'UTC' }, jobId: job });
      } catch (error) {
        this.logger.error(
          `Could not schedule ${job}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }
}
