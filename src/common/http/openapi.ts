import { applyDecorators, RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import {
  ApiExtension,
  ApiExtraModels,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSchema,
  ApiSecurity,
  getSchemaPath,
  type ApiResponseOptions,
} from '@nestjs/swagger';
import type { Money } from '../../host/ports';
import { ELIGIBILITY_REASON_CODES } from '../../cancellation/eligibility';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../error-codes';
import type { RouteAccess } from './access';
import type { EsdErrorBody } from './esd-exception.filter';

/**
 * The OpenAPI side of the plugin's HTTP API (served at `GET /<routePrefix>/openapi.json`): the shapes every route
 * shares, and the decorators that say which error codes a route answers. Statuses come from
 * {@link ERROR_DESCRIPTIONS}, the table the exception filter answers from, so the document and the code cannot
 * disagree about a code's status.
 */

/** Name of the security scheme standing for "the host's own authentication". */
export const HOST_PRINCIPAL_SCHEME = 'hostPrincipal';

/** The body of every error the plugin answers. */
@ApiSchema({ name: 'EsdError', description: 'The body of every error the plugin answers.' })
export class EsdErrorBodyDto implements EsdErrorBody {
  @ApiProperty({ type: 'integer', description: 'The HTTP status, repeated.', example: 404 })
  statusCode: number;

  @ApiProperty({
    enum: EsdErrorCode,
    enumName: 'EsdErrorCode',
    description: 'What went wrong, as a stable code. Each route lists the codes it answers, by status.',
  })
  code: string;

  @ApiProperty({ description: 'A sentence a person can act on. Never carries a secret.' })
  message: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Machine-readable details: the fields of a validation failure (`fields`), the reasons and deadline of a refused cancellation, the steps of a failed connection test, …',
  })
  details?: Record<string, unknown>;
}

/** An amount of money in minor units (cents). */
@ApiSchema({ name: 'Money' })
export class MoneyDto implements Money {
  @ApiProperty({ type: 'integer', description: 'Minor units (cents).', example: 14900 })
  amountMinor: number;

  @ApiProperty({ description: 'ISO 4217 currency code.', example: 'EUR' })
  currency: string;
}

/** A code and its sentence: a provisioning error, a return reason, a failure. */
@ApiSchema({ name: 'Reason' })
export class ReasonDto {
  @ApiProperty({ example: 'TOKEN_REDEEMED' })
  code: string;

  @ApiProperty()
  message: string;
}

// ---------------------------------------------------------------------------------------------------------
// Groups of codes several routes answer

/** Microsoft's sign-in refused or unreachable: any route that calls Microsoft may answer these. */
export const CIS_SIGN_IN_ERRORS = [
  EsdErrorCode.CIS_AUTH_UNKNOWN_CLIENT,
  EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT,
  EsdErrorCode.CIS_AUTH_CERTIFICATE_NOT_TRUSTED,
  EsdErrorCode.CIS_AUTH_BAD_SIGNATURE,
  EsdErrorCode.CIS_AUTH_ASSERTION_EXPIRED,
  EsdErrorCode.CIS_AUTH_INVALID_RESOURCE,
  EsdErrorCode.CIS_AUTH_AUTHORITY_UNREACHABLE,
  EsdErrorCode.CIS_AUTH_FAILED,
] as const;

/** A CIS API call that failed whatever it asked: any route that calls Microsoft may answer these. */
export const CIS_CALL_ERRORS = [
  EsdErrorCode.CIS_UNAVAILABLE,
  EsdErrorCode.CIS_TIMEOUT,
  EsdErrorCode.CIS_RATE_LIMITED,
  EsdErrorCode.CIS_MALFORMED_RESPONSE,
  EsdErrorCode.CIS_UNAUTHORIZED,
  EsdErrorCode.CIS_CHANNEL_MISMATCH,
  EsdErrorCode.CIS_INVALID_REQUEST,
  EsdErrorCode.CIS_REQUEST_FAILED,
  EsdErrorCode.CIS_TLS_NOT_TRUSTED,
] as const;

/** The refusals of a cancellation, one per eligibility reason (host contract §7, Eligibility). */
export const CANCELLATION_REFUSALS = ELIGIBILITY_REASON_CODES.map((code) => EsdErrorCode[code]);

/** The two codes {@link documentAccess} documents from a route's `@Access`; routes do not list them. */
type AccessCode = EsdErrorCode.UNAUTHENTICATED | EsdErrorCode.FORBIDDEN;

// ---------------------------------------------------------------------------------------------------------
// Decorators

