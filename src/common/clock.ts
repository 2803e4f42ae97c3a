import type { Provider } from '@nestjs/common';
import { ESD_CLOCK, ESD_OPTIONS } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';

/**
 * The plugin's "now" for business dates: return windows and eligibility deadlines. Injected under
 * {@link ESD_CLOCK} so a host or a test can move the plugin's time (module option `clock`) without touching
 * the system clock; retry leases and timeouts keep real time, since they measure waiting, not the calendar.
 */
export interface EsdClock {
  now(): Date;
}

/** The system clock: the default when the host gives no `clock` option. */
export const systemClock: EsdClock = { now: () => new Date() };

/** {@link ESD_CLOCK}: the `clock` option, or the system clock. */
export const esdClockProvider: Provider = {
  provide: ESD_CLOCK,
  inject: [ESD_OPTIONS],
  useFactory: (options: ResolvedEsdOptions): EsdClock => options.clock,
};
