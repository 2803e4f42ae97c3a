import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiSchema,
  ApiTags,
} from '@nestjs/swagger';
import { EsdErrorCode } from '../common/error-codes';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ApiEsdErrors, ApiPageResponse, CANCELLATION_REFUSALS, MoneyDto } from '../common/http/openapi';
import type { Page } from '../common/pagination';
import type { Money } from '../host/ports';
import { LicenseViewDto, type LicenseView } from '../licenses/license-view';
import { LicensesService } from '../licenses/licenses.service';
import { CancellationCommentDto, CancellationRequestsQueryDto } from './cancellation.dto';
import { refusal, CancellationRequestsService } from './cancellation-requests.service';
import {
  CancellationRequestViewDto,
  EligibilityViewDto,
  type CancellationRequestView,
  type EligibilityView,
} from './cancellation-view';
import { CancellationService } from './cancellation.service';

/** `POST /licenses/:id/cancel`: the outcome, as the `cancel` hook reports it, with the license as it now stands. */
export interface ImmediateCancelView {
  outcome: 'done' | 'pending' | 'failed';
  credit?: Money;
  code?: string;
  message?: string;
  returnId: string | null;
  license: LicenseView;
}

/** {@link ImmediateCancelView} as an OpenAPI schema. */
@ApiSchema({ name: 'ImmediateCancel' })
export class ImmediateCancelViewDto implements ImmediateCancelView {
  @ApiProperty({
    enum: ['done', 'pending', 'failed'],
    description:
      "done: Microsoft took it back; pending: Microsoft has not answered yet; failed: Microsoft's refusal.",
  })
  outcome: 'done' | 'pending' | 'failed';
  @ApiPropertyOptional({
    type: () => MoneyDto,
    description: 'When done: the credit to issue, the full amount charged.',
  })
  credit?: Money;
  @ApiPropertyOptional({ description: "When failed: Microsoft's reason as a code." }) code?: string;
  @ApiPropertyOptional() message?: string;
  @ApiProperty({ type: 'string', nullable: true }) returnId: string | null;
  @ApiProperty({ type: () => LicenseViewDto, description: 'The license as it now stands.' })
  license: LicenseViewDto;
}

/** The provider's cancellation routes (host contract §5). */
@EsdController()
@ApiTags('cancellation')
@Controller()
export class CancellationController {
  constructor(
    private readonly requests: CancellationRequestsService,
    private readonly cancellation: CancellationService,
    private readonly licenses: LicensesService,
  ) {}

