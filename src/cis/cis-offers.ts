import { createHash, randomUUID } from 'node:crypto';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import type { CisCallOptions, CisClient } from './cis-client';
import { isRecord } from './cis-errors';
import { CisShapeError } from './cis-http';

/** Microsoft's page size limit for the offers call. */
export const MAX_OFFERS_PAGE_SIZE = 1000;
/** Page size the client asks for unless told otherwise. */
export const DEFAULT_OFFERS_PAGE_SIZE = 500;

/** The vendor statuses an offer may have. */
export const CIS_OFFER_STATUSES = ['Active', 'Discontinued'] as const;
export type CisOfferStatus = (typeof CIS_OFFER_STATUSES)[number];

/** An ESD offer of one market, in the plugin's terms (parsed and checked at the edge). */
export interface CisOffer {
  /** The ESD offer ID: the host product code. */
  offerId: string;
  offerUri: string;
  /** In the language the listing asked for. */
  name: string;
  shortDescription: string | null;
  productFamily: string | null;
  /** Whole numbers, 1 ≤ minQuantity ≤ maxQuantity. */
  minQuantity: number;
  maxQuantity: number;
  isReturnable: boolean;
  status: CisOfferStatus;
  lastModified: Date | null;
}

/**
 * One entry of a listing: a good offer, or one Microsoft sent malformed. A malformed offer never aborts the
 * listing: the catalog run skips it and logs the reason (which names fields, never their values).
 */
export type CisOfferEntry =
  | { ok: true; offer: CisOffer }
  | { ok: false; /** When the entry had a usable ID. */ offerId?: string; reason: string };

/** Which market's catalog to list. */
export interface CisOffersQuery {
  /** ISO 3166-1 alpha-2 (`GR`). */
  country: string;
  /** BCP 47 tag among the market's languages (`el-GR`): names and descriptions come in it. */
  language: string;
  /** Offers per call, 1–1000; default 500. */
  pageSize?: number;
}

/** What a page the caller knows already is read for: each entry's offer ID and vendor status. */
export interface CisOfferKey {
  offerId: string;
  status: CisOfferStatus;
}

/** One page of a listing, as the run reports progress. */
export interface CisOffersPage {
  /** 1-based. */
  page: number;
  /** Entries on this page (good and malformed). */
  size: number;
  /** Entries received so far, this page included (good and malformed). */
  totalSoFar: number;
  /** The MS-RequestId of this page's call (its retries reused it). */
  requestId: string;
  /** HTTP calls this page took, retries included. */
  attempts: number;
  /**
   * The page's fingerprint (see {@link offersPageFingerprint}): the same bytes, continuation token aside, give the
   * same fingerprint from one listing to the next. Null when the token could not be told apart in the bytes.
   */
  fingerprint: string | null;
  /**
   * Set when the fingerprint equals the one `knownPages` gave for this page's number: each entry's offer ID and
   * vendor status, read without decoding the page's texts or checking its offers (see {@link readOffersPage}).
   */
  known?: readonly CisOfferKey[];
  /** The page's entries, every offer checked; a `known` page is decoded on first read. */
  readonly offers: CisOfferEntry[];
}

/** Per-listing options. `requestId` is not taken: every page is its own operation with its own id. */
export interface CisOffersOptions extends Omit<CisCallOptions, 'requestId'> {
  /**
   * The fingerprints of an earlier listing's pages, page 1 first (null where there is none): a page whose
   * fingerprint equals the one of its number comes back `known`.
   */
  knownPages?: readonly (string | null)[];
}

/**
 * Lists a market's offers page by page, following `continuationToken` to the end. Each page is one logical
 * operation with its own MS-RequestId, reused by that page's retries. A malformed offer comes back as a
 * `{ ok: false }` entry beside the good ones; a malformed page (not an object, `items` not a list, a bad or
 * repeated token) fails the listing with CIS_MALFORMED_RESPONSE (transient: a later run may do better).
 */
