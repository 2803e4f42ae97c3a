import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule, RouterModule } from '@nestjs/core';
import * as semver from 'semver';
import { CIS_CLIENT_OPTIONS, CisClientFactory } from './cis/cis-client.factory';
import type { CisClientOptions } from './cis/cis-client';
import { ESD_DATA_SOURCE_TOKEN, esdDataSourceProvider } from './common/esd-data-source';
import { EsdAccessGuard } from './common/http/access';
import { validateModuleOptions } from './common/module-options.validation';
import { JOB_HANDLER_CHECK, jobHandlerCheckProvider } from './common/queues/job-handler-check';
import { EsdErrorCode } from './common/error-codes';
import { EsdError } from './common/esd-error';
import { ESD_OPTIONS, QUEUES } from './constants';
import { esdQueueSettings } from './common/queues/job-options';
import { CATALOG_CONTROLLERS, CATALOG_PROCESSORS, CATALOG_PROVIDERS } from './catalog/catalog.providers';
import {
  CANCELLATION_CONTROLLERS,
  CANCELLATION_PROCESSORS,
  CANCELLATION_PROVIDERS,
} from './cancellation/cancellation.providers';
import { esdClockProvider } from './common/clock';
import { HealthController } from './health/health.controller';
import { MetricsController } from './observability/metrics.controller';
import { OpenApiController } from './observability/openapi.controller';
import { EsdMetrics } from './observability/metrics.service';
import { LICENSE_CONTROLLERS, LICENSE_PROCESSORS, LICENSE_PROVIDERS } from './licenses/licenses.providers';
import { EsdHooksService } from './licenses/esd-hooks.service';
import { WorkerStartupGate } from './common/queues/worker-startup-gate';
import { MAINTENANCE_PROCESSORS, MAINTENANCE_PROVIDERS } from './maintenance/maintenance.providers';
import { INSTANCE_CONTROLLERS, INSTANCE_PROVIDERS } from './settings/instances.providers';
import { SECRET_PROCESSORS, SECRET_PROVIDERS } from './settings/secrets.providers';
import { processorProvider } from './common/queues/processor-provider';
import { CisCallTracker } from './health/cis-call-tracker';
import { HealthService } from './health/health.service';
import { assertHostCompatible } from './host/plugin-manifest';
import {
  ConfigurableEsdModule,
  ESD_ASYNC_OPTIONS_TYPE,
  ESD_OPTIONS_TYPE,
  RAW_ESD_OPTIONS,
} from './microsoft-esd.module-definition';
import type {
  MicrosoftEsdModuleExtras,
  MicrosoftEsdModuleOptions,
  ResolvedEsdOptions,
} from './microsoft-esd.options';

/** Holds the validated options, so the queue registrations can read them too. */
@Module({})
class EsdOptionsModule {}

const DEFAULT_ROUTE_PREFIX = 'esd';

/** Validates the options the host gave, after checking that the host speaks a contract version we support. */
export function resolveOptions(
  raw: MicrosoftEsdModuleOptions,
  extras: MicrosoftEsdModuleExtras,
): ResolvedEsdOptions {
  if (typeof raw !== 'object' || raw === null) return validateModuleOptions(raw);
  if (semver.valid(raw.hostApiVersion)) assertHostCompatible(raw.hostApiVersion);
  const resolved = validateModuleOptions({
    ...raw,
    routePrefix: raw.routePrefix ?? extras.routePrefix,
    worker: raw.worker ?? extras.worker,
  });
  const mounted = extras.routePrefix ?? DEFAULT_ROUTE_PREFIX;
  if (resolved.routePrefix !== mounted) {
    throw new EsdError(
      EsdErrorCode.INVALID_MODULE_OPTIONS,
      `routePrefix: the factory returned "${resolved.routePrefix}" but the routes were mounted under "${mounted}"; ` +
        'pass routePrefix beside useFactory in forRootAsync.',
    );
  }
  // Either place may turn the worker off: a web-only node must never process jobs.
  if (extras.worker === false) resolved.worker = false;
  return resolved;
}

