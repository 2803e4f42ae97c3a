import { ApiProperty, ApiPropertyOptional, ApiSchema, IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';
import { applyDecorators } from '@nestjs/common';
import {
  CERTIFICATE_PEM_MAX_CHARS,
  PFX_BASE64_MAX_CHARS,
  PFX_PASSWORD_MAX_CHARS,
  PRIVATE_KEY_PEM_MAX_CHARS,
} from './certificate-parser';
import {
  INSTANCE_ENVIRONMENTS,
  INSTANCE_STATES,
  type InstanceEnvironment,
  type InstanceState,
} from './instance.entity';

/**
 * Request and response shapes of the Applications Setup API (host contract §5 and §7). Each field is declared
 * once, through the field builders below, which apply both the class-validator rules (the door) and the
 * `@ApiProperty` metadata the settings form schema is generated from — so the form and the validation
 * cannot drift apart.
 */

/** Defaults of stage 1's optional settings. */
export const INSTANCE_DEFAULTS = {
  environment: 'production' as InstanceEnvironment,
  catalogSchedule: '0 3 * * *',
  returnWindowDays: 30,
  autoAcceptCancellations: false,
};

/** The fields whose change invalidates the last connection test (and so makes a ready instance draft). */
export const CONNECTION_FIELDS = [
  'resourceApi',
  'serviceUrl',
  'tenantId',
  'channelId',
  'clientId',
  'authorityHost',
  'caCertificatePem',
] as const;

/** The two ways to upload a certificate: exactly one of these field sets. */
export const CERTIFICATE_UPLOAD_FORMS = [
  ['pem', 'privateKeyPem'],
  ['pfxBase64', 'password'],
] as const;

/** Stage 2's market: these fields come together or not at all. */
export const MARKET_FIELDS = ['country', 'language'] as const;

/** Upload fields that are secrets: write-only, never echoed, never logged, never audited by value. */
export const SECRET_UPLOAD_FIELDS = ['privateKeyPem', 'pfxBase64', 'password'] as const;

// ---------------------------------------------------------------------------------------------------------
// Field builders

type Presence = 'required' | 'optional' | 'nullable';

/** `optional`: may be absent but never null; `nullable`: may also be null (clears the setting). */
function presence(mode: Presence): PropertyDecorator[] {
  switch (mode) {
    case 'required':
      return [];
    case 'optional':
      return [ValidateIf((_o, value) => value !== undefined)];
    case 'nullable':
      return [ValidateIf((_o, value) => value !== undefined && value !== null)];
  }
}

interface TextFieldSpec {
  description: string;
  maxLength: number;
  pattern?: RegExp;
  /** Said when the pattern does not match: what is expected. */
  expected?: string;
  format?: 'uri';
  example?: string;
  secret?: boolean;
  default?: string;
  /** Extra checks, applied after the string checks. */
  extra?: PropertyDecorator[];
}

function TextField(mode: Presence, spec: TextFieldSpec): PropertyDecorator {
  return applyDecorators(
    ...presence(mode),
    IsString(),
    IsNotEmpty(),
    MaxLength(spec.maxLength),
    ...(spec.pattern ? [Matches(spec.pattern, { message: `$property must be ${spec.expected}` })] : []),
    ...(spec.extra ?? []),
    ApiProperty({
      type: 'string',
      required: mode === 'required',
      nullable: mode === 'nullable' ? true : undefined,
      description: spec.description,
      minLength: 1,
      maxLength: spec.maxLength,
      pattern: spec.pattern?.source,
      format: spec.format,
      example: spec.secret ? undefined : spec.example,
      default: spec.default,
      ...(spec.secret ? { writeOnly: true, 'x-secret': true } : {}),
    }),
  );
}

/** An absolute URL; `https` only when `httpsOnly`. */
function IsAbsoluteUrl(protocols: string[]): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isAbsoluteUrl',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          try {
            return protocols.includes(new URL(value).protocol);
          } catch {
            return false;
          }
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be an absolute ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`,
      },
    });
}

/** A PEM X.509 certificate block (shape only; the parser judges the content). */
const PEM_CERTIFICATE = /^\s*-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/;

const CRON_FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/**
 * Why a five-field cron expression (as Bull's repeatable jobs take it) is not valid, or null when it is.
 * Kept here rather than borrowed from Bull's parser, which is not a dependency of the plugin.
 */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return 'must have five fields: minute hour day-of-month month day-of-week';
  for (const [index, field] of fields.entries()) {
    const spec = CRON_FIELDS[index];
    const value = (token: string): number | null => {
      const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
      if (named >= 0) return named + (spec.name === 'month' ? 1 : 0);
      if (!/^\d+$/.test(token)) return null;
      const n = Number(token);
      return n >= spec.min && n <= spec.max ? n : null;
    };
    for (const item of field.split(',')) {
      const [range, step, ...more] = item.split('/');
      if (more.length > 0 || (step !== undefined && !/^[1-9]\d*$/.test(step))) {
        return `has an invalid step in its ${spec.name} field ("${item}")`;
      }
      if (range === '*') continue;
      const [from, to, ...rest] = range.split('-');
      const a = value(from);
      const b = to === undefined ? a : value(to);
      if (rest.length > 0 || a === null || b === null || b < a) {
        return `has an invalid ${spec.name} field ("${item}"; allowed ${spec.min}-${spec.max})`;
      }
    }
  }
  return null;
}

function IsCronExpression(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isCronExpression',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) => typeof value === 'string' && cronProblem(value) === null,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} ${typeof args?.value === 'string' ? cronProblem(args.value) : 'must be a cron expression'}`,
      },
    });
}

