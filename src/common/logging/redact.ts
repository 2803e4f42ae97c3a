/** What a secret field's value is replaced with in a log record. */
export const REDACTED = '[redacted]';

/**
 * Field names whose values never reach a log, compared without case and without `_` or `-` (so `access_token`
 * and `Private-Key-PEM` match too). Redaction is by name only: a value is never inspected, so a secret under an
 * innocent name is the caller's bug, and no pattern can blank a harmless value by accident.
 */
export const SECRET_FIELD_NAMES: readonly string[] = [
  'productKey',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'activationLink',
  'privateKey',
  'privateKeyPem',
  'pfxBase64',
  'password',
  'pfxPassword',
  'secretKey',
  'clientSecret',
  'authorization',
  'clientAssertion',
];

const normalise = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');
const SECRET_NAMES = new Set(SECRET_FIELD_NAMES.map(normalise));
const MAX_DEPTH = 12;

/** Whether a field of this name is redacted. */
export function isSecretFieldName(name: string): boolean {
  return SECRET_NAMES.has(normalise(name));
}

/**
 * A copy of `value` for a log record, every field named in {@link SECRET_FIELD_NAMES} (at any depth, in objects,
 * arrays, errors and maps) replaced with {@link REDACTED}. Objects become plain objects; errors keep their name,
 * message and stack; cycles and excessive depth are cut. The input is never changed.
 */
export function redact(value: unknown): unknown {
  return walk(value, new WeakSet<object>(), 0);
}

function walk(value: unknown, ancestors: WeakSet<object>, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (ancestors.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[depth limit]';
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item: unknown) => walk(item, ancestors, depth + 1));
    if (value instanceof Map)
      return fields(
        [...value.entries()].map(([k, v]) => [String(k), v]),
        ancestors,
        depth,
      );
    if (value instanceof Set) return [...value].map((item: unknown) => walk(item, ancestors, depth + 1));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function' && !(value instanceof Error)) {
      return walk(toJSON.call(value), ancestors, depth + 1);
    }
    const own = Object.entries(value);
    if (value instanceof Error) {
      // An error's own fields (an HTTP client's `config.headers`) are walked like any object's.
      return fields(
        [['name', value.name], ['message', value.message], ['stack', value.stack], ...own],
        ancestors,
        depth,
      );
    }
    return fields(own, ancestors, depth);
  } finally {
    ancestors.delete(value);
  }
}

function fields(
  entries: Array<[string, unknown]>,
  ancestors: WeakSet<object>,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (item === undefined) continue;
    // Defined, not assigned: a key named `__proto__` stays a field instead of becoming the prototype.
    Object.defineProperty(out, key, {
      value: isSecretFieldName(key) ? REDACTED : walk(item, ancestors, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
