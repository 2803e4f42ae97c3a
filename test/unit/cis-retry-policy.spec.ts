import { backoffDelayMs, DEFAULT_RETRY_POLICY, parseRetryAfterMs } from '../../src/cis/retry-policy';

/** A seeded generator, so "many random draws" is reproducible without pinning one value. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('backoffDelayMs', () => {
  const policy = { baseMs: DEFAULT_RETRY_POLICY.baseMs, maxMs: DEFAULT_RETRY_POLICY.maxMs };

  it('spans the whole jitter range [0, base·2^(n-1)] for the extremes of the random source', () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const ceiling = policy.baseMs * 2 ** (attempt - 1);
      expect(backoffDelayMs(attempt, { ...policy, random: () => 0 })).toBe(0);
      expect(backoffDelayMs(attempt, { ...policy, random: () => 0.5 })).toBe(ceiling / 2);
      expect(backoffDelayMs(attempt, { ...policy, random: () => 0.999999 })).toBeLessThanOrEqual(ceiling);
      expect(backoffDelayMs(attempt, { ...policy, random: () => 0.999999 })).toBeGreaterThan(ceiling * 0.99);
    }
  });

  it('keeps the first retry within a couple of seconds and every wait near a minute at most', () => {
    const random = lcg(42);
    for (let i = 0; i < 1000; i++) {
      expect(backoffDelayMs(1, { ...policy, random })).toBeLessThanOrEqual(2_000);
    }
    for (let attempt = 1; attempt <= 50; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelayMs(attempt, { ...policy, random });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(60_000);
      }
    }
  });

  it('grows exponentially until the cap (averages over many draws)', () => {
    const mean = (attempt: number) => {
      const random = lcg(attempt);
      let sum = 0;
      for (let i = 0; i < 4000; i++) sum += backoffDelayMs(attempt, { ...policy, random });
      return sum / 4000;
    };
    const means = [1, 2, 3, 4, 5, 6, 7, 8].map(mean);
    // Uniform on [0, c] averages c/2: 1 s, 2 s, 4 s, … until the 60 s cap (mean 30 s).
    expect(means[0]).toBeGreaterThan(900);
    expect(means[0]).toBeLessThan(1100);
    expect(means[3]).toBeGreaterThan(7200);
    expect(means[3]).toBeLessThan(8800);
    expect(means[6]).toBeGreaterThan(28_000);
    expect(means[7]).toBeLessThan(32_000);
    for (let i = 1; i < 6; i++) expect(means[i]).toBeGreaterThan(means[i - 1] * 1.6);
  });

  it('never waits less than Retry-After, whatever the jitter', () => {
    const random = lcg(7);
    for (let attempt = 1; attempt <= 8; attempt++) {
      for (let i = 0; i < 100; i++) {
        expect(backoffDelayMs(attempt, { ...policy, retryAfterMs: 7_500, random })).toBeGreaterThanOrEqual(
          7_500,
        );
      }
    }
    // Above the exponential ceiling the server's wait wins even past maxMs.
    expect(backoffDelayMs(1, { baseMs: 100, maxMs: 200, retryAfterMs: 1_000, random: () => 0.9 })).toBe(
      1_000,
    );
    // Below a long jittered wait the jittered one stays.
    expect(backoffDelayMs(6, { ...policy, retryAfterMs: 1_000, random: () => 0.5 })).toBe(30_000);
  });

  it('clamps an absurd Retry-After to the cap', () => {
    const hour = 3_600_000;
    expect(backoffDelayMs(1, { ...policy, retryAfterMs: hour, random: () => 0 })).toBe(
      DEFAULT_RETRY_POLICY.retryAfterCapMs,
    );
    expect(
      backoffDelayMs(1, { ...policy, retryAfterMs: hour, retryAfterCapMs: 90_000, random: () => 0 }),
    ).toBe(90_000);
  });

  it('treats nonsense input as the first attempt and ignores a non-positive Retry-After', () => {
    expect(backoffDelayMs(0, { ...policy, random: () => 0.5 })).toBe(1_000);
    expect(backoffDelayMs(Number.NaN, { ...policy, random: () => 0.5 })).toBe(1_000);
    expect(backoffDelayMs(10_000, { ...policy, random: () => 0.5 })).toBe(30_000);
    expect(backoffDelayMs(1, { ...policy, retryAfterMs: -5, random: () => 0.5 })).toBe(1_000);
    expect(backoffDelayMs(1, { ...policy, random: () => 1.7 })).toBe(2_000);
  });

  it('declares a default policy of at least 8 attempts', () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeGreaterThanOrEqual(8);
    expect(DEFAULT_RETRY_POLICY.baseMs).toBeLessThanOrEqual(2_000);
    expect(DEFAULT_RETRY_POLICY.maxMs).toBeLessThanOrEqual(90_000);
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('1', now)).toBe(1_000);
    expect(parseRetryAfterMs(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfterMs('0.5', now)).toBe(500);
  });

  it('reads an HTTP date, a past one as zero', () => {
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('gives undefined for absent or unreadable values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('', now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs('-3', now)).toBeUndefined();
  });
});
