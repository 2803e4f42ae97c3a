import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

const id = (name = 'id') => ({ name, type: 'varchar', length: '36', isPrimary: true });
const str = (name: string, length: number, isNullable = false) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable,
});
const text = (name: string, isNullable = false) => ({ name, type: 'text', isNullable });
const int = (name: string) => ({ name, type: 'integer' });
/** Totals are quantity × unit price and may pass 2^31 minor units; bigint holds them on every driver. */
const bigint = (name: string) => ({ name, type: 'bigint' });

const cascadeTo = (table: string, column: string, referencedTable: string) =>
  new TableForeignKey({
    name: `fk_${table}_${column}`,
    columnNames: [column],
    referencedTableName: referencedTable,
    referencedColumnNames: ['id'],
    onDelete: 'CASCADE',
  });

/**
 * The reference host's order pipeline: orders and their items (what the host asked the plugin's `order` hook
 * and what it answered), and the invoices and credit notes the host issued because of them.
 */
export class CreateReferenceHostOrders1763990001000 implements MigrationInterface {
  name = 'CreateReferenceHostOrders1763990001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'host_order',
        columns: [
          id(),
          str('customer_account_id', 36),
          str('bill_to_account_id', 36),
          str('placed_by_role', 16),
          str('placed_by_account_id', 36),
          str('created_at', 30),
        ],
        indices: [
          new TableIndex({ name: 'ix_host_order_customer', columnNames: ['customer_account_id'] }),
          new TableIndex({ name: 'ix_host_order_bill_to', columnNames: ['bill_to_account_id'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_order_item',
        columns: [
          id(),
          str('order_id', 36),
          int('line_no'),
          str('product_id', 36),
          str('instance_id', 36),
          str('product_code', 100),
          str('product_name', 300),
          int('quantity'),
          int('unit_price_minor'),
          str('currency', 3),
          str('outcome', 16),
          text('license_ids'),
          str('failure_code', 100, true),
          text('failure_message', true),
        ],
        indices: [
          new TableIndex({
            name: 'uq_host_order_item_line',
            columnNames: ['order_id', 'line_no'],
            isUnique: true,
          }),
        ],
        foreignKeys: [cascadeTo('host_order_item', 'order_id', 'host_order')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_invoice',
        columns: [
          id(),
          str('type', 16),
          str('account_id', 36),
          str('order_id', 36, true),
          str('source_key', 150),
          bigint('total_minor'),
          str('currency', 3),
          str('created_at', 30),
        ],
        indices: [
          new TableIndex({ name: 'uq_host_invoice_source', columnNames: ['source_key'], isUnique: true }),
          new TableIndex({ name: 'ix_host_invoice_account', columnNames: ['account_id'] }),
          new TableIndex({ name: 'ix_host_invoice_order', columnNames: ['order_id'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_invoice_line',
        columns: [
          id(),
          str('invoice_id', 36),
          int('line_no'),
          str('description', 300),
          str('license_id', 36, true),
          int('amount_minor'),
          str('currency', 3),
        ],
        indices: [
          new TableIndex({
            name: 'uq_host_invoice_line_no',
            columnNames: ['invoice_id', 'line_no'],
            isUnique: true,
          }),
          new TableIndex({ name: 'ix_host_invoice_line_license', columnNames: ['license_id'] }),
        ],
        foreignKeys: [cascadeTo('host_invoice_line', 'invoice_id', 'host_invoice')],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['host_invoice_line', 'host_invoice', 'host_order_item', 'host_order']) {
      await queryRunner.dropTable(table);
    }
  }
}
