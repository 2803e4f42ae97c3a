import {
  buildCatalog,
  CatalogChangeError,
  CORRUPTIONS,
  generateOffers,
  SandboxCatalogs,
  type CatalogEntry,
} from '../../sandbox/cis/catalog-generator';

const GREEK = /[\u0370-\u03ff]/;

function ids(entries: readonly { offerId: string }[]): string[] {
  return entries.map((e) => e.offerId);
}

function changeError(run: () => unknown): CatalogChangeError {
  try {
    run();
  } catch (error) {
    if (error instanceof CatalogChangeError) return error;
    throw error;
  }
  throw new Error('expected a CatalogChangeError');
}

describe('sandbox catalog generator', () => {
  describe('generateOffers', () => {
    it('is deterministic: the same (language, count, seed) gives the same offers', () => {
      const a = generateOffers({ language: 'en-US', count: 60, seed: 7 });
      const b = generateOffers({ language: 'en-US', count: 60, seed: 7 });
      expect(b).toEqual(a);
    });

    it('keeps a smaller catalog as the prefix of a bigger one, and another seed gives other IDs', () => {
      const small = generateOffers({ language: 'en-US', count: 10, seed: 3 });
      const big = generateOffers({ language: 'en-US', count: 40, seed: 3 });
      expect(big.slice(0, 10)).toEqual(small);
      const other = generateOffers({ language: 'en-US', count: 40, seed: 4 });
      expect(ids(other).filter((id) => ids(big).includes(id))).toEqual([]);
    });

    it('gives distinct, Microsoft-looking offer IDs over a large catalog', () => {
      const offers = generateOffers({ language: 'en-US', count: 5000, seed: 1 });
      expect(new Set(ids(offers)).size).toBe(5000);
      for (const offer of offers) expect(offer.offerId).toMatch(/^DG7G[0-9A-Z]{8}$/);
      expect(new Set(offers.map((o) => o.offerUri)).size).toBe(5000);
    });

    it('generates valid Active offers: min 1, max ≥ 10, at least three in four returnable in every prefix', () => {
      const offers = generateOffers({ language: 'en-IE', count: 400, seed: 11 });
      for (const offer of offers) {
        expect(offer.status).toBe('Active');
        expect(offer.minQuantity).toBe(1);
        expect(offer.maxQuantity).toBeGreaterThanOrEqual(10);
        expect(offer.name.trim()).not.toBe('');
        expect(offer.shortDescription.trim()).not.toBe('');
        expect(offer.productFamily.trim()).not.toBe('');
        expect(Number.isNaN(Date.parse(offer.lastModified))).toBe(false);
      }
      for (let n = 1; n <= offers.length; n++) {
        const returnable = offers.slice(0, n).filter((o) => o.isReturnable).length;
        expect(returnable * 4).toBeGreaterThanOrEqual(n * 3);
      }
      // Not all returnable either: the plugin has to meet a non-returnable offer.
      expect(offers.some((o) => !o.isReturnable)).toBe(true);
    });

    it('localizes names and descriptions only: el-GR reads Greek, en-* English, the rest is the same', () => {
      const el = generateOffers({ language: 'el-GR', count: 30, seed: 5 });
      const en = generateOffers({ language: 'en-US', count: 30, seed: 5 });
      for (let i = 0; i < el.length; i++) {
        expect(el[i].name).toMatch(GREEK);
        expect(el[i].shortDescription).toMatch(GREEK);
        expect(en[i].name).not.toMatch(GREEK);
        expect(en[i].shortDescription).not.toMatch(GREEK);
        const { name: _n1, shortDescription: _d1, ...elRest } = el[i];
        const { name: _n2, shortDescription: _d2, ...enRest } = en[i];
        expect(elRest).toEqual(enRest);
      }
    });
  });

  describe('buildCatalog changes (host-contract.md §6)', () => {
    const base = { language: 'en-US', count: 40, seed: 9 };

    it('without changes is the generated catalog', () => {
      const built = buildCatalog(base);
      expect(built.offers).toEqual(generateOffers(base));
      expect(built.affected).toEqual({
        add: [],
        rename: [],
        discontinue: [],
        remove: [],
        corrupt: [],
        repeat: [],
      });
    });

    it('numbers pick distinct existing offers, deterministically, and each change does what it says', () => {
      const changes = { add: 3, rename: 4, discontinue: 5, remove: 6, corrupt: 6, repeat: 2 };
      const built = buildCatalog({ ...base, changes });
      expect(buildCatalog({ ...base, changes })).toEqual(built);

      const { affected } = built;
      const touched = [
        ...affected.rename,
        ...affected.discontinue,
        ...affected.remove,
        ...affected.corrupt,
        ...affected.repeat,
      ];
      expect(new Set(touched).size).toBe(4 + 5 + 6 + 6 + 2);
      const generated = generateOffers(base);
      const generatedIds = ids(generated);
      for (const id of touched) expect(generatedIds).toContain(id);
      expect(affected.add).toHaveLength(3);
      for (const id of affected.add) expect(generatedIds).not.toContain(id);

      const byId = new Map<string, CatalogEntry>(built.offers.map((o) => [o.offerId, o]));
      const original = new Map(generated.map((o) => [o.offerId, o]));
      expect(built.offers).toHaveLength(2 + 40 - 6 + 3);
      for (const id of affected.remove) expect(byId.has(id)).toBe(false);
      for (const id of affected.rename) {
        expect(byId.get(id)?.name).not.toBe(original.get(id)?.name);
        expect(byId.get(id)?.status).toBe('Active');
      }
      for (const id of affected.discontinue) {
        expect(byId.get(id)?.status).toBe('Discontinued');
        expect(byId.get(id)?.name).toBe(original.get(id)?.name);
      }
      // Each corruption breaks the field it names, in turn, and keeps the ID.
      affected.corrupt.forEach((id, nth) => {
        const entry = byId.get(id);
        const field = CORRUPTIONS[nth % CORRUPTIONS.length].field;
        expect(entry?.offerId).toBe(id);
        expect(entry?.[field]).not.toEqual(original.get(id)?.[field as keyof (typeof generated)[number]]);
      });
      // Repeated offers head the catalog, in catalog order, and are listed in their own place too, unchanged.
      expect(built.offers.slice(0, 2)).toEqual(affected.repeat.map((id) => original.get(id)));
      expect(ids(built.offers.slice(2)).filter((id) => affected.repeat.includes(id))).toEqual(
        affected.repeat,
      );
      // Untouched offers are exactly as generated; added ones are valid and come last.
      const untouched = generatedIds.filter((id) => !touched.includes(id));
      for (const id of [...untouched, ...affected.repeat]) expect(byId.get(id)).toEqual(original.get(id));
      expect(ids(built.offers.slice(-3))).toEqual(affected.add);
      for (const id of affected.add) expect(byId.get(id)?.status).toBe('Active');
    });

    it('offer IDs may be named; numbers then pick among the others', () => {
      const generated = ids(generateOffers(base));
      const built = buildCatalog({
        ...base,
        changes: { rename: [generated[0], generated[1]], discontinue: 30, remove: [generated[2]] },
      });
      expect(built.affected.rename).toEqual([generated[0], generated[1]]);
      expect(built.affected.remove).toEqual([generated[2]]);
      expect(built.affected.discontinue).toHaveLength(30);
      expect(built.affected.discontinue).not.toContain(generated[0]);
      expect(built.affected.discontinue).not.toContain(generated[2]);
    });

    it('renames in the catalog language', () => {
      const built = buildCatalog({ language: 'el-GR', count: 10, seed: 2, changes: { rename: 3 } });
      const original = new Map(
        generateOffers({ language: 'el-GR', count: 10, seed: 2 }).map((o) => [o.offerId, o]),
      );
      for (const id of built.affected.rename) {
        const renamed = built.offers.find((o) => o.offerId === id);
        expect(renamed?.name).toMatch(GREEK);
        expect(renamed?.name).not.toBe(original.get(id)?.name);
      }
    });

    it('refuses an offer named in two changes, or twice in one, an unknown ID and too many picks', () => {
      const [a] = ids(generateOffers(base));
      expect(changeError(() => buildCatalog({ ...base, changes: { rename: [a], corrupt: [a] } })).code).toBe(
        'OfferInTwoChanges',
      );
      expect(changeError(() => buildCatalog({ ...base, changes: { remove: [a, a] } })).code).toBe(
        'OfferInTwoChanges',
      );
      expect(changeError(() => buildCatalog({ ...base, changes: { rename: ['NOPE'] } })).code).toBe(
        'UnknownOffer',
      );
      expect(changeError(() => buildCatalog({ ...base, changes: { rename: 20, remove: 21 } })).code).toBe(
        'NotEnoughOffers',
      );
      // All 40 taken exactly is fine.
      expect(buildCatalog({ ...base, changes: { rename: 20, remove: 20 } }).offers).toHaveLength(20);
    });
  });

  describe('SandboxCatalogs', () => {
    it('starts every market on the default catalog and bumps the version on every change, across resets', () => {
      const catalogs = new SandboxCatalogs();
      const first = catalogs.get('GR', 'el-GR');
      expect(first.offers).toHaveLength(25);
      expect(catalogs.get('gr', 'EL-gr')).toBe(first);
      const replaced = catalogs.set('GR', 'el-GR', []);
      expect(replaced.version).toBeGreaterThan(first.version);
      catalogs.reset();
      const again = catalogs.get('GR', 'el-GR');
      expect(again.offers).toEqual(first.offers);
      expect(again.version).toBeGreaterThan(replaced.version);
    });
  });
});
