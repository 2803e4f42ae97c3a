import { randomUUID } from 'node:crypto';
import { DataSource, In } from 'typeorm';
import type {
  CatalogStatus,
  HostCatalog,
  HostEvent,
  HostEventName,
  HostEvents,
  HostNotification,
  HostNotifier,
  HostProductInput,
  HostProductRef,
  HostProductResult,
  ProductTypeDefinition,
} from '../../src/host/ports';
import { isUniqueViolation } from '../../src/storage/db-errors';
import { HostEventRow, HostNotificationRow, HostProductRow, HostProductTypeRow } from './host.entities';
import { issueCreditNote } from './invoices';

const now = () => new Date().toISOString();

/** The reference host's catalog: products per instance, admin-owned fields never touched by updates. */
export class ReferenceHostCatalog implements HostCatalog {
  constructor(
    private readonly dataSource: DataSource,
    private readonly defaultCurrency: string,
  ) {}

  async upsertProductType(definition: ProductTypeDefinition): Promise<void> {
    await this.dataSource.getRepository(HostProductTypeRow).save({
      code: definition.code,
      name: definition.name,
      definition: JSON.stringify(definition),
      updatedAt: now(),
    });
  }

  async upsertProducts(items: HostProductInput[]): Promise<HostProductResult[]> {
    return this.dataSource.transaction(async (em) => {
      const repo = em.getRepository(HostProductRow);
      const results: HostProductResult[] = [];
      for (const item of items) {
        const existing = await repo.findOneBy({ instanceId: item.instanceId, code: item.code });
        const owned = {
          name: item.name,
          description: item.description,
          productType: item.productType,
          properties: JSON.stringify(item.properties),
          catalogStatus: item.catalogStatus,
          returnable: item.returnable,
          minQuantity: item.minQuantity,
          maxQuantity: item.maxQuantity,
          sellable: item.catalogStatus !== 'discontinued',
          updatedAt: now(),
        };
        if (existing) {
          await repo.update({ id: existing.id }, owned);
          results.push({
            instanceId: item.instanceId,
            code: item.code,
            hostProductId: existing.id,
            created: false,
          });
        } else {
          const id = randomUUID();
          await repo.insert({
            id,
            instanceId: item.instanceId,
            code: item.code,
            ...owned,
            active: item.defaults.active,
            published: item.defaults.published,
            priceMinor: item.defaults.priceMinor,
            currency: item.currency || this.defaultCurrency,
            createdAt: now(),
          });
          results.push({ instanceId: item.instanceId, code: item.code, hostProductId: id, created: true });
        }
      }
      return results;
    });
  }

  async setProductsStatus(
    refs: HostProductRef[],
    status: { catalogStatus: CatalogStatus; sellable: boolean },
  ): Promise<void> {
    const byInstance = new Map<string, string[]>();
    for (const ref of refs)
      byInstance.set(ref.instanceId, [...(byInstance.get(ref.instanceId) ?? []), ref.code]);
    for (const [instanceId, codes] of byInstance) {
      await this.dataSource
        .getRepository(HostProductRow)
        .update(
          { instanceId, code: In(codes) },
          { catalogStatus: status.catalogStatus, sellable: status.sellable, updatedAt: now() },
        );
    }
  }
}

/** Stores what the plugin asks the host to send; a dedupe key is stored (and so sent) once. */
export class ReferenceHostNotifier implements HostNotifier {
  constructor(private readonly dataSource: DataSource) {}

  async send(notification: HostNotification): Promise<void> {
    try {
      await this.dataSource.getRepository(HostNotificationRow).insert({
        id: randomUUID(),
        template: notification.template,
        toAccountId: notification.to.accountId,
        to: JSON.stringify(notification.to),
        locale: notification.locale,
        data: JSON.stringify(notification.data),
        dedupeKey: notification.dedupeKey,
        createdAt: now(),
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
}

/**
 * Stores the plugin's events; a re-delivered event id is stored once. `licenseCancelled` also issues the credit
 * note for its credit, in the event row's transaction: a re-delivery finds the row and issues nothing more, and a
 * failed credit note leaves no row, so the plugin's next delivery tries again.
 */
export class ReferenceHostEvents implements HostEvents {
  constructor(private readonly dataSource: DataSource) {}

  async publish(event: HostEvent): Promise<void> {
    try {
      await this.dataSource.transaction(async (em) => {
        await em.getRepository(HostEventRow).insert({
          id: event.id,
          name: event.name,
          payload: JSON.stringify(event.payload),
          occurredAt: event.occurredAt,
          receivedAt: now(),
        });
        if (isEvent(event, 'licenseCancelled')) await issueCreditNote(em, event.id, event.payload);
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
}

function isEvent<N extends HostEventName>(event: HostEvent, name: N): event is HostEvent<N> {
  return event.name === name;
}
