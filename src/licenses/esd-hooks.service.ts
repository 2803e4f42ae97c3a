import { Injectable } from '@nestjs/common';
import type {
  CancelRequest,
  CancelResult,
  EsdHooks,
  OrderResult,
  PrecheckRequest,
  PrecheckResult,
} from '../host/hooks';
import { CancellationService } from '../cancellation/cancellation.service';
import { EsdErrorCode } from '../common/error-codes';
import type { LicenseView } from './license-view';
import { LicensesService } from './licenses.service';
import { OrderService } from './order.service';
import { violation } from './order-request.dto';

/**
 * The hooks the host's order pipeline calls (host-contract.md §4). Resolve it from the application
 * (`app.get(EsdHooksService)`); every hook is idempotent.
 */
@Injectable()
export class EsdHooksService implements EsdHooks {
  constructor(
    private readonly orders: OrderService,
    private readonly licenses: LicensesService,
    private readonly cancellation: CancellationService,
  ) {}

  async precheck(request: PrecheckRequest): Promise<PrecheckResult> {
    const violations =
      request?.action === 'order'
        ? await this.orders.precheck(request.request)
        : request?.action === 'cancel'
          ? await this.cancellation.precheck(request.request)
          : [violation(EsdErrorCode.ORDER_INVALID, 'precheck: action must be "order" or "cancel".')];
    return violations.length === 0 ? { ok: true } : { ok: false, violations };
  }

  order(request: Parameters<EsdHooks['order']>[0]): Promise<OrderResult> {
    return this.orders.order(request);
  }

  /**
   * The provider's decision to cancel, executed now: `done` with the credit, `pending` while Microsoft has not
   * answered within `orderWaitMs`, or `failed` with the reason (`TOKEN_REDEEMED`, `RETURN_WINDOW_EXPIRED`, …).
   * Called again, it joins the return under way or answers the one that succeeded.
   */
  cancel(request: CancelRequest): Promise<CancelResult> {
    return this.cancellation.cancelHook(request);
  }

  /** The license as its record shows it, key masked; throws `NOT_FOUND` for an unknown id. */
  status(licenseId: string): Promise<LicenseView> {
    return this.licenses.get('host', licenseId);
  }
}
