import {
  HttpException,
  HttpStatus,
  Injectable,
  ValidationPipe,
  type CanActivate,
  type ExecutionContext,
  type ValidationError,
} from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import type { EsdPrincipal } from '../../src/host/principal';
import { principalFromRequest } from './principal';

/** The body of every error the reference host's own routes answer: the same shape as the plugin's. */
export interface HostErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** An HTTP error whose body is {@link HostErrorBody} (Nest sends an object response as it is). */
export function hostError(
  status: HttpStatus,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): HttpException {
  const body: HostErrorBody = { statusCode: status, code, message, ...(details ? { details } : {}) };
  return new HttpException(body, status);
}

function fieldsOf(errors: ValidationError[], parent = ''): Array<{ field: string; problems: string[] }> {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...fieldsOf(e.children ?? [], field)];
  });
}

/** Validation for the host's routes: unknown fields refused, a 400 that names every field and its problem. */
export const hostValidationPipe = () =>
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) => {
      const fields = fieldsOf(errors);
      return hostError(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        `The request is not valid: ${fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ')}.`,
        { fields },
      );
    },
  });

/** The caller, or 401 naming the header the reference host reads. */
export function caller(request: unknown): EsdPrincipal {
  const principal = principalFromRequest(request);
  if (!principal)
    throw hostError(
      HttpStatus.UNAUTHORIZED,
      'UNAUTHENTICATED',
      'Send x-principal: admin, reseller:<accountId> or customer:<accountId>.',
    );
  return principal;
}

export class PageQuery {
  @IsOptional() @IsString() @MaxLength(200) cursor?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
}

/**
 * Key-set pagination over (createdAt, id): stable while rows are added. `where` is an equality filter;
 * `scope` adds what a filter object cannot say (who may see which rows).
 */
export async function page<T extends ObjectLiteral & { id: string }, R>(
  repo: Repository<T>,
  query: PageQuery,
  where: Partial<Record<keyof T & string, unknown>>,
  createdAt: keyof T & string,
  map: (row: T) => R,
  scope?: (qb: SelectQueryBuilder<T>) => void,
): Promise<{ items: R[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50;
  let after: { at: string; id: string } | undefined;
  if (query.cursor) {
    const [at, id] = Buffer.from(query.cursor, 'base64url').toString('utf8').split('|');
    if (!at || !id)
      throw hostError(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', 'cursor is not one this API gave out');
    after = { at, id };
  }
  const qb = repo.createQueryBuilder('r').where(where);
  scope?.(qb);
  if (after) {
    qb.andWhere(`(r.${createdAt} > :at OR (r.${createdAt} = :at AND r.id > :id))`, after);
  }
  const rows = await qb
    .orderBy(`r.${createdAt}`, 'ASC')
    .addOrderBy('r.id', 'ASC')
    .take(limit + 1)
    .getMany();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    rows.length > limit && last
      ? Buffer.from(`${String(last[createdAt])}|${last.id}`).toString('base64url')
      : null;
  return { items: items.map(map), nextCursor };
}

/**
 * Every `/host/*` route needs a caller: answered before the body is validated, so an anonymous call learns it
 * must log in rather than what its body lacks.
 */
@Injectable()
export class HostPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    caller(context.switchToHttp().getRequest<unknown>());
    return true;
  }
}
