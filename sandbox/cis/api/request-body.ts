import Ajv, { type ValidateFunction } from 'ajv';
import type { Request } from 'express';
import type { ApiCaller } from './api-caller';
import { vendorFailure } from './vendor-error';

/** One validator for the API's request bodies (the controls keep their own). */
export const apiAjv = new Ajv({ allErrors: true });

/**
 * What a client transaction id may look like. Microsoft's are GUIDs; the sandbox takes any short token of
 * URL-safe characters so tests may use readable ids, and never one that could pose as an object key
 * (`__proto__`) in the stats.
 */
export const CLIENT_TRANSACTION_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._~:-]{0,99}$';

/** The schema of a client transaction id, for the routes' body schemas. */
export const clientTransactionIdSchema = { type: 'string', pattern: CLIENT_TRANSACTION_ID_PATTERN } as const;

const clientTransactionIdRegex = new RegExp(CLIENT_TRANSACTION_ID_PATTERN);

export function isClientTransactionId(value: unknown): value is string {
  return typeof value === 'string' && clientTransactionIdRegex.test(value);
}

/** The validated body, or 400 `InvalidRequest` naming what is wrong (paths and rules, never values). */
export function readBody<T>(validate: ValidateFunction<T>, req: Request, caller: ApiCaller): T {
  const body: unknown = req.body;
  if (validate(body)) return body;
  throw vendorFailure(
    400,
    'InvalidRequest',
    `The request body is not valid: ${apiAjv.errorsText(validate.errors, { dataVar: 'body' })}.`,
    caller.correlationId,
  );
}

/** A field of a body not yet validated, when the body is an object. */
export function rawField(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined;
}
