import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, type Relation } from 'typeorm';
import { InstanceEntity } from '../settings/instance.entity';
import {
  BooleanColumn,
  CreatedAtColumn,
  IdColumn,
  IntegerColumn,
  TextColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

/** The vendor's status of an offer. */
export const OFFER_VENDOR_STATUSES = ['Active', 'Discontinued'] as const;
export type OfferVendorStatus = (typeof OFFER_VENDOR_STATUSES)[number];

/** What the last run did to the offer, from the admin's point of view (`current` once reviewed). */
export const OFFER_CATALOG_STATUSES = ['new', 'updated', 'discontinued', 'current'] as const;
export type OfferCatalogStatus = (typeof OFFER_CATALOG_STATUSES)[number];

/** An offer of one instance's market, as the last catalog run saw it. */
@Entity({ name: 'esd_offer' })
@Index('UQ_esd_offer_instance_offer', ['instanceId', 'offerId'], { unique: true })
@Index('IDX_esd_offer_instance_catalog_status', ['instanceId', 'catalogStatus'])
@Index('IDX_esd_offer_first_seen_run', ['firstSeenRunId'])
@Index('IDX_esd_offer_last_changed_run', ['lastChangedRunId'])
export class OfferEntity {
  @IdColumn()
  id: string;

  @UuidColumn('instance_id')
  instanceId: string;

  @ManyToOne(() => InstanceEntity, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'instance_id' })
  instance?: Relation<InstanceEntity>;

  /** The ESD offer ID (the host product code). */
  @VarcharColumn('offer_id', 100)
  offerId: string;

  @VarcharColumn('offer_uri', 1000)
  offerUri: string;

  @VarcharColumn('name', 500)
  name: string;

  @TextColumn('short_description', { nullable: true })
  shortDescription: string | null;

  @VarcharColumn('product_family', 200, { nullable: true })
  productFamily: string | null;

  @IntegerColumn('min_quantity')
  minQuantity: number;

  @IntegerColumn('max_quantity')
  maxQuantity: number;

  @BooleanColumn('is_returnable')
  isReturnable: boolean;

  @VarcharColumn('vendor_status', 20)
  vendorStatus: OfferVendorStatus;

  @VarcharColumn('catalog_status', 20)
  catalogStatus: OfferCatalogStatus;

  /** The vendor's `lastModified`. */
  @TimestampColumn('last_modified', { nullable: true })
  lastModified: Date | null;

  /** SHA-256 hex of the fields the host shows; a change marks the offer updated. */
  @VarcharColumn('content_hash', 64)
  contentHash: string;

  @UuidColumn('first_seen_run_id', { nullable: true })
  firstSeenRunId: string | null;

  @UuidColumn('last_changed_run_id', { nullable: true })
  lastChangedRunId: string | null;

  /** The host's id of the product pushed for this offer, once the host answered. */
  @VarcharColumn('host_product_ref', 200, { nullable: true })
  hostProductRef: string | null;

  /** When the offer vanished from the vendor's list (it is discontinued once, then kept). */
  @TimestampColumn('missing_since', { nullable: true })
  missingSince: Date | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
