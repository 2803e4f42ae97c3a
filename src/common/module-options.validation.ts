import 'reflect-metadata';
import {
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
  validateSync,
  ValidationError,
} from 'class-validator';
import * as semver from 'semver';
import { DEFAULT_RETRY_POLICY } from '../cis/retry-policy';
import { systemClock } from './clock';
import { EsdErrorCode } from './error-codes';
import { EsdError } from './esd-error';
import type { MicrosoftEsdModuleOptions, ResolvedEsdOptions } from '../microsoft-esd.options';

function ImplementsMethods(methods: string[], options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'implementsMethods',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function'),
        defaultMessage: (args) =>
          `${args?.property}: expected an object implementing ${methods.map((m) => `${m}()`).join(', ')}`,
      },
    },
    options,
  );
}

function IsFunctionValue(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isFunction',
      validator: {
        validate: (value: unknown) => typeof value === 'function',
        defaultMessage: (args) => `${args?.property}: expected a function (request) => principal`,
      },
    },
    options,
  );
}

function IsSecretKey(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isSecretKey',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && decodeKey(value) !== undefined,
        // Never echo the value: it is a secret.
        defaultMessage: (args) =>
          `${args?.property}: expected 32 bytes encoded as base64 (openssl rand -base64 32)`,
      },
    },
    options,
  );
}

function IsSemverVersion(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isSemverVersion',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && semver.valid(value) !== null,
        defaultMessage: (args) => `${args?.property}: expected a semver version such as 1.2.0`,
      },
    },
    options,
  );
}

function IsRedisOption(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isRedisOption',
      validator: {
        validate: (value: unknown) => {
          if (typeof value === 'object' && value !== null && !Array.isArray(value)) return true;
          if (typeof value !== 'string') return false;
          try {
            return ['redis:', 'rediss:'].includes(new URL(value).protocol);
          } catch {
            return false;
          }
        },
        defaultMessage: (args) =>
          `${args?.property}: expected a redis:// or rediss:// URL, or ioredis options`,
      },
    },
    options,
  );
}

function IsDataSourceLike(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isDataSource',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as { getRepository?: unknown }).getRepository === 'function' &&
          typeof (value as { query?: unknown }).query === 'function',
        defaultMessage: (args) => `${args?.property}: expected a TypeORM DataSource`,
      },
    },
    options,
  );
}

class ModuleOptionsSchema {
  @IsSemverVersion()
  hostApiVersion: unknown;

  @ImplementsMethods(['upsertProductType', 'upsertProducts', 'setProductsStatus'])
  catalog: unknown;

  @ImplementsMethods(['send'])
  notifier: unknown;

  @ImplementsMethods(['publish'])
  events: unknown;

  @IsFunctionValue()
  principal: unknown;

  @IsSecretKey()
  secretKey: unknown;

  @IsOptional()
  @IsSecretKey({ each: true })
  previousSecretKeys: unknown;

  @IsOptional()
  @IsRedisOption()
  redis: unknown;

  @IsOptional()
  @IsDataSourceLike()
  dataSource: unknown;

  @IsOptional()
  @IsString({ message: 'routePrefix: expected a path segment such as esd' })
  @Matches(/^[a-z0-9][a-z0-9/-]{0,62}$/, { message: 'routePrefix: expected a path segment such as esd' })
  routePrefix: unknown;

  @IsOptional()
  @IsBoolean({ message: 'worker: expected true or false' })
  worker: unknown;

  @IsOptional()
  @IsInt({ message: 'orderWaitMs: expected an integer number of milliseconds (0–60000)' })
  @Min(0, { message: 'orderWaitMs: expected an integer number of milliseconds (0–60000)' })
  @Max(60000, { message: 'orderWaitMs: expected an integer number of milliseconds (0–60000)' })
  orderWaitMs: unknown;

  @IsOptional()
  @IsInt({ message: 'cisTimeoutMs: expected an integer number of milliseconds (1000–120000)' })
  @Min(1000, { message: 'cisTimeoutMs: expected an integer number of milliseconds (1000–120000)' })
  @Max(120000, { message: 'cisTimeoutMs: expected an integer number of milliseconds (1000–120000)' })
  cisTimeoutMs: unknown;

  @IsOptional()
  @IsInt({ message: 'scheduleCheckMs: expected an integer number of milliseconds (1000–3600000)' })
  @Min(1000, { message: 'scheduleCheckMs: expected an integer number of milliseconds (1000–3600000)' })
  @Max(3600000, { message: 'scheduleCheckMs: expected an integer number of milliseconds (1000–3600000)' })
  scheduleCheckMs: unknown;

  @IsOptional()
  @IsObject({ message: 'jobRetry: expected { attempts?, baseMs?, maxMs? }' })
  @ValidateNested()
  jobRetry: unknown;

