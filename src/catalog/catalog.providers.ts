import type { Provider, Type } from '@nestjs/common';
import { CatalogRunsController, OffersController } from './catalog.controller';
import { CatalogRunsService } from './catalog-runs.service';
import { CatalogScheduler } from './catalog-scheduler';
import { CatalogSyncProcessor } from './catalog-sync.processor';
import { CatalogSyncService } from './catalog-sync.service';
import { OffersService } from './offers.service';

/** Get Services Definition: runs, the sync itself, the schedule and the offer views. */
export const CATALOG_PROVIDERS: Provider[] = [
  CatalogRunsService,
  CatalogSyncService,
  CatalogScheduler,
  OffersService,
];
/** Run and offer routes. */
export const CATALOG_CONTROLLERS: Type[] = [CatalogRunsController, OffersController];
/** Queue processors of the catalog feature; registered on worker nodes only. */
export const CATALOG_PROCESSORS: Type[] = [CatalogSyncProcessor];
