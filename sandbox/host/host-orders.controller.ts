import { Body, Controller, Get, Inject, Param, Post, Query, Req, UseGuards, UsePipes } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { Brackets, DataSource } from 'typeorm';
import type { EsdHooks } from '../../src/host/hooks';
import { HostAccountRow, HostInvoiceRow, type HostInvoiceType } from './host.entities';
import { caller, HostPrincipalGuard, hostValidationPipe, page, PageQuery } from './host-http';
import { HOST_DATA_SOURCE } from './host.controller';
import { invoiceViews, type InvoiceView } from './invoices';
import { OrderPipeline, type OrderView } from './order-pipeline';

/**
 * The plugin's hooks as the host resolved them from the loaded package (`EsdHooksService`, exported by the
 * plugin's module). A token, so the host never imports the plugin's classes itself.
 */
export const HOST_ESD_HOOKS = Symbol('HOST_ESD_HOOKS');

/** More than any offer allows at a time; the plugin's precheck says what the offer does allow. */
const MAX_QUANTITY = 10_000;

class OrderItemDto {
  @IsString() @Length(1, 36) productId: string;
  @IsInt() @Min(1) @Max(MAX_QUANTITY) quantity: number;
}

class PlaceOrderDto {
  @IsString() @Length(1, 36) customerAccountId: string;
  @IsOptional() @IsString() @Length(1, 36) billToAccountId?: string;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items: OrderItemDto[];
}

class InvoiceQuery extends PageQuery {
  @IsOptional() @IsString() @Length(1, 36) accountId?: string;
  @IsOptional() @IsIn(['invoice', 'credit-note']) type?: HostInvoiceType;
}

/** The reference host's order pipeline and billing (host contract §6): orders, invoices, credit notes. */
@Controller('host')
@UseGuards(HostPrincipalGuard)
@UsePipes(hostValidationPipe())
export class HostOrdersController {
  private readonly pipeline: OrderPipeline;

  constructor(
    @Inject(HOST_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(HOST_ESD_HOOKS) hooks: EsdHooks,
  ) {
    this.pipeline = new OrderPipeline(dataSource, hooks);
  }

  @Post('orders')
  placeOrder(@Req() request: unknown, @Body() body: PlaceOrderDto): Promise<OrderView> {
    return this.pipeline.place(caller(request), body);
  }

  @Get('orders/:id')
  order(@Req() request: unknown, @Param('id') id: string): Promise<OrderView> {
    return this.pipeline.get(caller(request), id);
  }

  /** Invoices and credit notes: the admin sees all, a customer its own, a reseller its own and its customers'. */
  @Get('invoices')
  async invoices(
    @Req() request: unknown,
    @Query() query: InvoiceQuery,
  ): Promise<{ items: InvoiceView[]; nextCursor: string | null }> {
    const principal = caller(request);
    const where: Partial<Record<keyof HostInvoiceRow, unknown>> = {};
    if (query.accountId) where.accountId = query.accountId;
    if (query.type) where.type = query.type;
    const result = await page(
      this.dataSource.getRepository(HostInvoiceRow),
      query,
      where,
      'createdAt',
      (row) => row,
      (qb) => {
        if (principal.role === 'admin') return;
        qb.andWhere(
          new Brackets((visible) => {
            visible.where('r.accountId = :me', { me: principal.accountId });
            if (principal.role === 'reseller') {
              const customers = qb
                .subQuery()
                .select('a.id')
                .from(HostAccountRow, 'a')
                .where('a.resellerAccountId = :me')
                .getQuery();
              visible.orWhere(`r.accountId IN ${customers}`);
            }
          }),
        );
      },
    );
    return {
      items: await invoiceViews(this.dataSource.manager, result.items),
      nextCursor: result.nextCursor,
    };
  }
}
