import { Entity, Index, PrimaryColumn } from 'typeorm';
import { CreatedAtColumn, VarcharColumn } from '../storage/entity-columns';

/**
 * "One client ID serves one country", kept by the database: a client ID has at most one row here (its primary
 * key), and an instance's `(client_id, country)` is a foreign key to this table's `(client_id, country)`.
 * An instance can therefore only take the country its client ID is bound to; binding the client ID to another
 * country is refused while any instance still uses the old one. Draft instances without a country do not
 * reference the table (a foreign key with a NULL column is not checked).
 */
@Entity({ name: 'esd_client_country' })
@Index('UQ_esd_client_country_pair', ['clientId', 'country'], { unique: true })
export class ClientCountryEntity {
  @PrimaryColumn({
    name: 'client_id',
    type: 'varchar',
    length: 100,
    primaryKeyConstraintName: 'PK_esd_client_country',
  })
  clientId: string;

  /** ISO 3166-1 alpha-2, upper case. */
  @VarcharColumn('country', 2)
  country: string;

  @CreatedAtColumn()
  createdAt: Date;
}
