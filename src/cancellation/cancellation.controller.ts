import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { Access, EsdController, principalOf } from '../common/http/access';
import type { Page } from '../common/pagination';
import type { Money } from '../host/ports';
import type { LicenseView } from '../licenses/license-view';
import { LicensesService } from '../licenses/licenses.service';
import { CancellationCommentDto, CancellationRequestsQueryDto } from './cancellation.dto';
import { refusal, CancellationRequestsService } from './cancellation-requests.service';
import type { CancellationRequestView, EligibilityView } from './cancellation-view';
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

/** The provider's cancellation routes (host contract §5). */
@EsdController()
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
  list(@Query() query: CancellationRequestsQueryDto): Promise<Page<CancellationRequestView>> {
    return this.requests.list(query);
  }

  /** Accepts a pending request: the license is returned to Microsoft; 409 `REQUEST_NOT_PENDING` once decided. */
  @Post('cancellation-requests/:id/accept')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.cancellations.decide' })
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
@Controller('my/licenses')
export class MyCancellationController {
  constructor(private readonly requests: CancellationRequestsService) {}

  /** Eligible? Every reason why not, the deadline, and the latest request. */
  @Get(':id/cancellation')
  eligibility(@Param('id') id: string, @Req() request: unknown): Promise<EligibilityView> {
    return this.requests.eligibilityFor(principalOf(request), id);
  }

  @Post(':id/cancellation-request')
  request(
    @Param('id') id: string,
    @Body() body: CancellationCommentDto,
    @Req() request: unknown,
  ): Promise<CancellationRequestView> {
    return this.requests.request(principalOf(request), id, body.comment ?? null);
  }

  /** Withdraws the pending request; 409 `REQUEST_NOT_PENDING` once it was decided. */
  @Delete(':id/cancellation-request')
  withdraw(@Param('id') id: string, @Req() request: unknown): Promise<CancellationRequestView> {
    return this.requests.withdraw(principalOf(request), id);
  }
}
