import type { Provider, Type } from '@nestjs/common';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { SweeperProcessor } from './sweeper.processor';
import { SweeperService } from './sweeper.service';

/** The sweeper and its schedule. */
export const MAINTENANCE_PROVIDERS: Provider[] = [SweeperService, MaintenanceScheduler];
/** Registered on worker nodes only. */
export const MAINTENANCE_PROCESSORS: Type[] = [SweeperProcessor];
