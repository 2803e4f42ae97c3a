import type { CisCallOptions, CisClient } from './cis-client';
import { isRecord } from './cis-errors';
import { CisShapeError, derivedRequestId } from './cis-http';
import { missingOr, requireTransactionId } from './cis-tokens';

/** What returning one license needs. The same `clientTransactionId` must always carry the same fields. */
export interface CisCreateReturnInput {
  /** The return's own idempotency key (not the token's), persisted before the call. */
  clientTransactionId: string;
  /** The client transaction id the token was bought with. */
  tokenClientTransactionId: string;
  /** Free text Microsoft keeps with the return. */
  reason?: string;
}

/** A return Microsoft accepted: the license is taken back (token ReturnAccepted) and refunded in full. */
export interface CisReturn {
  /** Microsoft's id of the return. */
  returnId: string;
  returnStatus: 'Successful';
  tokenStatus: 'ReturnAccepted';
  clientTransactionId: string;
  tokenClientTransactionId: string;
  /** True when Microsoft already had this return (200) and answered it again. */
  replayed: boolean;
}

/**
 * Returns one license (`POST /returns`), idempotent on the return's client transaction id (MS-RequestId
 * derived from it unless given). Microsoft's refusals are permanent CisErrors: `CIS_TOKEN_REDEEMED`,
 * `CIS_RETURN_WINDOW_EXPIRED`, `CIS_NOT_RETURNABLE`, `CIS_TOKEN_ALREADY_RETURNED`, `CIS_TOKEN_NOT_FOUND`,
 * `CIS_TRANSACTION_CONFLICT`. A timeout or dropped connection fails with `outcomeUnknown`, not retried
 * in-call: send the same return again (Microsoft replays it) or read the token's status first.
 */
export async function createReturn(
  client: CisClient,
  input: CisCreateReturnInput,
  options: CisCallOptions = {},
): Promise<CisReturn> {
  requireTransactionId(input.clientTransactionId, 'clientTransactionId');
  requireTransactionId(input.tokenClientTransactionId, 'tokenClientTransactionId');
  const response = await client.request({
    method: 'POST',
    path: client.channelPath('/returns'),
    route: '/channels/:channelId/returns',
    body: {
      clientTransactionId: input.clientTransactionId,
      tokenClientTransactionId: input.tokenClientTransactionId,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
    },
    requestId: options.requestId ?? derivedRequestId('return', input.clientTransactionId),
    retry: options.retry,
    parse: (body, status) => ({
      ...parseCisReturnAnswer(body),
      clientTransactionId: input.clientTransactionId,
      tokenClientTransactionId: input.tokenClientTransactionId,
      replayed: status === 200,
    }),
  });
  return response.data;
}

/** Maps `{ returnId, returnStatus: "Successful", tokenStatus: "ReturnAccepted" }`, or throws naming the fields. */
export function parseCisReturnAnswer(
  body: unknown,
): Pick<CisReturn, 'returnId' | 'returnStatus' | 'tokenStatus'> {
  if (!isRecord(body)) throw new CisShapeError('return: the answer is not an object');
  const problems: string[] = [];
  const { returnId, returnStatus, tokenStatus } = body;
  if (typeof returnId !== 'string' || returnId.trim() === '') {
    problems.push(`returnId is ${missingOr(returnId, 'a non-empty string')}`);
  }
  if (returnStatus !== 'Successful')
    problems.push(`returnStatus is ${missingOr(returnStatus, 'Successful')}`);
  if (tokenStatus !== 'ReturnAccepted') {
    problems.push(`tokenStatus is ${missingOr(tokenStatus, 'ReturnAccepted')}`);
  }
  if (problems.length > 0 || typeof returnId !== 'string') {
    throw new CisShapeError(`return: ${problems.join('; ')}`);
  }
  return { returnId, returnStatus: 'Successful', tokenStatus: 'ReturnAccepted' };
}
