import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { foreignKey, storageColumns } from '../src/storage/column-types';

/** Certificates, the client-ID-to-country binding, instances and the audit log. */
export class CreateSettingsTables1764000000000 implements MigrationInterface {
  name = 'CreateSettingsTables1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const c = storageColumns(queryRunner);

    await queryRunner.createTable(
      new Table({
        name: 'esd_certificate',
        columns: [
          c.id(),
          c.key('thumbprint', 40),
          c.key('thumbprint_sha256', 64),
          c.varchar('subject', 1000),
          c.timestamp('not_before'),
          c.timestamp('expires_at'),
          c.text('certificate_pem'),
          c.text('private_key_sealed', { isNullable: true }),
          c.varchar('private_key_key_id', 64, { isNullable: true }),
          c.text('pfx_sealed', { isNullable: true }),
          c.varchar('pfx_key_id', 64, { isNullable: true }),
          c.text('pfx_password_sealed', { isNullable: true }),
          c.varchar('pfx_password_key_id', 64, { isNullable: true }),
          c.timestamp('created_at', { defaultNow: true }),
        ],
        indices: [{ name: 'UQ_esd_certificate_thumbprint', columnNames: ['thumbprint'], isUnique: true }],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_client_country',
        columns: [
          { ...c.key('client_id', 100), isPrimary: true, primaryKeyConstraintName: 'PK_esd_client_country' },
          c.key('country', 2),
          c.timestamp('created_at', { defaultNow: true }),
        ],
        indices: [
          { name: 'UQ_esd_client_country_pair', columnNames: ['client_id', 'country'], isUnique: true },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_instance',
        columns: [
          c.id(),
          c.varchar('system_name', 100),
          c.varchar('resource_api', 500),
          c.varchar('service_url', 500),
          c.varchar('tenant_id', 100),
          c.varchar('channel_id', 100),
          c.key('client_id', 100),
          c.varchar('authority_host', 500),
          c.text('ca_certificate_pem', { isNullable: true }),
          c.varchar('environment', 20),
          c.varchar('state', 20),
          c.key('country', 2, { isNullable: true }),
          c.key('language', 20, { isNullable: true }),
          c.uuid('certificate_id', { isNullable: true }),
          c.varchar('catalog_schedule', 100, { isNullable: true }),
          c.integer('return_window_days', { default: 30 }),
          c.boolean('auto_accept_cancellations', { default: false }),
          c.boolean('last_connection_test_ok', { isNullable: true }),
          c.timestamp('last_connection_test_at', { isNullable: true }),
          c.varchar('last_connection_test_message', 1000, { isNullable: true }),
          c.text('last_connection_test_steps', { isNullable: true }),
          ...c.auditTimes(),
        ],
        indices: [
          { name: 'UQ_esd_instance_system_name', columnNames: ['system_name'], isUnique: true },
          {
            name: 'UQ_esd_instance_client_market',
            columnNames: ['client_id', 'country', 'language'],
            isUnique: true,
          },
          { name: 'IDX_esd_instance_certificate', columnNames: ['certificate_id'] },
        ],
        foreignKeys: [
          foreignKey('esd_instance', 'certificate_id', 'esd_certificate', 'RESTRICT'),
          {
            name: 'FK_esd_instance_client_country',
            columnNames: ['client_id', 'country'],
            referencedTableName: 'esd_client_country',
            referencedColumnNames: ['client_id', 'country'],
            onDelete: 'RESTRICT',
          },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_audit_event',
        columns: [
          c.id(),
          c.timestamp('at'),
          c.varchar('actor_role', 20),
          c.varchar('actor_account_id', 100, { isNullable: true }),
          c.varchar('actor_user_id', 100, { isNullable: true }),
          c.varchar('action', 100),
          c.varchar('subject_type', 50),
          c.varchar('subject_id', 100, { isNullable: true }),
          c.text('details', { isNullable: true }),
        ],
        indices: [
          { name: 'IDX_esd_audit_event_subject', columnNames: ['subject_type', 'subject_id'] },
          { name: 'IDX_esd_audit_event_at', columnNames: ['at'] },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('esd_audit_event');
    await queryRunner.dropTable('esd_instance');
    await queryRunner.dropTable('esd_client_country');
    await queryRunner.dropTable('esd_certificate');
  }
}
