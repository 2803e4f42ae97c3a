import Ajv, { type JSONSchemaType, type ValidateFunction } from 'ajv';
import type { FaultSpec } from '../fault-injector';
import type { SandboxConfig } from '../sandbox-state';

/** `POST /__sandbox/identities`: trust another certificate for a client (default: the sandbox's client). */
export interface IdentityRegistration {
  clientId?: string;
  certificatePem: string;
}

/** `POST /__sandbox/clock`: move the business clock forward. */
export interface ClockAdvance {
  advanceDays: number;
}

/** `POST /__sandbox/tokens/:clientTransactionId/redeem` takes no fields (an absent body is `{}`). */
export type RedeemRequest = Record<string, never>;

const ajv = new Ajv({ allErrors: true });

const faultSchema: JSONSchemaType<FaultSpec> = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    method: { type: 'string', nullable: true, pattern: '^[A-Za-z]{3,7}$' },
    path: { type: 'string', minLength: 1, maxLength: 1000 },
    status: { type: 'integer', nullable: true, minimum: 200, maximum: 599 },
    code: { type: 'string', nullable: true, minLength: 1, maxLength: 100 },
    latencyMs: { type: 'integer', nullable: true, minimum: 0, maximum: 120_000 },
    timeout: { type: 'boolean', nullable: true },
    dropAfterCommit: { type: 'boolean', nullable: true },
    malformed: { type: 'boolean', nullable: true },
    retryAfter: { type: 'integer', nullable: true, minimum: 0, maximum: 86_400 },
    times: { type: 'integer', nullable: true, minimum: 1 },
    rate: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 1 },
  },
};

const configSchema: JSONSchemaType<Partial<SandboxConfig>> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rateLimitPerMinute: { type: 'integer', nullable: true, minimum: 0, maximum: 1_000_000 },
    latencyMs: { type: 'integer', nullable: true, minimum: 0, maximum: 120_000 },
    authClockOffsetSeconds: { type: 'integer', nullable: true, minimum: -100_000_000, maximum: 100_000_000 },
    accessTokenLifetimeSeconds: { type: 'integer', nullable: true, minimum: 1, maximum: 86_400 },
  },
};

const identitySchema: JSONSchemaType<IdentityRegistration> = {
  type: 'object',
  additionalProperties: false,
  required: ['certificatePem'],
  properties: {
    clientId: { type: 'string', nullable: true, minLength: 1, maxLength: 200 },
    certificatePem: { type: 'string', minLength: 1, maxLength: 50_000 },
  },
};

const clockSchema: JSONSchemaType<ClockAdvance> = {
  type: 'object',
  additionalProperties: false,
  required: ['advanceDays'],
  properties: {
    // Forward only, up to a century: the clock never runs back behind tokens it already stamped.
    advanceDays: { type: 'number', minimum: 0, maximum: 36_500 },
  },
};

const redeemSchema: JSONSchemaType<RedeemRequest> = {
  type: 'object',
  additionalProperties: false,
  required: [],
};

const validateFaultShape = ajv.compile(faultSchema);
const validateClockShape = ajv.compile(clockSchema);
const validateRedeemShape = ajv.compile(redeemSchema);
const validateConfigShape = ajv.compile(configSchema);
const validateIdentityShape = ajv.compile(identitySchema);

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A fault body, checked beyond its shape: a known method, a regex that compiles, one outcome at most. */
export function parseFault(body: unknown): Parsed<FaultSpec> {
  const shaped = checkShape(validateFaultShape, body);
  if (!shaped.ok) return shaped;
  const fault = shaped.value;
  if (fault.method !== undefined && !METHODS.has(fault.method.toUpperCase())) {
    return { ok: false, reason: `method must be one of ${[...METHODS].join(', ')}` };
  }
  try {
    new RegExp(fault.path);
  } catch {
    return { ok: false, reason: 'path must be a valid regular expression' };
  }
  const outcomes = [
    fault.status !== undefined || fault.retryAfter !== undefined ? 'status/retryAfter' : undefined,
    fault.timeout ? 'timeout' : undefined,
    fault.dropAfterCommit ? 'dropAfterCommit' : undefined,
    fault.malformed ? 'malformed' : undefined,
  ].filter((o): o is string => o !== undefined);
  if (outcomes.length > 1)
    return { ok: false, reason: `a fault has one outcome, got ${outcomes.join(' and ')}` };
  if (outcomes.length === 0 && !fault.latencyMs) {
    return {
      ok: false,
      reason: 'a fault needs an effect: status, retryAfter, latencyMs, timeout, dropAfterCommit or malformed',
    };
  }
  if (fault.code !== undefined && fault.status === undefined && fault.retryAfter === undefined) {
    return { ok: false, reason: 'code goes with status or retryAfter' };
  }
  return { ok: true, value: fault };
}

export function parseConfig(body: unknown): Parsed<Partial<SandboxConfig>> {
  return checkShape(validateConfigShape, body);
}

export function parseIdentity(body: unknown): Parsed<IdentityRegistration> {
  const shaped = checkShape(validateIdentityShape, body);
  if (!shaped.ok) return shaped;
  if (/PRIVATE KEY/.test(shaped.value.certificatePem)) {
    return { ok: false, reason: 'certificatePem must hold the certificate only, never a private key' };
  }
  return shaped;
}

export function parseClockAdvance(body: unknown): Parsed<ClockAdvance> {
  return checkShape(validateClockShape, body);
}

/** A redeem body: nothing, or an empty object. */
export function parseRedeem(body: unknown): Parsed<RedeemRequest> {
  return checkShape(validateRedeemShape, body ?? {});
}

function checkShape<T>(validate: ValidateFunction<T>, body: unknown): Parsed<T> {
  if (validate(body)) return { ok: true, value: body };
  return { ok: false, reason: ajv.errorsText(validate.errors, { dataVar: 'body' }) };
}
