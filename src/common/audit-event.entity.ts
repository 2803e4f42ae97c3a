import { BeforeInsert, Entity, Index } from 'typeorm';
import {
  IdColumn,
  JsonTextColumn,
  TimestampColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

/** Who acted: a principal's role, or `system` for the plugin's own jobs. */
export const ACTOR_ROLES = ['admin', 'reseller', 'customer', 'system'] as const;
export type ActorRole = (typeof ACTOR_ROLES)[number];

/**
 * An audited action (a key reveal, a settings change, a cancellation decision). `details` is JSON and never
 * holds a secret: callers pass redacted data only.
 */
@Entity({ name: 'esd_audit_event' })
@Index('IDX_esd_audit_event_subject', ['subjectType', 'subjectId'])
@Index('IDX_esd_audit_event_at', ['at'])
export class AuditEventEntity {
  @IdColumn()
  id: string;

  @TimestampColumn('at')
  at: Date;

  @VarcharColumn('actor_role', 20)
  actorRole: ActorRole;

  @VarcharColumn('actor_account_id', 100, { nullable: true })
  actorAccountId: string | null;

  @VarcharColumn('actor_user_id', 100, { nullable: true })
  actorUserId: string | null;

  /** Dotted verb, e.g. `license.reveal`, `instance.update`. */
  @VarcharColumn('action', 100)
  action: string;

  /** e.g. `license`, `instance`, `cancellation_request`. */
  @VarcharColumn('subject_type', 50)
  subjectType: string;

  @VarcharColumn('subject_id', 100, { nullable: true })
  subjectId: string | null;

  @JsonTextColumn('details', { nullable: true })
  details: Record<string, unknown> | null;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