function errorResponse(status: number, codes: readonly EsdErrorCode[], note?: string): ApiResponseOptions {
  const lines = codes.map((code) => `\`${code}\` — ${ERROR_DESCRIPTIONS[code].message}`);
  return {
    status,
    description: [...(note ? [note] : []), ...lines].join('\n\n'),
    schema: {
      allOf: [
        { $ref: getSchemaPath(EsdErrorBodyDto) },
        {
          type: 'object',
          properties: {
            statusCode: { type: 'integer', enum: [status] },
            code: { type: 'string', enum: [...codes] },
          },
        },
      ],
    },
    examples: Object.fromEntries(
      codes.map((code) => [
        code,
        { summary: code, value: { statusCode: status, code, message: ERROR_DESCRIPTIONS[code].message } },
      ]),
    ),
    ...(status === 503 || status === 502
      ? {
          headers: {
            'Retry-After': {
              description: 'Seconds to wait before trying again (always on 503; on 502 when Microsoft said).',
              schema: { type: 'integer' },
            },
          },
        }
      : {}),
  };
}

const ERRORS_METADATA = 'esd:api-errors';

/** Methods whose body the plugin reads (a body that is not JSON answers 400 on them). */
const BODY_METHODS: ReadonlySet<RequestMethod> = new Set([
  RequestMethod.POST,
  RequestMethod.PUT,
  RequestMethod.PATCH,
  RequestMethod.DELETE,
]);

/**
 * Whether the validation may refuse the route's input: a body, query or path parameter (the pipe checks each), or a
 * method with a body (a body that is not JSON is refused).
 */
function answersValidation(prototype: object, key: string, handler: object): boolean {
  if (BODY_METHODS.has(Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod)) return true;
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, prototype.constructor, key) as
    Record<string, unknown> | undefined;
  const read = new Set([RouteParamtypes.BODY, RouteParamtypes.QUERY, RouteParamtypes.PARAM].map(Number));
  return Object.keys(args ?? {}).some((arg) => read.has(Number(arg.split(':')[0])));
}

/**
 * The error codes a route answers besides those of its `@Access` (401, 403) and of the validation (400, added to
 * every route that takes input). The responses are written by {@link ApiEsdErrorAnswers}, once the class is
 * complete, grouped by the status each code maps to.
 */
export function ApiEsdErrors(...codes: Array<Exclude<EsdErrorCode, AccessCode>>): MethodDecorator {
  return (_target, _key, descriptor) => {
    Reflect.defineMetadata(ERRORS_METADATA, codes, descriptor.value as object);
    return descriptor;
  };
}

/**
 * Writes each route's error answers into the document: the codes of its {@link ApiEsdErrors} and 400
 * `VALIDATION_FAILED` where it takes input, one response per status with the codes it may carry. Part of
 * `@EsdController()`, which runs after every route's own decorators.
 */
export function ApiEsdErrorAnswers(): ClassDecorator {
  return (target) => {
    const prototype = target.prototype as object;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
      const handler = descriptor?.value as object | undefined;
      if (!descriptor || typeof handler !== 'function' || !Reflect.hasMetadata(METHOD_METADATA, handler))
        continue;
      const codes = new Set<EsdErrorCode>(
        (Reflect.getMetadata(ERRORS_METADATA, handler) as EsdErrorCode[] | undefined) ?? [],
      );
      if (answersValidation(prototype, key, handler)) codes.add(EsdErrorCode.VALIDATION_FAILED);
      const byStatus = new Map<number, EsdErrorCode[]>();
      for (const code of codes) {
        const status = ERROR_DESCRIPTIONS[code].httpStatus;
        byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
      }
      const responses = [...byStatus.entries()]
        .sort(([a], [b]) => a - b)
        .map(([status, group]) => ApiResponse(errorResponse(status, group)));
      applyDecorators(ApiExtraModels(EsdErrorBodyDto), ...responses)(prototype, key, descriptor);
    }
  };
}

/**
 * What `@Access` says in the document: who may call the route (`x-esd-access`), the host's security scheme, and
 * 401/403 for a route that needs a principal. Applied where `@Access` is (a controller or one route).
 */
export function documentAccess(access: RouteAccess): Array<ClassDecorator & MethodDecorator> {
  if (access.public) return [ApiExtension('x-esd-access', { public: true })];
  const who =
    access.roles.join(', ') + (access.permission ? ` (admins need the permission ${access.permission})` : '');
  return [
    ApiExtension('x-esd-access', {
      roles: access.roles,
      ...(access.permission ? { permission: access.permission } : {}),
    }),
    ApiSecurity(HOST_PRINCIPAL_SCHEME),
    ApiExtraModels(EsdErrorBodyDto),
    ApiResponse(errorResponse(401, [EsdErrorCode.UNAUTHENTICATED], 'The host gave no principal.')),
    ApiResponse(errorResponse(403, [EsdErrorCode.FORBIDDEN], `Only for: ${who}.`)),
  ];
}

/** 200 with one page of `item`: `{ items, nextCursor }` (host contract §5). */
export function ApiPageResponse(item: Type<unknown>, description = 'One page, in a stable order.') {
  return applyDecorators(
    ApiExtraModels(item),
    ApiOkResponse({
      description,
      schema: {
        type: 'object',
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: { $ref: getSchemaPath(item) } },
          nextCursor: {
            type: 'string',
            nullable: true,
            description: 'Pass it as `cursor` for the next page; null at the end.',
          },
        },
      },
    }),
  );
}