/**
 * Stage 1's fields, each declared once. `presence` is the only thing the create and the update DTO choose:
 * required on create (where the form marks it so), optional on update.
 */
const StageOneField = {
  systemName: (mode: Presence) =>
    TextField(mode, {
      description: 'A name for this instance, unique among instances, e.g. `ESD-GR`.',
      maxLength: 100,
      pattern: /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/,
      expected: 'letters, digits, spaces, dots, underscores or dashes, starting with a letter or digit',
      example: 'ESD-GR',
    }),
  resourceApi: (mode: Presence) =>
    TextField(mode, {
      description: 'The Resource API (Application ID URI) Microsoft gave for the CIS ESD API.',
      maxLength: 500,
      format: 'uri',
      extra: [IsAbsoluteUrl(['https:', 'http:', 'api:'])],
      example: 'https://cis.sandbox.esd.local',
    }),
  serviceUrl: (mode: Presence) =>
    TextField(mode, {
      description: 'Base URL of the CIS ESD API.',
      maxLength: 500,
      format: 'uri',
      extra: [IsAbsoluteUrl(['https:', 'http:'])],
    }),
  tenantId: (mode: Presence) =>
    TextField(mode, {
      description: 'The Azure AD tenant (GUID or domain) the client ID is registered in.',
      maxLength: 100,
      pattern: /^[A-Za-z0-9][A-Za-z0-9.-]*$/,
      expected: 'a tenant GUID or domain',
    }),
  channelId: (mode: Presence) =>
    TextField(mode, {
      description: 'Channel ID: the Microsoft Bill-To account the calls act for.',
      maxLength: 100,
      pattern: /^[A-Za-z0-9_-]+$/,
      expected: 'letters, digits, underscores or dashes',
    }),
  clientId: (mode: Presence) =>
    TextField(mode, {
      description: 'The client (application) ID Microsoft issued for this distributor and country.',
      maxLength: 100,
      pattern: /^[A-Za-z0-9_-]+$/,
      expected: 'letters, digits, underscores or dashes',
    }),
  authorityHost: (mode: Presence) =>
    TextField(mode, {
      description: 'Origin of the identity provider. Leave empty for https://login.microsoftonline.com.',
      maxLength: 500,
      format: 'uri',
      extra: [IsAbsoluteUrl(['https:'])],
    }),
  caCertificatePem: (mode: Presence) =>
    TextField(mode, {
      description:
        'A CA certificate (PEM) to trust for the sign-in and the API, for sandbox and pre-production endpoints.',
      maxLength: 20_000,
      pattern: PEM_CERTIFICATE,
      expected: 'a PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)',
    }),
  environment: (mode: Presence) =>
    applyDecorators(
      ...presence(mode),
      IsIn(INSTANCE_ENVIRONMENTS),
      ApiProperty({
        enum: INSTANCE_ENVIRONMENTS,
        required: false,
        default: INSTANCE_DEFAULTS.environment,
        description: 'Whether this instance talks to Microsoft production or a test environment.',
      }),
    ),
  catalogSchedule: (mode: Presence) =>
    TextField(mode, {
      description: 'When Get Services Definition runs on its own: a five-field cron expression (UTC).',
      maxLength: 100,
      extra: [IsCronExpression()],
      default: INSTANCE_DEFAULTS.catalogSchedule,
      example: INSTANCE_DEFAULTS.catalogSchedule,
    }),
  returnWindowDays: (mode: Presence) =>
    applyDecorators(
      ...presence(mode),
      IsInt(),
      Min(1),
      Max(365),
      ApiProperty({
        type: 'integer',
        required: false,
        minimum: 1,
        maximum: 365,
        default: INSTANCE_DEFAULTS.returnWindowDays,
        description: 'Days after purchase during which a license may be returned.',
      }),
    ),
  autoAcceptCancellations: (mode: Presence) =>
    applyDecorators(
      ...presence(mode),
      IsBoolean(),
      ApiProperty({
        type: 'boolean',
        required: false,
        default: INSTANCE_DEFAULTS.autoAcceptCancellations,
        description: 'Accept eligible storefront cancellation requests without an administrator.',
      }),
    ),
};