/**
 * The Microsoft ESD service manager. Import it once with {@link MicrosoftEsdModule.forRoot} or
 * {@link MicrosoftEsdModule.forRootAsync}; see host contract §2.
 */
@Module({})
export class MicrosoftEsdModule extends ConfigurableEsdModule {
  static override forRoot(options: typeof ESD_OPTIONS_TYPE): DynamicModule {
    return MicrosoftEsdModule.assemble(super.forRoot(options), {
      routePrefix: options.routePrefix,
      worker: options.worker,
    });
  }

  static override forRootAsync(options: typeof ESD_ASYNC_OPTIONS_TYPE): DynamicModule {
    return MicrosoftEsdModule.assemble(super.forRootAsync(options), {
      routePrefix: options.routePrefix,
      worker: options.worker,
    });
  }

  private static assemble(base: DynamicModule, extras: MicrosoftEsdModuleExtras): DynamicModule {
    const optionsModule: DynamicModule = {
      module: EsdOptionsModule,
      imports: [...(base.imports ?? []), DiscoveryModule],
      providers: [
        ...(base.providers ?? []),
        {
          provide: ESD_OPTIONS,
          inject: [RAW_ESD_OPTIONS],
          useFactory: (raw: MicrosoftEsdModuleOptions) => resolveOptions(raw, extras),
        },
        esdDataSourceProvider,
        jobHandlerCheckProvider,
      ],
      exports: [ESD_OPTIONS, ESD_DATA_SOURCE_TOKEN, JOB_HANDLER_CHECK],
    };
    // The queues open Redis connections as soon as they exist: make them wait for every boot check, so a refused
    // boot leaves nothing open behind it.
    const queues = BullModule.registerQueueAsync(
      ...Object.values(QUEUES).map((name) => ({
        name,
        imports: [optionsModule],
        inject: [ESD_OPTIONS, ESD_DATA_SOURCE_TOKEN, JOB_HANDLER_CHECK],
        useFactory: (options: ResolvedEsdOptions) => ({
          ...(options.redis === undefined ? {} : { redis: options.redis }),
          ...esdQueueSettings(options),
        }),
      })),
    );
    return {
      module: MicrosoftEsdModule,
      imports: [
        optionsModule,
        queues,
        RouterModule.register([
          { path: extras.routePrefix ?? DEFAULT_ROUTE_PREFIX, module: MicrosoftEsdModule },
        ]),
      ],
      controllers: [
        HealthController,
        MetricsController,
        OpenApiController,
        ...INSTANCE_CONTROLLERS,
        ...CATALOG_CONTROLLERS,
        ...LICENSE_CONTROLLERS,
        ...CANCELLATION_CONTROLLERS,
      ],
      providers: [
        EsdAccessGuard,
        WorkerStartupGate,
        EsdMetrics,
        CisCallTracker,
        HealthService,
        ...SECRET_PROVIDERS,
        ...INSTANCE_PROVIDERS,
        ...CATALOG_PROVIDERS,
        ...LICENSE_PROVIDERS,
        ...MAINTENANCE_PROVIDERS,
        esdClockProvider,
        ...CANCELLATION_PROVIDERS,
        ...[
          ...SECRET_PROCESSORS,
          ...CATALOG_PROCESSORS,
          ...LICENSE_PROCESSORS,
          ...MAINTENANCE_PROCESSORS,
          ...CANCELLATION_PROCESSORS,
        ].map((processor) => processorProvider(processor)),
        {
          provide: CIS_CLIENT_OPTIONS,
          inject: [ESD_OPTIONS, EsdMetrics, CisCallTracker],
          useFactory: (
            options: ResolvedEsdOptions,
            metrics: EsdMetrics,
            calls: CisCallTracker,
          ): CisClientOptions => ({
            timeoutMs: options.cisTimeoutMs,
            observe: (call) => {
              metrics.observeCisCall(call);
              calls.record(call);
            },
          }),
        },
        CisClientFactory,
      ],
      exports: [optionsModule, CisClientFactory, queues, EsdHooksService, EsdMetrics],
    };
  }
}
