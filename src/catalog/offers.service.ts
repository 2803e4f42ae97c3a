import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { AuditService, type AuditActor } from '../common/audit.service';
import { decodeCursor, pageOf, type Page } from '../common/pagination';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { toOfferView, type AcknowledgeResult, type OfferView, type OffersQueryDto } from './catalog.dto';
import { OfferEntity, type OfferCatalogStatus } from './offer.entity';

/** Why an offer cannot be acknowledged, by its catalog status. */
const NOT_ACKNOWLEDGEABLE: Partial<Record<OfferCatalogStatus, string>> = {
  current: 'already current: nothing to review',
  discontinued:
    'discontinued offers stay in their view until a later run lists them again; stop selling them instead',
};

/** The per-status offer views and the admin's acknowledgement (Managing the updated products). */
@Injectable()
export class OffersService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Offers by instance and catalog status, ordered by offer ID. */
  async list(query: OffersQueryDto): Promise<Page<OfferView>> {
    const limit = query.limit ?? 50;
    const qb = this.dataSource
      .createQueryBuilder(OfferEntity, 'o')
      .orderBy('o.offerId', 'ASC')
      .addOrderBy('o.id', 'ASC')
      .take(limit + 1);
    if (query.instanceId !== undefined)
      qb.andWhere('o.instanceId = :instanceId', { instanceId: query.instanceId });
    if (query.catalogStatus !== undefined) {
      qb.andWhere('o.catalogStatus = :status', { status: query.catalogStatus });
    }
    if (query.cursor !== undefined) {
      const [offerId, id] = decodeCursor(query.cursor, 2);
      qb.andWhere('(o.offerId > :offerId OR (o.offerId = :offerId AND o.id > :id))', { offerId, id });
    }
    return pageOf(await qb.getMany(), limit, toOfferView, (o) => [o.offerId, o.id]);
  }

  /**
   * Moves reviewed `new` / `updated` offers to `current`. Each move is conditional on the status read, so an
   * offer a run changed meanwhile stays in its view (and is reported as ignored).
   */
  async acknowledge(ids: readonly string[], actor: AuditActor): Promise<AcknowledgeResult> {
    const unique = [...new Set(ids)];
    const rows = await this.dataSource
      .getRepository(OfferEntity)
      .find({ where: { id: In(unique) }, select: { id: true, instanceId: true, catalogStatus: true } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const result: AcknowledgeResult = { acknowledged: [], ignored: [] };
    await this.dataSource.transaction(async (m) => {
      for (const id of unique) {
        const row = byId.get(id);
        if (!row) {
          result.ignored.push({ id, reason: 'no offer with this id exists' });
          continue;
        }
        const refusal = NOT_ACKNOWLEDGEABLE[row.catalogStatus];
        if (refusal !== undefined) {
          result.ignored.push({ id, reason: refusal });
          continue;
        }
        const moved = await m.update(
          OfferEntity,
          { id, catalogStatus: row.catalogStatus },
          { catalogStatus: 'current' },
        );
        if ((moved.affected ?? 0) > 0) result.acknowledged.push(id);
        else result.ignored.push({ id, reason: 'a catalog run changed it meanwhile; review it again' });
      }
      if (result.acknowledged.length > 0) {
        await this.audit.record(
          {
            actor,
            action: 'offer.acknowledge',
            subjectType: 'offer',
            subjectId: null,
            details: { ids: result.acknowledged },
          },
          m,
        );
      }
    });
    return result;
  }
}
