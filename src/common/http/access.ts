import {
  applyDecorators,
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
import { ESD_OPTIONS } from '../../constants';
import type { EsdPermission, EsdPrincipal, EsdRole } from '../../host/principal';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';
import { EsdErrorCode } from '../error-codes';
import { EsdError } from '../esd-error';
import { EsdExceptionFilter } from './esd-exception.filter';

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

/** Declares who may call a route or every route of a controller. */
export const Access = (access: RouteAccess) => SetMetadata(ACCESS_METADATA, access);

/**
 * What every plugin controller carries: the access guard, DTO validation that refuses unknown fields, and the
 * plugin's error body. Controller-scoped so the plugin never changes the host's global pipes or filters.
 */
export const EsdController = () =>
  applyDecorators(
    UseGuards(EsdAccessGuard),
    UsePipes(
      new ValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        transform: true,
        exceptionFactory: (errors) => {
          const fields = flattenValidationErrors(errors);
          return new EsdError(
            EsdErrorCode.VALIDATION_FAILED,
            `The request is not valid: ${fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ')}.`,
            { fields },
          );
        },
      }),
    ),
    UseFilters(EsdExceptionFilter),
  );
