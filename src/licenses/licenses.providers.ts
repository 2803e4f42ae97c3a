import type { Provider, Type } from '@nestjs/common';
import { EsdHooksService } from './esd-hooks.service';
import { LicensesController, MyLicensesController } from './licenses.controller';
import { LicensesService } from './licenses.service';
import { OrderService } from './order.service';
import { ProvisioningProcessor } from './provisioning.processor';
import { ProvisioningQueue } from './provisioning-queue';
import { ProvisioningService } from './provisioning.service';
import { TokenStatusProcessor } from './token-status.processor';
import { TokenStatusService } from './token-status.service';
import { LicenseSecretsReader } from './welcome';

/** Ordering, provisioning and the license records. */
export const LICENSE_PROVIDERS: Provider[] = [
  EsdHooksService,
  OrderService,
  LicensesService,
  ProvisioningQueue,
  ProvisioningService,
  TokenStatusService,
  LicenseSecretsReader,
];
export const LICENSE_CONTROLLERS: Type[] = [LicensesController, MyLicensesController];
/** Queue processors of the licenses feature; registered on worker nodes only. */
export const LICENSE_PROCESSORS: Type[] = [ProvisioningProcessor, TokenStatusProcessor];
