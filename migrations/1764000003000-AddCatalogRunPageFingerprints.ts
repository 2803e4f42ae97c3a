import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import { storageColumns } from '../src/storage/column-types';

/**
 * What a succeeded catalog run saw of each page of its listing, for the next run of its instance (docs/catalog.md,
 * "Pages as the last run listed them"). Runs finished before this step have none: the next run checks every
 * offer, as before.
 */
export class AddCatalogRunPageFingerprints1764000003000 implements MigrationInterface {
  name = 'AddCatalogRunPageFingerprints1764000003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const c = storageColumns(queryRunner);
    await queryRunner.addColumn(
      'esd_catalog_run',
      new TableColumn(c.longText('page_fingerprints', { isNullable: true })),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('esd_catalog_run', 'page_fingerprints');
  }
}