export async function* listOfferPages(
  client: CisClient,
  query: CisOffersQuery,
  options: CisOffersOptions = {},
): AsyncGenerator<CisOffersPage, void, undefined> {
  const pageSize = query.pageSize ?? DEFAULT_OFFERS_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_OFFERS_PAGE_SIZE) {
    throw new EsdError(
      EsdErrorCode.VALIDATION_FAILED,
      `pageSize must be a whole number from 1 to ${MAX_OFFERS_PAGE_SIZE}.`,
    );
  }
  const seenTokens = new Set<string>();
  let continuationToken: string | undefined;
  let page = 0;
  let totalSoFar = 0;
  do {
    const requestId = randomUUID();
    const known = options.knownPages?.[page] ?? null;
    const response = await client.request({
      method: 'GET',
      path: client.channelPath('/offers'),
      route: '/channels/:channelId/offers',
      query: { country: query.country, language: query.language, pageSize, continuationToken },
      requestId,
      retry: options.retry,
      parseBytes: (body) => {
        const read = readOffersPage(body, known);
        // A token seen before would loop forever; treat it as the garbled answer it is.
        if (read.continuationToken !== undefined && seenTokens.has(read.continuationToken)) {
          throw new CisShapeError('offers: continuationToken repeats an earlier one');
        }
        return read;
      },
    });
    const read = response.data;
    page++;
    totalSoFar += read.size;
    continuationToken = read.continuationToken;
    if (continuationToken !== undefined) seenTokens.add(continuationToken);
    yield {
      page,
      size: read.size,
      totalSoFar,
      requestId,
      attempts: response.attempts,
      fingerprint: read.fingerprint,
      ...(read.known ? { known: read.known } : {}),
      get offers() {
        return read.offers;
      },
    };
  } while (continuationToken !== undefined);
}

/** Every offer of a market (all pages), good and malformed, in Microsoft's order. */
export async function listOffers(
  client: CisClient,
  query: CisOffersQuery,
  options: CisOffersOptions = {},
): Promise<CisOfferEntry[]> {
  const entries: CisOfferEntry[] = [];
  for await (const page of listOfferPages(client, query, options)) entries.push(...page.offers);
  return entries;
}

/** One page's body as read: the envelope at once, the offers checked when first asked for. */
export interface OffersPageRead {
  size: number;
  continuationToken?: string;
  fingerprint: string | null;
  known?: readonly CisOfferKey[];
  readonly offers: CisOfferEntry[];
}

/**
 * Reads one page's bytes. Given the fingerprint the page had in an earlier listing, it first reads the bytes
 * one byte per character (cheap: no UTF-8 decoding): JSON's own syntax is ASCII and no byte of a multi-byte
 * UTF-8 character is, so that read finds the same envelope, and every value made only of ASCII characters
 * comes out as a UTF-8 read gives it; other texts come out garbled and are not used. When the fingerprint is
 * the same and every entry's offer ID is ASCII and its status a known one, the page is `known`: its offers are
 * decoded and checked only if asked for. Otherwise the page is decoded as UTF-8 and every offer checked at once.
 * Throws {@link CisShapeError} when the envelope is wrong.
 */
export function readOffersPage(bytes: Buffer, knownFingerprint: string | null = null): OffersPageRead {
  if (knownFingerprint !== null) {
    const known = readKnownPage(bytes, knownFingerprint);
    if (known) return known;
  }
  const { items, continuationToken } = readUtf8Envelope(bytes);
  return {
    size: items.length,
    ...(continuationToken !== undefined ? { continuationToken } : {}),
    fingerprint: offersPageFingerprint(bytes, continuationToken),
    offers: checkedOffers(items),
  };
}

