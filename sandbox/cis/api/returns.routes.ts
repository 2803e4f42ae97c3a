import type { JSONSchemaType } from 'ajv';
import type { Request } from 'express';
import { DAY_MS } from '../business-clock';
import type { Reply, RouteTable } from '../route-table';
import type { SandboxState } from '../sandbox-state';
import type { SandboxToken } from '../token-ledger';
import type { ApiCaller } from './api-caller';
import { apiAjv, clientTransactionIdSchema, readBody } from './request-body';
import { vendorFailure } from './vendor-error';

/** Microsoft takes perpetual software back within 30 days of the sale (cis-api.md §2). */
export const RETURN_WINDOW_DAYS = 30;

/** `POST /channels/{channelId}/returns` (cis-api.md §2). */
export interface ReturnRequestBody {
  /** The return's own idempotency key. */
  clientTransactionId: string;
  /** The token being returned. */
  tokenClientTransactionId: string;
  reason?: string;
}

const returnRequestSchema: JSONSchemaType<ReturnRequestBody> = {
  type: 'object',
  additionalProperties: false,
  required: ['clientTransactionId', 'tokenClientTransactionId'],
  properties: {
    clientTransactionId: clientTransactionIdSchema,
    tokenClientTransactionId: clientTransactionIdSchema,
    reason: { type: 'string', nullable: true, maxLength: 500 },
  },
};

const validateReturnRequest = apiAjv.compile(returnRequestSchema);

/**
 * Returns a token of the caller's channel, idempotent on the return's own client transaction id: the same
 * body again answers 200 with the first answer, another body 409. Order of checks: body (400), replay or
 * conflict, token (404 `TokenNotFound`), then 422 `TokenAlreadyReturned` (a token another return took
 * back), `NotReturnable` (the offer's terms when sold), `TokenRedeemed`, `ReturnWindowExpired` (30 days
 * from creation, by the business clock). A refused return is not recorded: the same id may try again.
 */
export function registerReturnsRoutes(api: RouteTable<ApiCaller>, state: SandboxState): void {
  api.add('POST', '/channels/:channelId/returns', (req, caller) => createReturn(req, caller, state));
}

function createReturn(req: Request, caller: ApiCaller, state: SandboxState): Reply {
  const body = readBody(validateReturnRequest, req, caller);
  const fingerprint = JSON.stringify([body.tokenClientTransactionId, body.reason ?? null]);
  const existing = state.ledger.return(caller.channelId, body.clientTransactionId);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      throw vendorFailure(
        409,
        'ClientTransactionIdConflict',
        'This client transaction id was already used for a different return.',
        caller.correlationId,
      );
    }
    return { status: 200, body: existing.answer };
  }

  const token = state.ledger.token(caller.channelId, body.tokenClientTransactionId);
  if (!token) {
    throw vendorFailure(
      404,
      'TokenNotFound',
      'No token exists for this client transaction id.',
      caller.correlationId,
    );
  }
  const refusal = returnRefusal(token, state.clock.now());
  if (refusal) throw vendorFailure(422, refusal.code, refusal.message, caller.correlationId);

  const recorded = state.ledger.acceptReturn({
    token,
    clientTransactionId: body.clientTransactionId,
    fingerprint,
  });
  state.stats.returnsCreated += 1;
  return { status: 201, body: recorded.answer };
}

function returnRefusal(token: SandboxToken, now: Date): { code: string; message: string } | undefined {
  if (token.tokenStatus === 'ReturnAccepted') {
    return { code: 'TokenAlreadyReturned', message: 'The token has already been returned.' };
  }
  if (!token.returnable) {
    return { code: 'NotReturnable', message: `Offer ${token.offerId} does not accept returns.` };
  }
  if (token.tokenStatus === 'Redeemed') {
    return { code: 'TokenRedeemed', message: 'The token has been redeemed and cannot be returned.' };
  }
  if (now.getTime() - token.createdAt.getTime() > RETURN_WINDOW_DAYS * DAY_MS) {
    return {
      code: 'ReturnWindowExpired',
      message: `The ${RETURN_WINDOW_DAYS}-day return window of this token has passed.`,
    };
  }
  return undefined;
}
