import { EsdErrorCode } from '../../src/common/error-codes';
import { decodeCursor, decodeTimeCursor, encodeCursor, pageOf } from '../../src/common/pagination';

describe('cursor pagination', () => {
  it('a cursor round-trips its sort key', () => {
    expect(decodeCursor(encodeCursor(['2026-11-25T10:00:00.000Z', 'id-1']), 2)).toEqual([
      '2026-11-25T10:00:00.000Z',
      'id-1',
    ]);
    expect(decodeTimeCursor(encodeCursor(['2026-11-25T10:00:00.000Z', 'id-1'])).at.toISOString()).toBe(
      '2026-11-25T10:00:00.000Z',
    );
  });

  it.each([
    ['not base64 JSON', 'nope'],
    ['another list’s cursor (wrong size)', encodeCursor(['a'])],
    ['non-string parts', Buffer.from(JSON.stringify([1, 2])).toString('base64url')],
  ])('refuses %s with a 400 naming cursor', (_name, cursor) => {
    expect(() => decodeCursor(cursor, 2)).toThrow(
      expect.objectContaining({ code: EsdErrorCode.VALIDATION_FAILED }),
    );
  });

  it('refuses a time cursor whose time is not a time', () => {
    expect(() => decodeTimeCursor(encodeCursor(['yesterday', 'id']))).toThrow('cursor is not a cursor');
  });

  it('pageOf keeps limit rows and points the cursor at the last one only when more rows exist', () => {
    const rows = [1, 2, 3].map((n) => ({ n }));
    const more = pageOf(
      rows,
      2,
      (r) => r.n,
      (r) => [String(r.n)],
    );
    expect(more.items).toEqual([1, 2]);
    expect(decodeCursor(more.nextCursor!, 1)).toEqual(['2']);
    expect(
      pageOf(
        rows,
        3,
        (r) => r.n,
        (r) => [String(r.n)],
      ),
    ).toEqual({ items: [1, 2, 3], nextCursor: null });
  });
});
