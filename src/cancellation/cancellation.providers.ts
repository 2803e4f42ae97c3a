import type { Provider, Type } from '@nestjs/common';
import { CancellationController, MyCancellationController } from './cancellation.controller';
import { CancellationRequestsService } from './cancellation-requests.service';
import { CancellationService } from './cancellation.service';
import { EligibilityService } from './eligibility.service';
import { ReturnsProcessor } from './returns.processor';
import { ReturnsQueue } from './returns-queue';
import { ReturnsService } from './returns.service';

/** Eligibility, storefront requests, immediate cancel and the returns behind them. */
export const CANCELLATION_PROVIDERS: Provider[] = [
  EligibilityService,
  CancellationRequestsService,
  CancellationService,
  ReturnsQueue,
  ReturnsService,
];
export const CANCELLATION_CONTROLLERS: Type[] = [CancellationController, MyCancellationController];
/** Queue processors of the cancellation feature; registered on worker nodes only. */
export const CANCELLATION_PROCESSORS: Type[] = [ReturnsProcessor];
