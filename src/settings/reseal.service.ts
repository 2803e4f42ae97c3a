import { Inject, Injectable, Logger } from '@nestjs/common';
import { Brackets, type DataSource, type EntityTarget } from 'typeorm';
import { EsdErrorCode } from '../common/error-codes';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdError } from '../common/esd-error';
import { LicenseEntity } from '../licenses/license.entity';
import { CertificateEntity } from './certificate.entity';
import { SecretSealer } from './secret-sealer';

/** What one re-seal run did, counted in sealed values (one column of one row). */
export interface ResealResult {
  /** Values moved from an older key to the current one. */
  resealed: number;
  /** Values that were under the current key already when the run started. */
  alreadyCurrent: number;
}

/** A sealed column and the key-id column beside it, by entity property. */
interface SealedField {
  value: string;
  keyId: string;
}

/** A row as the re-seal reads it: its id and its sealed and key-id columns. */
type Row = { id: string; [property: string]: string | null };

interface SealedTable {
  entity: EntityTarget<Row>;
  fields: SealedField[];
}

/** Names the sealed columns of an entity; the compiler checks the property names against the entity. */
function table<E>(
  entity: new () => E,
  fields: { value: keyof E & string; keyId: keyof E & string }[],
): SealedTable {
  return { entity, fields };
}

/** Every sealed column of the schema. A new sealed column belongs here, or a key rotation leaves it behind. */
export const SEALED_TABLES = [
  table(CertificateEntity, [
    { value: 'privateKeySealed', keyId: 'privateKeyKeyId' },
    { value: 'pfxSealed', keyId: 'pfxKeyId' },
    { value: 'pfxPasswordSealed', keyId: 'pfxPasswordKeyId' },
  ]),
  table(LicenseEntity, [
    { value: 'tokenSealed', keyId: 'tokenKeyId' },
    { value: 'activationLinkSealed', keyId: 'activationLinkKeyId' },
  ]),
];

const BATCH_SIZE = 100;

/**
 * Moves every sealed value to the current sealing key (the second step of a key rotation, docs/secrets.md).
 * Rows are read in batches by id; each row is rewritten by one UPDATE of its own (a transaction of one statement,
 * no lock held across rows), and only if the values re-sealed are still the ones read (same key ids, same
 * ciphertexts), so a value written meanwhile is never overwritten with an older one. Running it again is harmless.
 */
@Injectable()
export class ResealService {
  private readonly logger = new Logger(ResealService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
  ) {}

  /**
   * @throws EsdError `SEALED_SECRET_UNREADABLE` after moving everything it could, when some values are under a key
   *   that is not configured (or were changed): the message counts them by column and key id.
   */
  async resealAll(): Promise<ResealResult> {
    const result: ResealResult = { resealed: 0, alreadyCurrent: 0 };
    const unreadable = new Map<string, number>();
    for (const sealed of SEALED_TABLES) {
      result.alreadyCurrent += await this.countCurrent(sealed);
      result.resealed += await this.resealTable(sealed, (field, keyId) => {
        const where = `${this.columnOf(sealed, field.value)} (key id ${keyId})`;
        unreadable.set(where, (unreadable.get(where) ?? 0) + 1);
      });
    }
    if (unreadable.size > 0) {
      const list = [...unreadable].map(([where, count]) => `${count} in ${where}`).join(', ');
      throw new EsdError(
        EsdErrorCode.SEALED_SECRET_UNREADABLE,
        `${result.resealed} sealed values were moved to key id ${this.sealer.currentKeyId}, but some could not be opened: ${list}. ` +
          'Add the keys with those ids to previousSecretKeys, restart, and run the re-seal again.',
        { resealed: result.resealed, unreadable: Object.fromEntries(unreadable) },
      );
    }
    this.logger.log(
      `Re-seal done: ${result.resealed} values moved to key id ${this.sealer.currentKeyId}, ${result.alreadyCurrent} were current.`,
    );
    return result;
  }

  private async countCurrent(sealed: SealedTable): Promise<number> {
    let count = 0;
    for (const field of sealed.fields) {
      count += await this.dataSource.manager
        .createQueryBuilder(sealed.entity, 'r')
        .where(`r.${field.keyId} = :current`, { current: this.sealer.currentKeyId })
        .getCount();
    }
    return count;
  }

  private async resealTable(
    sealed: SealedTable,
    onUnreadable: (field: SealedField, keyId: string) => void,
  ): Promise<number> {
    const current = this.sealer.currentKeyId;
    let moved = 0;
    let after = '';
    for (;;) {
      const rows = await this.dataSource.manager
        .createQueryBuilder(sealed.entity, 'r')
        .select(['r.id', ...sealed.fields.flatMap((f) => [`r.${f.value}`, `r.${f.keyId}`])])
        .where('r.id > :after', { after })
        .andWhere(
          new Brackets((stale) => {
            for (const f of sealed.fields) {
              stale.orWhere(`(r.${f.keyId} IS NOT NULL AND r.${f.keyId} <> :current)`, { current });
            }
          }),
        )
        .orderBy('r.id', 'ASC')
        .limit(BATCH_SIZE)
        .getMany();
      for (const row of rows) moved += await this.resealRow(sealed, row, onUnreadable);
      if (rows.length < BATCH_SIZE) return moved;
      after = rows[rows.length - 1].id;
    }
  }

  private async resealRow(
    sealed: SealedTable,
    row: Row,
    onUnreadable: (field: SealedField, keyId: string) => void,
  ): Promise<number> {
    const updates: { field: SealedField; old: string; oldKeyId: string; next: string }[] = [];
    for (const field of sealed.fields) {
      const old = row[field.value];
      const oldKeyId = row[field.keyId];
      if (!old || !oldKeyId || this.sealer.isCurrent(oldKeyId)) continue;
      let plaintext: string;
      try {
        plaintext = this.sealer.open({ ciphertext: old, keyId: oldKeyId });
      } catch (error) {
        if (!(error instanceof EsdError) || error.code !== EsdErrorCode.SEALED_SECRET_UNREADABLE) throw error;
        onUnreadable(field, oldKeyId);
        continue;
      }
      updates.push({ field, old, oldKeyId, next: this.sealer.seal(plaintext).ciphertext });
    }
    if (updates.length === 0) return 0;
    // One statement per row, so the row changes once (one `version` step for optimistic readers), and only if
    // every value re-sealed is still the one read; otherwise it is left for the next run.
    const { affected } = await this.dataSource.manager.update(
      sealed.entity,
      Object.fromEntries([
        ['id', row.id],
        ...updates.flatMap((u) => [
          [u.field.keyId, u.oldKeyId],
          [u.field.value, u.old],
        ]),
      ]),
      Object.fromEntries(
        updates.flatMap((u) => [
          [u.field.keyId, this.sealer.currentKeyId],
          [u.field.value, u.next],
        ]),
      ),
    );
    return affected === 1 ? updates.length : 0;
  }

  private columnOf(sealed: SealedTable, property: string): string {
    const metadata = this.dataSource.getMetadata(sealed.entity);
    return `${metadata.tableName}.${metadata.findColumnWithPropertyName(property)?.databaseName ?? property}`;
  }
}
