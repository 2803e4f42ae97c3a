import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EsdErrorCode } from '../common/error-codes';
import type { Page } from '../common/pagination';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ApiEsdErrors, ApiPageResponse } from '../common/http/openapi';
import { ListQueryDto } from '../settings/instance.dto';
import {
  AcknowledgeOffersDto,
  AcknowledgeResultDto,
  CatalogRunViewDto,
  OfferViewDto,
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
@ApiTags('catalog')
@Controller('instances/:id/services-definition')
export class CatalogRunsController {
  constructor(private readonly runs: CatalogRunsService) {}

  /** 202 with the queued run; 409 `CATALOG_RUN_ACTIVE` while one is queued or running. */
  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start Get Services Definition',
    description:
      'Queues a catalog run for a ready instance and answers it; follow its progress under the runs. One run per instance at a time.',
  })
  @ApiAcceptedResponse({ type: CatalogRunViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.INSTANCE_NOT_READY,
    EsdErrorCode.CATALOG_RUN_ACTIVE,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
    EsdErrorCode.QUEUE_UNAVAILABLE,
  )
  trigger(@Param('id') id: string, @Req() request: unknown): Promise<CatalogRunView> {
    return this.runs.trigger(id, principalOf(request));
  }

  /** Newest first. */
  @Get('runs')
  @ApiOperation({ summary: "The instance's catalog runs", description: 'Newest first.' })
  @ApiPageResponse(CatalogRunViewDto)
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  list(@Param('id') id: string, @Query() query: ListQueryDto): Promise<Page<CatalogRunView>> {
    return this.runs.list(id, query);
  }

  @Get('runs/:runId')
  @ApiOperation({ summary: 'One catalog run: progress, log and result lists' })
  @ApiOkResponse({ type: CatalogRunViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  get(@Param('id') id: string, @Param('runId') runId: string): Promise<CatalogRunView> {
    return this.runs.get(id, runId);
  }
}

/** The catalog by status, with the admin's next steps, and the acknowledgement of reviewed offers. */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.catalog.manage' })
@ApiTags('catalog')
@Controller('offers')
export class OffersController {
  constructor(private readonly offers: OffersService) {}

  @Get()
  @ApiOperation({
    summary: 'The catalog by status',
    description:
      "Each offer with the administrator's next steps in its view (new, updated, discontinued, current).",
  })
  @ApiPageResponse(OfferViewDto)
  @ApiEsdErrors()
  list(@Query() query: OffersQueryDto): Promise<Page<OfferView>> {
    return this.offers.list(query);
  }

  @Post('acknowledge')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Acknowledge reviewed offers',
    description:
      'Moves reviewed new and updated offers to current; the others are listed under `ignored` with the reason.',
  })
  @ApiOkResponse({ type: AcknowledgeResultDto })
  @ApiEsdErrors()
  acknowledge(@Body() body: AcknowledgeOffersDto, @Req() request: unknown): Promise<AcknowledgeResult> {
    return this.offers.acknowledge(body.ids, principalOf(request));
  }
}
