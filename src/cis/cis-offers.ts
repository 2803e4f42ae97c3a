import { randomUUID } from 'node:crypto';
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

/** One page of a listing, as the run reports progress. */
export interface CisOffersPage {
  /** 1-based. */
  page: number;
  offers: CisOfferEntry[];
  /** Entries received so far, this page included (good and malformed). */
  totalSoFar: number;
  /** The MS-RequestId of this page's call (its retries reused it). */
  requestId: string;
  /** HTTP calls this page took, retries included. */
  attempts: number;
}

/** Per-listing options. `requestId` is not taken: every page is its own operation with its own id. */
export type CisOffersOptions = Omit<CisCallOptions, 'requestId'>;

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
    const response = await client.request({
      method: 'GET',
      path: client.channelPath('/offers'),
      route: '/channels/:channelId/offers',
      query: { country: query.country, language: query.language, pageSize, continuationToken },
      requestId,
      retry: options.retry,
      parse: (body) => {
        const parsed = parseOffersPage(body);
        // A token seen before would loop forever; treat it as the garbled answer it is.
        if (parsed.continuationToken !== undefined && seenTokens.has(parsed.continuationToken)) {
          throw new CisShapeError('offers: continuationToken repeats an earlier one');
        }
        return parsed;
      },
    });
    page++;
    totalSoFar += response.data.offers.length;
    continuationToken = response.data.continuationToken;
    if (continuationToken !== undefined) seenTokens.add(continuationToken);
    yield { page, offers: response.data.offers, totalSoFar, requestId, attempts: response.attempts };
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

/**
 * One page's envelope `{ items: [...], continuationToken? }`. Throws {@link CisShapeError} when the envelope
 * is wrong; single items are checked by {@link parseCisOffer} and never throw.
 */
export function parseOffersPage(body: unknown): { offers: CisOfferEntry[]; continuationToken?: string } {
  if (!isRecord(body)) throw new CisShapeError('offers: the answer is not an object');
  if (!Array.isArray(body.items)) throw new CisShapeError('offers: items is not a list');
  const token = body.continuationToken;
  if (token !== undefined && token !== null && (typeof token !== 'string' || token.trim() === '')) {
    throw new CisShapeError('offers: continuationToken is not a non-empty string');
  }
  const offers = body.items.map((item: unknown, index) => parseCisOffer(item, index));
  return typeof token === 'string' ? { offers, continuationToken: token } : { offers };
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
