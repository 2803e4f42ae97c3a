import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, VersionColumn, type Relation } from 'typeorm';
import { OfferEntity } from '../catalog/offer.entity';
import { InstanceEntity } from '../settings/instance.entity';
import {
  CreatedAtColumn,
  CurrencyColumn,
  IdColumn,
  IntegerColumn,
  SealKeyIdColumn,
  SealedColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

/** License status: `active` until a successful return cancels it. */
export const LICENSE_STATUSES = ['active', 'cancelled'] as const;
export type LicenseStatus = (typeof LICENSE_STATUSES)[number];

/** Provisioning sync status (ARCHITECTURE.md §4). */
export const PROVISIONING_STATUSES = ['Unsynchronised', 'Synchronized', 'Failed'] as const;
export type ProvisioningStatus = (typeof PROVISIONING_STATUSES)[number];

export const TOKEN_STATUSES = ['Activated', 'Redeemed', 'ReturnAccepted'] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

/** The license's return status as the asset record shows it. */
export const LICENSE_RETURN_STATUSES = ['None', 'Pending', 'Successful', 'Rejected', 'Failed'] as const;
export type LicenseReturnStatus = (typeof LICENSE_RETURN_STATUSES)[number];

/**
 * One license (asset record) per unit ordered. `(host_order_item_id, unit_index)` is unique so a repeated order
 * hook finds the licenses it made; `client_transaction_id` is persisted before Microsoft is called and sent on
 * every retry, so a license never gets two tokens. The product key and activation link are sealed and not
 * selected by default. `version` gives optimistic locking to concurrent workers.
 */
@Entity({ name: 'esd_license' })
@Index('UQ_esd_license_order_item_unit', ['hostOrderItemId', 'unitIndex'], { unique: true })
@Index('UQ_esd_license_client_transaction', ['clientTransactionId'], { unique: true })
@Index('IDX_esd_license_provisioning', ['provisioningStatus', 'nextAttemptAt'])
@Index('IDX_esd_license_instance', ['instanceId'])
@Index('IDX_esd_license_offer_ref', ['offerRefId'])
@Index('IDX_esd_license_customer', ['customerAccountId'])
@Index('IDX_esd_license_bill_to', ['billToAccountId'])
@Index('IDX_esd_license_reseller', ['resellerAccountId'])
@Index('IDX_esd_license_order', ['hostOrderId'])
export class LicenseEntity {
  @IdColumn()
  id: string;

  @UuidColumn('instance_id')
  instanceId: string;

  @ManyToOne(() => InstanceEntity, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'instance_id' })
  instance?: Relation<InstanceEntity>;

  /** The offer row sold (null if it was removed since); `productCode` keeps the ESD offer ID regardless. */
  @UuidColumn('offer_ref_id', { nullable: true })
  offerRefId: string | null;

  @ManyToOne(() => OfferEntity, { nullable: true, createForeignKeyConstraints: false })
  @JoinColumn({ name: 'offer_ref_id' })
  offer?: Relation<OfferEntity> | null;

  /** The ESD offer ID = the host product code. */
  @VarcharColumn('product_code', 100)
  productCode: string;

  @VarcharColumn('product_name', 500)
  productName: string;

  /** Market of the token request, fixed at order time so every retry sends the same body. */
  @VarcharColumn('country', 2)
  country: string;

  @VarcharColumn('language', 20)
  language: string;

  @VarcharColumn('customer_account_id', 100)
  customerAccountId: string;

  /** End-customer details the token request and the welcome notification need, as ordered. */
  @VarcharColumn('customer_name', 500)
  customerName: string;

  @VarcharColumn('customer_email', 320, { nullable: true })
  customerEmail: string | null;

  @VarcharColumn('customer_country', 2)
  customerCountry: string;

  @VarcharColumn('customer_locale', 20, { nullable: true })
  customerLocale: string | null;

  @VarcharColumn('bill_to_account_id', 100)
  billToAccountId: string;

  @VarcharColumn('reseller_account_id', 100, { nullable: true })
  resellerAccountId: string | null;

  @VarcharColumn('host_order_id', 100)
  hostOrderId: string;

  @VarcharColumn('host_order_item_id', 100)
  hostOrderItemId: string;

  /** 0-based unit within the order item. */
  @IntegerColumn('unit_index')
  unitIndex: number;

  /** Sent to Microsoft on the token request and every retry of it. */
  @UuidColumn('client_transaction_id')
  clientTransactionId: string;

  @VarcharColumn('status', 20)
  status: LicenseStatus;

  @TimestampColumn('purchase_date')
  purchaseDate: Date;

  /** Unit price charged, in minor units of `priceCurrency`. */
  @IntegerColumn('price_amount_minor')
  priceAmountMinor: number;

  @CurrencyColumn('price_currency')
  priceCurrency: string;

  @VarcharColumn('provisioning_status', 20)
  provisioningStatus: ProvisioningStatus;

  @VarcharColumn('provisioning_error_code', 100, { nullable: true })
  provisioningErrorCode: string | null;

  @VarcharColumn('provisioning_error_message', 1000, { nullable: true })
  provisioningErrorMessage: string | null;

  @IntegerColumn('attempts', { default: 0 })
  attempts: number;

  /** When the sweeper may pick the license up again; null when nothing is due. */
  @TimestampColumn('next_attempt_at', { nullable: true })
  nextAttemptAt: Date | null;

  /** Microsoft's `transactionId` of the token. */
  @VarcharColumn('vendor_transaction_id', 100, { nullable: true })
  vendorTransactionId: string | null;

  @SealedColumn('token_sealed')
  tokenSealed?: string | null;

  @SealKeyIdColumn('token_key_id')
  tokenKeyId?: string | null;

  @SealedColumn('activation_link_sealed')
  activationLinkSealed?: string | null;

  @SealKeyIdColumn('activation_link_key_id')
  activationLinkKeyId?: string | null;

  /** The last 5x5 group, for the masked form `*****-*****-*****-*****-7QX4P`. */
  @VarcharColumn('token_last_group', 5, { nullable: true })
  tokenLastGroup: string | null;

  @VarcharColumn('token_status', 20, { nullable: true })
  tokenStatus: TokenStatus | null;

  /** The token's creation at Microsoft: the return window counts from it. */
  @TimestampColumn('token_created_at', { nullable: true })
  tokenCreatedAt: Date | null;

  @TimestampColumn('token_status_checked_at', { nullable: true })
  tokenStatusCheckedAt: Date | null;

  @TimestampColumn('redeemed_at', { nullable: true })
  redeemedAt: Date | null;

  /** When the welcome notification was handed to the host (sent once). */
  @TimestampColumn('welcome_sent_at', { nullable: true })
  welcomeSentAt: Date | null;

  @VarcharColumn('return_status', 20)
  returnStatus: LicenseReturnStatus;

  @VarcharColumn('return_reason_code', 100, { nullable: true })
  returnReasonCode: string | null;

  @VarcharColumn('return_reason_message', 1000, { nullable: true })
  returnReasonMessage: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @VersionColumn({ name: 'version', type: 'integer' })
  version: number;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
