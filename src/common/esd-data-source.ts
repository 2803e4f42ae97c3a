import { Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ESD_OPTIONS } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { ESD_ENTITIES } from '../storage/entities';
import { EsdErrorCode } from './error-codes';
import { EsdError } from './esd-error';

function hostDefaultDataSource(moduleRef: ModuleRef): DataSource {
  try {
    return moduleRef.get(DataSource, { strict: false });
  } catch {
    throw new EsdError(
      EsdErrorCode.INVALID_MODULE_OPTIONS,
      'dataSource: no DataSource given and the host has no TypeOrmModule connection; pass dataSource in the module options.',
    );
  }
}

/** Injection token of the DataSource holding the plugin's tables. */
export const ESD_DATA_SOURCE_TOKEN = Symbol('ESD_DATA_SOURCE');

/**
 * The host's DataSource, from the options or the host's default TypeORM connection. It must know the plugin's
 * entities: the boot stops otherwise, saying what to add.
 */
export const esdDataSourceProvider: Provider = {
  provide: ESD_DATA_SOURCE_TOKEN,
  inject: [ESD_OPTIONS, ModuleRef],
  useFactory: (options: ResolvedEsdOptions, moduleRef: ModuleRef): DataSource => {
    const dataSource = options.dataSource ?? hostDefaultDataSource(moduleRef);
    const missing = ESD_ENTITIES.filter((entity) => !dataSource.hasMetadata(entity)).map(
      (entity) => entity.name,
    );
    if (missing.length > 0) {
      throw new EsdError(
        EsdErrorCode.INVALID_MODULE_OPTIONS,
        `dataSource: it does not know the plugin's entities (${missing.join(', ')}); add ESD_ENTITIES to its entities and ESD_MIGRATIONS to its migrations.`,
      );
    }
    return dataSource;
  },
};
