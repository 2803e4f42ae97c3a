import { ERROR_DESCRIPTIONS, EsdErrorCode } from './error-codes';

/**
 * An error the plugin raises on purpose: a code from {@link EsdErrorCode}, a sentence a person can act on,
 * optional machine-readable details. Messages and details never carry secrets.
 */
export class EsdError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly code: EsdErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message ?? ERROR_DESCRIPTIONS[code].message, options);
    this.name = 'EsdError';
    this.httpStatus = ERROR_DESCRIPTIONS[code].httpStatus;
  }
}