// ---------------------------------------------------------------------------------------------------------
// Stage 1

/** `POST /esd/instances` — stage 1: the connection. */
export class CreateInstanceDto {
  @StageOneField.systemName('required') systemName: string;
  @StageOneField.resourceApi('required') resourceApi: string;
  @StageOneField.serviceUrl('required') serviceUrl: string;
  @StageOneField.tenantId('required') tenantId: string;
  @StageOneField.channelId('required') channelId: string;
  @StageOneField.clientId('required') clientId: string;
  @StageOneField.authorityHost('optional') authorityHost?: string;
  @StageOneField.caCertificatePem('optional') caCertificatePem?: string;
  @StageOneField.environment('optional') environment?: InstanceEnvironment;
  @StageOneField.catalogSchedule('optional') catalogSchedule?: string;
  @StageOneField.returnWindowDays('optional') returnWindowDays?: number;
  @StageOneField.autoAcceptCancellations('optional') autoAcceptCancellations?: boolean;
}

/** Stage 1's fields as PATCH takes them: any subset; `authorityHost` and `caCertificatePem` may be cleared with null. */
export class UpdateConnectionDto {
  @StageOneField.systemName('optional') systemName?: string;
  @StageOneField.resourceApi('optional') resourceApi?: string;
  @StageOneField.serviceUrl('optional') serviceUrl?: string;
  @StageOneField.tenantId('optional') tenantId?: string;
  @StageOneField.channelId('optional') channelId?: string;
  @StageOneField.clientId('optional') clientId?: string;
  @StageOneField.authorityHost('nullable') authorityHost?: string | null;
  @StageOneField.caCertificatePem('nullable') caCertificatePem?: string | null;
  @StageOneField.environment('optional') environment?: InstanceEnvironment;
  @StageOneField.catalogSchedule('optional') catalogSchedule?: string;
  @StageOneField.returnWindowDays('optional') returnWindowDays?: number;
  @StageOneField.autoAcceptCancellations('optional') autoAcceptCancellations?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Stage 2

const usesForm = (o: Record<string, unknown>, form: 0 | 1) =>
  CERTIFICATE_UPLOAD_FORMS[form].some((field) => o[field] !== undefined);

/** The certificate upload: `{ pem, privateKeyPem }` or `{ pfxBase64, password }`. */
export class CertificateUploadDto {
  @ValidateIf((o: Record<string, unknown>) => !usesForm(o, 1))
  @TextField('required', {
    description: 'The client certificate registered with Microsoft (PEM).',
    maxLength: CERTIFICATE_PEM_MAX_CHARS,
  })
  pem?: string;

