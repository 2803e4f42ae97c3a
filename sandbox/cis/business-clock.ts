export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The sandbox's business clock: the "now" of token creation, redemption and the return window. Tests move
 * it forward (`POST /__sandbox/clock`) to reach the end of a 30-day window in an instant; access tokens and
 * client assertions keep the real clock, so moving it never expires a sign-in.
 */
export class BusinessClock {
  private offsetMs = 0;

  constructor(private readonly realNow: () => number = Date.now) {}

  now(): Date {
    return new Date(this.realNow() + this.offsetMs);
  }

  /** Moves the clock forward by whole or fractional days. */
  advanceDays(days: number): void {
    this.offsetMs += days * DAY_MS;
  }

  /** What `GET /__sandbox/clock` shows. */
  view(): { now: string; advancedDays: number } {
    return { now: this.now().toISOString(), advancedDays: this.offsetMs / DAY_MS };
  }

  reset(): void {
    this.offsetMs = 0;
  }
}
