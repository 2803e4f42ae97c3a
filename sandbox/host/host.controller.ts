import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Get,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
  Req,
  UnauthorizedException,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { randomUUID } from 'node:crypto';
import { DataSource, FindOptionsWhere, Repository } from 'typeorm';
import type { EsdPrincipal } from '../../src/host/principal';
import { HostAccountRow, HostEventRow, HostNotificationRow, HostProductRow } from './host.entities';
import { principalFromRequest } from './principal';

export const HOST_DATA_SOURCE = Symbol('HOST_DATA_SOURCE');

class CreateAccountDto {
  @IsString() @Length(1, 200) name: string;
  @IsEmail() @MaxLength(320) email: string;
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an ISO 3166-1 alpha-2 code such as GR' })
  country: string;
  @Matches(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'locale must be a BCP 47 tag such as el-GR' })
  locale: string;
  @IsOptional() @IsString() @Length(1, 36) resellerAccountId?: string;
}

class PatchProductDto {
  @IsOptional() @IsBoolean() active?: boolean;
  @IsOptional() @IsBoolean() published?: boolean;
  @IsOptional() @IsInt() @Min(0) @Max(100_000_000) priceMinor?: number;
}

class PageQuery {
  @IsOptional() @IsString() @MaxLength(200) cursor?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
}

class ProductQuery extends PageQuery {
  @IsOptional() @IsIn(['new', 'updated', 'discontinued', 'current']) catalogStatus?: string;
  @IsOptional() @IsString() @MaxLength(36) instanceId?: string;
}

/** Key-set pagination over (createdAt, id): stable while rows are added. */
async function page<T extends { id: string }>(
  repo: Repository<T>,
  query: PageQuery,
  where: FindOptionsWhere<T>,
  createdAt: keyof T & string,
  map: (row: T) => unknown,
): Promise<{ items: unknown[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50;
  let after: { at: string; id: string } | undefined;
  if (query.cursor) {
    try {
      const [at, id] = Buffer.from(query.cursor, 'base64url').toString('utf8').split('|');
      if (!at || !id) throw new Error('cursor');
      after = { at, id };
    } catch {
      throw new BadRequestException('cursor is not one this API gave out');
    }
  }
  const qb = repo.createQueryBuilder('r').where(where);
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

function caller(request: unknown): EsdPrincipal {
  const principal = principalFromRequest(request);
  if (!principal)
    throw new UnauthorizedException('Send x-principal: admin, reseller:<accountId> or customer:<accountId>.');
  return principal;
}

function productView(p: HostProductRow) {
  return {
    id: p.id,
    instanceId: p.instanceId,
    code: p.code,
    name: p.name,
    description: p.description,
    productType: p.productType,
    catalogStatus: p.catalogStatus,
    active: p.active,
    published: p.published,
    sellable: p.sellable,
    returnable: p.returnable,
    priceMinor: p.priceMinor,
    currency: p.currency,
  };
}

/** The reference host's own routes: the host's side of the story (host contract §6). */
@Controller('host')
@UsePipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }))
export class HostController {
  constructor(@Inject(HOST_DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Post('accounts')
  async createAccount(
    @Req() request: unknown,
    @Body() body: CreateAccountDto,
  ): Promise<{ accountId: string }> {
    const principal = caller(request);
    if (principal.role === 'customer') throw new ForbiddenException('Customers cannot create accounts.');
    const resellerAccountId =
      principal.role === 'reseller' ? principal.accountId : (body.resellerAccountId ?? null);
    const accountId = randomUUID();
    await this.dataSource.getRepository(HostAccountRow).insert({
      id: accountId,
      name: body.name,
      email: body.email,
      country: body.country,
      locale: body.locale,
      resellerAccountId,
      createdAt: new Date().toISOString(),
    });
    return { accountId };
  }

  @Get('products')
  async products(@Req() request: unknown, @Query() query: ProductQuery) {
    const principal = caller(request);
    const where: FindOptionsWhere<HostProductRow> = {};
    if (query.catalogStatus) where.catalogStatus = query.catalogStatus;
    if (query.instanceId) where.instanceId = query.instanceId;
    // The storefront sees what is for sale; the admin sees everything.
    if (principal.role !== 'admin') Object.assign(where, { active: true, published: true, sellable: true });
    return page(this.dataSource.getRepository(HostProductRow), query, where, 'createdAt', productView);
  }

  @Patch('products/:id')
  async patchProduct(@Req() request: unknown, @Param('id') id: string, @Body() body: PatchProductDto) {
    if (caller(request).role !== 'admin') throw new ForbiddenException('Only the provider edits products.');
    const repo = this.dataSource.getRepository(HostProductRow);
    const product = await repo.findOneBy({ id });
    if (!product) throw new NotFoundException('No such product.');
    await repo.update({ id }, { ...body, updatedAt: new Date().toISOString() });
    return productView({ ...product, ...body });
  }

  @Get('notifications')
  async notifications(@Req() request: unknown, @Query() query: PageQuery) {
    const principal = caller(request);
    const repo = this.dataSource.getRepository(HostNotificationRow);
    const where = principal.role === 'admin' ? {} : { toAccountId: principal.accountId };
    return page(repo, query, where, 'createdAt', (n: HostNotificationRow) => ({
      id: n.id,
      template: n.template,
      to: JSON.parse(n.to) as { accountId: string },
      locale: n.locale,
      data: JSON.parse(n.data) as unknown,
      dedupeKey: n.dedupeKey,
      createdAt: n.createdAt,
    }));
  }

  @Get('events')
  async events(@Req() request: unknown, @Query() query: PageQuery) {
    if (caller(request).role !== 'admin')
      throw new ForbiddenException('Only the provider sees plugin events.');
    return page(this.dataSource.getRepository(HostEventRow), query, {}, 'receivedAt', (e: HostEventRow) => ({
      id: e.id,
      name: e.name,
      payload: JSON.parse(e.payload) as unknown,
      occurredAt: e.occurredAt,
      receivedAt: e.receivedAt,
    }));
  }
}
