import { InjectQueue } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Queue } from 'bull';
import { CatalogScheduler } from '../catalog/catalog-scheduler';
import { ESD_OPTIONS, QUEUES, SWEEPER_JOB, TOKEN_STATUS_SYNC_JOB } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';

/** The maintenance jobs' schedules (UTC), as plugin.manifest.json `jobs` declares them. */
export const MAINTENANCE_SCHEDULES: ReadonlyArray<{ job: string; cron: string }> = [
  /** Every minute: a lost job waits at most about this long (plus the work's own grace) to be found. */
  { job: SWEEPER_JOB, cron: '* * * * *' },
  /** Four times a day: a redeemed token is known within hours, long before a return is usually asked. */
  { job: TOKEN_STATUS_SYNC_JOB, cron: '0 */6 * * *' },
];

/** What one check of the schedules added back. */
export interface ScheduleCheck {
  /** Maintenance jobs whose schedule Bull no longer held. */
  maintenance: string[];
  /** Instances whose catalog schedule was added or changed. */
  catalog: string[];
}

/**
 * Keeps every repeatable job — the maintenance jobs and each ready instance's Get Services Definition — in Bull.
 * Schedules live only in Redis: a Redis restarted without persistence (or flushed) forgets them, and nothing
 * would fire again until a node restarted. So each worker node checks at boot and then every `scheduleCheckMs`,
 * and adds back what is missing. Job ids and crons are fixed, so several nodes adding the same schedule add it
 * once, and Bull fires each once per tick across the cluster.
 */
@Injectable()
export class MaintenanceScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceScheduler.name);
  private timer?: NodeJS.Timeout;
  private checking?: Promise<ScheduleCheck | undefined>;

  constructor(
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    @InjectQueue(QUEUES.maintenance) private readonly queue: Queue,
    private readonly catalogScheduler: CatalogScheduler,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.worker) return;
    await this.checkSchedules(true);
    this.timer = setInterval(() => void this.checkSchedules(false), this.options.scheduleCheckMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * Adds back every schedule Bull does not hold. Never throws: Redis or the database away is logged, and the next
   * check tries again. A check already under way is joined, not doubled.
   */
  checkSchedules(atBoot = false): Promise<ScheduleCheck | undefined> {
    this.checking ??= this.addMissing(atBoot)
      .catch((error: unknown) => {
        this.logger.error(
          `Could not check the repeatable jobs: ${error instanceof Error ? error.message : String(error)}`,
        );
        return undefined;
      })
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async addMissing(atBoot: boolean): Promise<ScheduleCheck> {
    const held = await this.queue.getRepeatableJobs();
    const maintenance: string[] = [];
    for (const { job, cron } of MAINTENANCE_SCHEDULES) {
      if (held.some((r) => r.name === job && r.cron === cron)) continue;
      await this.queue.add(job, {}, { repeat: { cron, tz: 'UTC' }, jobId: job });
      maintenance.push(job);
    }
    const catalog = await this.catalogScheduler.sync();
    const check = { maintenance, catalog };
    // At boot an empty Redis is ordinary (a first start); later, a schedule gone means Redis lost its data.
    if (!atBoot && maintenance.length + catalog.length > 0) {
      this.logger.warn(
        `Bull had lost ${maintenance.length + catalog.length} schedules (Redis restarted without persistence, or flushed); ` +
          `added back: ${[...maintenance, ...catalog.map((id) => `catalog-sync of instance ${id}`)].join(', ')}.`,
      );
    }
    return check;
  }
}
