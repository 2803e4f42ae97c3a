/**
 * How long to wait before retrying a transient CIS failure. Pure: the caller supplies the attempt number and
 * the random source, so the same policy serves the client's in-call retries, Bull's job backoff and tests.
 */

/** A bounded retry budget with exponential backoff and full jitter. */
export interface RetryPolicy {
  /** Total tries, the first one included. */
  maxAttempts: number;
  /** Upper bound of the first retry's wait; doubles with each further retry. */
  baseMs: number;
  /** Upper bound of any one computed wait (a Retry-After longer than this is still honoured, see below). */
  maxMs: number;
  /**
   * The longest Retry-After honoured as given. Microsoft's rate limits reset within a minute; a server
   * asking for longer than this is clamped to it so a job never sleeps for hours on one bad header.
   */
  retryAfterCapMs: number;
}

/**
 * The plugin-wide policy for work that may wait (Bull jobs): 8 tries, the first retry within 2 s, each wait
 * at most a minute, Retry-After honoured up to 5 minutes.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 8,
  baseMs: 2_000,
  maxMs: 60_000,
  retryAfterCapMs: 300_000,
});

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** What the server asked for (429/503 Retry-After), in ms; the wait is never shorter. */
  retryAfterMs?: number;
  /** See {@link RetryPolicy.retryAfterCapMs}; defaults to the default policy's. */
  retryAfterCapMs?: number;
  /** A source of numbers in [0, 1); `Math.random` unless a test pins it. */
  random?: () => number;
}

/**
 * The wait before retry number `attempt` (1 = the first retry, after the first failure).
 *
 * Full jitter (AWS's "exponential backoff and jitter"): uniform in [0, min(maxMs, baseMs·2^(attempt-1))],
 * which spreads a crowd of workers that failed together. A Retry-After raises the wait to at least what
 * the server asked for, up to `retryAfterCapMs`.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const baseMs = Math.max(0, options.baseMs);
  const maxMs = Math.max(0, options.maxMs);
  // 2^(n-1) overflows to Infinity long after it passed maxMs, and min() handles Infinity.
  const ceiling = Math.min(maxMs, baseMs * 2 ** (n - 1));
  const r = clampUnit((options.random ?? Math.random)());
  const jittered = Math.round(r * ceiling);

  const retryAfter = options.retryAfterMs;
  if (retryAfter === undefined || !Number.isFinite(retryAfter) || retryAfter <= 0) return jittered;
  const cap = options.retryAfterCapMs ?? DEFAULT_RETRY_POLICY.retryAfterCapMs;
  return Math.max(jittered, Math.min(Math.ceil(retryAfter), Math.max(cap, maxMs)));
}

/**
 * Retry-After as milliseconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Undefined when
 * absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfterMs(
  value: string | undefined | null,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date always names a weekday or month; bare numbers like "-3" must not parse as years.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 : value;
}
