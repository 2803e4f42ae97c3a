import { createHash } from 'node:crypto';

/**
 * An offer in the CIS wire shape (cis-api.md §2). A corrupted offer keeps its `offerId` and breaks another
 * field, so catalogs hold loosely typed records: the API serves them exactly as stored.
 */
export interface VendorOffer {
  offerId: string;
  offerUri: string;
  name: string;
  shortDescription: string;
  productFamily: string;
  minQuantity: number;
  maxQuantity: number;
  isReturnable: boolean;
  status: 'Active' | 'Discontinued';
  lastModified: string;
}

/** A catalog entry as stored and served: a {@link VendorOffer}, or one with a field broken on purpose. */
export type CatalogEntry = Record<string, unknown> & { offerId: string };

/** What every market starts with until `POST /__sandbox/catalog` says otherwise. */
export const DEFAULT_CATALOG = { count: 25, seed: 1 } as const;

/** The largest catalog the control builds (offer IDs encode the index in 20 bits). */
export const MAX_CATALOG_SIZE = 100_000;

/** `changes` of `POST /__sandbox/catalog` (host-contract.md §6). */
export interface CatalogChanges {
  /** Appends n new valid offers after the generated ones. */
  add?: number;
  /** A number of distinct existing offers (picked deterministically) or their offer IDs. */
  rename?: number | string[];
  discontinue?: number | string[];
  remove?: number | string[];
  corrupt?: number | string[];
  /**
   * Offers listed a second time, at the head of the catalog (each stays in its own place too): what a listing
   * shows when offers move while it is read.
   */
  repeat?: number | string[];
}

