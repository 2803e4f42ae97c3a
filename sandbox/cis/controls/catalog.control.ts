import Ajv, { type JSONSchemaType } from 'ajv';
import type { Response, Router } from 'express';
import { findMarket } from '../api/offers.routes';
import {
  buildCatalog,
  CatalogChangeError,
  MAX_CATALOG_SIZE,
  type CatalogChanges,
} from '../catalog-generator';
import type { SandboxState } from '../sandbox-state';

/** `POST /__sandbox/catalog` (host-contract.md §6). */
export interface CatalogControlRequest {
  country: string;
  language: string;
  count: number;
  seed: number;
  changes?: CatalogChanges;
}

const ajv = new Ajv({ allErrors: true });

const offerPick = {
  oneOf: [
    { type: 'integer', minimum: 0, maximum: MAX_CATALOG_SIZE },
    { type: 'array', maxItems: MAX_CATALOG_SIZE, items: { type: 'string', minLength: 1, maxLength: 100 } },
  ],
} as const;

const catalogSchema: JSONSchemaType<CatalogControlRequest> = {
  type: 'object',
  additionalProperties: false,
  required: ['country', 'language', 'count', 'seed'],
  properties: {
    country: { type: 'string', minLength: 1, maxLength: 10 },
    language: { type: 'string', minLength: 1, maxLength: 35 },
    count: { type: 'integer', minimum: 0, maximum: MAX_CATALOG_SIZE },
    seed: { type: 'integer', minimum: -2_147_483_648, maximum: 2_147_483_647 },
    changes: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [],
      properties: {
        add: { type: 'integer', nullable: true, minimum: 0, maximum: MAX_CATALOG_SIZE },
        // ajv's JSONSchemaType cannot express "integer or string list"; the oneOf above is checked as written.
        rename: offerPick as never,
        discontinue: offerPick as never,
        remove: offerPick as never,
        corrupt: offerPick as never,
        repeat: offerPick as never,
      },
    },
  },
};

const validateCatalog = ajv.compile(catalogSchema);

/**
 * `POST /__sandbox/catalog`: the market becomes the offers generated from `(count, seed)` with the changes
 * applied; answers `{ country, language, version, offers, affected }`. `GET /__sandbox/catalog?country&
 * language` shows a market's current catalog (the default one until a POST). Unknown market, an offer named
 * in two changes, an unknown offer ID or more picks than offers answer 400. Markets are those of the
 * default channel (every channel has the same).
 */
export function registerCatalogControls(
  router: Router,
  deps: { state: SandboxState; defaultChannelId: string },
): void {
  const markets = () => deps.state.channels.get(deps.defaultChannelId) ?? [];

  router.get('/catalog', (req, res) => {
    const { country, language } = req.query;
    if (typeof country !== 'string' || typeof language !== 'string') {
      refuse(res, 400, 'InvalidControlRequest', 'country and language are required, once each');
      return;
    }
    const market = findMarket(markets(), country, language);
    if (!market) {
      refuse(res, 400, 'UnknownMarket', `the channel has no market ${country} / ${language}`);
      return;
    }
    const catalog = deps.state.catalogs.get(market.country, market.language);
    res.json({
      country: market.country,
      language: market.language,
      version: catalog.version,
      offers: catalog.offers,
    });
  });

  router.post('/catalog', (req, res) => {
    const body: unknown = req.body;
    if (!validateCatalog(body)) {
      refuse(res, 400, 'InvalidControlRequest', ajv.errorsText(validateCatalog.errors, { dataVar: 'body' }));
      return;
    }
    const market = findMarket(markets(), body.country, body.language);
    if (!market) {
      refuse(res, 400, 'UnknownMarket', `the channel has no market ${body.country} / ${body.language}`);
      return;
    }
    let built: ReturnType<typeof buildCatalog>;
    try {
      built = buildCatalog({
        language: market.language,
        count: body.count,
        seed: body.seed,
        changes: body.changes,
      });
    } catch (error) {
      if (error instanceof CatalogChangeError) {
        refuse(res, 400, error.code, error.message);
        return;
      }
      throw error;
    }
    const catalog = deps.state.catalogs.set(market.country, market.language, built.offers);
    res.json({
      country: market.country,
      language: market.language,
      version: catalog.version,
      offers: catalog.offers,
      affected: built.affected,
    });
  });
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
