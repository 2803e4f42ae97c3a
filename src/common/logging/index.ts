export { createEsdJsonLogger, EsdJsonLogger, type EsdJsonLoggerOptions } from './json-logger';
export { currentLogContext, runWithLogContext, type EsdLogContext } from './log-context';
export { isLogRecord, logRecord, type LogRecord } from './log-record';
export { isSecretFieldName, redact, REDACTED, SECRET_FIELD_NAMES } from './redact';
