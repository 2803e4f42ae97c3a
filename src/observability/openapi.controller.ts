import { Controller, Get, Header, type INestApplication, type Type } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container';
import {
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  DocumentBuilder,
  SwaggerModule,
  type OpenAPIObject,
  type OperationObject,
} from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { Access, EsdController } from '../common/http/access';
import { EsdErrorBodyDto, HOST_PRINCIPAL_SCHEME } from '../common/http/openapi';
import { loadPluginManifest } from '../host/plugin-manifest';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const DESCRIPTION = [
  "The HTTP API the Microsoft ESD plugin mounts in its host (host contract §5). Paths carry the host's global prefix, if any, and the plugin's `routePrefix`.",
  '**Callers.** The plugin authenticates no one: the host does, and hands the plugin the caller through the `principal` module option. Each operation says who may call it in `x-esd-access` (roles, and the permission an admin needs). Without a principal a route answers 401; a role that may not use it, 403.',
  '**Errors** are `{ statusCode, code, message, details? }` (schema `EsdError`); each operation lists, by status, the codes it may answer. 404 also means "not yours": another account\'s record answers exactly as one that does not exist.',
  '**Lists** answer `{ items, nextCursor }` and take `?cursor=&limit=` (default 50, 1–500).',
].join('\n\n');

/**
 * The OpenAPI document of the plugin's routes only (not the host's), built from the running application: the
 * module's controllers, under the path the host mounted them at.
 */
export function esdOpenApiDocument(app: INestApplication, pluginModule: Type<unknown>): OpenAPIObject {
  const manifest = loadPluginManifest();
  const config = new DocumentBuilder()
    .setTitle(`${manifest.name} service manager`)
    .setDescription(DESCRIPTION)
    .setVersion(manifest.version)
    .addSecurity(HOST_PRINCIPAL_SCHEME, {
      type: 'apiKey',
      in: 'header',
      name: 'x-principal',
      description:
        "Stands for the host's own authentication, which the plugin does not enforce or see: the host reads the caller from its session (cookie, bearer token, …) and gives the plugin `{ role, accountId, userId?, permissions }`. The header named here is the reference host's stand-in (`x-principal: admin | reseller:<accountId> | customer:<accountId>`); a real host documents its own.",
    })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    include: [pluginModule],
    extraModels: [EsdErrorBodyDto],
  });
  const operations = Object.values(document.paths).flatMap((item) =>
    HTTP_METHODS.flatMap((method): OperationObject[] => (item[method] ? [item[method]] : [])),
  );
  for (const operation of operations) {
    for (const [status, response] of Object.entries(operation.responses)) {
      // A success answer described by its schema alone still needs a sentence.
      if (response && 'description' in response && response.description === '') {
        response.description = STATUS_CODES[Number(status)] ?? status;
      }
    }
  }
  return {
    ...document,
    paths: strictNullables(document.paths),
    components: strictNullables(document.components ?? {}),
  };
}

type Node = Record<string, unknown>;

/**
 * `nullable` as OpenAPI 3.0 means it: it only adds null to the `type` beside it. So a nullable reference, which
 * Swagger writes `{ nullable, allOf: [ref] }` (null is refused by the referenced object), becomes "the object or
 * null", and a nullable enum lists null among its values.
 */
export function strictNullables<T>(node: T): T {
  if (Array.isArray(node)) return node.map((item: unknown) => strictNullables(item)) as T;
  if (typeof node !== 'object' || node === null) return node;
  const out: Node = Object.fromEntries(
    Object.entries(node as Node).map(([key, value]) => [key, strictNullables(value)]),
  );
  if (out.nullable !== true) return out as T;
  const allOf = out.allOf as Node[] | undefined;
  if (allOf?.length === 1 && typeof allOf[0].$ref === 'string') {
    const { nullable: _nullable, type: _type, allOf: _allOf, ...rest } = out;
    return { ...rest, oneOf: [allOf[0], { type: 'object', nullable: true, enum: [null] }] } as T;
  }
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
  return out as T;
}

/** `GET /esd/openapi.json`: public, like health. */
@EsdController()
@Access({ public: true })
@ApiTags('operations')
@Controller('openapi.json')
export class OpenApiController {
  private document?: OpenAPIObject;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Built once, at the first request: by then every route is mounted. */
  @Get()
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({
    summary: 'This document',
    description:
      'The OpenAPI 3.0 document of every route of the plugin, with its bodies, answers and error codes.',
  })
  @ApiOkResponse({
    description: 'An OpenAPI 3.0 document.',
    schema: { type: 'object', required: ['openapi', 'info', 'paths'], additionalProperties: true },
  })
  get(): OpenAPIObject {
    this.document ??= esdOpenApiDocument(this.application(), this.pluginModule());
    return this.document;
  }

  /**
   * The plugin does not own the application object, so it hands Swagger's scanner the three things the scanner
   * reads from one: the container (the modules and their routes), the application config (the global prefix and
   * versioning) and the HTTP adapter. The test of this document boots a real application and checks every route.
   */
  private application(): INestApplication {
    const container: NestContainer = this.moduleRef['container'];
    const view = {
      container,
      config: container.applicationConfig,
      getHttpAdapter: () => this.adapterHost.httpAdapter,
    };
    return view as unknown as INestApplication;
  }

  /** The module this controller was mounted with: its routes are the plugin's, under the host's path for them. */
  private pluginModule(): Type<unknown> {
    const container: NestContainer = this.moduleRef['container'];
    const mine = [...container.getModules().values()].find((m) => m.controllers.has(OpenApiController));
    if (!mine) throw new Error('OpenApiController is not mounted in any module');
    return mine.metatype;
  }
}
