/**
 * A sliding one-minute window per key (the API keys it by channel): a request is allowed while fewer than
 * `limit` were allowed in the last 60 s; a refused one learns when the oldest of those leaves the window.
 */
export class RateLimiter {
  private readonly windows = new Map<string, number[]>();

  take(
    key: string,
    limit: number,
    nowMs = Date.now(),
  ): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (limit <= 0) return { allowed: true };
    const since = nowMs - 60_000;
    const window = (this.windows.get(key) ?? []).filter((at) => at > since);
    if (window.length >= limit) {
      this.windows.set(key, window);
      const oldestInLimit = window[window.length - limit];
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldestInLimit - since) / 1000)) };
    }
    window.push(nowMs);
    this.windows.set(key, window);
    return { allowed: true };
  }

  reset(): void {
    this.windows.clear();
  }
}
