import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { foreignKey, storageColumns } from '../src/storage/column-types';

/** Licenses (asset records), their returns and the storefront's cancellation requests. */
export class CreateLicenseTables1764000002000 implements MigrationInterface {
  name = 'CreateLicenseTables1764000002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const c = storageColumns(queryRunner);

    await queryRunner.createTable(
      new Table({
        name: 'esd_license',
        columns: [
          c.id(),
          c.uuid('instance_id'),
          c.uuid('offer_ref_id', { isNullable: true }),
          c.key('product_code', 100),
          c.varchar('product_name', 500),
          c.varchar('country', 2),
          c.varchar('language', 20),
          c.key('customer_account_id', 100),
          c.varchar('customer_name', 500),
          c.varchar('customer_email', 320, { isNullable: true }),
          c.varchar('customer_country', 2),
          c.varchar('customer_locale', 20, { isNullable: true }),
          c.key('bill_to_account_id', 100),
          c.key('reseller_account_id', 100, { isNullable: true }),
          c.key('host_order_id', 100),
          c.key('host_order_item_id', 100),
          c.integer('unit_index'),
          c.uuid('client_transaction_id'),
          c.varchar('status', 20),
          c.timestamp('purchase_date'),
          c.integer('price_amount_minor'),
          c.currency('price_currency'),
          c.varchar('provisioning_status', 20),
          c.varchar('provisioning_error_code', 100, { isNullable: true }),
          c.varchar('provisioning_error_message', 1000, { isNullable: true }),
          c.integer('attempts', { default: 0 }),
          c.timestamp('next_attempt_at', { isNullable: true }),
          c.varchar('vendor_transaction_id', 100, { isNullable: true }),
          c.text('token_sealed', { isNullable: true }),
          c.varchar('token_key_id', 64, { isNullable: true }),
          c.text('activation_link_sealed', { isNullable: true }),
          c.varchar('activation_link_key_id', 64, { isNullable: true }),
          c.varchar('token_last_group', 5, { isNullable: true }),
          c.varchar('token_status', 20, { isNullable: true }),
          c.timestamp('token_created_at', { isNullable: true }),
          c.timestamp('token_status_checked_at', { isNullable: true }),
          c.timestamp('redeemed_at', { isNullable: true }),
          c.timestamp('welcome_sent_at', { isNullable: true }),
          c.varchar('return_status', 20),
          c.varchar('return_reason_code', 100, { isNullable: true }),
          c.varchar('return_reason_message', 1000, { isNullable: true }),
          ...c.auditTimes(),
          c.integer('version', { default: 1 }),
        ],
        indices: [
          {
            name: 'UQ_esd_license_order_item_unit',
            columnNames: ['host_order_item_id', 'unit_index'],
            isUnique: true,
          },
          {
            name: 'UQ_esd_license_client_transaction',
            columnNames: ['client_transaction_id'],
            isUnique: true,
          },
          { name: 'IDX_esd_license_provisioning', columnNames: ['provisioning_status', 'next_attempt_at'] },
          { name: 'IDX_esd_license_instance', columnNames: ['instance_id'] },
          { name: 'IDX_esd_license_offer_ref', columnNames: ['offer_ref_id'] },
          { name: 'IDX_esd_license_customer', columnNames: ['customer_account_id'] },
          { name: 'IDX_esd_license_bill_to', columnNames: ['bill_to_account_id'] },
          { name: 'IDX_esd_license_reseller', columnNames: ['reseller_account_id'] },
          { name: 'IDX_esd_license_order', columnNames: ['host_order_id'] },
        ],
        foreignKeys: [
          foreignKey('esd_license', 'instance_id', 'esd_instance', 'RESTRICT'),
          foreignKey('esd_license', 'offer_ref_id', 'esd_offer', 'SET NULL'),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_return',
        columns: [
          c.id(),
          c.uuid('license_id'),
          c.uuid('client_transaction_id'),
          c.varchar('status', 20),
          c.uuid('active_license_id', { isNullable: true }),
          c.varchar('vendor_return_id', 100, { isNullable: true }),
          c.varchar('reason_code', 100, { isNullable: true }),
          c.varchar('reason_message', 1000, { isNullable: true }),
          c.integer('attempts', { default: 0 }),
          c.timestamp('next_attempt_at', { isNullable: true }),
          c.timestamp('finished_at', { isNullable: true }),
          ...c.auditTimes(),
        ],
        indices: [
          {
            name: 'UQ_esd_return_client_transaction',
            columnNames: ['client_transaction_id'],
            isUnique: true,
          },
          { name: 'UQ_esd_return_active_license', columnNames: ['active_license_id'], isUnique: true },
          { name: 'IDX_esd_return_license', columnNames: ['license_id'] },
          { name: 'IDX_esd_return_status', columnNames: ['status', 'next_attempt_at'] },
        ],
        foreignKeys: [foreignKey('esd_return', 'license_id', 'esd_license', 'RESTRICT')],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'esd_cancellation_request',
        columns: [
          c.id(),
          c.uuid('license_id'),
          c.varchar('status', 20),
          c.uuid('active_license_id', { isNullable: true }),
          c.varchar('requested_by_role', 20),
          c.varchar('requested_by_account_id', 100),
          c.varchar('requested_by_user_id', 100, { isNullable: true }),
          c.text('comment', { isNullable: true }),
          c.varchar('decided_by_role', 20, { isNullable: true }),
          c.varchar('decided_by_account_id', 100, { isNullable: true }),
          c.varchar('decided_by_user_id', 100, { isNullable: true }),
          c.text('decision_comment', { isNullable: true }),
          c.uuid('return_id', { isNullable: true }),
          c.timestamp('decided_at', { isNullable: true }),
          ...c.auditTimes(),
        ],
        indices: [
          {
            name: 'UQ_esd_cancellation_request_active_license',
            columnNames: ['active_license_id'],
            isUnique: true,
          },
          { name: 'IDX_esd_cancellation_request_license', columnNames: ['license_id'] },
          { name: 'IDX_esd_cancellation_request_status', columnNames: ['status'] },
          { name: 'IDX_esd_cancellation_request_return', columnNames: ['return_id'] },
        ],
        foreignKeys: [
          foreignKey('esd_cancellation_request', 'license_id', 'esd_license', 'RESTRICT'),
          foreignKey('esd_cancellation_request', 'return_id', 'esd_return', 'SET NULL'),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('esd_cancellation_request');
    await queryRunner.dropTable('esd_return');
    await queryRunner.dropTable('esd_license');
  }
}
