import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import type { CisCallOptions, CisClient } from './cis-client';
import { CisError, isRecord } from './cis-errors';
import { CisShapeError, derivedRequestId } from './cis-http';

/** The vendor statuses a license token may have: Activated, then Redeemed or ReturnAccepted. */
export const CIS_TOKEN_STATUSES = ['Activated', 'Redeemed', 'ReturnAccepted'] as const;
export type CisTokenStatus = (typeof CIS_TOKEN_STATUSES)[number];

/** The most transaction ids Microsoft takes in one status call; longer lists are split. */
export const MAX_TOKEN_STATUS_BATCH = 100;

/** The end customer a license is bought for, as Microsoft records it. */
export interface CisEndCustomer {
  name: string;
  email?: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

/** What buying one license needs. The same `clientTransactionId` must always carry the same fields. */
export interface CisCreateTokenInput {
  /** The license's idempotency key, persisted before the call and sent again on every retry. */
  clientTransactionId: string;
  offerId: string;
  /** The market: ISO 3166-1 alpha-2 country and a BCP 47 language of it. */
  country: string;
  language: string;
  endCustomer: CisEndCustomer;
}

/**
 * A license token in the plugin's terms. `productKey` and `activationLink` are secrets: seal them before
 * storing, never log them, never put them in an error.
 */
export interface CisToken {
  /** Microsoft's id of the transaction. */
  transactionId: string;
  clientTransactionId: string;
  offerId: string;
  /** The 5x5 product key (`XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`, upper case); Microsoft's field `token`. */
  productKey: string;
  /** The https link the customer activates with; carries the client transaction id as `ctid`. */
  activationLink: string;
  tokenStatus: CisTokenStatus;
  createdAt: Date;
}

/** A token as `createToken` answers it. */
export interface CisCreatedToken extends CisToken {
  /** True when Microsoft already had this transaction (200) and answered the token it made then. */
  replayed: boolean;
}

/** One entry of a status call; transaction ids Microsoft does not know are simply absent. */
export interface CisTokenStatusItem {
  clientTransactionId: string;
  tokenStatus: CisTokenStatus;
  /** When the customer redeemed the key, if Microsoft said. */
  redeemedAt: Date | null;
}

/** Status lookups are one operation per batch of 100, each with its own MS-RequestId. */
export type CisTokenStatusOptions = Omit<CisCallOptions, 'requestId'>;

const TOKENS_ROUTE = '/channels/:channelId/tokens';
const PRODUCT_KEY = /^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$/;

/**
 * Buys one license token (`POST /tokens`). 201 and a 200 replay both answer the token. MS-RequestId
 * defaults to one derived from the client transaction id, so job retries share it. A timeout or dropped
 * connection fails with `outcomeUnknown` and is not retried in-call: look the token up ({@link getToken})
 * before sending it again.
 */
export async function createToken(
  client: CisClient,
  input: CisCreateTokenInput,
  options: CisCallOptions = {},
): Promise<CisCreatedToken> {
  requireTransactionId(input.clientTransactionId, 'clientTransactionId');
  const response = await client.request({
    method: 'POST',
    path: client.channelPath('/tokens'),
    route: TOKENS_ROUTE,
    body: tokenRequestBody(input),
    requestId: options.requestId ?? derivedRequestId('token', input.clientTransactionId),
    retry: options.retry,
    parse: (body, status) => ({
      ...parseCisToken(body, input.clientTransactionId),
      replayed: status === 200,
    }),
  });
  return response.data;
}

/**
 * The token of a transaction, or null when Microsoft never created it (404 `TokenNotFound`): the answer
 * reconciliation needs after an unknown outcome. Every other failure throws.
 */
export async function getToken(
  client: CisClient,
  clientTransactionId: string,
  options: CisCallOptions = {},
): Promise<CisToken | null> {
  requireTransactionId(clientTransactionId, 'clientTransactionId');
  try {
    const response = await client.request({
      method: 'GET',
      path: client.channelPath(`/tokens/${encodeURIComponent(clientTransactionId)}`),
      route: `${TOKENS_ROUTE}/:clientTransactionId`,
      requestId: options.requestId,
      retry: options.retry,
      parse: (body) => parseCisToken(body, clientTransactionId),
    });
    return response.data;
  } catch (error) {
    if (error instanceof CisError && error.code === EsdErrorCode.CIS_TOKEN_NOT_FOUND) return null;
    throw error;
  }
}

/**
 * The status of many tokens, in calls of at most {@link MAX_TOKEN_STATUS_BATCH} (one after another, to
 * stay inside the channel's rate limit). Duplicates are asked once; unknown ids are absent from the answer.
 */
export async function getTokenStatuses(
  client: CisClient,
  clientTransactionIds: readonly string[],
  options: CisTokenStatusOptions = {},
): Promise<CisTokenStatusItem[]> {
  const ids = [...new Set(clientTransactionIds)];
  ids.forEach((id, index) => requireTransactionId(id, `clientTransactionIds[${index}]`));
  const items: CisTokenStatusItem[] = [];
  for (let start = 0; start < ids.length; start += MAX_TOKEN_STATUS_BATCH) {
    const batch = ids.slice(start, start + MAX_TOKEN_STATUS_BATCH);
    const response = await client.request({
      method: 'POST',
      path: client.channelPath('/tokens/status'),
      route: `${TOKENS_ROUTE}/status`,
      body: { clientTransactionIds: batch },
      // A lookup: safe to send again whatever happened to the first try.
      write: false,
      retry: options.retry,
      parse: (body) => parseTokenStatuses(body, new Set(batch)),
    });
    items.push(...response.data);
  }
  return items;
}

/**
 * Maps Microsoft's `Token` to a {@link CisToken}, or throws {@link CisShapeError} naming every wrong field
 * (never a value: the key and link are secrets). With `expectedClientTransactionId`, a token of another
 * transaction is refused too.
 */
export function parseCisToken(body: unknown, expectedClientTransactionId?: string): CisToken {
  if (!isRecord(body)) throw new CisShapeError('token: the answer is not an object');
  const problems: string[] = [];
  const transactionId = text(body, 'transactionId', problems);
  const clientTransactionId = text(body, 'clientTransactionId', problems);
  const offerId = text(body, 'offerId', problems);
  const productKey = productKeyOf(body.token, problems);
  const activationLink = httpsLink(body.activationLink, problems);
  const tokenStatus = statusOf(body.tokenStatus, 'tokenStatus', problems);
  const createdAt = dateOf(body.createdAt, 'createdAt', problems);
  if (
    clientTransactionId !== undefined &&
    expectedClientTransactionId !== undefined &&
    clientTransactionId !== expectedClientTransactionId
  ) {
    problems.push('clientTransactionId is not the one asked for');
  }
  if (
    problems.length > 0 ||
    transactionId === undefined ||
    clientTransactionId === undefined ||
    offerId === undefined ||
    productKey === undefined ||
    activationLink === undefined ||
    tokenStatus === undefined ||
    createdAt === undefined
  ) {
    throw new CisShapeError(`token: ${problems.join('; ')}`);
  }
  return { transactionId, clientTransactionId, offerId, productKey, activationLink, tokenStatus, createdAt };
}

/** Maps `{ items: [{ clientTransactionId, tokenStatus, redeemedAt? }] }`; an id not asked for is malformed. */
export function parseTokenStatuses(body: unknown, asked?: ReadonlySet<string>): CisTokenStatusItem[] {
  if (!isRecord(body)) throw new CisShapeError('token statuses: the answer is not an object');
  if (!Array.isArray(body.items)) throw new CisShapeError('token statuses: items is not a list');
  return body.items.map((item: unknown, index) => {
    if (!isRecord(item)) throw new CisShapeError(`token statuses: items[${index}] is not an object`);
    const problems: string[] = [];
    const clientTransactionId = text(item, 'clientTransactionId', problems);
    const tokenStatus = statusOf(item.tokenStatus, 'tokenStatus', problems);
    const redeemedAt =
      item.redeemedAt === undefined || item.redeemedAt === null
        ? null
        : dateOf(item.redeemedAt, 'redeemedAt', problems);
    if (clientTransactionId !== undefined && asked !== undefined && !asked.has(clientTransactionId)) {
      problems.push('clientTransactionId was not asked for');
    }
    if (
      problems.length > 0 ||
      clientTransactionId === undefined ||
      tokenStatus === undefined ||
      redeemedAt === undefined
    ) {
      throw new CisShapeError(`token statuses: items[${index}]: ${problems.join('; ')}`);
    }
    return { clientTransactionId, tokenStatus, redeemedAt };
  });
}

/** The vendor body, with only the fields Microsoft takes (an absent email stays absent). */
function tokenRequestBody(input: CisCreateTokenInput): Record<string, unknown> {
  const { name, email, country } = input.endCustomer;
  return {
    clientTransactionId: input.clientTransactionId,
    offerId: input.offerId,
    country: input.country,
    language: input.language,
    endCustomer: email === undefined ? { name, country } : { name, email, country },
  };
}

/** A caller's slip (an empty id would address another route); refused before any call. */
export function requireTransactionId(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new EsdError(EsdErrorCode.VALIDATION_FAILED, `${field} must be a non-empty string.`);
  }
}

