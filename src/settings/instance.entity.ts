import { BeforeInsert, Entity, Index, JoinColumn, ManyToOne, type Relation } from 'typeorm';
import {
  BooleanColumn,
  CreatedAtColumn,
  IdColumn,
  IntegerColumn,
  JsonTextColumn,
  TextColumn,
  TimestampColumn,
  UpdatedAtColumn,
  UuidColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';
import { CertificateEntity } from './certificate.entity';

export const INSTANCE_ENVIRONMENTS = ['production', 'sandbox'] as const;
export type InstanceEnvironment = (typeof INSTANCE_ENVIRONMENTS)[number];

/** `draft` until certificate, country and language are set and the last connection test passed. */
export const INSTANCE_STATES = ['draft', 'ready', 'disabled'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** One step of a connection test as stored with the instance. */
export interface StoredConnectionTestStep {
  step: string;
  ok: boolean;
  message?: string;
}

/** An Applications Setup instance: one CIS connection for one country, language and client ID. */
@Entity({ name: 'esd_instance' })
@Index('UQ_esd_instance_system_name', ['systemName'], { unique: true })
@Index('UQ_esd_instance_client_market', ['clientId', 'country', 'language'], { unique: true })
@Index('IDX_esd_instance_certificate', ['certificateId'])
export class InstanceEntity {
  @IdColumn()
  id: string;

  @VarcharColumn('system_name', 100)
  systemName: string;

  @VarcharColumn('resource_api', 500)
  resourceApi: string;

  @VarcharColumn('service_url', 500)
  serviceUrl: string;

  @VarcharColumn('tenant_id', 100)
  tenantId: string;

  /** The Microsoft Bill-To account. */
  @VarcharColumn('channel_id', 100)
  channelId: string;

  @VarcharColumn('client_id', 100)
  clientId: string;

  @VarcharColumn('authority_host', 500)
  authorityHost: string;

  /** A CA to trust for the authority and the service (sandbox, pre-production); not a secret. */
  @TextColumn('ca_certificate_pem', { nullable: true })
  caCertificatePem: string | null;

  @VarcharColumn('environment', 20)
  environment: InstanceEnvironment;

  @VarcharColumn('state', 20)
  state: InstanceState;

  /** ISO 3166-1 alpha-2, upper case; null until stage 2. Bound to the client ID through `esd_client_country`. */
  @VarcharColumn('country', 2, { nullable: true })
  country: string | null;

  /** BCP 47 tag, e.g. `el-GR`; null until stage 2. */
  @VarcharColumn('language', 20, { nullable: true })
  language: string | null;

  @UuidColumn('certificate_id', { nullable: true })
  certificateId: string | null;

  @ManyToOne(() => CertificateEntity, { nullable: true, createForeignKeyConstraints: false })
  @JoinColumn({ name: 'certificate_id' })
  certificate?: Relation<CertificateEntity> | null;

  /** Cron expression of the scheduled Get Services Definition run; null = the plugin default. */
  @VarcharColumn('catalog_schedule', 100, { nullable: true })
  catalogSchedule: string | null;

  @IntegerColumn('return_window_days', { default: 30 })
  returnWindowDays: number;

  @BooleanColumn('auto_accept_cancellations', { default: false })
  autoAcceptCancellations: boolean;

  @BooleanColumn('last_connection_test_ok', { nullable: true })
  lastConnectionTestOk: boolean | null;

  @TimestampColumn('last_connection_test_at', { nullable: true })
  lastConnectionTestAt: Date | null;

  @VarcharColumn('last_connection_test_message', 1000, { nullable: true })
  lastConnectionTestMessage: string | null;

  @JsonTextColumn('last_connection_test_steps', { nullable: true })
  lastConnectionTestSteps: StoredConnectionTestStep[] | null;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
