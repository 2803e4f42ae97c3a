/**
 * The catalog run's plain-SQL reads and inserts of `esd_offer` on each database the plugin supports: what goes
 * in comes back the same (texts, numbers, booleans, times, nulls), only the asked offers of the asked instance,
 * and keyset pages by offer ID cover every row once.
 */
import { DataSource } from 'typeorm';
import {
  countStoredOffers,
  insertOfferRows,
  readOfferKeys,
  readStoredOffers,
  type NewOfferRow,
} from '../../src/catalog/catalog-offer-store';
import { CatalogRunEntity } from '../../src/catalog/catalog-run.entity';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { InstanceEntity } from '../../src/settings/instance.entity';
import { newId } from '../../src/storage/entity-columns';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../support/databases';
import { instanceRow } from '../support/factories';

describe.each(DATABASE_KINDS)('catalog offer store on %s', (kind) => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let instanceId: string;
  let otherInstanceId: string;
  let runId: string;

  function row(offerId: string, overrides: Partial<NewOfferRow> = {}): NewOfferRow {
    return {
      id: newId(),
      instanceId,
      offerId,
      offerUri: `https://cis.example/offers/${offerId}`,
      name: `Windows 11 Επαγγελματική έκδοση ${offerId}`,
      shortDescription: null,
      productFamily: 'Windows',
      minQuantity: 1,
      maxQuantity: 25,
      isReturnable: offerId.endsWith('0'),
      vendorStatus: 'Active',
      catalogStatus: 'new',
      lastModified: new Date('2024-06-01T10:11:12.345Z'),
      contentHash: offerId.padEnd(64, '0'),
      firstSeenRunId: runId,
      lastChangedRunId: runId,
      hostProductRef: null,
      missingSince: null,
      ...overrides,
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    dataSource = new DataSource({
      ...db.dataSourceOptions,
      entities: ESD_ENTITIES,
      migrations: ESD_MIGRATIONS,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    const instances = dataSource.getRepository(InstanceEntity);
    instanceId = (await instances.save(instanceRow())).id;
    otherInstanceId = (await instances.save(instanceRow())).id;
    runId = newId();
    await dataSource.getRepository(CatalogRunEntity).insert({
      id: runId,
      instanceId,
      trigger: 'manual',
      status: 'running',
      progress: 0,
      activeInstanceId: instanceId,
      log: [],
    } as never);
  }, 60_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('stores a batch in one INSERT and reads back exactly the asked offers of the instance', async () => {
    const missing = new Date('2025-02-03T04:05:06.789Z');
    const rows = [
      row('A10'),
      row('B11', { shortDescription: 'Για μικρές επιχειρήσεις', hostProductRef: 'host-B11' }),
      row('C12', {
        vendorStatus: 'Discontinued',
        catalogStatus: 'discontinued',
        missingSince: missing,
        lastModified: null,
        productFamily: null,
        firstSeenRunId: null,
      }),
    ];
    await insertOfferRows(dataSource.manager, rows);
    await insertOfferRows(dataSource.manager, [
      row('A10', { instanceId: otherInstanceId, firstSeenRunId: null, lastChangedRunId: null }),
    ]);

    const read = await readStoredOffers(dataSource.manager, instanceId, ['C12', 'A10', 'NOPE', 'A10']);
    expect(read.map((r) => r.offerId).sort()).toEqual(['A10', 'C12']);
    const byId = new Map(read.map((r) => [r.offerId, r]));
    expect(byId.get('A10')).toEqual({
      offerId: 'A10',
      contentHash: rows[0].contentHash,
      catalogStatus: 'new',
      vendorStatus: 'Active',
      missingSince: null,
      hostProductRef: null,
      firstSeenRunId: runId,
      lastChangedRunId: runId,
    });
    expect(byId.get('C12')).toMatchObject({ catalogStatus: 'discontinued', firstSeenRunId: null });
    expect(byId.get('C12')!.missingSince?.toISOString()).toBe(missing.toISOString());

    // The entity sees every column as written.
    const b = await dataSource.getRepository(OfferEntity).findOneByOrFail({ instanceId, offerId: 'B11' });
    expect(b).toMatchObject({
      name: rows[1].name,
      shortDescription: 'Για μικρές επιχειρήσεις',
      isReturnable: false,
      maxQuantity: 25,
      hostProductRef: 'host-B11',
    });
    expect(b.lastModified?.toISOString()).toBe('2024-06-01T10:11:12.345Z');
    expect(await countStoredOffers(dataSource.manager, instanceId)).toBe(3);
    expect(await readStoredOffers(dataSource.manager, instanceId, [])).toEqual([]);
  });

  it('walks every row of the instance once, in keyset pages by offer ID', async () => {
    const ids = Array.from({ length: 23 }, (_, i) => `K${String(i).padStart(3, '0')}`);
    await insertOfferRows(
      dataSource.manager,
      ids.map((id) => row(id)),
    );
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await readOfferKeys(dataSource.manager, instanceId, after, 5);
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(5);
      for (const key of page)
        expect(Object.keys(key).sort()).toEqual([
          'catalogStatus',
          'hostProductRef',
          'lastChangedRunId',
          'offerId',
        ]);
      seen.push(...page.map((k) => k.offerId));
      after = page[page.length - 1].offerId;
    }
    const expected = ['A10', 'B11', 'C12', ...ids];
    expect(seen).toEqual([...expected].sort());
    expect(new Set(seen).size).toBe(expected.length);
  });
});
