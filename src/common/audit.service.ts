import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { EsdPrincipal } from '../host/principal';
import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ACTOR_ROLES, AuditEventEntity, type ActorRole } from './audit-event.entity';
import { ESD_DATA_SOURCE_TOKEN } from './esd-data-source';
import { decodeTimeCursor, pageOf, type Page } from './pagination';
import { newId } from '../storage/entity-columns';

/** Who acted: a principal from a request, or the plugin itself (`system`). */
export type AuditActor = EsdPrincipal | 'system';

/** One audited action, as a caller records it. `details` must already be free of secrets. */
export interface AuditRecord {
  actor: AuditActor;
  /** Dotted verb: `instance.create`, `instance.update`, `instance.certificate_upload`, … */
  action: string;
  subjectType: string;
  subjectId: string | null;
  details?: Record<string, unknown>;
}

/** An audit event as the API answers it. */
export interface AuditEventView {
  id: string;
  at: string;
  actor: { role: ActorRole; accountId: string | null; userId: string | null };
  action: string;
  subjectType: string;
  subjectId: string | null;
  details: Record<string, unknown> | null;
}

@ApiSchema({ name: 'AuditActor' })
class AuditActorDto {
  @ApiProperty({ enum: ACTOR_ROLES }) role: ActorRole;
  @ApiProperty({ type: 'string', nullable: true }) accountId: string | null;
  @ApiProperty({ type: 'string', nullable: true }) userId: string | null;
}

/** {@link AuditEventView} as an OpenAPI schema. */
@ApiSchema({ name: 'AuditEvent' })
export class AuditEventDto implements AuditEventView {
  @ApiProperty() id: string;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ type: () => AuditActorDto }) actor: AuditActorDto;
  @ApiProperty({ example: 'instance.update' }) action: string;
  @ApiProperty({ example: 'instance' }) subjectType: string;
  @ApiProperty({ type: 'string', nullable: true }) subjectId: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Field names and non-secret values; never a secret.',
  })
  details: Record<string, unknown> | null;
}

/**
 * The audit trail (`esd_audit_event`): who did what to which subject, when. Callers pass field names and
 * non-secret values only; {@link AuditService.record} takes the caller's transaction so an audited change
 * and its audit row commit or roll back together.
 */
@Injectable()
export class AuditService {
  constructor(@Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource) {}

  async record(entry: AuditRecord, manager: EntityManager = this.dataSource.manager): Promise<void> {
    const actor = entry.actor;
    const row: Omit<AuditEventEntity, 'beforeInsert'> = {
      id: newId(),
      at: new Date(),
      actorRole: actor === 'system' ? 'system' : actor.role,
      actorAccountId: actor === 'system' ? null : actor.accountId,
      actorUserId: actor === 'system' ? null : (actor.userId ?? null),
      action: entry.action,
      subjectType: entry.subjectType,
      subjectId: entry.subjectId,
      details: entry.details ?? null,
    };
    // The JSON column's transformer takes the object; TypeORM's partial-entity type cannot express that.
    await manager.insert(AuditEventEntity, row as Parameters<EntityManager['insert']>[1]);
  }

  /** Newest first, `limit` at a time. */
  async list(
    subjectType: string,
    subjectId: string,
    page: { cursor?: string; limit?: number } = {},
  ): Promise<Page<AuditEventView>> {
    const limit = page.limit ?? 50;
    const query = this.dataSource
      .createQueryBuilder(AuditEventEntity, 'e')
      .where('e.subjectType = :subjectType AND e.subjectId = :subjectId', { subjectType, subjectId })
      .orderBy('e.at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .take(limit + 1);
    if (page.cursor !== undefined) {
      const { at, id } = decodeTimeCursor(page.cursor);
      query.andWhere('(e.at < :at OR (e.at = :at AND e.id < :id))', { at, id });
    }
    return pageOf(await query.getMany(), limit, toView, (e) => [e.at.toISOString(), e.id]);
  }
}

function toView(e: AuditEventEntity): AuditEventView {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: { role: e.actorRole, accountId: e.actorAccountId, userId: e.actorUserId },
    action: e.action,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    details: e.details,
  };
}
