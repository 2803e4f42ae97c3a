import { ConsoleLogger, Logger } from '@nestjs/common';
import { inspect } from 'node:util';
import { createEsdJsonLogger } from '../../src/common/logging/json-logger';
import { runWithLogContext } from '../../src/common/logging/log-context';
import { isLogRecord, logRecord } from '../../src/common/logging/log-record';

describe('structured log records and the JSON logger', () => {
  const lines: Array<{ line: string; stream: string }> = [];
  const logger = createEsdJsonLogger({ write: (line, stream) => lines.push({ line, stream }) });
  const parsed = () => lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);

  beforeEach(() => {
    lines.length = 0;
    Logger.overrideLogger(logger);
  });

  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it('a record reads as its sentence in a console and carries the log context of its job', () => {
    const record = runWithLogContext({ licenseId: 'L1', jobId: '7' }, () =>
      runWithLogContext({ instanceId: 'I1', licenseId: undefined }, () =>
        logRecord('POST /tokens 201 12ms', { route: 'POST /tokens', status: 201, token: 'secret-value' }),
      ),
    );
    expect(isLogRecord(record)).toBe(true);
    expect(String(record)).toBe('POST /tokens 201 12ms');
    expect(inspect(record)).toBe('POST /tokens 201 12ms');
    expect(JSON.parse(JSON.stringify(record))).toEqual({
      msg: 'POST /tokens 201 12ms',
      route: 'POST /tokens',
      status: 201,
      token: '[redacted]',
      licenseId: 'L1',
      jobId: '7',
      instanceId: 'I1',
    });
    expect(Object.isFrozen(record)).toBe(true);

    // Nest's readable console prints the sentence, not an object dump.
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => {
      out.push(chunk);
      return true;
    }) as typeof process.stdout.write);
    try {
      new ConsoleLogger('CisClient', { colors: false }).log(record);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toMatch(/\[CisClient\] POST \/tokens 201 12ms\n$/);
  });

  it('writes one flat JSON object per line: record fields, context, level and Nest context', async () => {
    await runWithLogContext({ runId: 'R1', instanceId: 'I1' }, async () => {
      await Promise.resolve();
      new Logger('CisClient').log(logRecord('GET /offers 200 5ms', { route: 'GET /offers', status: 200 }));
      new Logger('CatalogSyncService').warn('page 3 retried');
    });
    new Logger('Elsewhere').error('boom', 'Error: boom\n    at x');
    expect(lines.map((l) => l.stream)).toEqual(['stdout', 'stdout', 'stderr']);
    for (const { line } of lines) expect(line).not.toContain('\n');
    const [call, warn, error] = parsed();
    expect(call).toMatchObject({
      level: 'log',
      context: 'CisClient',
      msg: 'GET /offers 200 5ms',
      route: 'GET /offers',
      status: 200,
      runId: 'R1',
      instanceId: 'I1',
    });
    expect(new Date(call.time as string).getTime()).toBeGreaterThan(0);
    expect(warn).toMatchObject({
      level: 'warn',
      context: 'CatalogSyncService',
      msg: 'page 3 retried',
      runId: 'R1',
    });
    expect(error).toMatchObject({ level: 'error', msg: 'boom', stack: 'Error: boom\n    at x' });
    expect(error.runId).toBeUndefined();
  });

  it('redacts secret-named fields of any object logged, however it arrives', () => {
    new Logger('Host').log({ msg: 'sent', data: { productKey: 'K-1', to: 'a@example.test' } });
    new Logger('Host').warn(
      Object.assign(new Error('failed'), { config: { headers: { Authorization: 'Bearer abc' } } }),
    );
    const out = lines.map((l) => l.line).join('\n');
    expect(out).not.toContain('K-1');
    expect(out).not.toContain('Bearer abc');
    const [sent, failed] = parsed();
    expect(sent).toMatchObject({ msg: 'sent', data: { productKey: '[redacted]', to: 'a@example.test' } });
    expect(failed).toMatchObject({
      msg: 'failed',
      error: { config: { headers: { Authorization: '[redacted]' } } },
    });
  });

  it('honours the log levels it is given', () => {
    const quiet = createEsdJsonLogger({
      logLevels: ['warn', 'error'],
      write: (line, stream) => lines.push({ line, stream }),
    });
    quiet.log('not written');
    quiet.warn('written');
    expect(parsed().map((l) => l.msg)).toEqual(['written']);
  });
});
