import type { JSONSchemaType } from 'ajv';
import type { Request } from 'express';
import type { Reply, RouteTable } from '../route-table';
import type { SandboxState } from '../sandbox-state';
import { type SandboxToken, tokenToWire } from '../token-ledger';
import type { ApiCaller } from './api-caller';
import { findMarket } from './offers.routes';
import { apiAjv, clientTransactionIdSchema, isClientTransactionId, rawField, readBody } from './request-body';
import { vendorFailure } from './vendor-error';

/** The most transaction ids one status call takes. */
export const MAX_STATUS_BATCH = 100;

/** `POST /channels/{channelId}/tokens` (cis-api.md §2). */
export interface TokenRequestBody {
  clientTransactionId: string;
  offerId: string;
  country: string;
  language: string;
  endCustomer: { name: string; email?: string; country: string };
}

interface StatusRequestBody {
  clientTransactionIds: string[];
}

const countryCode = { type: 'string', pattern: '^[A-Za-z]{2}$' } as const;

const tokenRequestSchema: JSONSchemaType<TokenRequestBody> = {
  type: 'object',
  additionalProperties: false,
  required: ['clientTransactionId', 'offerId', 'country', 'language', 'endCustomer'],
  properties: {
    clientTransactionId: clientTransactionIdSchema,
    offerId: { type: 'string', minLength: 1, maxLength: 100 },
    country: countryCode,
    language: { type: 'string', minLength: 2, maxLength: 35 },
    endCustomer: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'country'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
        email: { type: 'string', nullable: true, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
        country: countryCode,
      },
    },
  },
};

const statusRequestSchema: JSONSchemaType<StatusRequestBody> = {
  type: 'object',
  additionalProperties: false,
  required: ['clientTransactionIds'],
  properties: {
    clientTransactionIds: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_STATUS_BATCH,
      items: clientTransactionIdSchema,
    },
  },
};

const validateTokenRequest = apiAjv.compile(tokenRequestSchema);
const validateStatusRequest = apiAjv.compile(statusRequestSchema);

/**
 * The token routes (cis-api.md §2): buy a license token, idempotent on the client transaction id; look one
 * up; read the status of up to 100. Tokens belong to the channel they were bought on: another channel's
 * transaction id is unknown here (404), as Microsoft keeps each Bill-To account's transactions apart.
 */
export function registerTokensRoutes(api: RouteTable<ApiCaller>, state: SandboxState): void {
  api.add('POST', '/channels/:channelId/tokens', (req, caller) => createToken(req, caller, state));

  api.add('POST', '/channels/:channelId/tokens/status', (req, caller) => {
    const body = readBody(validateStatusRequest, req, caller);
    const items = [...new Set(body.clientTransactionIds)].flatMap((id) => {
      const token = state.ledger.token(caller.channelId, id);
      return token ? [statusItem(token)] : [];
    });
    return { body: { items } };
  });

  api.add('GET', '/channels/:channelId/tokens/:clientTransactionId', (req, caller) => {
    const id = req.params.clientTransactionId;
    const token = typeof id === 'string' ? state.ledger.token(caller.channelId, id) : undefined;
    if (!token) {
      throw vendorFailure(
        404,
        'TokenNotFound',
        'No token exists for this client transaction id.',
        caller.correlationId,
      );
    }
    return { body: tokenToWire(token) };
  });
}

/**
 * Order of checks: the body's shape (400), then the transaction id — a replay answers 200 with the token
 * whatever happened to the offer since, another body 409 — and only for a new transaction the market
 * (400), the offer (404) and its status (400 OfferDiscontinued).
 */
function createToken(req: Request, caller: ApiCaller, state: SandboxState): Reply {
  const rawId = rawField(req.body, 'clientTransactionId');
  if (isClientTransactionId(rawId)) state.countTokenRequest(rawId);
  const body = readBody(validateTokenRequest, req, caller);
  const fingerprint = tokenFingerprint(body);
  const existing = state.ledger.token(caller.channelId, body.clientTransactionId);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      throw vendorFailure(
        409,
        'ClientTransactionIdConflict',
        'This client transaction id was already used with a different request.',
        caller.correlationId,
      );
    }
    return { status: 200, body: tokenToWire(existing) };
  }

  const market = findMarket(state.channels.get(caller.channelId) ?? [], body.country, body.language);
  if (!market) {
    throw vendorFailure(
      400,
      'InvalidRequest',
      `The channel does not sell in market ${body.country} / ${body.language}.`,
      caller.correlationId,
    );
  }
  const offer = state.catalogs
    .get(market.country, market.language)
    .offers.find((o) => o.offerId === body.offerId);
  if (!offer) {
    throw vendorFailure(
      404,
      'OfferNotFound',
      `Offer ${body.offerId} is not sold in market ${market.country} / ${market.language}.`,
      caller.correlationId,
    );
  }
  if (offer.status === 'Discontinued') {
    throw vendorFailure(
      400,
      'OfferDiscontinued',
      `Offer ${body.offerId} is discontinued.`,
      caller.correlationId,
    );
  }
  const token = state.ledger.createToken({
    channelId: caller.channelId,
    clientTransactionId: body.clientTransactionId,
    offerId: body.offerId,
    returnable: offer.isReturnable === true,
    fingerprint,
    now: state.clock.now(),
  });
  state.stats.tokensCreated += 1;
  return { status: 201, body: tokenToWire(token) };
}

function statusItem(token: SandboxToken): Record<string, string> {
  return {
    clientTransactionId: token.clientTransactionId,
    tokenStatus: token.tokenStatus,
    ...(token.redeemedAt ? { redeemedAt: token.redeemedAt.toISOString() } : {}),
  };
}

/** "The same body": every field as sent, in a fixed order (an absent email and a null one are alike). */
function tokenFingerprint(body: TokenRequestBody): string {
  const c = body.endCustomer;
  return JSON.stringify([body.offerId, body.country, body.language, c.name, c.email ?? null, c.country]);
}
