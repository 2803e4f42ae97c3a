import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The reference host's own tables (`host_*`): what a real BSS keeps on its side of the contract. Times are
 * ISO 8601 strings so one schema reads the same on SQLite, PostgreSQL and MariaDB.
 */

@Entity('host_account')
export class HostAccountRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'varchar', length: 320 }) email: string;
  @Column({ type: 'varchar', length: 2 }) country: string;
  @Column({ type: 'varchar', length: 35 }) locale: string;
  @Column({ name: 'reseller_account_id', type: 'varchar', length: 36, nullable: true }) resellerAccountId:
    string | null;
  @Column({ name: 'created_at', type: 'varchar', length: 30 }) createdAt: string;
}

@Entity('host_product_type')
export class HostProductTypeRow {
  @PrimaryColumn({ type: 'varchar', length: 64 }) code: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  /** The definition as the plugin pushed it (JSON). */
  @Column({ type: 'text' }) definition: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 30 }) updatedAt: string;
}

@Entity('host_product')
@Index('uq_host_product_instance_code', ['instanceId', 'code'], { unique: true })
export class HostProductRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'instance_id', type: 'varchar', length: 36 }) instanceId: string;
  @Column({ type: 'varchar', length: 100 }) code: string;
  @Column({ type: 'varchar', length: 300 }) name: string;
  @Column({ type: 'text' }) description: string;
  @Column({ name: 'product_type', type: 'varchar', length: 64 }) productType: string;
  @Column({ type: 'text' }) properties: string;
  @Column({ name: 'catalog_status', type: 'varchar', length: 16 }) catalogStatus: string;
  @Column({ type: 'boolean' }) active: boolean;
  @Column({ type: 'boolean' }) published: boolean;
  @Column({ type: 'boolean' }) sellable: boolean;
  @Column({ type: 'boolean' }) returnable: boolean;
  @Column({ name: 'min_quantity', type: 'integer' }) minQuantity: number;
  @Column({ name: 'max_quantity', type: 'integer' }) maxQuantity: number;
  @Column({ name: 'price_minor', type: 'integer' }) priceMinor: number;
  @Column({ type: 'varchar', length: 3 }) currency: string;
  @Column({ name: 'created_at', type: 'varchar', length: 30 }) createdAt: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 30 }) updatedAt: string;
}

@Entity('host_notification')
export class HostNotificationRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 64 }) template: string;
  @Column({ name: 'to_account_id', type: 'varchar', length: 36 }) toAccountId: string;
  @Column({ name: 'to_json', type: 'text' }) to: string;
  @Column({ type: 'varchar', length: 35 }) locale: string;
  @Column({ type: 'text' }) data: string;
  /** The host sends a dedupe key once: at-least-once delivery from the plugin becomes exactly-once here. */
  @Index('uq_host_notification_dedupe', { unique: true })
  @Column({ name: 'dedupe_key', type: 'varchar', length: 200 })
  dedupeKey: string;
  @Column({ name: 'created_at', type: 'varchar', length: 30 }) createdAt: string;
}

@Entity('host_event')
export class HostEventRow {
  /** The plugin's event id: a re-delivered event is stored once. */
  @PrimaryColumn({ type: 'varchar', length: 100 }) id: string;
  @Column({ type: 'varchar', length: 64 }) name: string;
  @Column({ type: 'text' }) payload: string;
  @Column({ name: 'occurred_at', type: 'varchar', length: 30 }) occurredAt: string;
  @Column({ name: 'received_at', type: 'varchar', length: 30 }) receivedAt: string;
}

export const HOST_ENTITIES = [
  HostAccountRow,
  HostProductTypeRow,
  HostProductRow,
  HostNotificationRow,
  HostEventRow,
];
