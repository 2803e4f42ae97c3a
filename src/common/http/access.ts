import {
  applyDecorators,
  type ArgumentMetadata,
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  UseFilters,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ValidationError } from 'class-validator';
import type { IncomingMessage } from 'node:http';
import { ESD_OPTIONS } from '../../constants';
import type { EsdPermission, EsdPrincipal, EsdRole } from '../../host/principal';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';
import { EsdErrorCode } from '../error-codes';
import { EsdError } from '../esd-error';
import { EsdExceptionFilter } from './esd-exception.filter';
import { inputProblem, unreadableBody } from './input-guard';
import { ApiEsdErrorAnswers, documentAccess } from './openapi';

/** class-validator's tree as a flat list of dotted field names and their problems. */
export function flattenValidationErrors(
  errors: ValidationError[],
  parent = '',
): Array<{ field: string; problems: string[] }> {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}

/** The 400 every refused input answers: each field named with its problems. */
export function validationFailed(fields: Array<{ field: string; problems: string[] }>): EsdError {
  return new EsdError(
    EsdErrorCode.VALIDATION_FAILED,
    `The request is not valid: ${fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ')}.`,
    { fields },
  );
}

/**
 * The DTO validation, after the checks of {@link inputProblem}: what no DTO accepts (NUL characters, prototype keys,
 * deep nesting) is refused before the transformer walks it or a path parameter reaches a query.
 */
class EsdValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      const found = inputProblem(value);
      if (found) {
        throw validationFailed([
          { field: found.field || metadata.data || metadata.type, problems: [found.problem] },
        ]);
      }
    }
    return super.transform(value, metadata);
  }
}

/** Refuses a body the routes cannot read (not JSON) instead of letting a route act as though none was sent. */
@Injectable()
export class EsdBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    const problem = unreadableBody(request.method ?? 'GET', request.headers);
    if (problem) throw validationFailed([{ field: 'body', problems: [problem] }]);
    return true;
  }
}

const ACCESS_METADATA = 'esd:access';

/** Who may call a route: `public`, or the roles (and, for admins, a permission). */
export type RouteAccess = { public: true } | { public?: false; roles: EsdRole[]; permission?: EsdPermission };

/** The request property the guard leaves the principal on. */
export const PRINCIPAL_PROPERTY = 'esdPrincipal';

export function principalOf(request: unknown): EsdPrincipal {
  return (request as Record<string, EsdPrincipal>)[PRINCIPAL_PROPERTY];
}

/** Reads the principal through the host's resolver and applies the route's access rule. */
@Injectable()
export class EsdAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    // A route without a declared rule is a programming error: refuse rather than expose it.
    if (!access) throw new EsdError(EsdErrorCode.FORBIDDEN);
    if (access.public) return true;
    const request = context.switchToHttp().getRequest<Record<string, unknown>>();
    const principal = this.options.principal(request);
    if (!principal) throw new EsdError(EsdErrorCode.UNAUTHENTICATED);
    if (!access.roles.includes(principal.role)) throw new EsdError(EsdErrorCode.FORBIDDEN);
    if (
      principal.role === 'admin' &&
      access.permission &&
      !principal.permissions.includes(access.permission)
    ) {
      throw new EsdError(EsdErrorCode.FORBIDDEN, `This needs the permission ${access.permission}.`);
    }
    request[PRINCIPAL_PROPERTY] = principal;
    return true;
  }
}

/** Declares who may call a route or every route of a controller; the OpenAPI document says the same. */
export const Access = (access: RouteAccess) =>
  applyDecorators(SetMetadata(ACCESS_METADATA, access), ...documentAccess(access));

/**
 * What every plugin controller carries: the access guard, the body-type check, DTO validation that refuses unknown
 * fields, and the plugin's error body (its answers by route written into the OpenAPI document). Controller-scoped so
 * the plugin never changes the host's global pipes or filters.
 */
export const EsdController = () =>
  applyDecorators(
    UseGuards(EsdAccessGuard, EsdBodyGuard),
    UsePipes(
      new EsdValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        transform: true,
        exceptionFactory: (errors) => validationFailed(flattenValidationErrors(errors)),
      }),
    ),
    UseFilters(EsdExceptionFilter),
    ApiEsdErrorAnswers(),
  );
