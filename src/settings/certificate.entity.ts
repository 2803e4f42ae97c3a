import { BeforeInsert, Entity, Index } from 'typeorm';
import {
  CreatedAtColumn,
  IdColumn,
  SealKeyIdColumn,
  SealedColumn,
  TextColumn,
  TimestampColumn,
  VarcharColumn,
  assignIdBeforeInsert,
} from '../storage/entity-columns';

/**
 * An uploaded client certificate and its private key. The key, the PFX and its password are stored sealed
 * (ciphertext) and are not selected unless a query asks for them by name.
 */
@Entity({ name: 'esd_certificate' })
@Index('UQ_esd_certificate_thumbprint', ['thumbprint'], { unique: true })
export class CertificateEntity {
  @IdColumn()
  id: string;

  /** SHA-1 of the DER, upper-case hex without colons (what Microsoft calls the thumbprint). */
  @VarcharColumn('thumbprint', 40)
  thumbprint: string;

  /** SHA-256 of the DER, upper-case hex without colons. */
  @VarcharColumn('thumbprint_sha256', 64)
  thumbprintSha256: string;

  @VarcharColumn('subject', 1000)
  subject: string;

  @TimestampColumn('not_before')
  notBefore: Date;

  @TimestampColumn('expires_at')
  expiresAt: Date;

  @TextColumn('certificate_pem')
  certificatePem: string;

  @SealedColumn('private_key_sealed')
  privateKeySealed?: string | null;

  @SealKeyIdColumn('private_key_key_id')
  privateKeyKeyId?: string | null;

  @SealedColumn('pfx_sealed')
  pfxSealed?: string | null;

  @SealKeyIdColumn('pfx_key_id')
  pfxKeyId?: string | null;

  @SealedColumn('pfx_password_sealed')
  pfxPasswordSealed?: string | null;

  @SealKeyIdColumn('pfx_password_key_id')
  pfxPasswordKeyId?: string | null;

  @CreatedAtColumn()
  createdAt: Date;

  @BeforeInsert()
  protected beforeInsert(): void {
    assignIdBeforeInsert(this);
  }
}