function text(item: Record<string, unknown>, field: string, problems: string[]): string | undefined {
  const value = item[field];
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.push(`${field} is ${missingOr(value, 'a non-empty string')}`);
  return undefined;
}

function productKeyOf(value: unknown, problems: string[]): string | undefined {
  if (typeof value === 'string' && PRODUCT_KEY.test(value.trim().toUpperCase())) {
    return value.trim().toUpperCase();
  }
  problems.push(`token is ${missingOr(value, 'a 5x5 product key')}`);
  return undefined;
}

function httpsLink(value: unknown, problems: string[]): string | undefined {
  if (typeof value === 'string' && URL.canParse(value) && new URL(value).protocol === 'https:') return value;
  problems.push(`activationLink is ${missingOr(value, 'an https URL')}`);
  return undefined;
}

function statusOf(value: unknown, field: string, problems: string[]): CisTokenStatus | undefined {
  const known = CIS_TOKEN_STATUSES.find((s) => s === value);
  if (known === undefined) {
    problems.push(`${field} is ${missingOr(value, `one of ${CIS_TOKEN_STATUSES.join(', ')}`)}`);
  }
  return known;
}

function dateOf(value: unknown, field: string, problems: string[]): Date | undefined {
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value);
  problems.push(`${field} is ${missingOr(value, 'a date')}`);
  return undefined;
}

/** "missing" or "not <expected>" — never the value itself. */
export function missingOr(value: unknown, expected: string): string {
  return value === undefined || value === null ? 'missing' : `not ${expected}`;
}