  /**
   * Immediate cancel from the BSS. A refusal before Microsoft is asked answers 422 (or 409) with every reason and
   * the deadline; otherwise 200 with Microsoft's outcome, or `pending` while it has not answered yet.
   */
  @Post('licenses/:id/cancel')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.cancel' })
  @ApiOperation({
    summary: 'Cancel a license now (the provider decides)',
    description:
      "Returns the key to Microsoft. A refusal before Microsoft is asked answers 409/422 with every reason and the deadline in `details`; otherwise 200 with Microsoft's outcome. Calling again never makes a second return.",
  })
  @ApiOkResponse({ type: ImmediateCancelViewDto })
  @ApiBody({ type: CancellationCommentDto, required: false })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, ...CANCELLATION_REFUSALS)
  async cancel(
    @Param('id') id: string,
    @Body() body: CancellationCommentDto,
    @Req() request: unknown,
  ): Promise<ImmediateCancelView> {
    const principal = principalOf(request);
    const outcome = await this.cancellation.cancelNow(principal, id, body.comment ?? null);
    if (outcome.outcome === 'failed' && outcome.eligibility) throw refusal(outcome.eligibility);
    return {
      outcome: outcome.outcome,
      ...(outcome.outcome === 'done' ? { credit: outcome.credit } : {}),
      ...(outcome.outcome === 'failed' ? { code: outcome.code, message: outcome.message } : {}),
      returnId: outcome.returnId,
      license: await this.licenses.get(principal, id),
    };
  }

  @Get('cancellation-requests')
  @Access({ roles: ['admin'], permission: 'esd.cancellations.decide' })
  @ApiOperation({ summary: 'The cancellation requests', description: 'Newest first.' })
  @ApiPageResponse(CancellationRequestViewDto)
  @ApiEsdErrors()
  list(@Query() query: CancellationRequestsQueryDto): Promise<Page<CancellationRequestView>> {
    return this.requests.list(query);
  }

  /** Accepts a pending request: the license is returned to Microsoft; 409 `REQUEST_NOT_PENDING` once decided. */
  @Post('cancellation-requests/:id/accept')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.cancellations.decide' })
  @ApiOperation({
    summary: 'Accept a pending request',
    description:
      'The license is returned to Microsoft on the same path as an immediate cancel; a refusal found now closes the request failed, with its reason.',
  })
  @ApiOkResponse({ type: CancellationRequestViewDto })
  @ApiBody({ type: CancellationCommentDto, required: false })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.REQUEST_NOT_PENDING)
  accept(
    @Param('id') id: string,
    @Body() body: CancellationCommentDto,
    @Req() request: unknown,
  ): Promise<CancellationRequestView> {
    return this.requests.accept(principalOf(request), id, body.comment ?? null);
  }

  /** Rejects a pending request; 409 `REQUEST_NOT_PENDING` once decided. */
  @Post('cancellation-requests/:id/reject')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.cancellations.decide' })
  @ApiOperation({ summary: 'Reject a pending request', description: 'The license stays as it is.' })
  @ApiOkResponse({ type: CancellationRequestViewDto })
  @ApiBody({ type: CancellationCommentDto, required: false })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.REQUEST_NOT_PENDING)
  reject(
    @Param('id') id: string,
    @Body() body: CancellationCommentDto,
    @Req() request: unknown,
  ): Promise<CancellationRequestView> {
    return this.requests.reject(principalOf(request), id, body.comment ?? null);
  }
}

/** The storefront's cancellation routes: a reseller's and an end customer's own licenses. */
@EsdController()
@Access({ roles: ['reseller', 'customer'] })
@ApiTags('storefront')
@Controller('my/licenses')
export class MyCancellationController {
  constructor(private readonly requests: CancellationRequestsService) {}

  /** Eligible? Every reason why not, the deadline, and the latest request. */
  @Get(':id/cancellation')
  @ApiOperation({ summary: 'May I cancel this license? Why not? Until when?' })
  @ApiOkResponse({ type: EligibilityViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  eligibility(@Param('id') id: string, @Req() request: unknown): Promise<EligibilityView> {
    return this.requests.eligibilityFor(principalOf(request), id);
  }

  @Post(':id/cancellation-request')
  @ApiOperation({
    summary: 'Request a cancellation',
    description:
      'An eligible license gets a pending request (accepted at once where the instance accepts on its own); an ineligible one answers the first reason, with every reason and the deadline in `details`.',
  })
  @ApiCreatedResponse({ type: CancellationRequestViewDto })
  @ApiBody({ type: CancellationCommentDto, required: false })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, ...CANCELLATION_REFUSALS)
  request(
    @Param('id') id: string,
    @Body() body: CancellationCommentDto,
    @Req() request: unknown,
  ): Promise<CancellationRequestView> {
    return this.requests.request(principalOf(request), id, body.comment ?? null);
  }

  /** Withdraws the pending request; 409 `REQUEST_NOT_PENDING` once it was decided. */
  @Delete(':id/cancellation-request')
  @ApiOperation({ summary: 'Withdraw my pending request' })
  @ApiOkResponse({ type: CancellationRequestViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.REQUEST_NOT_PENDING)
  withdraw(@Param('id') id: string, @Req() request: unknown): Promise<CancellationRequestView> {
    return this.requests.withdraw(principalOf(request), id);
  }
}
