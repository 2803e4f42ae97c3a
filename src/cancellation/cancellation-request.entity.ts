import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, type Relation } from 'typeorm';
import type { ActorRole } from '../common/audit-event.entity';
import { LicenseEntity } from '../licenses/license.entity';
import {
  CreatedAtColumn,
  IdColumn,
  TextColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';
import { LicenseReturnEntity } from './return.entity';

export const CANCELLATION_REQUEST_STATUSES = [
  'pending',
  'withdrawn',
  'accepted',
  'rejected',
  'executed',
  'failed',
] as const;
export type CancellationRequestStatus = (typeof CANCELLATION_REQUEST_STATUSES)[number];

/** The statuses in which a request holds its license's active key. */
export const ACTIVE_CANCELLATION_REQUEST_STATUSES: readonly CancellationRequestStatus[] = ['pending'];

/** The value `active_license_id` must have for a request on `licenseId` in `status`. */
export function cancellationRequestActiveKey(
  status: CancellationRequestStatus,
  licenseId: string,
): string | null {
  return ACTIVE_CANCELLATION_REQUEST_STATUSES.includes(status) ? licenseId : null;
}

/**
 * A storefront request to cancel a license, which the provider accepts or rejects and the requester may
 * withdraw. `active_license_id` is the license id while pending and NULL afterwards: one pending request per
 * license, any number of closed ones.
 */
@Entity({ name: 'esd_cancellation_request' })
@Index('UQ_esd_cancellation_request_active_license', ['activeLicenseId'], { unique: true })
@Index('IDX_esd_cancellation_request_license', ['licenseId'])
@Index('IDX_esd_cancellation_request_status', ['status'])
@Index('IDX_esd_cancellation_request_return', ['returnId'])
export class CancellationRequestEntity {
  @IdColumn()
  id: string;

  @UuidColumn('license_id')
  licenseId: string;

  @ManyToOne(() => LicenseEntity, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'license_id' })
  license?: Relation<LicenseEntity>;

  @VarcharColumn('status', 20)
  status: CancellationRequestStatus;

  /** The license id while pending, NULL otherwise; see {@link cancellationRequestActiveKey}. */
  @UuidColumn('active_license_id', { nullable: true })
  activeLicenseId: string | null;

  @VarcharColumn('requested_by_role', 20)
  requestedByRole: ActorRole;

  @VarcharColumn('requested_by_account_id', 100)
  requestedByAccountId: string;

  @VarcharColumn('requested_by_user_id', 100, { nullable: true })
  requestedByUserId: string | null;

  @TextColumn('comment', { nullable: true })
  comment: string | null;

  @VarcharColumn('decided_by_role', 20, { nullable: true })
  decidedByRole: ActorRole | null;

  @VarcharColumn('decided_by_account_id', 100, { nullable: true })
  decidedByAccountId: string | null;

  @VarcharColumn('decided_by_user_id', 100, { nullable: true })
  decidedByUserId: string | null;

  @TextColumn('decision_comment', { nullable: true })
  decisionComment: string | null;

  /** The return an accepted request started. */
  @UuidColumn('return_id', { nullable: true })
  returnId: string | null;

  @ManyToOne(() => LicenseReturnEntity, { nullable: true, createForeignKeyConstraints: false })
  @JoinColumn({ name: 'return_id' })
  licenseReturn?: Relation<LicenseReturnEntity> | null;

  @CreatedAtColumn()
  createdAt: Date;

  @TimestampColumn('decided_at', { nullable: true })
  decidedAt: Date | null;

  @UpdatedAtColumn()
  updatedAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