/** A page with the given fingerprint whose entries are all read for their keys, or undefined. */
function readKnownPage(bytes: Buffer, knownFingerprint: string): OffersPageRead | undefined {
  let envelope: ReturnType<typeof readEnvelope>;
  try {
    envelope = readEnvelope(parseJson(bytes.toString('latin1')));
  } catch {
    return undefined; // the UTF-8 read says what is wrong
  }
  const { items, continuationToken } = envelope;
  if (continuationToken !== undefined && !ASCII.test(continuationToken)) return undefined;
  if (offersPageFingerprint(bytes, continuationToken) !== knownFingerprint) return undefined;
  const keys: CisOfferKey[] = [];
  for (const item of items) {
    if (!isRecord(item)) return undefined;
    const { offerId, status } = item;
    if (typeof offerId !== 'string' || !ASCII.test(offerId) || offerId.trim() === '') return undefined;
    const known = CIS_OFFER_STATUSES.find((s) => s === status);
    if (known === undefined) return undefined;
    keys.push({ offerId: offerId.trim(), status: known });
  }
  let offers: CisOfferEntry[] | undefined;
  return {
    size: items.length,
    ...(continuationToken !== undefined ? { continuationToken } : {}),
    fingerprint: knownFingerprint,
    known: keys,
    get offers() {
      offers ??= checkedOffers(readUtf8Envelope(bytes).items);
      return offers;
    },
  };
}

/** Printable ASCII only (a value with anything else is read from the UTF-8 decoding). */
const ASCII = /^[ -~]*$/;

/** Marks the fingerprint's format: a change of the way it is taken changes every fingerprint. */
const FINGERPRINT_FORMAT = 'esd-offers-page/1';

/**
 * SHA-256 (base64url) over a page's bytes with the continuation token's JSON text left out, and where it was:
 * the same offers in the same order give the same fingerprint whatever token the page carried. The text left out
 * is the last one written as `JSON.stringify` writes the token that stands as the value of a `continuationToken`
 * key — so two pages with one fingerprint are the same bytes but for that one value. Null when there is none
 * (the token escaped some other way).
 */
export function offersPageFingerprint(bytes: Buffer, continuationToken: string | undefined): string | null {
  const hash = createHash('sha256');
  if (continuationToken === undefined)
    return hash.update(`${FINGERPRINT_FORMAT} last\n`).update(bytes).digest('base64url');
  const literal = Buffer.from(JSON.stringify(continuationToken), 'utf8');
  let at = bytes.lastIndexOf(literal);
  while (at >= 0 && !isTokenValueAt(bytes, at)) at = at > 0 ? bytes.lastIndexOf(literal, at - 1) : -1;
  if (at < 0) return null;
  return hash
    .update(`${FINGERPRINT_FORMAT} ${at}\n`)
    .update(bytes.subarray(0, at))
    .update(bytes.subarray(at + literal.length))
    .digest('base64url');
}

const TOKEN_KEY = Buffer.from('"continuationToken"');

/**
 * Whether the string at `at` is the value of a `continuationToken` key: `"continuationToken"`, a colon, and JSON
 * whitespace around it, just before. In a page that parsed, that quote can only open a key.
 */
function isTokenValueAt(bytes: Buffer, at: number): boolean {
  let i = skipSpaceBackwards(bytes, at - 1);
  if (i < 0 || bytes[i] !== 0x3a /* : */) return false;
  i = skipSpaceBackwards(bytes, i - 1);
  const start = i + 1 - TOKEN_KEY.length;
  return start >= 0 && TOKEN_KEY.equals(bytes.subarray(start, i + 1));
}

function skipSpaceBackwards(bytes: Buffer, from: number): number {
  let i = from;
  while (i >= 0 && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i--;
  return i;
}

/** The page decoded as UTF-8, as Microsoft writes it. */
function readUtf8Envelope(bytes: Buffer): { items: unknown[]; continuationToken?: string } {
  return readEnvelope(parseJson(bytes.toString('utf8')));
}

function checkedOffers(items: readonly unknown[]): CisOfferEntry[] {
  return items.map((item, index) => parseCisOffer(item, index));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CisShapeError('body is not JSON');
  }
}

/**
 * One page's envelope `{ items: [...], continuationToken? }`. Throws {@link CisShapeError} when the envelope
 * is wrong.
 */
