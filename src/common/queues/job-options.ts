import type { QueueOptions } from 'bull';
import { CisError } from '../../cis/cis-errors';
import { backoffDelayMs } from '../../cis/retry-policy';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';

/** The Bull backoff strategy every plugin job uses (registered on each queue under this name). */
export const ESD_BACKOFF = 'esd';

/** Finished jobs kept for inspection; older ones are dropped so Redis does not grow without bound. */
const KEEP_COMPLETED = 1000;
const KEEP_FAILED = 5000;

/**
 * Queue settings of every plugin queue: bounded attempts and one backoff policy (exponential with full jitter,
 * each wait capped, a vendor's Retry-After honoured — cis/retry-policy.ts), so a token request, a return and a
 * catalog run wait the same way after the same failure.
 */
export function esdQueueSettings(
  options: Pick<ResolvedEsdOptions, 'jobRetry'>,
): Pick<QueueOptions, 'settings' | 'defaultJobOptions'> {
  const { attempts, baseMs, maxMs } = options.jobRetry;
  return {
    settings: {
      backoffStrategies: {
        [ESD_BACKOFF]: (attemptsMade: number, error: Error) =>
          backoffDelayMs(attemptsMade, {
            baseMs,
            maxMs,
            retryAfterMs: error instanceof CisError ? error.retryAfterMs : undefined,
          }),
      },
    },
    defaultJobOptions: {
      attempts,
      backoff: { type: ESD_BACKOFF },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    },
  };
}
