import { DynamicModule, INestApplication, LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { ConsoleController } from './console.controller';
import { HostController, HOST_DATA_SOURCE } from './host.controller';
import { HOST_ENTITIES } from './host.entities';
import { HOST_ESD_HOOKS, HostOrdersController } from './host-orders.controller';
import { ReferenceHostCatalog, ReferenceHostEvents, ReferenceHostNotifier } from './host-ports';
import { HOST_MIGRATIONS } from './migrations';
import { defaultPluginRoot, LoadedPlugin, loadPlugin } from './plugin-loader';
import { principalFromRequest } from './principal';

/** The version of the host contract the reference host implements. */
export const REFERENCE_HOST_API_VERSION = '1.0.0';

export interface ReferenceHostOptions {
  /** `sqlite:<path>`, `postgres://…` or `mysql://…`. */
  databaseUrl: string;
  redisUrl: string;
  /** 32 bytes, base64. */
  secretKey: string;
  /** 0 or omitted: a free port. */
  port?: number;
  host?: string;
  /** The plugin package to load; default this repository. */
  pluginRoot?: string;
  worker?: boolean;
  hostApiVersion?: string;
  defaultCurrency?: string;
  logger?: LoggerService | false;
}

export interface ReferenceHost {
  app: INestApplication;
  url: string;
  dataSource: DataSource;
  plugin: LoadedPlugin;
  close(): Promise<void>;
}

@Module({})
class ReferenceHostModule {}

/**
 * Boots the reference host: loads the plugin by its manifest, opens the database and runs the host's and the
 * plugin's migrations (the host's job, as for any real host), mounts the plugin with the host's ports.
 */
export async function startReferenceHost(options: ReferenceHostOptions): Promise<ReferenceHost> {
  const plugin = loadPlugin(options.pluginRoot ?? defaultPluginRoot());
  const { ESD_ENTITIES, ESD_MIGRATIONS, dataSourceOptionsFromUrl } = plugin.exports;
  const dataSource = new DataSource({
    ...dataSourceOptionsFromUrl(options.databaseUrl),
    entities: [...HOST_ENTITIES, ...ESD_ENTITIES],
    migrations: [...HOST_MIGRATIONS, ...ESD_MIGRATIONS],
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
  await dataSource.initialize();
  let app: INestApplication | undefined;
  try {
    await dataSource.runMigrations({ transaction: 'each' });
    const catalog = new ReferenceHostCatalog(dataSource, options.defaultCurrency ?? 'EUR');
    const notifier = new ReferenceHostNotifier(dataSource);
    const events = new ReferenceHostEvents(dataSource);
    const root: DynamicModule = {
      module: ReferenceHostModule,
      imports: [
        plugin.module.forRootAsync({
          routePrefix: 'esd',
          useFactory: () => ({
            hostApiVersion: options.hostApiVersion ?? REFERENCE_HOST_API_VERSION,
            catalog,
            notifier,
            events,
            principal: principalFromRequest,
            secretKey: options.secretKey,
            redis: options.redisUrl,
            dataSource,
            worker: options.worker ?? true,
          }),
        }),
      ],
      controllers: [HostController, HostOrdersController, ConsoleController],
      providers: [
        { provide: HOST_DATA_SOURCE, useValue: dataSource },
        // The hooks service of the package the manifest named, exported by its module.
        { provide: HOST_ESD_HOOKS, useExisting: plugin.exports.EsdHooksService },
      ],
    };
    app = await NestFactory.create(root, {
      logger: options.logger ?? ['error', 'warn'],
      abortOnError: false,
    });
    await app.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    const address = (app.getHttpServer() as Server).address() as AddressInfo;
    const started = app;
    return {
      app: started,
      url: `http://127.0.0.1:${address.port}`,
      dataSource,
      plugin,
      close: async () => {
        await started.close();
        if (dataSource.isInitialized) await dataSource.destroy();
      },
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (dataSource.isInitialized) await dataSource.destroy();
    throw error;
  }
}