function readEnvelope(body: unknown): { items: unknown[]; continuationToken?: string } {
  if (!isRecord(body)) throw new CisShapeError('offers: the answer is not an object');
  if (!Array.isArray(body.items)) throw new CisShapeError('offers: items is not a list');
  const token = body.continuationToken;
  if (token !== undefined && token !== null && (typeof token !== 'string' || token.trim() === '')) {
    throw new CisShapeError('offers: continuationToken is not a non-empty string');
  }
  return typeof token === 'string' ? { items: body.items, continuationToken: token } : { items: body.items };
}

/**
 * Maps one vendor offer to a {@link CisOffer}, or says every field that is wrong. Quantities must be JSON
 * whole numbers (a numeric string is a wrong type too); optional texts may be absent or null.
 */
export function parseCisOffer(item: unknown, index = 0): CisOfferEntry {
  if (!isRecord(item)) return { ok: false, reason: `items[${index}] is not an object` };
  const problems: string[] = [];
  const offerId = requiredText(item, 'offerId', problems);
  const offerUri = requiredText(item, 'offerUri', problems);
  const name = requiredText(item, 'name', problems);
  const shortDescription = optionalText(item, 'shortDescription', problems);
  const productFamily = optionalText(item, 'productFamily', problems);
  const minQuantity = quantity(item, 'minQuantity', problems);
  const maxQuantity = quantity(item, 'maxQuantity', problems);
  if (minQuantity !== undefined && maxQuantity !== undefined && minQuantity > maxQuantity) {
    problems.push('minQuantity is above maxQuantity');
  }
  const isReturnable = item.isReturnable;
  if (typeof isReturnable !== 'boolean')
    problems.push(`isReturnable is ${describe(isReturnable, 'a boolean')}`);
  const status = item.status;
  const knownStatus = CIS_OFFER_STATUSES.find((s) => s === status);
  if (knownStatus === undefined)
    problems.push(`status is ${describe(status, `one of ${CIS_OFFER_STATUSES.join(', ')}`)}`);
  const lastModified = date(item, 'lastModified', problems);

  if (
    problems.length > 0 ||
    offerId === undefined ||
    offerUri === undefined ||
    name === undefined ||
    minQuantity === undefined ||
    maxQuantity === undefined ||
    typeof isReturnable !== 'boolean' ||
    knownStatus === undefined ||
    lastModified === undefined
  ) {
    return { ok: false, ...(offerId !== undefined ? { offerId } : {}), reason: problems.join('; ') };
  }
  return {
    ok: true,
    offer: {
      offerId,
      offerUri,
      name,
      shortDescription: shortDescription ?? null,
      productFamily: productFamily ?? null,
      minQuantity,
      maxQuantity,
      isReturnable,
      status: knownStatus,
      lastModified,
    },
  };
}

function requiredText(item: Record<string, unknown>, field: string, problems: string[]): string | undefined {
  const value = item[field];
  if (typeof value === 'string') {
    const text = value.trim();
    if (text !== '') return text;
  }
  problems.push(`${field} is ${describe(value, 'a non-empty string')}`);
  return undefined;
}

function optionalText(
  item: Record<string, unknown>,
  field: string,
  problems: string[],
): string | null | undefined {
  const value = item[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    const text = value.trim();
    return text === '' ? null : text;
  }
  problems.push(`${field} is ${describe(value, 'a string')}`);
  return undefined;
}

function quantity(item: Record<string, unknown>, field: string, problems: string[]): number | undefined {
  const value = item[field];
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  problems.push(`${field} is ${describe(value, 'a whole number of at least 1')}`);
  return undefined;
}

function date(item: Record<string, unknown>, field: string, problems: string[]): Date | null | undefined {
  const value = item[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    // One parse: `new Date(text)` reads the text as `Date.parse` does.
    const parsed = new Date(value);
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  problems.push(`${field} is ${describe(value, 'a date')}`);
  return undefined;
}

/** "missing" or "not <expected>" — never the value itself (it goes to logs and the run's result). */
function describe(value: unknown, expected: string): string {
  return value === undefined || value === null ? 'missing' : `not ${expected}`;
}