export const CHANGE_KINDS = ['rename', 'discontinue', 'remove', 'corrupt', 'repeat'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The offer IDs each change touched, in catalog order. */
export type AffectedOffers = Record<'add' | ChangeKind, string[]>;

/** A change request the sandbox cannot honour; the control answers 400 with `code` and `message`. */
export class CatalogChangeError extends Error {
  constructor(
    readonly code: 'UnknownOffer' | 'OfferInTwoChanges' | 'NotEnoughOffers',
    message: string,
  ) {
    super(message);
  }
}

interface Localized {
  en: string;
  el: string;
}

interface ProductTemplate {
  family: string;
  slug: string;
  name: Localized;
  description: Localized;
}

// Greek names keep Microsoft's brand names in Latin letters, as the Greek storefront does, and translate
// the rest, so every el-GR name holds Greek letters and no en-* name does.
const PRODUCTS: readonly ProductTemplate[] = [
  {
    family: 'Office',
    slug: 'office-home-student-2021',
    name: { en: 'Office Home & Student 2021', el: 'Office Οικίας & Σπουδαστών 2021' },
    description: {
      en: 'Word, Excel and PowerPoint for one PC or Mac, for home use.',
      el: 'Word, Excel και PowerPoint για έναν υπολογιστή PC ή Mac, για οικιακή χρήση.',
    },
  },
  {
    family: 'Office',
    slug: 'office-home-business-2021',
    name: { en: 'Office Home & Business 2021', el: 'Office Οικίας & Επιχειρήσεων 2021' },
    description: {
      en: 'Word, Excel, PowerPoint and Outlook for one PC or Mac, with commercial use rights.',
      el: 'Word, Excel, PowerPoint και Outlook για έναν υπολογιστή PC ή Mac, με δικαίωμα επαγγελματικής χρήσης.',
    },
  },
  {
    family: 'Office',
    slug: 'office-professional-2021',
    name: { en: 'Office Professional 2021', el: 'Office Επαγγελματικό 2021' },
    description: {
      en: 'The classic Office apps plus Access and Publisher for one PC.',
      el: 'Οι κλασικές εφαρμογές Office μαζί με Access και Publisher για έναν υπολογιστή.',
    },
  },
  {
    family: 'Windows',
    slug: 'windows-11-home',
    name: { en: 'Windows 11 Home', el: 'Windows 11 Οικιακή έκδοση' },
    description: {
      en: 'The Windows 11 operating system for home PCs.',
      el: 'Το λειτουργικό σύστημα Windows 11 για οικιακούς υπολογιστές.',
    },
  },
  {
    family: 'Windows',
    slug: 'windows-11-pro',
    name: { en: 'Windows 11 Pro', el: 'Windows 11 Επαγγελματική έκδοση' },
    description: {
      en: 'Windows 11 with BitLocker, Remote Desktop and domain join for small businesses.',
      el: 'Windows 11 με BitLocker, Απομακρυσμένη επιφάνεια εργασίας και σύνδεση σε τομέα για μικρές επιχειρήσεις.',
    },
  },
  {
    family: 'Visio',
    slug: 'visio-standard-2021',
    name: { en: 'Visio Standard 2021', el: 'Visio Βασική έκδοση 2021' },
    description: {
      en: 'Diagrams and flowcharts for one PC.',
      el: 'Διαγράμματα και διαγράμματα ροής για έναν υπολογιστή.',
    },
  },
  {
    family: 'Visio',
    slug: 'visio-professional-2021',
    name: { en: 'Visio Professional 2021', el: 'Visio Επαγγελματική έκδοση 2021' },
    description: {
      en: 'Professional diagrams with shared editing for one PC.',
      el: 'Επαγγελματικά διαγράμματα με κοινόχρηστη επεξεργασία για έναν υπολογιστή.',
    },
  },
  {
    family: 'Project',
    slug: 'project-standard-2021',
    name: { en: 'Project Standard 2021', el: 'Project Βασική έκδοση 2021' },
    description: {
      en: 'Plan projects, track progress and manage resources on one PC.',
      el: 'Σχεδιασμός έργων, παρακολούθηση προόδου και διαχείριση πόρων σε έναν υπολογιστή.',
    },
  },
  {
    family: 'Project',
    slug: 'project-professional-2021',
    name: { en: 'Project Professional 2021', el: 'Project Επαγγελματική έκδοση 2021' },
    description: {
      en: 'Project management with timesheets and resource requests on one PC.',
      el: 'Διαχείριση έργων με φύλλα χρόνου και αιτήματα πόρων σε έναν υπολογιστή.',
    },
  },
  {
    family: 'Developer Tools',
    slug: 'visual-studio-professional-2022',
    name: { en: 'Visual Studio Professional 2022', el: 'Visual Studio Επαγγελματική έκδοση 2022' },
    description: {
      en: 'The integrated development environment for professional developers.',
      el: 'Το ολοκληρωμένο περιβάλλον ανάπτυξης για επαγγελματίες προγραμματιστές.',
    },
  },
];

const EDITIONS: readonly Localized[] = [
  { en: 'digital download', el: 'ψηφιακή διανομή' },
  { en: '1 PC, digital download', el: '1 υπολογιστής, ψηφιακή διανομή' },
  { en: 'all languages, digital download', el: 'όλες οι γλώσσες, ψηφιακή διανομή' },
  { en: 'electronic license', el: 'ηλεκτρονική άδεια' },
];

const RENAMED: Localized = { en: 'new edition', el: 'νέα έκδοση' };

const MAX_QUANTITIES = [10, 20, 25, 50, 100] as const;
const ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const EPOCH_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;

/**
 * The offers of a market generated from `(count, seed)`. Offer `i` depends on the seed and `i` only — a
 * bigger count keeps the smaller one as its prefix, and the same offer carries the same ID, URI, family,
 * quantities and returnability in every language and country; only the name and description are localized
 * (`el*` Greek, anything else English).
 */
export function generateOffers(input: { language: string; count: number; seed: number }): VendorOffer[] {
  const offers: VendorOffer[] = [];
  for (let i = 0; i < input.count; i++) offers.push(generateOffer(input.seed, i, input.language));
  return offers;
}

/** Offer number `index` of the catalog generated from `seed`, in `language`. */
export function generateOffer(seed: number, index: number, language: string): VendorOffer {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CATALOG_SIZE) {
    throw new RangeError(`offer index must be in [0, ${MAX_CATALOG_SIZE})`);
  }
  const random = mulberry32(hash32(`${seed}:${index}`));
  const product = PRODUCTS[Math.floor(random() * PRODUCTS.length)];
  const edition = EDITIONS[Math.floor(random() * EDITIONS.length)];
  const lang = localeOf(language);
  const offerId = offerIdFor(seed, index);
  return {
    offerId,
    offerUri: `https://cis.sandbox.esd.local/offers/${product.slug}/${offerId}`,
    name: `${product.name[lang]} (${edition[lang]})`,
    shortDescription: product.description[lang],
    productFamily: product.family,
    minQuantity: 1,
    maxQuantity: MAX_QUANTITIES[Math.floor(random() * MAX_QUANTITIES.length)],
    // One in five by position, not by chance: every prefix of a catalog keeps at least three in four
    // returnable, whatever its size.
    isReturnable: index % 5 !== 4,
    status: 'Active',
    lastModified: new Date(EPOCH_MS + Math.floor(random() * 600) * DAY_MS).toISOString(),
  };
}

