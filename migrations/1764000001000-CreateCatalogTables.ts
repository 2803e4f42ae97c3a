import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { foreignKey, storageColumns } from '../src/storage/column-types';

/** Get Services Definition runs and the offers they saw. */
export class CreateCatalogTables1764000001000 implements MigrationInterface {
  name = 'CreateCatalogTables1764000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const c = storageColumns(queryRunner);

    await queryRunner.createTable(
      new Table({
        name: 'esd_catalog_run',
        columns: [
          c.id(),
          c.uuid('instance_id'),
          c.varchar('run_trigger', 20),
          c.varchar('status', 20),
          c.integer('progress', { default: 0 }),
          c.uuid('active_instance_id', { isNullable: true }),
          c.timestamp('started_at', { isNullable: true }),
          c.timestamp('finished_at', { isNullable: true }),
          c.longText('log'),
          c.longText('result', { isNullable: true }),
          c.text('error', { isNullable: true }),
          ...c.auditTimes(),
        ],
        indices: [
          { name: 'UQ_esd_catalog_run_active_instance', columnNames: ['active_instance_id'], isUnique: true },
          { name: 'IDX_esd_catalog_run_instance_created', columnNames: ['instance_id', 'created_at'] },
        ],
        foreignKeys: [foreignKey('esd_catalog_run', 'instance_id', 'esd_instance', 'CASCADE')],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_offer',
        columns: [
          c.id(),
          c.uuid('instance_id'),
          c.key('offer_id', 100),
          c.varchar('offer_uri', 1000),
          c.varchar('name', 500),
          c.text('short_description', { isNullable: true }),
          c.varchar('product_family', 200, { isNullable: true }),
          c.integer('min_quantity'),
          c.integer('max_quantity'),
          c.boolean('is_returnable'),
          c.varchar('vendor_status', 20),
          c.varchar('catalog_status', 20),
          c.timestamp('last_modified', { isNullable: true }),
          c.varchar('content_hash', 64),
          c.uuid('first_seen_run_id', { isNullable: true }),
          c.uuid('last_changed_run_id', { isNullable: true }),
          c.varchar('host_product_ref', 200, { isNullable: true }),
          c.timestamp('missing_since', { isNullable: true }),
          ...c.auditTimes(),
        ],
        indices: [
          { name: 'UQ_esd_offer_instance_offer', columnNames: ['instance_id', 'offer_id'], isUnique: true },
          { name: 'IDX_esd_offer_instance_catalog_status', columnNames: ['instance_id', 'catalog_status'] },
          { name: 'IDX_esd_offer_first_seen_run', columnNames: ['first_seen_run_id'] },
          { name: 'IDX_esd_offer_last_changed_run', columnNames: ['last_changed_run_id'] },
        ],
        foreignKeys: [
          foreignKey('esd_offer', 'instance_id', 'esd_instance', 'CASCADE'),
          foreignKey('esd_offer', 'first_seen_run_id', 'esd_catalog_run', 'SET NULL'),
          foreignKey('esd_offer', 'last_changed_run_id', 'esd_catalog_run', 'SET NULL'),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('esd_offer');
    await queryRunner.dropTable('esd_catalog_run');
  }
}
