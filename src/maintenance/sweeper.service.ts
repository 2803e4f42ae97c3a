import { Inject, Injectable, Logger } from '@nestjs/common';
import { Brackets, DataSource } from 'typeorm';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { LicenseEntity } from '../licenses/license.entity';
import { ProvisioningQueue } from '../licenses/provisioning-queue';
import { LicenseReturnEntity } from '../cancellation/return.entity';
import { ReturnsQueue } from '../cancellation/returns-queue';
import { ReturnsService } from '../cancellation/returns.service';
import { EsdMetrics } from '../observability/metrics.service';

/** Licenses looked at per sweep; the next sweep takes the rest. */
export const SWEEP_BATCH = 500;
/** A Synchronized license not yet announced this long after its last change has lost its job. */
export const ANNOUNCE_GRACE_MS = 2 * 60_000;

/** What one sweep did. */
export interface SweepResult {
  /** Licenses whose job was gone and that were enqueued again. */
  requeued: string[];
  /** Licenses due but with a live job (waiting, delayed or running): left alone. */
  live: number;
}

/** What one sweep of the returns did. */
export interface ReturnSweepResult extends SweepResult {
  /** Failed returns taken up again because Microsoft reports the key taken back (`ReturnsService.reopenTakenBack`). */
  reopened: string[];
}

/**
 * The database is the truth and Bull only carries work (ARCHITECTURE.md §2): the sweeper finds licenses that
 * should be moving — Unsynchronised and due, or Synchronized but never announced — whose job the queue no
 * longer holds (Redis restarted without persistence, a worker killed past Bull's stall limit), and enqueues them
 * again under their one job id. Running it on several nodes at once is harmless.
 */
@Injectable()
export class SweeperService {
  private readonly logger = new Logger(SweeperService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly queue: ProvisioningQueue,
    private readonly returnsQueue: ReturnsQueue,
    private readonly returns: ReturnsService,
    private readonly metrics: EsdMetrics,
  ) {}

  async sweepLicenses(now: Date = new Date()): Promise<SweepResult> {
    const due = await this.dataSource
      .getRepository(LicenseEntity)
      .createQueryBuilder('l')
      .select(['l.id'])
      .where(
        new Brackets((q) =>
          q
            .where(
              "l.provisioningStatus = 'Unsynchronised' AND (l.nextAttemptAt IS NULL OR l.nextAttemptAt <= :now)",
              {
                now,
              },
            )
            .orWhere(
              "l.provisioningStatus = 'Synchronized' AND l.welcomeSentAt IS NULL AND l.updatedAt <= :announced",
              { announced: new Date(now.getTime() - ANNOUNCE_GRACE_MS) },
            ),
        ),
      )
      .orderBy('l.nextAttemptAt', 'ASC')
      .addOrderBy('l.id', 'ASC')
      .take(SWEEP_BATCH)
      .getMany();
    const result: SweepResult = { requeued: [], live: 0 };
    for (const { id } of due) {
      if (await this.queue.requeue(id)) result.requeued.push(id);
      else result.live += 1;
    }
    if (result.requeued.length > 0) {
      this.logger.warn(
        `Sweeper: ${result.requeued.length} licenses had lost their job and were enqueued again.`,
      );
    }
    return result;
  }

  /**
   * Returns that should be moving — Pending and due (no live attempt holds them), or finished with their hand-over
   * (credit event, notifications) still owed — whose job is gone: enqueued again under their one job id. The same
   * return id is sent again, so Microsoft replays a return an earlier attempt already made. Failed returns whose
   * key Microsoft has since reported taken back are reopened first, and enqueued with the rest.
   */
  async sweepReturns(now: Date = new Date()): Promise<ReturnSweepResult> {
    const reopened = await this.returns.reopenTakenBack(now, SWEEP_BATCH);
    if (reopened.length > 0) this.metrics.returnOutcome('reopened', reopened.length);
    const due = await this.dataSource
      .getRepository(LicenseReturnEntity)
      .createQueryBuilder('r')
      .select(['r.id'])
      .where(
        new Brackets((q) =>
          q
            .where("r.status = 'Pending' AND (r.nextAttemptAt IS NULL OR r.nextAttemptAt <= :now)", { now })
            .orWhere("r.status <> 'Pending' AND r.nextAttemptAt <= :now", { now }),
        ),
      )
      .orderBy('r.nextAttemptAt', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .take(SWEEP_BATCH)
      .getMany();
    const result: ReturnSweepResult = { requeued: [], live: 0, reopened };
    for (const { id } of due) {
      if (await this.returnsQueue.enqueue(id)) result.requeued.push(id);
      else result.live += 1;
    }
    const lost = result.requeued.filter((id) => !reopened.includes(id));
    if (lost.length > 0) {
      this.logger.warn(`Sweeper: ${lost.length} returns had lost their job and were enqueued again.`);
    }
    return result;
  }
}
