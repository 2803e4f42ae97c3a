import {
  evaluateEligibility,
  returnDeadline,
  type EligibilityFacts,
} from '../../src/cancellation/eligibility';

const DAY_MS = 24 * 60 * 60 * 1000;
const created = new Date('2025-03-01T10:00:00.000Z');

/** An issued, unused license of a returnable offer, 10 days into a 30-day window; `patch` on top. */
function facts(
  patch: Omit<Partial<EligibilityFacts>, 'license'> & { license?: Partial<EligibilityFacts['license']> } = {},
): EligibilityFacts {
  return {
    returnable: true,
    returnWindowDays: 30,
    cancellationUnderWay: false,
    now: new Date(created.getTime() + 10 * DAY_MS),
    ...patch,
    license: {
      status: 'active',
      provisioningStatus: 'Synchronized',
      tokenStatus: 'Activated',
      tokenCreatedAt: created,
      redeemedAt: null,
      purchaseDate: new Date(created.getTime() - 60_000),
      returnStatus: 'None',
      returnReasonCode: null,
      returnReasonMessage: null,
      ...patch.license,
    },
  };
}

const codes = (f: EligibilityFacts) => evaluateEligibility(f).reasons.map((r) => r.code);

describe('cancellation eligibility', () => {
  it('an issued, unused license of a returnable offer inside its window is eligible, until the deadline', () => {
    expect(evaluateEligibility(facts())).toEqual({
      eligible: true,
      reasons: [],
      deadline: new Date('2025-03-31T10:00:00.000Z'),
    });
  });

  it('the window counts from the token’s creation, in the instance’s days, and closes after the deadline', () => {
    const deadline = new Date(created.getTime() + 30 * DAY_MS);
    expect(codes(facts({ now: deadline }))).toEqual([]);
    const late = evaluateEligibility(facts({ now: new Date(deadline.getTime() + 1) }));
    expect(late.reasons).toEqual([
      {
        code: 'RETURN_WINDOW_EXPIRED',
        message:
          'The return window closed on 2025-03-31 10:00 UTC, 30 days after the product key was issued.',
      },
    ]);
    expect(late.deadline).toEqual(deadline);
    expect(codes(facts({ returnWindowDays: 7 }))).toEqual(['RETURN_WINDOW_EXPIRED']);
    expect(returnDeadline(facts().license, 14)).toEqual(new Date(created.getTime() + 14 * DAY_MS));
  });

  it('every reason at once: not returnable, redeemed (with the date), window passed, a request pending', () => {
    const result = evaluateEligibility(
      facts({
        returnable: false,
        cancellationUnderWay: true,
        now: new Date(created.getTime() + 40 * DAY_MS),
        license: { tokenStatus: 'Redeemed', redeemedAt: new Date('2025-03-02T08:30:00.000Z') },
      }),
    );
    expect(result.eligible).toBe(false);
    expect(result.reasons.map((r) => r.code)).toEqual([
      'NOT_RETURNABLE',
      'TOKEN_REDEEMED',
      'RETURN_WINDOW_EXPIRED',
      'REQUEST_PENDING',
    ]);
    expect(result.reasons[1].message).toContain('redeemed on 2025-03-02 08:30 UTC');
    for (const reason of result.reasons) expect(reason.message.length).toBeGreaterThan(20);
  });

  it('a cancelled license (or a token Microsoft took back) is only "already cancelled"', () => {
    expect(codes(facts({ license: { status: 'cancelled', tokenStatus: 'ReturnAccepted' } }))).toEqual([
      'ALREADY_CANCELLED',
    ]);
    expect(codes(facts({ license: { tokenStatus: 'ReturnAccepted' }, returnable: false }))).toEqual([
      'ALREADY_CANCELLED',
    ]);
  });

  it('a license without its key has no window yet and nothing to return', () => {
    const pending = evaluateEligibility(
      facts({ license: { provisioningStatus: 'Unsynchronised', tokenStatus: null, tokenCreatedAt: null } }),
    );
    expect(pending).toMatchObject({ eligible: false, deadline: null });
    expect(pending.reasons.map((r) => r.code)).toEqual(['NOT_PROVISIONED']);
    expect(
      codes(facts({ license: { provisioningStatus: 'Failed', tokenStatus: null, tokenCreatedAt: null } })),
    ).toEqual(['NOT_PROVISIONED']);
  });

  it('Microsoft’s refusal of the window or the terms stands; a refusal by the plugin alone is judged afresh', () => {
    const refused = evaluateEligibility(
      facts({
        license: {
          returnStatus: 'Rejected',
          returnReasonCode: 'RETURN_WINDOW_EXPIRED',
          returnReasonMessage: 'The return window of this license has closed.',
        },
      }),
    );
    expect(refused.reasons).toEqual([
      {
        code: 'RETURN_WINDOW_EXPIRED',
        message: 'Microsoft refused to take this license back: The return window of this license has closed.',
      },
    ]);
    expect(
      codes(
        facts({
          license: {
            returnStatus: 'None',
            returnReasonCode: 'RETURN_WINDOW_EXPIRED',
            returnReasonMessage: 'x',
          },
        }),
      ),
    ).toEqual([]);
    // Not twice when the plugin finds the same.
    expect(
      codes(
        facts({
          returnable: false,
          license: { returnStatus: 'Rejected', returnReasonCode: 'NOT_RETURNABLE', returnReasonMessage: 'x' },
        }),
      ),
    ).toEqual(['NOT_RETURNABLE']);
  });

  it('an offer the catalog no longer holds is left to Microsoft to judge', () => {
    expect(codes(facts({ returnable: null }))).toEqual([]);
  });

  it('a license stored without the token’s creation time counts the window from the purchase', () => {
    const license = facts({ license: { tokenCreatedAt: null } }).license;
    expect(returnDeadline(license, 30)).toEqual(new Date(license.purchaseDate.getTime() + 30 * DAY_MS));
  });
});
