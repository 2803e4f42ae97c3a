import { Provider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ESD_OPTIONS } from '../../constants';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';

/**
 * Registers a queue processor only on worker nodes. `@nestjs/bull` binds handlers of every provider instance that
 * carries `@Processor`; on a node with `worker: false` the provider resolves to `null`, so nothing is bound and
 * the node only enqueues.
 */
export function processorProvider<T>(type: Type<T>): Provider {
  return {
    provide: type,
    inject: [ESD_OPTIONS, ModuleRef],
    useFactory: async (options: ResolvedEsdOptions, moduleRef: ModuleRef): Promise<T | null> =>
      options.worker ? moduleRef.create(type) : null,
  };
}
