import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, type Relation } from 'typeorm';
import { InstanceEntity } from '../settings/instance.entity';
import {
  CreatedAtColumn,
  IdColumn,
  IntegerColumn,
  JsonTextColumn,
  TextColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

export const CATALOG_RUN_TRIGGERS = ['manual', 'schedule'] as const;
export type CatalogRunTrigger = (typeof CATALOG_RUN_TRIGGERS)[number];

export const CATALOG_RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type CatalogRunStatus = (typeof CATALOG_RUN_STATUSES)[number];

/** The statuses in which a run holds its instance's active key. */
export const ACTIVE_CATALOG_RUN_STATUSES: readonly CatalogRunStatus[] = ['queued', 'running'];

/** The value `active_instance_id` must have for a run of `instanceId` in `status`. */
export function catalogRunActiveKey(status: CatalogRunStatus, instanceId: string): string | null {
  return ACTIVE_CATALOG_RUN_STATUSES.includes(status) ? instanceId : null;
}

export interface CatalogRunLogEntry {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A log line stamped now. */
export function runLogEntry(level: CatalogRunLogEntry['level'], message: string): CatalogRunLogEntry {
  return { at: new Date().toISOString(), level, message };
}

export interface CatalogRunResult {
  counts: { new: number; updated: number; discontinued: number; unchanged: number; skipped: number };
  new: string[];
  updated: string[];
  discontinued: string[];
  skipped: { offerId?: string; reason: string }[];
}

/**
 * What a succeeded run saw of each page of its listing (see `docs/catalog.md`, "Pages as the last run listed
 * them"): `pages[n]` is the fingerprint of page n + 1 when every entry on it was a valid offer named nowhere
 * else in the listing, null otherwise. `version` ties them to the plugin version and the way they were taken.
 */
export interface CatalogPageFingerprints {
  version: string;
  /** The instance's stored offers when the run ended. */
  offersStored: number;
  pages: (string | null)[];
}

/**
 * One Get Services Definition run. At most one run per instance is queued or running: `active_instance_id`
 * holds the instance id while it is, NULL otherwise, under a plain unique index (portable where partial
 * indexes are not).
 */
@Entity({ name: 'esd_catalog_run' })
@Index('UQ_esd_catalog_run_active_instance', ['activeInstanceId'], { unique: true })
@Index('IDX_esd_catalog_run_instance_created', ['instanceId', 'createdAt'])
export class CatalogRunEntity {
  @IdColumn()
  id: string;

  @UuidColumn('instance_id')
  instanceId: string;

  @ManyToOne(() => InstanceEntity, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'instance_id' })
  instance?: Relation<InstanceEntity>;

  /** Column `run_trigger`: `trigger` is a reserved word in MariaDB. */
  @VarcharColumn('run_trigger', 20)
  trigger: CatalogRunTrigger;

  @VarcharColumn('status', 20)
  status: CatalogRunStatus;

  /** 0–100. */
  @IntegerColumn('progress', { default: 0 })
  progress: number;

  /** The instance id while queued or running, NULL otherwise; see {@link catalogRunActiveKey}. */
  @UuidColumn('active_instance_id', { nullable: true })
  activeInstanceId: string | null;

  @TimestampColumn('started_at', { nullable: true })
  startedAt: Date | null;

  @TimestampColumn('finished_at', { nullable: true })
  finishedAt: Date | null;

  @JsonTextColumn('log')
  log: CatalogRunLogEntry[];

  @JsonTextColumn('result', { nullable: true })
  result: CatalogRunResult | null;

  @TextColumn('error', { nullable: true })
  error: string | null;

  /** Kept by a succeeded run for the next one; never shown. */
  @JsonTextColumn('page_fingerprints', { nullable: true })
  pageFingerprints: CatalogPageFingerprints | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
