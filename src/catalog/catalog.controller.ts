import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Page } from '../common/pagination';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ListQueryDto } from '../settings/instance.dto';
import {
  AcknowledgeOffersDto,
  OffersQueryDto,
  type AcknowledgeResult,
  type CatalogRunView,
  type OfferView,
} from './catalog.dto';
import { CatalogRunsService } from './catalog-runs.service';
import { OffersService } from './offers.service';

/** Get Services Definition: start a run, follow its progress, read its log and result (host contract §5). */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.catalog.sync' })
@Controller('instances/:id/services-definition')
export class CatalogRunsController {
  constructor(private readonly runs: CatalogRunsService) {}

  /** 202 with the queued run; 409 `CATALOG_RUN_ACTIVE` while one is queued or running. */
  @Post()
  @HttpCode(202)
  trigger(@Param('id') id: string, @Req() request: unknown): Promise<CatalogRunView> {
    return this.runs.trigger(id, principalOf(request));
  }

  /** Newest first. */
  @Get('runs')
  list(@Param('id') id: string, @Query() query: ListQueryDto): Promise<Page<CatalogRunView>> {
    return this.runs.list(id, query);
  }

  @Get('runs/:runId')
  get(@Param('id') id: string, @Param('runId') runId: string): Promise<CatalogRunView> {
    return this.runs.get(id, runId);
  }
}

/** The catalog by status, with the admin's next steps, and the acknowledgement of reviewed offers. */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.catalog.manage' })
@Controller('offers')
export class OffersController {
  constructor(private readonly offers: OffersService) {}

  @Get()
  list(@Query() query: OffersQueryDto): Promise<Page<OfferView>> {
    return this.offers.list(query);
  }

  @Post('acknowledge')
  @HttpCode(200)
  acknowledge(@Body() body: AcknowledgeOffersDto, @Req() request: unknown): Promise<AcknowledgeResult> {
    return this.offers.acknowledge(body.ids, principalOf(request));
  }
}
