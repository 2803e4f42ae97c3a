import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

const id = (name = 'id', length = 36) => ({ name, type: 'varchar', length: String(length), isPrimary: true });
const str = (name: string, length: number, isNullable = false) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable,
});
const text = (name: string) => ({ name, type: 'text' });
const bool = (name: string) => ({ name, type: 'boolean' });
const int = (name: string) => ({ name, type: 'integer' });

/** The reference host's side of the contract: accounts, catalog, notifications, events. */
export class CreateReferenceHostTables1763990000000 implements MigrationInterface {
  name = 'CreateReferenceHostTables1763990000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'host_account',
        columns: [
          id(),
          str('name', 200),
          str('email', 320),
          str('country', 2),
          str('locale', 35),
          str('reseller_account_id', 36, true),
          str('created_at', 30),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_product_type',
        columns: [id('code', 64), str('name', 200), text('definition'), str('updated_at', 30)],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_product',
        columns: [
          id(),
          str('instance_id', 36),
          str('code', 100),
          str('name', 300),
          text('description'),
          str('product_type', 64),
          text('properties'),
          str('catalog_status', 16),
          bool('active'),
          bool('published'),
          bool('sellable'),
          bool('returnable'),
          int('min_quantity'),
          int('max_quantity'),
          int('price_minor'),
          str('currency', 3),
          str('created_at', 30),
          str('updated_at', 30),
        ],
        indices: [
          new TableIndex({
            name: 'uq_host_product_instance_code',
            columnNames: ['instance_id', 'code'],
            isUnique: true,
          }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_notification',
        columns: [
          id(),
          str('template', 64),
          str('to_account_id', 36),
          text('to_json'),
          str('locale', 35),
          text('data'),
          str('dedupe_key', 200),
          str('created_at', 30),
        ],
        indices: [
          new TableIndex({
            name: 'uq_host_notification_dedupe',
            columnNames: ['dedupe_key'],
            isUnique: true,
          }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'host_event',
        columns: [
          id('id', 100),
          str('name', 64),
          text('payload'),
          str('occurred_at', 30),
          str('received_at', 30),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'host_event',
      'host_notification',
      'host_product',
      'host_product_type',
      'host_account',
    ]) {
      await queryRunner.dropTable(table);
    }
  }
}