  @IsOptional()
  @ImplementsMethods(['now'])
  clock: unknown;
}

const JOB_RETRY_KEYS = new Set(['attempts', 'baseMs', 'maxMs']);

/** `jobRetry`: bounded, so a typo cannot make a job retry for ever or hammer Microsoft. */
class JobRetrySchema {
  @IsOptional()
  @IsInt({ message: 'attempts: expected an integer from 1 to 50' })
  @Min(1, { message: 'attempts: expected an integer from 1 to 50' })
  @Max(50, { message: 'attempts: expected an integer from 1 to 50' })
  attempts: unknown;

  @IsOptional()
  @IsInt({ message: 'baseMs: expected an integer number of milliseconds (1–600000)' })
  @Min(1, { message: 'baseMs: expected an integer number of milliseconds (1–600000)' })
  @Max(600000, { message: 'baseMs: expected an integer number of milliseconds (1–600000)' })
  baseMs: unknown;

  @IsOptional()
  @IsInt({ message: 'maxMs: expected an integer number of milliseconds (1–3600000)' })
  @Min(1, { message: 'maxMs: expected an integer number of milliseconds (1–3600000)' })
  @Max(3600000, { message: 'maxMs: expected an integer number of milliseconds (1–3600000)' })
  maxMs: unknown;
}

const KNOWN_OPTIONS = new Set<string>([
  'hostApiVersion',
  'catalog',
  'catalogue',
  'notifier',
  'events',
  'principal',
  'secretKey',
  'previousSecretKeys',
  'redis',
  'dataSource',
  'routePrefix',
  'worker',
  'orderWaitMs',
  'cisTimeoutMs',
  'scheduleCheckMs',
  'jobRetry',
  'clock',
]);

function decodeKey(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value.trim())) return undefined;
  const key = Buffer.from(value.trim(), 'base64');
  return key.length === 32 ? key : undefined;
}

function flatten(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}),
    ...flatten(e.children ?? []).map((m) => `${e.property}.${m}`),
  ]);
}

/**
 * Validates the host's options and applies defaults. Throws {@link EsdError} `INVALID_MODULE_OPTIONS` whose
 * message names every wrong option and what was expected (never a secret's value).
 */
export function validateModuleOptions(raw: MicrosoftEsdModuleOptions | undefined | null): ResolvedEsdOptions {
  if (typeof raw !== 'object' || raw === null) {
    throw new EsdError(
      EsdErrorCode.INVALID_MODULE_OPTIONS,
      'Microsoft ESD module options are missing: the factory must return an options object (see the README, "Loading the plugin").',
    );
  }
  const input = { ...raw, catalog: raw.catalog ?? raw.catalogue };
  delete (input as { catalogue?: unknown }).catalogue;
  const retry = raw.jobRetry;
  const schema = Object.assign(new ModuleOptionsSchema(), input, {
    jobRetry:
      typeof retry === 'object' && retry !== null ? Object.assign(new JobRetrySchema(), retry) : retry,
  });
  const problems = flatten(validateSync(schema, { forbidUnknownValues: false }));
  if (typeof retry === 'object' && retry !== null) {
    for (const key of Object.keys(retry)) {
      if (!JOB_RETRY_KEYS.has(key)) problems.push(`jobRetry.${key}: not an option of jobRetry`);
    }
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_OPTIONS.has(key)) problems.push(`${key}: not an option of the Microsoft ESD module`);
  }
  if (problems.length > 0) {
    throw new EsdError(
      EsdErrorCode.INVALID_MODULE_OPTIONS,
      `Microsoft ESD module options are not valid:\n  - ${problems.join('\n  - ')}`,
      { problems },
    );
  }
  return {
    hostApiVersion: raw.hostApiVersion,
    catalog: input.catalog!,
    notifier: raw.notifier,
    events: raw.events,
    principal: raw.principal,
    secretKey: decodeKey(raw.secretKey)!,
    previousSecretKeys: (raw.previousSecretKeys ?? []).map((k) => decodeKey(k)!),
    redis: raw.redis,
    dataSource: raw.dataSource,
    routePrefix: raw.routePrefix ?? 'esd',
    worker: raw.worker ?? true,
    orderWaitMs: raw.orderWaitMs ?? 5000,
    cisTimeoutMs: raw.cisTimeoutMs ?? 15000,
    scheduleCheckMs: raw.scheduleCheckMs ?? 60000,
    jobRetry: {
      attempts: retry?.attempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
      baseMs: retry?.baseMs ?? DEFAULT_RETRY_POLICY.baseMs,
      maxMs: retry?.maxMs ?? DEFAULT_RETRY_POLICY.maxMs,
    },
    clock: raw.clock ?? systemClock,
  };
}
