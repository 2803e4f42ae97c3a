import { ConsoleLogger, type ConsoleLoggerOptions, type LogLevel } from '@nestjs/common';
import { currentLogContext } from './log-context';
import { isLogRecord } from './log-record';
import { redact } from './redact';

/** Options of {@link createEsdJsonLogger}: Nest's `ConsoleLogger` options, minus the ones JSON output fixes. */
export interface EsdJsonLoggerOptions extends Omit<
  ConsoleLoggerOptions,
  'json' | 'colors' | 'compact' | 'breakLength'
> {
  /**
   * Where each line goes (one JSON object, no trailing newline). Default: stdout, stderr for `error` and
   * `fatal`, as Nest's console logger writes them.
   */
  write?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * Nest's `ConsoleLogger` in JSON mode, one object per line, flattened so a log store can index it:
 * `{ time, level, context, msg, …fields, …logContext }`. A {@link logRecord} contributes its fields; a plain object
 * message is spread the same way; a string becomes `msg`. The current log context (license, run, job) is added to
 * every line, and every field named like a secret ({@link SECRET_FIELD_NAMES}) is `[redacted]` before writing.
 */
export class EsdJsonLogger extends ConsoleLogger {
  private readonly write?: EsdJsonLoggerOptions['write'];

  constructor(options: EsdJsonLoggerOptions = {}) {
    const { write, ...rest } = options;
    super({ ...rest, json: true, colors: false, compact: true });
    this.write = write;
  }

  protected override printAsJson(
    message: unknown,
    options: {
      context: string;
      logLevel: LogLevel;
      writeStreamType?: 'stdout' | 'stderr';
      errorStack?: unknown;
    },
  ): void {
    const line = this.stringifyJsonLogObject(this.lineOf(message, options));
    const stream = options.writeStreamType ?? 'stdout';
    if (this.write) this.write(line, stream);
    else process[stream].write(`${line}\n`);
  }

  private lineOf(
    message: unknown,
    options: { context: string; logLevel: LogLevel; errorStack?: unknown },
  ): Record<string, unknown> {
    const line: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: options.logLevel,
      pid: process.pid,
      ...(options.context ? { context: options.context } : {}),
    };
    const fields = fieldsOf(message);
    const stack = options.errorStack ?? (message instanceof Error ? message.stack : undefined);
    const entries = [
      ...Object.entries(fields),
      ...(stack !== undefined ? [['stack', stack] as [string, unknown]] : []),
      ...Object.entries(currentLogContext()),
    ];
    for (const [key, value] of entries) {
      if (!Object.hasOwn(line, key)) {
        Object.defineProperty(line, key, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    return redact(line) as Record<string, unknown>;
  }
}

function fieldsOf(message: unknown): Record<string, unknown> {
  if (isLogRecord(message)) return { ...message };
  if (typeof message === 'string') return { msg: message };
  if (message instanceof Error) return { msg: message.message, error: message };
  if (Array.isArray(message)) return { msg: '', data: message };
  if (typeof message === 'object' && message !== null) {
    const record = redact(message) as Record<string, unknown>;
    const msg =
      typeof record.msg === 'string' ? record.msg : typeof record.message === 'string' ? record.message : '';
    return { msg, ...record };
  }
  if (typeof message === 'function') return { msg: message.name };
  return { msg: String(message) };
}

/**
 * The logger a host gives Nest (`NestFactory.create(AppModule, { logger: createEsdJsonLogger() })`, or
 * `app.useLogger(…)`) for structured logs: the plugin's CIS call records come out with their route, status,
 * duration, correlation and request ids, attempt and instance, and every line of a job with the license or run
 * it served.
 */
export function createEsdJsonLogger(options: EsdJsonLoggerOptions = {}): EsdJsonLogger {
  return new EsdJsonLogger(options);
}
