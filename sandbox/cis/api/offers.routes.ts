import type { Request } from 'express';
import type { MarketCatalog } from '../catalog-generator';
import type { RouteTable } from '../route-table';
import type { Market, SandboxState } from '../sandbox-state';
import type { ApiCaller } from './api-caller';
import { vendorFailure } from './vendor-error';

/** The vendor's page size limit and the size it uses when the caller names none. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;

/**
 * `GET /channels/{channelId}/offers?country&language&pageSize&continuationToken`: one page of the market's
 * catalog, `{ items, continuationToken? }` (no token on the last page). Tokens are opaque to the client:
 * base64url of the market, the catalog version and the offset, so a token from a catalog that changed
 * since (`POST /__sandbox/catalog`, reset) answers 400 `InvalidRequest` and the listing starts again.
 */
export function registerOffersRoutes(api: RouteTable<ApiCaller>, state: SandboxState): void {
  api.add('GET', '/channels/:channelId/offers', (req, caller) => {
    const fail = (message: string) => vendorFailure(400, 'InvalidRequest', message, caller.correlationId);
    const country = singleQuery(req, 'country');
    const language = singleQuery(req, 'language');
    if (!country || !language) throw fail('country and language are required.');
    const market = findMarket(state.channels.get(caller.channelId) ?? [], country, language);
    if (!market) {
      throw fail(`The channel does not sell in market ${country} / ${language}.`);
    }

    const rawSize = singleQuery(req, 'pageSize');
    const pageSize = rawSize === undefined ? DEFAULT_PAGE_SIZE : Number(rawSize);
    if (
      !/^\d+$/.test(rawSize ?? '1') ||
      !Number.isInteger(pageSize) ||
      pageSize < 1 ||
      pageSize > MAX_PAGE_SIZE
    ) {
      throw fail(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
    }

    const catalog = state.catalogs.get(market.country, market.language);
    const rawToken = singleQuery(req, 'continuationToken');
    let offset = 0;
    if (rawToken !== undefined) {
      const token = decodeToken(rawToken);
      if (!token || token.market !== marketKey(catalog)) throw fail('continuationToken is not valid.');
      if (token.version !== catalog.version) {
        throw fail(
          'continuationToken has expired: the catalog changed since the listing began; start again.',
        );
      }
      offset = token.offset;
    }

    let pages = pageCache.get(catalog);
    if (!pages) {
      pages = new Map<string, Buffer>();
      pageCache.set(catalog, pages);
    }
    const key = `${offset}/${pageSize}`;
    let body = pages.get(key);
    if (!body) {
      body = Buffer.from(JSON.stringify(pageOf(catalog, offset, pageSize)));
      pages.set(key, body);
    }
    return { body };
  });
}

/**
 * Pages of a catalog, serialised once: a catalog never changes in place (a change replaces it with a new
 * version), so a page is the same bytes every time it is asked for. Encoding a large page as UTF-8 costs the
 * sandbox more than anything else it does; Microsoft's own serving time is not the client's to measure. Old
 * versions drop out with their catalog.
 */
const pageCache = new WeakMap<MarketCatalog, Map<string, Buffer>>();

function pageOf(catalog: MarketCatalog, offset: number, pageSize: number): object {
  const end = offset + pageSize;
  const items = catalog.offers.slice(offset, end);
  if (end >= catalog.offers.length) return { items };
  return {
    items,
    continuationToken: encodeToken({ market: marketKey(catalog), version: catalog.version, offset: end }),
  };
}

/** The market of the channel matching `country` and `language` (case-insensitive), in its own spelling. */
export function findMarket(
  markets: readonly Market[],
  country: string,
  language: string,
): { country: string; language: string; currency: string } | undefined {
  const market = markets.find((m) => m.country.toUpperCase() === country.toUpperCase());
  const lang = market?.languages.find((l) => l.toLowerCase() === language.toLowerCase());
  return market && lang ? { country: market.country, language: lang, currency: market.currency } : undefined;
}

interface PageToken {
  market: string;
  version: number;
  offset: number;
}

function marketKey(catalog: MarketCatalog): string {
  return `${catalog.country}/${catalog.language}`;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify([token.market, token.version, token.offset])).toString('base64url');
}

function decodeToken(raw: string): PageToken | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [market, version, offset] = value as unknown[];
    if (typeof market !== 'string' || !Number.isInteger(version) || !Number.isInteger(offset))
      return undefined;
    if ((offset as number) < 0) return undefined;
    return { market, version: version as number, offset: offset as number };
  } catch {
    return undefined;
  }
}

function singleQuery(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  return typeof value === 'string' ? value : undefined;
}
