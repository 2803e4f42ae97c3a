import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, type Relation } from 'typeorm';
import { LicenseEntity } from '../licenses/license.entity';
import {
  CreatedAtColumn,
  IdColumn,
  IntegerColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

/** A return's own status (the license shows `None` before any return exists). */
export const RETURN_STATUSES = ['Pending', 'Successful', 'Rejected', 'Failed'] as const;
export type ReturnStatus = (typeof RETURN_STATUSES)[number];

/** The statuses in which a return holds its license's active key. */
export const ACTIVE_RETURN_STATUSES: readonly ReturnStatus[] = ['Pending'];

/** The value `active_license_id` must have for a return of `licenseId` in `status`. */
export function returnActiveKey(status: ReturnStatus, licenseId: string): string | null {
  return ACTIVE_RETURN_STATUSES.includes(status) ? licenseId : null;
}

/**
 * A return of one license's token to Microsoft. Its own `client_transaction_id` makes the call idempotent;
 * `active_license_id` (the license id while Pending, NULL after) keeps one return in flight per license.
 */
@Entity({ name: 'esd_return' })
@Index('UQ_esd_return_client_transaction', ['clientTransactionId'], { unique: true })
@Index('UQ_esd_return_active_license', ['activeLicenseId'], { unique: true })
@Index('IDX_esd_return_license', ['licenseId'])
@Index('IDX_esd_return_status', ['status', 'nextAttemptAt'])
export class LicenseReturnEntity {
  @IdColumn()
  id: string;

  @UuidColumn('license_id')
  licenseId: string;

  @ManyToOne(() => LicenseEntity, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'license_id' })
  license?: Relation<LicenseEntity>;

  @UuidColumn('client_transaction_id')
  clientTransactionId: string;

  @VarcharColumn('status', 20)
  status: ReturnStatus;

  /** The license id while Pending, NULL otherwise; see {@link returnActiveKey}. */
  @UuidColumn('active_license_id', { nullable: true })
  activeLicenseId: string | null;

  @VarcharColumn('vendor_return_id', 100, { nullable: true })
  vendorReturnId: string | null;

  @VarcharColumn('reason_code', 100, { nullable: true })
  reasonCode: string | null;

  @VarcharColumn('reason_message', 1000, { nullable: true })
  reasonMessage: string | null;

  @IntegerColumn('attempts', { default: 0 })
  attempts: number;

  @TimestampColumn('next_attempt_at', { nullable: true })
  nextAttemptAt: Date | null;

  @TimestampColumn('finished_at', { nullable: true })
  finishedAt: Date | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
