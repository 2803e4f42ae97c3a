import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { DataSource, In } from 'typeorm';
import { AuditService, type AuditActor } from '../common/audit.service';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { CATALOG_SYNC_JOB, QUEUES } from '../constants';
import { InstancesService } from '../settings/instances.service';
import { isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import { toRunView, type CatalogRunView } from './catalog.dto';
import { decodeTimeCursor, pageOf, type Page } from '../common/pagination';
import {
  ACTIVE_CATALOG_RUN_STATUSES,
  CatalogRunEntity,
  catalogRunActiveKey,
  type CatalogRunLogEntry,
  type CatalogRunTrigger,
} from './catalog-run.entity';

/** Payload of `catalog-sync`. A manual run's row exists before its job; a scheduled job makes its own. */
export type CatalogSyncJobData =
  | { trigger: 'manual'; instanceId: string; runId: string }
  | { trigger: 'schedule'; instanceId: string; runId?: string };

/**
 * A queued or running run that has not moved for this long, and whose job the queue no longer holds, is taken
 * for lost (Redis flushed, worker killed) and marked failed when someone asks for a new run. A live run moves
 * well within it: every page, every retry and every write phase touches the row.
 */
export const CATALOG_RUN_STALE_MS = 15 * 60_000;

/** Bull job states in which the job will still run (or is running). */
const LIVE_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'paused']);

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
    try {
      await this.queue.add(
        CATALOG_SYNC_JOB,
        { trigger: 'manual', instanceId, runId: run.id },
        { jobId: run.id },
      );
    } catch (error) {
      // The run cannot start without its job: free the instance rather than leave it blocked.
      await this.finishWithoutJob(run.id, EsdErrorCode.QUEUE_UNAVAILABLE);
      throw new EsdError(EsdErrorCode.QUEUE_UNAVAILABLE, undefined, undefined, { cause: error });
    }
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
   * A scheduled job's run: like {@link trigger}, but null (skip) rather than 409 when a run is active. Throws
   * `INSTANCE_NOT_READY` / `NOT_FOUND` for an instance that cannot run.
   */
  async createScheduledRun(instanceId: string): Promise<CatalogRunEntity | null> {
    await this.instances.clientForInstance(instanceId);
    return this.createRun(instanceId, 'schedule');
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
            entry('info', `Queued (${trigger === 'manual' ? 'started by an administrator' : 'schedule'}).`),
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

  // -------------------------------------------------------------------------------------------------------

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
   * Fails the instance's active run when it has not moved for {@link CATALOG_RUN_STALE_MS} and the queue
   * holds no live job for it. Answers whether the key is free now. The job of a run failed here may still
   * surface later (a paused queue); the worker then sees a finished run and leaves it alone.
   */
  private async failIfStale(instanceId: string): Promise<boolean> {
    const repo = this.dataSource.getRepository(CatalogRunEntity);
    const active = await repo.findOneBy({ activeInstanceId: instanceId });
    if (!active) return true;
    if (Date.now() - active.updatedAt.getTime() < CATALOG_RUN_STALE_MS) return false;
    const job = await this.queue.getJob(active.id);
    if (job && LIVE_JOB_STATES.has(await job.getState())) return false;

    const message = `Marked failed: no progress since ${active.updatedAt.toISOString()} and its job is no longer queued.`;
    const result = await repo
      .createQueryBuilder()
      .update(CatalogRunEntity)
      .set({
        status: 'failed',
        activeInstanceId: null,
        finishedAt: new Date(),
        error: ERROR_DESCRIPTIONS[EsdErrorCode.CATALOG_RUN_STALE].message,
        log: [...(active.log ?? []), entry('error', message)],
      })
      // Only the run as read: one that moved meanwhile is alive after all.
      .where('id = :id AND status = :status AND progress = :progress', {
        id: active.id,
        status: active.status,
        progress: active.progress,
      })
      .execute();
    if ((result.affected ?? 0) > 0) {
      this.logger.warn(`Catalog run ${active.id} of instance ${instanceId}: ${message}`);
    }
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

export function entry(level: CatalogRunLogEntry['level'], message: string): CatalogRunLogEntry {
  return { at: new Date().toISOString(), level, message };
}
