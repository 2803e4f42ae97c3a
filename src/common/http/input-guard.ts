import type { IncomingHttpHeaders } from 'node:http';

/**
 * Checks every input of the plugin (HTTP body, query and path parameters, hook arguments) has to pass before any
 * DTO transformer or database sees it. The DTOs judge the fields; these judge what no field of any DTO accepts
 * and what would otherwise reach code that cannot take it:
 *
 * - the driver: PostgreSQL answers NUL in text with an error, not a refusal;
 * - the transformer: it recurses (deep nesting exhausts the stack), throws on a Map with object keys or an array
 *   with its own `constructor`, and silently drops a key that names a member of `Object.prototype`
 *   (`__proto__`, `constructor`, `valueOf`, `hasOwnProperty`, …) — so such a key, which no DTO has, would pass
 *   `forbidNonWhitelisted` unrefused;
 * - the hooks, which take values from host code rather than parsed JSON: anything but JSON data is refused.
 */

/**
 * The deepest nesting accepted. The deepest real input is three levels (an order's `customer`, an instance
 * PATCH's `certificate`); the margin is for hosts that wrap their arguments.
 */
export const MAX_INPUT_DEPTH = 16;

const NOT_JSON = 'must be JSON data: objects, arrays, strings, numbers, booleans or null';

/** A key that names a member of every object's prototype chain: no input of the plugin has one. */
export function isPrototypeKey(key: string): boolean {
  return key === 'prototype' || Object.prototype.hasOwnProperty.call(Object.prototype, key);
}

/** What is wrong with an input, and where (a dotted path; empty for the value itself). */
export interface InputProblem {
  field: string;
  problem: string;
}

/** The first problem of those listed above in `value`, or null. Iterative, so any depth is safe to walk. */
export function inputProblem(value: unknown): InputProblem | null {
  const stack: Array<{ value: unknown; field: string; depth: number }> = [{ value, field: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: v, field, depth } = item;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { field, problem: 'must not contain NUL characters' };
      continue;
    }
    if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') {
      return { field, problem: NOT_JSON };
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_INPUT_DEPTH) {
      return { field, problem: `must not nest deeper than ${MAX_INPUT_DEPTH} levels` };
    }
    const keys = Reflect.ownKeys(v);
    if (Array.isArray(v)) {
      // Only its elements and `length`: no holes, no keys of its own.
      if (Object.getPrototypeOf(v) !== Array.prototype || keys.length !== v.length + 1) {
        return { field, problem: NOT_JSON };
      }
      v.forEach((element: unknown, i) =>
        stack.push({ value: element, field: `${field}[${i}]`, depth: depth + 1 }),
      );
      continue;
    }
    const prototype = Object.getPrototypeOf(v) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return { field, problem: NOT_JSON };
    for (const key of keys) {
      if (typeof key === 'symbol') return { field, problem: NOT_JSON };
      const at = field ? `${field}.${key}` : key;
      if (isPrototypeKey(key)) return { field: at, problem: `property ${key} should not exist` };
      if (key.includes('\u0000')) return { field, problem: 'must not have NUL characters in its keys' };
      const descriptor = Object.getOwnPropertyDescriptor(v, key);
      // An accessor is code, not data: reading it could throw or answer differently each time.
      if (!descriptor || !('value' in descriptor)) return { field: at, problem: NOT_JSON };
      stack.push({ value: descriptor.value, field: at, depth: depth + 1 });
    }
  }
  return null;
}

/** Methods whose body a plugin route may read. */
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Why a request's body cannot be read as the plugin's routes read bodies (JSON), or null. A body of another type is
 * left unparsed by the host, and a route would otherwise act as though none was sent — dropping, say, the comment
 * of an immediate cancel while executing it.
 */
export function unreadableBody(method: string, headers: IncomingHttpHeaders): string | null {
  if (!BODY_METHODS.has(method.toUpperCase())) return null;
  const hasBody = Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
  if (!hasBody) return null;
  const mediaType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' ? null : 'must be JSON, sent with Content-Type: application/json';
}
