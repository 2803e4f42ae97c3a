import { EsdErrorCode } from './error-codes';
import { EsdError } from './esd-error';

/** A page of a list: `nextCursor` is null at the end (host contract §5). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A cursor is opaque to callers: the sort key of the last row, as a JSON list of strings. */
export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The `size` parts of a cursor this API gave out; anything else is a 400 naming `cursor`. */
export function decodeCursor(cursor: string, size: number): string[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    // NUL never occurs in a key this API gave out, and PostgreSQL answers it with an error, not an empty page.
    if (
      Array.isArray(parts) &&
      parts.length === size &&
      parts.every((p): p is string => typeof p === 'string' && !p.includes('\u0000'))
    ) {
      return parts;
    }
  } catch {
    // fall through to the refusal
  }
  throw invalidCursor();
}

/** A `[time, id]` cursor, the time checked: exactly as `toISOString` wrote it, so within every database's range. */
export function decodeTimeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = decodeCursor(cursor, 2);
  const date = new Date(at);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(at) || Number.isNaN(date.getTime())) {
    throw invalidCursor();
  }
  return { at: date, id };
}

export function invalidCursor(): EsdError {
  return new EsdError(EsdErrorCode.VALIDATION_FAILED, 'cursor is not a cursor this list gave out.', {
    fields: [{ field: 'cursor', problems: ['is not a cursor this list gave out'] }],
  });
}

/** Keyset paging: rows were read with `take(limit + 1)`; the extra row only says there is more. */
export function pageOf<R, T>(
  rows: R[],
  limit: number,
  view: (row: R) => T,
  cursorOf: (row: R) => string[],
): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(view),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}
