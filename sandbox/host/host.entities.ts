import { Column, Entity, Index, PrimaryColumn, type ValueTransformer } from 'typeorm';

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

/** PostgreSQL and MariaDB hand bigint back as a string; totals stay well inside a double's exact range. */
const bigintAsNumber: ValueTransformer = {
  to: (value: number) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** What each item of an order got from the plugin's `order` hook; `requested` until the hook answered. */
export type HostOrderItemOutcome = 'requested' | 'done' | 'pending' | 'failed';
export type HostInvoiceType = 'invoice' | 'credit-note';

@Entity('host_order')
export class HostOrderRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'customer_account_id', type: 'varchar', length: 36 }) customerAccountId: string;
  @Column({ name: 'bill_to_account_id', type: 'varchar', length: 36 }) billToAccountId: string;
  @Column({ name: 'placed_by_role', type: 'varchar', length: 16 }) placedByRole: string;
  @Column({ name: 'placed_by_account_id', type: 'varchar', length: 36 }) placedByAccountId: string;
  @Column({ name: 'created_at', type: 'varchar', length: 30 }) createdAt: string;
}

@Entity('host_order_item')
@Index('uq_host_order_item_line', ['orderId', 'lineNo'], { unique: true })
export class HostOrderItemRow {
  /** Handed to the plugin as `hostOrderItemId`: the idempotency key of its `order` hook. */
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'order_id', type: 'varchar', length: 36 }) orderId: string;
  @Column({ name: 'line_no', type: 'integer' }) lineNo: number;
  @Column({ name: 'product_id', type: 'varchar', length: 36 }) productId: string;
  @Column({ name: 'instance_id', type: 'varchar', length: 36 }) instanceId: string;
  @Column({ name: 'product_code', type: 'varchar', length: 100 }) productCode: string;
  /** The name at the time of the order: what the invoice line says, whatever the catalog later calls it. */
  @Column({ name: 'product_name', type: 'varchar', length: 300 }) productName: string;
  @Column({ type: 'integer' }) quantity: number;
  @Column({ name: 'unit_price_minor', type: 'integer' }) unitPriceMinor: number;
  @Column({ type: 'varchar', length: 3 }) currency: string;
  @Column({ type: 'varchar', length: 16 }) outcome: HostOrderItemOutcome;
  /** The license ids the hook answered (JSON array). */
  @Column({ name: 'license_ids', type: 'text' }) licenseIds: string;
  @Column({ name: 'failure_code', type: 'varchar', length: 100, nullable: true }) failureCode: string | null;
  @Column({ name: 'failure_message', type: 'text', nullable: true }) failureMessage: string | null;
}

@Entity('host_invoice')
export class HostInvoiceRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 16 }) type: HostInvoiceType;
  @Column({ name: 'account_id', type: 'varchar', length: 36 }) accountId: string;
  @Column({ name: 'order_id', type: 'varchar', length: 36, nullable: true }) orderId: string | null;
  /**
   * What the document was issued for (`order:<id>`, `event:<id>`): unique, so an order is invoiced once and a
   * re-delivered event never makes a second credit note.
   */
  @Index('uq_host_invoice_source', { unique: true })
  @Column({ name: 'source_key', type: 'varchar', length: 150 })
  sourceKey: string;
  @Column({ name: 'total_minor', type: 'bigint', transformer: bigintAsNumber }) totalMinor: number;
  @Column({ type: 'varchar', length: 3 }) currency: string;
  @Column({ name: 'created_at', type: 'varchar', length: 30 }) createdAt: string;
}

@Entity('host_invoice_line')
@Index('uq_host_invoice_line_no', ['invoiceId', 'lineNo'], { unique: true })
export class HostInvoiceLineRow {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'invoice_id', type: 'varchar', length: 36 }) invoiceId: string;
  @Column({ name: 'line_no', type: 'integer' }) lineNo: number;
  @Column({ type: 'varchar', length: 300 }) description: string;
  @Column({ name: 'license_id', type: 'varchar', length: 36, nullable: true }) licenseId: string | null;
  /** Positive on both document types: the type says which way the money goes. */
  @Column({ name: 'amount_minor', type: 'integer' }) amountMinor: number;
  @Column({ type: 'varchar', length: 3 }) currency: string;
}

export const HOST_ENTITIES = [
  HostAccountRow,
  HostProductTypeRow,
  HostProductRow,
  HostNotificationRow,
  HostEventRow,
  HostOrderRow,
  HostOrderItemRow,
  HostInvoiceRow,
  HostInvoiceLineRow,
];
