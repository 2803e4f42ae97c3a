/**
 * Malformed vendor answers (issue 9, item 3): whatever Microsoft's API sends back — garbage, a valid answer with a
 * field missing, or a field of the wrong type — every parser in `src/cis/` either returns a value of the right
 * shape or throws `CisShapeError` naming what was wrong. Never another exception (a crash in the worker), never a
 * half-checked value, and never a secret echoed in the reason.
 */
import fc from 'fast-check';
import { CisShapeError } from '../../src/cis/cis-http';
import { parseCisOffer, readOffersPage } from '../../src/cis/cis-offers';
import { parseCisReturnAnswer } from '../../src/cis/cis-returns';
import { CIS_TOKEN_STATUSES, parseCisToken, parseTokenStatuses } from '../../src/cis/cis-tokens';

const RUNS = 400;
const KEY = 'B7Q2M-X9KDP-4HT6R-W3NCF-8JVYA';
const LINK = 'https://activate.example.test/esd?ctid=6a1f0c7e-0d1b-4b8e-9f55-3f1f4d2a9c10';

const VALID_TOKEN = {
  transactionId: 'tx-1',
  clientTransactionId: '6a1f0c7e-0d1b-4b8e-9f55-3f1f4d2a9c10',
  offerId: 'DG7GMGF0D5RK:0002',
  token: KEY,
  activationLink: LINK,
  tokenStatus: 'Activated',
  createdAt: '2026-12-05T08:00:00.000Z',
};
const VALID_OFFER = {
  offerId: 'DG7GMGF0D5RK:0002',
  offerUri: 'https://catalog.example.test/offers/DG7GMGF0D5RK:0002',
  name: 'Office Home 2024',
  shortDescription: 'Word, Excel, PowerPoint',
  productFamily: 'Office',
  minQuantity: 1,
  maxQuantity: 10,
  isReturnable: true,
  status: 'Active',
  lastModified: '2026-11-01T00:00:00.000Z',
};
const VALID_RETURN = { returnId: 'ret-1', returnStatus: 'Successful', tokenStatus: 'ReturnAccepted' };
const VALID_STATUSES = {
  items: [
    { clientTransactionId: VALID_TOKEN.clientTransactionId, tokenStatus: 'Redeemed', redeemedAt: null },
  ],
};

/** A value of any JSON-ish type, the oddities included (prototype-named keys, NaN, huge numbers, deep nesting). */
const anyValue = fc.oneof(
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
  fc.constantFrom(NaN, Infinity, -1, 0, 1.5, 2 ** 53, '', ' ', 'null', '42', [], {}, null, undefined),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
);

/** `valid` with one field removed, or set to any value, or with an extra field of any name. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const fields = Object.keys(valid);
  return fc.oneof(
    fc.constantFrom(...fields).map((field) => {
      const copy: Record<string, unknown> = { ...valid };
      delete copy[field];
      return copy;
    }),
    fc.tuple(fc.constantFrom(...fields), anyValue).map(([field, value]) => ({ ...valid, [field]: value })),
    fc
      .tuple(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.string()), anyValue)
      .map(([field, value]) => Object.assign({ ...valid }, { [field]: value })),
  );
}

/** Runs `parse`: what it returned, or `refused` after checking that it threw only `CisShapeError`, with a reason. */
function outcome<T>(parse: () => T): { refused: false; value: T } | { refused: true } {
  let value: T;
  try {
    value = parse();
  } catch (error) {
    if (!(error instanceof CisShapeError)) throw error;
    expect(error.message).not.toContain(KEY);
    expect(error.message).not.toContain(LINK);
    expect(error.message.length).toBeGreaterThan(0);
    return { refused: true };
  }
  return { refused: false, value };
}

const isDate = (value: unknown) => value instanceof Date && !Number.isNaN(value.getTime());