/**
 * `DG7G` + four characters from the seed + four from the index, scrambled by a bijection of 20 bits: IDs
 * look like Microsoft's 12-character product IDs, never repeat inside a catalog, and are stable.
 */
export function offerIdFor(seed: number, index: number): string {
  const seedPart = hash32(`seed:${seed}`) & 0xfffff;
  const indexPart = (Math.imul(index, 747_317) + 0x5bd1) & 0xfffff;
  return `DG7G${encode20(seedPart)}${encode20(indexPart)}`;
}

/**
 * Applies `changes` to the catalog generated from `(count, seed)` (host-contract.md §6). Offers named by ID
 * are reserved first; numbers then pick distinct offers from the rest in a seeded order, in the order
 * rename, discontinue, remove, corrupt, repeat — so no offer gets two changes and the same body gives the same
 * picks. Repeated offers are listed again, in catalog order, before all others. Added offers continue the
 * generator's sequence after `count`.
 */
export function buildCatalog(input: {
  language: string;
  count: number;
  seed: number;
  changes?: CatalogChanges;
}): { offers: CatalogEntry[]; affected: AffectedOffers } {
  const base = generateOffers(input);
  const changes = input.changes ?? {};
  const affected: AffectedOffers = {
    add: [],
    rename: [],
    discontinue: [],
    remove: [],
    corrupt: [],
    repeat: [],
  };
  const kindOf = new Map<string, ChangeKind>();
  const known = new Set(base.map((o) => o.offerId));

  for (const kind of CHANGE_KINDS) {
    const named = changes[kind];
    if (!Array.isArray(named)) continue;
    for (const offerId of named) {
      if (!known.has(offerId)) {
        throw new CatalogChangeError(
          'UnknownOffer',
          `${kind}: offer ${offerId} is not in the catalog generated from count ${input.count} and seed ${input.seed}`,
        );
      }
      const earlier = kindOf.get(offerId);
      if (earlier !== undefined) {
        throw new CatalogChangeError(
          'OfferInTwoChanges',
          `offer ${offerId} is named in ${earlier === kind ? `${kind} twice` : `both ${earlier} and ${kind}`}`,
        );
      }
      kindOf.set(offerId, kind);
    }
  }

  const pool = seededShuffle(
    base.map((o) => o.offerId).filter((id) => !kindOf.has(id)),
    hash32(`changes:${input.seed}:${input.count}`),
  );
  for (const kind of CHANGE_KINDS) {
    const wanted = changes[kind];
    if (typeof wanted !== 'number') continue;
    if (wanted > pool.length) {
      throw new CatalogChangeError(
        'NotEnoughOffers',
        `${kind}: asked for ${wanted} offers, only ${pool.length} are left without a change`,
      );
    }
    for (const offerId of pool.splice(0, wanted)) kindOf.set(offerId, kind);
  }

  const offers: CatalogEntry[] = [];
  const repeated: CatalogEntry[] = [];
  let corrupted = 0;
  for (const offer of base) {
    const kind = kindOf.get(offer.offerId);
    if (kind !== undefined) affected[kind].push(offer.offerId);
    switch (kind) {
      case undefined:
        offers.push({ ...offer });
        break;
      case 'rename':
        offers.push({
          ...offer,
          name: `${offer.name} – ${RENAMED[localeOf(input.language)]}`,
          lastModified: later(offer.lastModified),
        });
        break;
      case 'discontinue':
        offers.push({ ...offer, status: 'Discontinued', lastModified: later(offer.lastModified) });
        break;
      case 'remove':
        break;
      case 'corrupt':
        offers.push(corrupt(offer, corrupted++));
        break;
      case 'repeat':
        repeated.push({ ...offer });
        offers.push({ ...offer });
        break;
    }
  }
  offers.unshift(...repeated);
  for (let i = 0; i < (changes.add ?? 0); i++) {
    const offer = generateOffer(input.seed, input.count + i, input.language);
    affected.add.push(offer.offerId);
    offers.push({ ...offer });
  }
  return { offers, affected };
}