  @ValidateIf((o: Record<string, unknown>) => !usesForm(o, 1))
  @TextField('required', {
    description: "The certificate's private key (PEM, unencrypted). Write-only.",
    maxLength: PRIVATE_KEY_PEM_MAX_CHARS,
    secret: true,
  })
  privateKeyPem?: string;

  @ValidateIf((o: Record<string, unknown>) => !usesForm(o, 0))
  @TextField('required', {
    description: 'The certificate and its private key as a PFX (PKCS#12) file, base64. Write-only.',
    maxLength: PFX_BASE64_MAX_CHARS,
    secret: true,
  })
  pfxBase64?: string;

  // A PFX may have an empty password, so this one field is not held to "not empty".
  @ValidateIf((o: Record<string, unknown>) => !usesForm(o, 0))
  @IsString()
  @MaxLength(PFX_PASSWORD_MAX_CHARS)
  @ApiProperty({
    type: 'string',
    maxLength: PFX_PASSWORD_MAX_CHARS,
    description: "The PFX file's password (may be empty). Write-only.",
    writeOnly: true,
    'x-secret': true,
  } as Parameters<typeof ApiProperty>[0])
  password?: string;
}

/** Exactly one of the two upload forms, not a mix. */
function IsOneCertificateForm(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isOneCertificateForm',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) =>
          typeof value !== 'object' ||
          value === null ||
          !(usesForm(value as Record<string, unknown>, 0) && usesForm(value as Record<string, unknown>, 1)),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be either { pem, privateKeyPem } or { pfxBase64, password }, not both`,
      },
    });
}

/** Stage 2: the certificate and the market. */
export class StageTwoDto {
  @ValidateIf((_o, value) => value !== undefined)
  @IsObject()
  @IsOneCertificateForm()
  @ValidateNested()
  @Type(() => CertificateUploadDto)
  @ApiProperty({
    type: () => CertificateUploadDto,
    required: false,
    description:
      'The client certificate and its private key: `{ pem, privateKeyPem }` or `{ pfxBase64, password }`. The thumbprint and expiry are read from it.',
  })
  certificate?: CertificateUploadDto;

  @ValidateIf((o: StageTwoDto) => MARKET_FIELDS.some((f) => o[f] !== undefined))
  @IsString({ message: 'country must be given together with language, as an ISO 3166 code such as GR' })
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an upper-case ISO 3166-1 alpha-2 code such as GR' })
  @ApiProperty({
    type: 'string',
    required: false,
    pattern: '^[A-Z]{2}$',
    description:
      'The country this instance sells in; one of the markets in the options. Comes with language.',
    example: 'GR',
  })
  country?: string;

  @ValidateIf((o: StageTwoDto) => MARKET_FIELDS.some((f) => o[f] !== undefined))
  @IsString({ message: 'language must be given together with country, as a language tag such as el-GR' })
  @MaxLength(20)
  @Matches(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, {
    message: 'language must be a language tag such as el-GR',
  })
  @ApiProperty({
    type: 'string',
    required: false,
    maxLength: 20,
    pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
    description: "The catalog language; one of the chosen market's languages. Comes with country.",
    example: 'el-GR',
  })
  language?: string;
}

/** `PATCH /esd/instances/:id` — any subset of both stages, and `disabled`. */
export class UpdateInstanceDto extends IntersectionType(UpdateConnectionDto, StageTwoDto) {
  @ValidateIf((_o, value) => value !== undefined)
  @IsBoolean()
  @ApiProperty({
    type: 'boolean',
    required: false,
    description: 'true takes the instance out of service; false puts it back (draft or ready).',
  })
  disabled?: boolean;
}

/** `?cursor=&limit=` of every list. */
export class ListQueryDto {
  @ValidateIf((_o, value) => value !== undefined)
  @IsString()
  @MaxLength(500)
  @ApiPropertyOptional({ maxLength: 500, description: "The previous page's `nextCursor`." })
  cursor?: string;

  @ValidateIf((_o, value) => value !== undefined)
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 500,
    default: 50,
    description: 'Items per page.',
  })
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number from 1 to 500' })
  @Min(1, { message: 'limit must be a whole number from 1 to 500' })
  @Max(500, { message: 'limit must be a whole number from 1 to 500' })
  limit?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Responses (host contract §7)

/** The public face of an instance's certificate: never the key. */
export interface InstanceCertificateView {
  id: string;
  /** SHA-1 of the DER, upper-case hex: what Microsoft's portal shows. */
  thumbprint: string;
  thumbprintSha256: string;
  subject: string;
  expiresAt: string;
  expiresInDays: number;
  /** A sentence when the certificate expires within 30 days or has expired. */
  expiryWarning: string | null;
}

/** The outcome of the last connection test, as stored on the instance. */
export interface InstanceConnectionTestView {
  ok: boolean;
  at: string;
  message: string | null;
  steps: ConnectionTestStep[];
}

/** An instance as the API answers it (host contract §7 "Instance"). Never carries a secret. */
export interface InstanceView {
  id: string;
  systemName: string;
  resourceApi: string;
  serviceUrl: string;
  tenantId: string;
  channelId: string;
  clientId: string;
  authorityHost: string;
  caCertificatePem: string | null;
  environment: InstanceEnvironment;
  state: InstanceState;
  country: string | null;
  language: string | null;
  certificate: InstanceCertificateView | null;
  catalogSchedule: string;
  returnWindowDays: number;
  autoAcceptCancellations: boolean;
  lastConnectionTest: InstanceConnectionTestView | null;
  /** What still keeps a draft instance from being ready (empty when ready or disabled). */
  missing: string[];
  createdAt: string;
  updatedAt: string;
}

/** `GET /esd/instances/:id/options` (host contract §7 "Options"). */
export interface InstanceOptionsView {
  certificates: Array<{ id: string; thumbprint: string; subject: string; expiresAt: string }>;
  markets: Array<{ country: string; currency: string; languages: string[] }>;
  /** Why `markets` is empty, when it is. */
  note?: string;
}

/** The steps of a connection test, in order. */
export const CONNECTION_TEST_STEPS = ['certificate', 'sign-in', 'read', 'market'] as const;
export type ConnectionTestStepName = (typeof CONNECTION_TEST_STEPS)[number];

/** One step of a connection test (host contract §7 "Connection test"). */
export interface ConnectionTestStep {
  step: ConnectionTestStepName;
  ok: boolean;
  message?: string;
  /** The plugin's error code when the step failed. */
  code?: string;
}

/** 200 answer of `POST /esd/instances/:id/test-connection`; a failure answers 422 CONNECTION_FAILED. */
export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionTestStep[];
}

export { INSTANCE_STATES };

// ---------------------------------------------------------------------------------------------------------
// The same responses as OpenAPI schemas: each class implements its interface, so the two cannot drift apart.

@ApiSchema({ name: 'InstanceCertificate' })
export class InstanceCertificateDto implements InstanceCertificateView {
  @ApiProperty() id: string;
  @ApiProperty({ description: "SHA-1 of the DER, upper-case hex: what Microsoft's portal shows." })
  thumbprint: string;
  @ApiProperty() thumbprintSha256: string;
  @ApiProperty() subject: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
  @ApiProperty({ type: 'integer' }) expiresInDays: number;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'A sentence when the certificate expires within 30 days or has expired.',
  })
  expiryWarning: string | null;
}

@ApiSchema({ name: 'ConnectionTestStep' })
export class ConnectionTestStepDto implements ConnectionTestStep {
  @ApiProperty({ enum: CONNECTION_TEST_STEPS }) step: ConnectionTestStepName;
  @ApiProperty() ok: boolean;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional({ description: "The plugin's error code when the step failed." }) code?: string;
}

@ApiSchema({ name: 'InstanceConnectionTest' })
export class InstanceConnectionTestDto implements InstanceConnectionTestView {
  @ApiProperty() ok: boolean;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ type: 'string', nullable: true }) message: string | null;
  @ApiProperty({ type: () => [ConnectionTestStepDto] }) steps: ConnectionTestStepDto[];
}

/** An instance (host contract §7 "Instance"). Never carries a secret. */
@ApiSchema({ name: 'Instance', description: 'An instance. Never carries a secret.' })
export class InstanceViewDto implements InstanceView {
  @ApiProperty() id: string;
  @ApiProperty() systemName: string;
  @ApiProperty() resourceApi: string;
  @ApiProperty() serviceUrl: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() channelId: string;
  @ApiProperty() clientId: string;
  @ApiProperty() authorityHost: string;
  @ApiProperty({ type: 'string', nullable: true }) caCertificatePem: string | null;
  @ApiProperty({ enum: INSTANCE_ENVIRONMENTS }) environment: InstanceEnvironment;
  @ApiProperty({
    enum: INSTANCE_STATES,
    description:
      'draft until the certificate, country and language are set and the last connection test passed; a change to the connection or the market makes it draft again.',
  })
  state: InstanceState;
  @ApiProperty({ type: 'string', nullable: true }) country: string | null;
  @ApiProperty({ type: 'string', nullable: true }) language: string | null;
  @ApiProperty({ type: () => InstanceCertificateDto, nullable: true })
  certificate: InstanceCertificateDto | null;
  @ApiProperty() catalogSchedule: string;
  @ApiProperty({ type: 'integer' }) returnWindowDays: number;
  @ApiProperty() autoAcceptCancellations: boolean;
  @ApiProperty({ type: () => InstanceConnectionTestDto, nullable: true })
  lastConnectionTest: InstanceConnectionTestDto | null;
  @ApiProperty({
    type: [String],
    description: 'What still keeps a draft instance from being ready (empty when ready or disabled).',
  })
  missing: string[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

@ApiSchema({ name: 'CertificateOption' })
export class CertificateOptionDto {
  @ApiProperty() id: string;
  @ApiProperty() thumbprint: string;
  @ApiProperty() subject: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
}

@ApiSchema({ name: 'MarketOption' })
export class MarketOptionDto {
  @ApiProperty({ example: 'GR' }) country: string;
  @ApiProperty({ example: 'EUR' }) currency: string;
  @ApiProperty({ type: [String], example: ['el-GR', 'en-US'] }) languages: string[];
}

@ApiSchema({ name: 'InstanceOptions' })
export class InstanceOptionsDto implements InstanceOptionsView {
  @ApiProperty({ type: () => [CertificateOptionDto] }) certificates: CertificateOptionDto[];
  @ApiProperty({
    type: () => [MarketOptionDto],
    description: "Listed once the instance's certificate is stored (listing them needs a sign-in).",
  })
  markets: MarketOptionDto[];
  @ApiPropertyOptional({ description: 'Why `markets` is empty, when it is.' }) note?: string;
}

@ApiSchema({ name: 'ConnectionTestResult' })
export class ConnectionTestResultDto implements ConnectionTestResult {
  @ApiProperty() ok: boolean;
  @ApiProperty({ type: () => [ConnectionTestStepDto] }) steps: ConnectionTestStepDto[];
}