describe('Malformed vendor answers: a value of the right shape, or a CisShapeError with the reason', () => {
  it('the valid answers parse (so the properties below exercise both outcomes)', () => {
    expect(parseCisToken(VALID_TOKEN).productKey).toBe(KEY);
    expect(parseCisOffer(VALID_OFFER).ok).toBe(true);
    expect(parseCisReturnAnswer(VALID_RETURN).returnId).toBe('ret-1');
    expect(parseTokenStatuses(VALID_STATUSES)).toHaveLength(1);
  });

  it('token: anything, or a token with one field wrong', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(anyValue, mutated(VALID_TOKEN)), (body) => {
        const parsed = outcome(() => parseCisToken(body, VALID_TOKEN.clientTransactionId));
        if (parsed.refused) {
          refused += 1;
          return;
        }
        const token = parsed.value;
        expect(token.productKey).toMatch(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$/);
        expect(new URL(token.activationLink).protocol).toBe('https:');
        expect(CIS_TOKEN_STATUSES).toContain(token.tokenStatus);
        expect(token.clientTransactionId).toBe(VALID_TOKEN.clientTransactionId);
        for (const field of ['transactionId', 'offerId'] as const) {
          expect(typeof token[field]).toBe('string');
          expect(token[field].trim()).not.toBe('');
        }
        expect(isDate(token.createdAt)).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(refused).toBeGreaterThan(RUNS / 2);
  });

  it('token statuses: anything, or a list whose item has one field wrong', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyValue,
          mutated(VALID_STATUSES),
          mutated(VALID_STATUSES.items[0]).map((item) => ({ items: [item] })),
        ),
        (body) => {
          const parsed = outcome(() => parseTokenStatuses(body, new Set([VALID_TOKEN.clientTransactionId])));
          if (parsed.refused) return;
          expect(Array.isArray(parsed.value)).toBe(true);
          for (const item of parsed.value) {
            expect(item.clientTransactionId).toBe(VALID_TOKEN.clientTransactionId);
            expect(CIS_TOKEN_STATUSES).toContain(item.tokenStatus);
            expect(item.redeemedAt === null || isDate(item.redeemedAt)).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('return: anything, or a return with one field wrong', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, mutated(VALID_RETURN)), (body) => {
        const parsed = outcome(() => parseCisReturnAnswer(body));
        if (parsed.refused) return;
        const answer = parsed.value;
        expect(answer).toMatchObject({ returnStatus: 'Successful', tokenStatus: 'ReturnAccepted' });
        expect(typeof answer.returnId).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('offers page: a broken envelope throws; a broken offer is an entry with its reason, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyValue,
          mutated({ items: [VALID_OFFER], continuationToken: 'next' }),
          fc.array(fc.oneof(anyValue, mutated(VALID_OFFER)), { maxLength: 5 }).map((items) => ({ items })),
        ),
        (body) => {
          // As the bytes Microsoft sends: what JSON can carry of the drawn value (undefined → an empty body).
          const bytes = Buffer.from(JSON.stringify(body) ?? '');
          const parsed = outcome(() => readOffersPage(bytes));
          if (parsed.refused) return;
          expect(Array.isArray(parsed.value.offers)).toBe(true);
          expect(parsed.value.size).toBe(parsed.value.offers.length);
          // Read again as a known page, the page gives the same offers, and its keys are its offers' own.
          if (parsed.value.fingerprint !== null) {
            const known = readOffersPage(bytes, parsed.value.fingerprint);
            expect(known.offers).toEqual(parsed.value.offers);
            known.known?.forEach((key, i) => {
              const entry = parsed.value.offers[i];
              if (entry.ok) expect(key).toEqual({ offerId: entry.offer.offerId, status: entry.offer.status });
            });
          }
          for (const entry of parsed.value.offers) {
            if (!entry.ok) {
              expect(entry.reason.length).toBeGreaterThan(0);
              continue;
            }
            const { offer } = entry;
            expect(Number.isInteger(offer.minQuantity) && Number.isInteger(offer.maxQuantity)).toBe(true);
            expect(offer.minQuantity).toBeLessThanOrEqual(offer.maxQuantity);
            expect(typeof offer.offerId === 'string' && offer.offerId.trim() !== '').toBe(true);
            expect(typeof offer.isReturnable).toBe('boolean');
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