/** The ways `corrupt` breaks an offer, in turn: each is a different reason for the client to skip it. */
export const CORRUPTIONS: ReadonlyArray<{ field: string; apply: (offer: CatalogEntry) => void }> = [
  { field: 'maxQuantity', apply: (o) => (o.maxQuantity = 'ten') },
  { field: 'name', apply: (o) => delete o.name },
  {
    field: 'minQuantity',
    apply: (o) => {
      o.minQuantity = 20;
      o.maxQuantity = 5;
    },
  },
  { field: 'status', apply: (o) => (o.status = 'Retired') },
  { field: 'isReturnable', apply: (o) => (o.isReturnable = 'yes') },
  { field: 'offerUri', apply: (o) => (o.offerUri = 42) },
];

function corrupt(offer: VendorOffer, nth: number): CatalogEntry {
  const entry: CatalogEntry = { ...offer };
  CORRUPTIONS[nth % CORRUPTIONS.length].apply(entry);
  return entry;
}

/**
 * A market's current catalog; `version` changes whenever the catalog is replaced. Never changed in place: the
 * offers route keeps each catalog's serialised pages for as long as the catalog object lives.
 */
export interface MarketCatalog {
  country: string;
  language: string;
  version: number;
  offers: readonly CatalogEntry[];
}

/**
 * The catalogs of every market, per country and language, shared by all channels (every channel has the
 * same markets). A market nobody set gets the default catalog on first use. Versions only grow, across
 * resets too, so a continuation token never outlives the catalog it was issued for.
 */
export class SandboxCatalogs {
  private readonly catalogs = new Map<string, MarketCatalog>();
  private lastVersion = 0;

  get(country: string, language: string): MarketCatalog {
    const existing = this.catalogs.get(key(country, language));
    if (existing) return existing;
    const { offers } = buildCatalog({ language, ...DEFAULT_CATALOG });
    return this.set(country, language, offers);
  }

  set(country: string, language: string, offers: readonly CatalogEntry[]): MarketCatalog {
    const catalog = { country, language, version: ++this.lastVersion, offers };
    this.catalogs.set(key(country, language), catalog);
    return catalog;
  }

  /** Every market back to its default catalog (built again on first use). */
  reset(): void {
    this.catalogs.clear();
  }
}

function key(country: string, language: string): string {
  return `${country.toUpperCase()}/${language.toLowerCase()}`;
}

function localeOf(language: string): keyof Localized {
  return language.toLowerCase().startsWith('el') ? 'el' : 'en';
}

function later(isoDate: string): string {
  return new Date(Date.parse(isoDate) + 30 * DAY_MS).toISOString();
}

function encode20(value: number): string {
  let out = '';
  for (let shift = 15; shift >= 0; shift -= 5) out += ID_ALPHABET[(value >>> shift) & 31];
  return out;
}

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** A small seeded PRNG: the same seed gives the same sequence on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function seededShuffle<T>(items: T[], seed: number): T[] {
  const random = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
