import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { EsdErrorCode } from '../common/error-codes';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdError } from '../common/esd-error';
import { portableDriverOf } from '../storage/column-types';
import { isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import { CertificateEntity } from './certificate.entity';
import { day, parseCertificateUpload, type CertificateUpload } from './certificate-parser';
import { SecretSealer } from './secret-sealer';

/** A stored certificate as the API shows it: never its key, PFX or password. */
export interface CertificateView {
  id: string;
  thumbprint: string;
  thumbprintSha256: string;
  subject: string;
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Whole days left (negative once expired). */
  expiresInDays: number;
  /** A sentence for the admin when the certificate expires within {@link EXPIRY_WARNING_DAYS} days or has expired. */
  expiryWarning: string | null;
}

export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/** The sentence an admin sees when a certificate expires within 30 days or has expired; otherwise null. */
export function expiryWarning(expiresAt: Date, now: Date): string | null {
  const left = expiresAt.getTime() - now.getTime();
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return null;
  const renew = 'upload its renewal and switch the instances that use it.';
  if (left <= 0) return `The certificate expired on ${day(expiresAt)}: ${renew}`;
  const days = Math.floor(left / DAY_MS);
  const when = days === 0 ? 'today' : days === 1 ? 'in 1 day' : `in ${days} days`;
  return `The certificate expires on ${day(expiresAt)} (${when}): ${renew}`;
}

/** The secret columns of a row, sealed. */
type SealedSecrets = Pick<
  CertificateEntity,
  'privateKeySealed' | 'privateKeyKeyId' | 'pfxSealed' | 'pfxKeyId' | 'pfxPasswordSealed' | 'pfxPasswordKeyId'
>;

/**
 * The certificate store (`esd_certificate`): uploads are parsed, their private key — and for a PFX the file and
 * its password — sealed, and kept once per thumbprint.
 */
@Injectable()
export class CertificateService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
  ) {}

  /**
   * Stores an uploaded certificate. The same certificate again (same thumbprint) answers the existing row, its
   * secrets re-sealed from this upload; a PEM upload leaves a PFX stored earlier in place. Pass `manager` to take
   * part in the caller's transaction.
   *
   * @throws EsdError 422 with a `CERTIFICATE_*` code when the upload is refused (see `parseCertificateUpload`).
   */
  async store(upload: CertificateUpload, manager?: EntityManager): Promise<CertificateView> {
    const now = new Date();
    const parsed = parseCertificateUpload(upload, now);
    const key = this.sealer.seal(parsed.privateKeyPem);
    const secrets: SealedSecrets = { privateKeySealed: key.ciphertext, privateKeyKeyId: key.keyId };
    if (parsed.pfx) {
      const file = this.sealer.seal(parsed.pfx.base64);
      const password = this.sealer.seal(parsed.pfx.password);
      Object.assign(secrets, {
        pfxSealed: file.ciphertext,
        pfxKeyId: file.keyId,
        pfxPasswordSealed: password.ciphertext,
        pfxPasswordKeyId: password.keyId,
      });
    }
    const row = this.dataSource.manager.create(CertificateEntity, {
      id: newId(),
      thumbprint: parsed.thumbprint,
      thumbprintSha256: parsed.thumbprintSha256,
      subject: parsed.subject,
      notBefore: parsed.notBefore,
      expiresAt: parsed.expiresAt,
      certificatePem: parsed.certificatePem,
      ...secrets,
    });
    const saved = manager
      ? await this.upsert(manager, row, secrets)
      : await this.dataSource.transaction((m) => this.upsert(m, row, secrets));
    return toView(saved, now);
  }

  async list(): Promise<CertificateView[]> {
    const now = new Date();
    const rows = await this.dataSource.manager.find(CertificateEntity, {
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return rows.map((row) => toView(row, now));
  }

  /** @throws EsdError `NOT_FOUND` */
  async get(id: string): Promise<CertificateView> {
    const row = await this.dataSource.manager.findOneBy(CertificateEntity, { id });
    if (!row) throw notFound(id);
    return toView(row, new Date());
  }

  /**
   * The certificate and its unsealed private key (PKCS#8 PEM), for the CIS client's sign-in only: never return
   * it from an API or put it in a log.
   *
   * @throws EsdError `NOT_FOUND`; `SEALED_SECRET_UNREADABLE` when the sealing key is not configured.
   */
  async loadMaterial(id: string): Promise<{ certificatePem: string; privateKeyPem: string }> {
    const row = await this.dataSource.manager
      .createQueryBuilder(CertificateEntity, 'c')
      .addSelect(['c.privateKeySealed', 'c.privateKeyKeyId'])
      .where('c.id = :id', { id })
      .getOne();
    if (!row) throw notFound(id);
    if (!row.privateKeySealed || !row.privateKeyKeyId) {
      throw new EsdError(
        EsdErrorCode.CERTIFICATE_KEY_MISSING,
        `The certificate ${row.thumbprint} is stored without its private key. Upload it again with its key.`,
      );
    }
    return {
      certificatePem: row.certificatePem,
      privateKeyPem: this.sealer.open({ ciphertext: row.privateKeySealed, keyId: row.privateKeyKeyId }),
    };
  }

  /** Inserts the row, or — when its thumbprint is stored already — re-seals the stored row's secrets. */
  private async upsert(
    m: EntityManager,
    row: CertificateEntity,
    secrets: SealedSecrets,
  ): Promise<CertificateEntity> {
    const existing = await m.findOneBy(CertificateEntity, { thumbprint: row.thumbprint });
    if (existing) return this.replaceSecrets(m, existing, secrets);
    try {
      // A savepoint: on PostgreSQL a failed statement would otherwise abort the whole (caller's) transaction.
      await m.transaction((inner) => inner.insert(CertificateEntity, row));
      return row;
    } catch (error) {
      if (!isUniqueViolation(error, 'UQ_esd_certificate_thumbprint')) throw error;
    }
    // Another upload of the same certificate won the race; it has committed, or the insert would still wait.
    const winner = await this.findCommitted(m, row.thumbprint);
    return this.replaceSecrets(m, winner, secrets);
  }

  private async replaceSecrets(
    m: EntityManager,
    existing: CertificateEntity,
    secrets: SealedSecrets,
  ): Promise<CertificateEntity> {
    await m.update(CertificateEntity, { id: existing.id }, secrets);
    return existing;
  }

  /**
   * The row by thumbprint as last committed. Inside a transaction on MariaDB (REPEATABLE READ) a plain read sees
   * the snapshot taken before the winner committed; a locking read sees the committed row. `FOR UPDATE`, because
   * TypeORM writes the shared lock as MySQL 8's `FOR SHARE`, which MariaDB does not parse, and the row is about to
   * be updated anyway. SQLite has one writer and no row locks.
   */
  private async findCommitted(m: EntityManager, thumbprint: string): Promise<CertificateEntity> {
    const query = m
      .createQueryBuilder(CertificateEntity, 'c')
      .where('c.thumbprint = :thumbprint', { thumbprint });
    if (m.queryRunner?.isTransactionActive && portableDriverOf(m.connection.options.type) !== 'sqlite') {
      query.setLock('pessimistic_write');
    }
    const row = await query.getOne();
    if (!row)
      throw new EsdError(EsdErrorCode.CONFLICT, 'The certificate was removed while it was uploaded; retry.');
    return row;
  }
}

function toView(row: CertificateEntity, now: Date): CertificateView {
  return {
    id: row.id,
    thumbprint: row.thumbprint,
    thumbprintSha256: row.thumbprintSha256,
    subject: row.subject,
    notBefore: row.notBefore.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    expiresInDays: Math.floor((row.expiresAt.getTime() - now.getTime()) / DAY_MS),
    expiryWarning: expiryWarning(row.expiresAt, now),
  };
}

function notFound(id: string): EsdError {
  return new EsdError(EsdErrorCode.NOT_FOUND, `No certificate has the id ${id}.`, { id });
}
