import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { DataSource, In } from 'typeorm';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { CATALOG_SYNC_JOB, QUEUES } from '../constants';
import { INSTANCE_DEFAULTS } from '../settings/instance.dto';
import { InstanceEntity } from '../settings/instance.entity';
import type { CatalogSyncJobData } from './catalog-runs.service';

/** Time zone of every instance's `catalogSchedule`. */
export const CATALOG_SCHEDULE_TZ = 'UTC';

/** A scheduled Get Services Definition as Bull keeps it. */
export interface CatalogScheduleEntry {
  instanceId: string;
  cron: string;
  /** Bull's repeat key: one per instance and cron, so the job fires once cluster-wide. */
  key: string;
  /** Next firing, epoch ms. */
  next: number;
}

/**
 * Keeps one Bull repeatable `catalog-sync` job per ready instance, with the instance's cron (UTC) and the
 * instance id as job id — Bull's repeat key is then per instance, and several nodes adding the same schedule
 * add it once. Instances that are not ready (draft, disabled, deleted) have none. {@link sync} compares the
 * database with Bull and adds or removes what differs: worker nodes call it at boot and every `scheduleCheckMs`
 * (through the maintenance scheduler, which also adds back schedules a Redis without persistence forgot), and
 * the instances service after every change to an instance.
 */
@Injectable()
export class CatalogScheduler {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @InjectQueue(QUEUES.catalog) private readonly queue: Queue<CatalogSyncJobData>,
  ) {}

  /**
   * Brings the repeatable jobs of every instance — or of one — in step with the database; answers the instances
   * whose schedule was added (missing, or with another cron).
   */
  async sync(instanceId?: string): Promise<string[]> {
    const instances = await this.dataSource.getRepository(InstanceEntity).find({
      where: { state: 'ready', ...(instanceId === undefined ? {} : { id: In([instanceId]) }) },
      select: { id: true, catalogSchedule: true },
    });
    const wanted = new Map(
      instances.map((i) => [i.id, i.catalogSchedule ?? INSTANCE_DEFAULTS.catalogSchedule]),
    );
    const existing = (await this.list()).filter(
      (e) => instanceId === undefined || e.instanceId === instanceId,
    );
    for (const entry of existing) {
      if (wanted.get(entry.instanceId) !== entry.cron) await this.queue.removeRepeatableByKey(entry.key);
    }
    const added: string[] = [];
    for (const [id, cron] of wanted) {
      if (existing.some((e) => e.instanceId === id && e.cron === cron)) continue;
      added.push(id);
      await this.queue.add(
        CATALOG_SYNC_JOB,
        { trigger: 'schedule', instanceId: id },
        { repeat: { cron, tz: CATALOG_SCHEDULE_TZ }, jobId: id },
      );
    }
    return added;
  }

  /** The scheduled runs Bull holds. */
  async list(): Promise<CatalogScheduleEntry[]> {
    const jobs = await this.queue.getRepeatableJobs();
    return jobs
      .filter((j) => j.name === CATALOG_SYNC_JOB && j.id && j.cron)
      .map((j) => ({ instanceId: j.id!, cron: j.cron, key: j.key, next: j.next }));
  }
}
