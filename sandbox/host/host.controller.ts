import {
  Body,
  Controller,
  Get,
  HttpStatus,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Req,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
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
import { DataSource } from 'typeorm';
import { HostAccountRow, HostEventRow, HostNotificationRow, HostProductRow } from './host.entities';
import { caller, HostPrincipalGuard, hostError, hostValidationPipe, page, PageQuery } from './host-http';

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

class ProductQuery extends PageQuery {
  @IsOptional() @IsIn(['new', 'updated', 'discontinued', 'current']) catalogStatus?: string;
  @IsOptional() @IsString() @MaxLength(36) instanceId?: string;
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
@UseGuards(HostPrincipalGuard)
@UsePipes(hostValidationPipe())
export class HostController {
  constructor(@Inject(HOST_DATA_SOURCE) private readonly dataSource: DataSource) {}

  @Post('accounts')
  async createAccount(
    @Req() request: unknown,
    @Body() body: CreateAccountDto,
  ): Promise<{ accountId: string }> {
    const principal = caller(request);
    if (principal.role === 'customer')
      throw hostError(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Customers cannot create accounts.');
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
    const where: Partial<Record<keyof HostProductRow, unknown>> = {};
    if (query.catalogStatus) where.catalogStatus = query.catalogStatus;
    if (query.instanceId) where.instanceId = query.instanceId;
    // The storefront sees what is for sale; the admin sees everything.
    if (principal.role !== 'admin') Object.assign(where, { active: true, published: true, sellable: true });
    return page(this.dataSource.getRepository(HostProductRow), query, where, 'createdAt', productView);
  }

  @Patch('products/:id')
  async patchProduct(@Req() request: unknown, @Param('id') id: string, @Body() body: PatchProductDto) {
    if (caller(request).role !== 'admin')
      throw hostError(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Only the provider edits products.');
    const repo = this.dataSource.getRepository(HostProductRow);
    const product = await repo.findOneBy({ id });
    if (!product) throw hostError(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'No such product.');
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
      throw hostError(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Only the provider sees plugin events.');
    return page(this.dataSource.getRepository(HostEventRow), query, {}, 'receivedAt', (e: HostEventRow) => ({
      id: e.id,
      name: e.name,
      payload: JSON.parse(e.payload) as unknown,
      occurredAt: e.occurredAt,
      receivedAt: e.receivedAt,
    }));
  }
}
