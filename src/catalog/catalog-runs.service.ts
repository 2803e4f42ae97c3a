import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Job, JobStatus, Queue } from 'bull';
import { DataSource, In } from 'typeorm';
import { AuditService, type AuditActor } from '../common/audit.service';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { CATALOG_SYNC_JOB, ESD_OPTIONS, QUEUES } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { InstancesService } from '../settings/instances.service';
import { isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import { toRunView, type CatalogRunView } from './catalog.dto';
import { decodeTimeCursor, pageOf, type Page } from '../common/pagination';
import {
  ACTIVE_CATALOG_RUN_STATUSES,
  CatalogRunEntity,
  catalogRunActiveKey,
  runLogEntry,
  type CatalogRunTrigger,
} from './catalog-run.entity';
import { announceRunFinished } from './catalog-sync.service';

/**
 * Payload of `catalog-sync`. Every run executes under a job whose id is the run id — a manual run's from the
 * trigger, a scheduled run's from the repeatable job, which creates the run and hands it to that job — so the
 * queue can always be asked whether a run still has a job.
 */
export type CatalogSyncJobData =
  | { trigger: 'manual'; instanceId: string; runId: string }
  | { trigger: 'schedule'; instanceId: string; runId?: string };

/**
 * A queued or running run that has not moved for this long, and whose job the queue no longer holds (Redis
 * flushed, worker killed, the job failed without finishing the run), is not resumed any more but marked
 * failed — by the sweeper, or when someone asks for a new run. A live run moves well within it: every page,
 * every retry and every write phase touches the row, and Bull's longest backoff wait is shorter.
 */
export const CATALOG_RUN_STALE_MS = 15 * 60_000;

/**
 * How long a run without a live job must have stood still before the sweeper resumes it: long enough that a
 * run being started (row inserted, job about to be added) is not taken for lost.
 */
export const CATALOG_RUN_RECOVERY_GRACE_MS = 2 * 60_000;

/** Resumes the sweeper grants a run; one lost again after that is failed. */
export const MAX_CATALOG_RUN_RESUMES = 3;

/** The log line a resume starts with: the count of them is the run's resume count. */
const RESUMED_LINE = 'Resumed by the sweeper';

/** Bull job states in which the job will still run (or is running). */
const LIVE_JOB_STATES: ReadonlySet<JobStatus | 'stuck'> = new Set<JobStatus | 'stuck'>([
  'waiting',
  'active',
  'delayed',
  'paused',
]);

/** An active run with no live job that has not moved for a while: see {@link CatalogRunsService.lostRun}. */
interface LostRun {
  run: CatalogRunEntity;
  /** The run's job as the queue holds it (failed, completed), or null when the queue lost it. */
  job: Job<CatalogSyncJobData> | null;
  /** `missing` when the queue has no job with the run's id. */
  jobState: JobStatus | 'stuck' | 'missing';
  idleMs: number;
}

/** What {@link CatalogRunsService.recoverLostRuns} did, by run id. */
export interface LostRunRecovery {
  resumed: string[];
  failed: string[];
}

/**
 * Get Services Definition runs: starting one (the database decides, through the unique active key, that only
 * one is queued or running per instance — across every node), reading them, and clearing lost ones.
 */
@Injectable()
export class CatalogRunsService {
  private readonly logger = new Logger(CatalogRunsService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @InjectQueue(QUEUES.catalog) private readonly queue: Queue<CatalogSyncJobData>,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly instances: InstancesService,
    private readonly audit: AuditService,
  ) {}

  /**
   * `POST /instances/:id/services-definition`: inserts the queued run holding the instance's active key, then
   * enqueues its job (jobId = run id). 409 `CATALOG_RUN_ACTIVE` while another run is queued or running; 422
   * `INSTANCE_NOT_READY` for a draft or disabled instance.
   */
  async trigger(instanceId: string, actor: AuditActor): Promise<CatalogRunView> {
    await this.instances.clientForInstance(instanceId);
    const run = await this.createRun(instanceId, 'manual');
    if (!run) throw await this.activeConflict(instanceId);
    await this.enqueueNewRun(run);
    await this.audit.record({
      actor,
      action: 'catalog.run_start',
      subjectType: 'instance',
      subjectId: instanceId,
      details: { runId: run.id },
    });
    return this.get(instanceId, run.id);
  }

  /**
   * A scheduled job's run: like {@link trigger}, but null (skip) rather than 409 when a run is active. The run
   * gets its own job (jobId = run id) and the repeatable job's firing ends there, so a scheduled run is
   * retried, resumed and recovered exactly like a manual one. Throws `INSTANCE_NOT_READY` / `NOT_FOUND` for an
   * instance that cannot run, `QUEUE_UNAVAILABLE` (run failed, instance freed) when Redis refuses the job.
   */
  async startScheduledRun(instanceId: string): Promise<CatalogRunEntity | null> {
    await this.instances.clientForInstance(instanceId);
    const run = await this.createRun(instanceId, 'schedule');
    if (run) await this.enqueueNewRun(run);
    return run;
  }

  /**
   * Inserts a queued run with the instance's active key. Answers null when another run holds the key and is
   * alive; a stale holder (see {@link CATALOG_RUN_STALE_MS}) is failed first and the insert tried once more.
   */
  async createRun(instanceId: string, trigger: CatalogRunTrigger): Promise<CatalogRunEntity | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const id = newId();
      try {
        await this.dataSource.getRepository(CatalogRunEntity).insert({
          id,
          instanceId,
          trigger,
          status: 'queued',
          progress: 0,
          activeInstanceId: catalogRunActiveKey('queued', instanceId),
          startedAt: null,
          finishedAt: null,
          log: [
            runLogEntry(
              'info',
              `Queued (${trigger === 'manual' ? 'started by an administrator' : 'schedule'}).`,
            ),
          ],
          result: null,
          error: null,
          // Set here, with milliseconds, so "newest first" holds on every database (SQLite's default has seconds).
          createdAt: new Date(),
        } as Parameters<typeof this.dataSource.manager.insert>[1]);
        return this.dataSource.getRepository(CatalogRunEntity).findOneByOrFail({ id });
      } catch (error) {
        if (!isUniqueViolation(error, 'UQ_esd_catalog_run_active_instance')) throw error;
        if (attempt > 0 || !(await this.failIfStale(instanceId))) return null;
      }
    }
    return null;
  }

  async list(instanceId: string, page: { cursor?: string; limit?: number }): Promise<Page<CatalogRunView>> {
    await this.instances.get(instanceId);
    const limit = page.limit ?? 50;
    const query = this.dataSource
      .createQueryBuilder(CatalogRunEntity, 'r')
      .where('r.instanceId = :instanceId', { instanceId })
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(limit + 1);
    if (page.cursor !== undefined) {
      const { at, id } = decodeTimeCursor(page.cursor);
      query.andWhere('(r.createdAt < :at OR (r.createdAt = :at AND r.id < :id))', { at, id });
    }
    return pageOf(await query.getMany(), limit, toRunView, (r) => [r.createdAt.toISOString(), r.id]);
  }

  async get(instanceId: string, runId: string): Promise<CatalogRunView> {
    const run = await this.dataSource.getRepository(CatalogRunEntity).findOneBy({ id: runId, instanceId });
    if (!run) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No run with this id exists for this instance.');
    return toRunView(run);
  }

  /**
   * The sweeper's pass (meant for a repeatable maintenance job; it never throws for one run's trouble): every
   * active run that is lost — no live job under its id (missing, failed or completed) and no move for
   * {@link CATALOG_RUN_RECOVERY_GRACE_MS} — gets a fresh job (jobId = run id) and resumes where its pages
   * stopped, unless it has been lost for {@link CATALOG_RUN_STALE_MS} or resumed {@link
   * MAX_CATALOG_RUN_RESUMES} times already: then it is failed with `CATALOG_RUN_STALE`, its instance freed and
   * `catalogRunFinished` raised. A run whose job is waiting, active, delayed or paused is left alone, however
   * long it has been quiet (Bull itself takes back the jobs of a worker that died while holding them).
   *
   * @param now the sweeper's clock (tests move it instead of waiting).
   */
  async recoverLostRuns(now: Date = new Date()): Promise<LostRunRecovery> {
    const recovery: LostRunRecovery = { resumed: [], failed: [] };
    const quiet = await this.dataSource
      .getRepository(CatalogRunEntity)
      .createQueryBuilder('r')
      .where('r.status IN (:...active)', { active: [...ACTIVE_CATALOG_RUN_STATUSES] })
      .andWhere('r.updatedAt <= :since', { since: new Date(now.getTime() - CATALOG_RUN_RECOVERY_GRACE_MS) })
      .getMany();
    for (const run of quiet) {
      try {
        const lost = await this.lostRun(run, now, CATALOG_RUN_RECOVERY_GRACE_MS);
        if (!lost) continue;
        const resumes = run.log.filter((line) => line.message.startsWith(RESUMED_LINE)).length;
        if (lost.idleMs >= CATALOG_RUN_STALE_MS) {
          if (await this.failLostRun(lost, `Marked failed: ${lostSince(lost)}; lost too long to resume.`)) {
            recovery.failed.push(run.id);
          }
        } else if (resumes >= MAX_CATALOG_RUN_RESUMES) {
          const why = `Marked failed: ${lostSince(lost)}, after ${resumes} resumes already.`;
          if (await this.failLostRun(lost, why)) recovery.failed.push(run.id);
        } else if (await this.resume(lost, resumes + 1)) {
          recovery.resumed.push(run.id);
        }
      } catch (error) {
        this.logger.warn(
          `Catalog run ${run.id} could not be recovered now (the next sweep tries again): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return recovery;
  }

  // -------------------------------------------------------------------------------------------------------

  /** Adds a new run's job (jobId = run id); a run Redis refuses is failed at once so its instance is free. */
  private async enqueueNewRun(run: CatalogRunEntity): Promise<void> {
    try {
      await this.queue.add(
        CATALOG_SYNC_JOB,
        { trigger: run.trigger, instanceId: run.instanceId, runId: run.id },
        { jobId: run.id },
      );
    } catch (error) {
      await this.finishWithoutJob(run.id, EsdErrorCode.QUEUE_UNAVAILABLE);
      throw new EsdError(EsdErrorCode.QUEUE_UNAVAILABLE, undefined, undefined, { cause: error });
    }
  }

  /**
   * The one test of "is this run lost": active, not moved for `quietMs` (its `updated_at`, which a live run
   * writes every page), and its job — the one whose id is the run id — missing or in a state it never runs
   * again from. Null when the run is alive (or may be).
   */
  private async lostRun(run: CatalogRunEntity, now: Date, quietMs: number): Promise<LostRun | null> {
    const idleMs = now.getTime() - run.updatedAt.getTime();
    if (!ACTIVE_CATALOG_RUN_STATUSES.includes(run.status) || idleMs < quietMs) return null;
    const job = await this.queue.getJob(run.id);
    const jobState = job ? await job.getState() : 'missing';
    if (jobState !== 'missing' && LIVE_JOB_STATES.has(jobState)) return null;
    return { run, job, jobState, idleMs };
  }

  /**
   * Gives a lost run a fresh job. The row is claimed first (a conditional update on the `updated_at` read, which
   * the claim itself moves), so of two sweepers on two nodes only one resumes it; the finished job under the
   * run's id is removed, since Bull will not add a job whose id it still holds.
   */
  private async resume(lost: LostRun, nth: number): Promise<boolean> {
    const { run } = lost;
    const line = runLogEntry(
      'warn',
      `${RESUMED_LINE} (${nth} of ${MAX_CATALOG_RUN_RESUMES}): ${lostSince(lost)}. It goes on from the offers already saved.`,
    );
    if (!(await this.claim(run, { log: [...run.log, line] }))) return false;
    await lost.job?.remove();
    await this.queue.add(
      CATALOG_SYNC_JOB,
      { trigger: run.trigger, instanceId: run.instanceId, runId: run.id },
      { jobId: run.id },
    );
    this.logger.warn(`Catalog run ${run.id} of instance ${run.instanceId}: ${line.message}`);
    return true;
  }

  /** Fails a lost run with `CATALOG_RUN_STALE`, frees its instance and tells the host. False if it moved meanwhile. */
  private async failLostRun(lost: LostRun, message: string): Promise<boolean> {
    const { run } = lost;
    const failed = await this.claim(run, {
      status: 'failed',
      activeInstanceId: null,
      finishedAt: new Date(),
      error: ERROR_DESCRIPTIONS[EsdErrorCode.CATALOG_RUN_STALE].message,
      log: [...run.log, runLogEntry('error', message)],
    });
    if (!failed) return false;
    this.logger.warn(`Catalog run ${run.id} of instance ${run.instanceId}: ${message}`);
    await announceRunFinished(this.options, run, 'failed', null, this.logger);
    return true;
  }

  /** Updates the run only as it was read: still active and not moved since (a run that moved is alive). */
  private async claim(run: CatalogRunEntity, values: Partial<CatalogRunEntity>): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(CatalogRunEntity)
      .createQueryBuilder()
      .update(CatalogRunEntity)
      .set(values)
      .where('id = :id', { id: run.id })
      .andWhere('status IN (:...active)', { active: [...ACTIVE_CATALOG_RUN_STATUSES] })
      .andWhere('updated_at <= :seen', { seen: run.updatedAt })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  private async activeConflict(instanceId: string): Promise<EsdError> {
    const active = await this.dataSource
      .getRepository(CatalogRunEntity)
      .findOneBy({ activeInstanceId: instanceId });
    return new EsdError(EsdErrorCode.CATALOG_RUN_ACTIVE, undefined, {
      instanceId,
      runId: active?.id ?? null,
      status: active?.status ?? null,
      progress: active?.progress ?? null,
    });
  }

  /**
   * Fails the instance's active run when it is lost (see {@link lostRun}) and has not moved for
   * {@link CATALOG_RUN_STALE_MS}, so an administrator's new run can replace it. Answers whether the key may be
   * free now. The job of a run failed here may still surface later (a paused queue); the worker then sees a
   * finished run and leaves it alone.
   */
  private async failIfStale(instanceId: string, now: Date = new Date()): Promise<boolean> {
    const active = await this.dataSource
      .getRepository(CatalogRunEntity)
      .findOneBy({ activeInstanceId: instanceId });
    if (!active) return true;
    const lost = await this.lostRun(active, now, CATALOG_RUN_STALE_MS);
    if (!lost) return false;
    await this.failLostRun(lost, `Marked failed: ${lostSince(lost)}.`);
    return true;
  }

  private async finishWithoutJob(runId: string, code: EsdErrorCode): Promise<void> {
    await this.dataSource.getRepository(CatalogRunEntity).update(
      { id: runId, status: In([...ACTIVE_CATALOG_RUN_STATUSES]) },
      {
        status: 'failed',
        activeInstanceId: null,
        finishedAt: new Date(),
        error: ERROR_DESCRIPTIONS[code].message,
      },
    );
  }
}

/** "no progress since …, its job is …": why a run is taken for lost. */
function lostSince(lost: LostRun): string {
  const job =
    lost.jobState === 'missing' ? 'the queue no longer holds its job' : `its job is ${lost.jobState}`;
  return `no progress since ${lost.run.updatedAt.toISOString()} and ${job}`;
}
