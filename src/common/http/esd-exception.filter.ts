import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../error-codes';
import { EsdError } from '../esd-error';

/** The body of every error the plugin's HTTP API answers. */
export interface EsdErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

const CODE_BY_STATUS: Partial<Record<number, EsdErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: EsdErrorCode.VALIDATION_FAILED,
  [HttpStatus.UNAUTHORIZED]: EsdErrorCode.UNAUTHENTICATED,
  [HttpStatus.FORBIDDEN]: EsdErrorCode.FORBIDDEN,
  [HttpStatus.NOT_FOUND]: EsdErrorCode.NOT_FOUND,
  [HttpStatus.CONFLICT]: EsdErrorCode.CONFLICT,
};

/** Turns anything a plugin route throws into `{ statusCode, code, message, details? }`, in one place. */
export function toErrorBody(error: unknown): EsdErrorBody {
  if (error instanceof EsdError) {
    return { statusCode: error.httpStatus, code: error.code, message: error.message, details: error.details };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const fromResponse =
      typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
    if (typeof fromResponse.code === 'string' && typeof fromResponse.message === 'string') {
      return {
        statusCode: status,
        code: fromResponse.code,
        message: fromResponse.message,
        details: fromResponse.details as Record<string, unknown> | undefined,
      };
    }
    const code =
      CODE_BY_STATUS[status] ?? (status >= 500 ? EsdErrorCode.INTERNAL : EsdErrorCode.VALIDATION_FAILED);
    const message = Array.isArray(fromResponse.message)
      ? (fromResponse.message as string[]).join('; ')
      : typeof fromResponse.message === 'string'
        ? fromResponse.message
        : ERROR_DESCRIPTIONS[code].message;
    return { statusCode: status, code, message };
  }
  return {
    statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
    code: EsdErrorCode.INTERNAL,
    message: ERROR_DESCRIPTIONS[EsdErrorCode.INTERNAL].message,
  };
}

@Catch()
export class EsdExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('MicrosoftEsd');

  catch(error: unknown, host: ArgumentsHost): void {
    const body = toErrorBody(error);
    if (body.statusCode >= 500) {
      // The stack goes to the operator's log; the caller gets the code and a sentence.
      this.logger.error(
        `${body.code}: ${error instanceof Error ? error.message : String(error)}`,
        (error as Error)?.stack,
      );
    }
    const response = host.switchToHttp().getResponse<Response>();
    const retryAfter = (error as { retryAfterSeconds?: unknown })?.retryAfterSeconds;
    if (typeof retryAfter === 'number' && body.statusCode >= 502)
      response.setHeader('Retry-After', String(retryAfter));
    else if (body.statusCode === 503) response.setHeader('Retry-After', '30');
    response.status(body.statusCode).json(body);
  }
}
