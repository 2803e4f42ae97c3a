import { inspect } from 'node:util';
import { currentLogContext } from './log-context';
import { redact } from './redact';

/**
 * A structured log line: `msg` (the human sentence) and its fields. Handed to any Nest `LoggerService` as the
 * message: a JSON logger writes its fields ({@link EsdJsonLogger}, or any logger that serialises objects), while a
 * readable console, `String(record)` and `util.inspect` show the sentence alone.
 */
export type LogRecord = Readonly<{ msg: string; toString(): string } & Record<string, unknown>>;

/** The records' prototype, shared through a global symbol like the log context (see `log-context.ts`). */
const PROTOTYPE_KEY = Symbol.for('microsoft-esd.log-record');
const globalPrototype = globalThis as typeof globalThis & { [PROTOTYPE_KEY]?: object };
const LOG_RECORD = (globalPrototype[PROTOTYPE_KEY] ??= Object.freeze(
  Object.create(null, {
    toString: {
      value(this: LogRecord): string {
        return this.msg;
      },
    },
    [inspect.custom]: {
      value(this: LogRecord): string {
        return this.msg;
      },
    },
  }) as object,
));

/**
 * A record of `msg` and `fields` (secret-named fields redacted), with the current log context (license, run, job)
 * added under the fields it does not already name.
 */
export function logRecord(msg: string, fields: Record<string, unknown> = {}): LogRecord {
  const record = Object.create(LOG_RECORD) as Record<string, unknown>;
  const safe = redact(fields) as Record<string, unknown>;
  const entries: Array<[string, unknown]> = [
    ['msg', msg],
    ...Object.entries(safe),
    ...Object.entries(currentLogContext()),
  ];
  for (const [key, value] of entries) {
    // The first of a name wins: `msg`, then the caller's fields, then the context.
    if (!Object.hasOwn(record, key)) Object.defineProperty(record, key, { value, enumerable: true });
  }
  return Object.freeze(record) as LogRecord;
}

/** Whether `value` was made by {@link logRecord}. */
export function isLogRecord(value: unknown): value is LogRecord {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === LOG_RECORD;
}
