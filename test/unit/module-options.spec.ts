import { inertHostPorts } from '../support/host-ports';
import { randomBytes } from 'node:crypto';
import { EsdError } from '../../src/common/esd-error';
import { EsdErrorCode } from '../../src/common/error-codes';
import { resolveOptions } from '../../src/microsoft-esd.module';
import type { MicrosoftEsdModuleOptions } from '../../src/microsoft-esd.options';

const secretKey = randomBytes(32).toString('base64');
const valid = (): MicrosoftEsdModuleOptions => ({
  hostApiVersion: '1.0.0',
  ...inertHostPorts(),
  principal: () => undefined,
  secretKey,
});

function failure(raw: unknown, extras = {}): EsdError {
  try {
    resolveOptions(raw as MicrosoftEsdModuleOptions, extras);
  } catch (error) {
    expect(error).toBeInstanceOf(EsdError);
    return error as EsdError;
  }
  throw new Error('expected the options to be refused');
}

describe('module options at boot', () => {
  it('applies the defaults to valid options', () => {
    const resolved = resolveOptions(valid(), {});
    expect(resolved).toMatchObject({
      routePrefix: 'esd',
      worker: true,
      orderWaitMs: 5000,
      cisTimeoutMs: 15000,
      scheduleCheckMs: 60000,
    });
    expect(resolved.secretKey.equals(Buffer.from(secretKey, 'base64'))).toBe(true);
  });

  it('accepts the contract’s spelling "catalogue" for the catalog port', () => {
    const { catalog, ...rest } = valid();
    expect(resolveOptions({ ...rest, catalogue: catalog }, {}).catalog).toBe(catalog);
  });

  it.each([
    ['secretKey', { secretKey: 'c2hvcnQ=' }, 'secretKey: expected 32 bytes encoded as base64'],
    ['notifier', { notifier: {} }, 'notifier: expected an object implementing send()'],
    [
      'catalog',
      { catalog: { upsertProducts: () => [] } },
      'catalog: expected an object implementing upsertProductType(), upsertProducts(), setProductsStatus()',
    ],
    ['events', { events: undefined }, 'events: expected an object implementing publish()'],
    ['principal', { principal: 'req.user' }, 'principal: expected a function (request) => principal'],
    [
      'hostApiVersion',
      { hostApiVersion: 'latest' },
      'hostApiVersion: expected a semver version such as 1.2.0',
    ],
    [
      'redis',
      { redis: 'http://localhost:6379' },
      'redis: expected a redis:// or rediss:// URL, or ioredis options',
    ],
    ['worker', { worker: 'yes' }, 'worker: expected true or false'],
    ['orderWaitMs', { orderWaitMs: -5 }, 'orderWaitMs: expected an integer number of milliseconds (0–60000)'],
    [
      'scheduleCheckMs',
      { scheduleCheckMs: 500 },
      'scheduleCheckMs: expected an integer number of milliseconds (1000–3600000)',
    ],
    ['dataSource', { dataSource: {} }, 'dataSource: expected a TypeORM DataSource'],
    ['an unknown option', { redisUrl: 'redis://x' }, 'redisUrl: not an option of the Microsoft ESD module'],
  ])('refuses a bad %s, naming it and what was expected', (_name, patch, expected) => {
    const error = failure({ ...valid(), ...patch });
    expect(error.code).toBe(EsdErrorCode.INVALID_MODULE_OPTIONS);
    expect(error.message).toContain(expected);
  });

  it('lists every wrong option at once', () => {
    const error = failure({ ...valid(), notifier: null, worker: 1 });
    expect(error.message).toContain('notifier:');
    expect(error.message).toContain('worker:');
  });

  it('never echoes the secret key it refuses', () => {
    const wrong = randomBytes(31).toString('base64');
    const error = failure({ ...valid(), secretKey: wrong });
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error.details)).not.toContain(wrong);
  });

  it('refuses missing options with a sentence', () => {
    expect(failure(undefined).message).toContain('options are missing');
  });

  it('refuses a host whose contract version is outside the manifest’s hostApi range', () => {
    const error = failure({ ...valid(), hostApiVersion: '2.0.0' });
    expect(error.code).toBe(EsdErrorCode.HOST_API_INCOMPATIBLE);
    expect(error.message).toMatch(
      /host contract 2\.0\.0, but Microsoft ESD \d+\.\d+\.\d+ supports host contract \^1\.0\.0/,
    );
    expect(error.message).toContain('upgrade the host');
    expect(resolveOptions({ ...valid(), hostApiVersion: '1.7.3' }, {}).hostApiVersion).toBe('1.7.3');
  });

  it('refuses a routePrefix from the factory that differs from where the routes were mounted', () => {
    const error = failure({ ...valid(), routePrefix: 'licenses' }, { routePrefix: 'esd' });
    expect(error.message).toContain(
      'routePrefix: the factory returned "licenses" but the routes were mounted under "esd"',
    );
  });

  it('turns the worker off when either the extras or the factory says so', () => {
    expect(resolveOptions(valid(), { worker: false }).worker).toBe(false);
    expect(resolveOptions({ ...valid(), worker: false }, {}).worker).toBe(false);
  });
});
