import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { AuditService, type AuditEventView } from '../common/audit.service';
import type { Page } from '../common/pagination';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { Access, EsdController, principalOf } from '../common/http/access';
import {
  CreateInstanceDto,
  ListQueryDto,
  UpdateInstanceDto,
  type ConnectionTestResult,
  type InstanceOptionsView,
  type InstanceView,
} from './instance.dto';
import { InstancesService } from './instances.service';

/** Applications Setup > Microsoft ESD: the instances (host contract §5). */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.settings.manage' })
@Controller('instances')
export class InstancesController {
  constructor(
    private readonly instances: InstancesService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  list(@Query() query: ListQueryDto): Promise<Page<InstanceView>> {
    return this.instances.list(query);
  }

  /** Stage 1. */
  @Post()
  create(@Body() body: CreateInstanceDto, @Req() request: unknown): Promise<InstanceView> {
    return this.instances.create(body, principalOf(request));
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<InstanceView> {
    return this.instances.get(id);
  }

  /** Any subset of both stages, and `disabled`. */
  @Patch(':id')
  update(
    @Param('id') id: string,
    @Body() body: UpdateInstanceDto,
    @Req() request: unknown,
  ): Promise<InstanceView> {
    return this.instances.update(id, body, principalOf(request));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() request: unknown): Promise<void> {
    await this.instances.remove(id, principalOf(request));
  }

  @Get(':id/options')
  options(@Param('id') id: string): Promise<InstanceOptionsView> {
    return this.instances.options(id);
  }

  @Post(':id/test-connection')
  @HttpCode(200)
  testConnection(@Param('id') id: string, @Req() request: unknown): Promise<ConnectionTestResult> {
    return this.instances.testConnection(id, principalOf(request));
  }

  /** Who changed what, newest first; kept after the instance is deleted. */
  @Get(':id/audit')
  async auditTrail(@Param('id') id: string, @Query() query: ListQueryDto): Promise<Page<AuditEventView>> {
    const page = await this.audit.list('instance', id, query);
    if (page.items.length === 0 && query.cursor === undefined) {
      // An unknown id answers 404 like every other route; a known one with no events cannot exist.
      await this.instances.get(id).catch(() => {
        throw new EsdError(EsdErrorCode.NOT_FOUND, 'No instance with this id exists.');
      });
    }
    return page;
  }
}
