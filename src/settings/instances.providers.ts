import type { Provider, Type } from '@nestjs/common';
import { AuditService } from '../common/audit.service';
import { InstancesController } from './instances.controller';
import { InstancesService } from './instances.service';
import { SettingsController } from './settings.controller';

/** Instance services (Applications Setup). */
export const INSTANCE_PROVIDERS: Provider[] = [AuditService, InstancesService];
/** Instance and settings controllers. */
export const INSTANCE_CONTROLLERS: Type[] = [InstancesController, SettingsController];
