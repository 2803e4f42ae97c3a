/**
 * The OpenAPI document the plugin serves at `/esd/openapi.json` (SQLite, Redis, the CIS sandbox), held against the
 * application itself: the routes Express really mounted (so a new route cannot go undocumented), the status each
 * handler really answers, the refusals the guard and the validation really give, and real answers validated against
 * the schemas the document gives for them. A second application mounts the plugin under another prefix, behind a
 * global prefix, beside a host controller of its own.
 */
import { Controller, Get, type INestApplication, Module, RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { MicrosoftEsdModule } from '../../src/microsoft-esd.module';
import { ESD_ENTITIES } from '../../src/storage/entities';
import { ESD_MIGRATIONS } from '../../src/storage/migrations';
import { createTestDatabase } from '../support/databases';
import { inertHostPorts } from '../support/host-ports';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { requireService } from '../support/services';
import { idleRedisDb } from '../support/worker-process';

type Json = Record<string, ReturnType<typeof JSON.parse>>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);

interface Route {
  method: string;
  /** As Express mounted it: `/esd/licenses/:id`. */
  path: string;
}

interface Operation {
  key: string;
  method: string;
  /** As the document spells it: `/esd/licenses/{id}`. */
  path: string;
  op: Json;
}

/** The routes Express mounted, read from its router. */
function mountedRoutes(app: INestApplication): Route[] {
  const express = app.getHttpAdapter().getInstance() as unknown as {
    router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  };
  return express.router.stack.flatMap((layer) =>
    layer.route
      ? Object.keys(layer.route.methods)
          .filter((m) => m !== '_all')
          .map((method) => ({ method, path: layer.route!.path }))
      : [],
  );
}

const openApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');
const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

function operationsOf(doc: Json): Operation[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m] !== undefined).map((method) => ({
      key: routeKey(method, path),
      method,
      path,
      op: item[method] as Json,
    })),
  );
}

/** The codes an error answer of the document may carry. */
function codesAt(op: Json, status: number): string[] | undefined {
  const schema = op.responses?.[String(status)]?.content?.['application/json']?.schema as Json | undefined;
  return schema?.allOf?.[1]?.properties?.code?.enum as string[] | undefined;
}

/** Every value under `node`, with its JSON pointer. */
function walk(node: unknown, visit: (value: Json, pointer: string) => void, pointer = ''): void {
  if (typeof node !== 'object' || node === null) return;
  visit(node, pointer);
  for (const [key, value] of Object.entries(node)) walk(value, visit, `${pointer}/${key}`);
}

/** Ajv over the document's schemas: OpenAPI 3.0 keywords allowed, `$ref`s resolved into the document. */
function schemaValidator(doc: Json): (schema: Json) => ValidateFunction {
  const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true, discriminator: true });
  addFormats(ajv);
  ajv.addVocabulary(['example', 'xml', 'externalDocs', 'x-secret', 'components']);
  const rebase = (node: unknown): unknown =>
    JSON.parse(
      JSON.stringify(node).replace(/"#\/components\/schemas\//g, '"openapi.json#/components/schemas/'),
    ) as unknown;
  ajv.addSchema({ $id: 'openapi.json', components: rebase(doc.components) as Json });
  return (schema) => ajv.compile(rebase(schema) as Json);
}

describe('OpenAPI document (SQLite, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let doc: Json;
  let operations: Operation[];
  let compile: (schema: Json) => ValidateFunction;
  const http = () => request(env.app.getHttpServer());
  /** `method url` as `who` (anonymous without one). */
  const call = (method: string, url: string, who?: string) => {
    const req = http()[method as 'get'](url);
    return who ? req.set('x-principal', who) : req;
  };
  const operation = (method: string, path: string): Json => {
    const found = operations.find((o) => o.key === routeKey(method, path));
    if (!found) throw new Error(`${routeKey(method, path)} is not in the document`);
    return found.op;
  };
  /** A principal the route's access rule lets in. */
  const allowedFor = (op: Json) =>
    (op['x-esd-access'].roles as string[]).includes('admin') ? 'admin' : 'customer:C1';

  beforeAll(async () => {
    env = await startPluginApp({
      database: 'sqlite',
      redisDb: await idleRedisDb(await requireService('redis')),
    });
    const answer = await http().get('/esd/openapi.json');
    expect(answer.status).toBe(200);
    doc = answer.body as Json;
    // Kept for a reader (and for tools that lint OpenAPI documents) under the test output.
    fs.mkdirSync(join(__dirname, '../../test-output'), { recursive: true });
    fs.writeFileSync(join(__dirname, '../../test-output/openapi.json'), JSON.stringify(doc, null, 2));
    operations = operationsOf(doc);
    compile = schemaValidator(doc);
  }, 90_000);

  afterAll(async () => {
    await env?.close();
  });

  /** Validates a real answer against the schema the document gives for its route and status. */
  function expectDocumented(method: string, path: string, answer: request.Response): void {
    const response = operation(method, path).responses[String(answer.status)] as Json | undefined;
    expect({
      route: routeKey(method, path),
      status: answer.status,
      documented: response !== undefined,
    }).toEqual({
      route: routeKey(method, path),
      status: answer.status,
      documented: true,
    });
    const validate = compile(response!.content['application/json'].schema as Json);
    expect({
      route: routeKey(method, path),
      valid: validate(answer.body),
      errors: validate.errors ?? null,
    }).toEqual({
      route: routeKey(method, path),
      valid: true,
      errors: null,
    });
  }

  it('is served to anyone, as JSON, and is the same document each time', async () => {
    const again = await http().get('/esd/openapi.json');
    expect(again.status).toBe(200);
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(again.body).toEqual(doc);
    expect(doc.openapi).toMatch(/^3\.0\.\d+$/);
    expect(doc.info).toEqual(
      expect.objectContaining({ title: expect.any(String), version: expect.any(String) }),
    );
  });

  it('documents every route the plugin mounted, and nothing the host mounted', () => {
    const routes = mountedRoutes(env.app);
    const plugin = routes
      .filter((r) => r.path.startsWith('/esd/'))
      .map((r) => routeKey(r.method, openApiPath(r.path)));
    expect(plugin.length).toBeGreaterThanOrEqual(30);
    const documented = operations.map((o) => o.key);
    expect(plugin.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !plugin.includes(d))).toEqual([]);
    // The host's own routes are mounted beside the plugin's, and stay out of its document.
    expect(routes.some((r) => r.path.startsWith('/host/'))).toBe(true);
    expect(documented.every((d) => d.split(' ')[1].startsWith('/esd/'))).toBe(true);
  });

  it("gives each operation one success answer, of the status its handler answers, with the answer's schema", () => {
    const modules = env.app.get(ModulesContainer);
    const plugin = [...modules.values()].find((m) => m.metatype === MicrosoftEsdModule)!;
    const problems: string[] = [];
    let handlers = 0;
    for (const wrapper of plugin.controllers.values()) {
      const controller = wrapper.metatype as { name: string; prototype: Json };
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[name] as unknown;
        if (typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        handlers += 1;
        const expected =
          (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ??
          (method === RequestMethod.POST ? 201 : 200);
        const found = operations.find((o) => o.op.operationId === `${controller.name}_${name}`);
        if (!found) {
          problems.push(`${controller.name}.${name}: no operation`);
          continue;
        }
        const success = Object.keys(found.op.responses as Json).filter((s) => /^2\d\d$/.test(s));
        if (success.join() !== String(expected)) {
          problems.push(`${found.key}: documents ${success.join() || 'no success'}, answers ${expected}`);
          continue;
        }
        const answer = found.op.responses[String(expected)] as Json;
        const content = Object.values((answer.content ?? {}) as Record<string, Json>);
        if (expected === 204 ? content.length > 0 : content.length === 0 || !content.every((c) => c.schema)) {
          problems.push(`${found.key}: the ${expected} answer's body is not described`);
        }
        if (typeof found.op.summary !== 'string' || found.op.summary === '')
          problems.push(`${found.key}: no summary`);
      }
    }
    expect(handlers).toBe(operations.length);
    expect(problems).toEqual([]);
  });

  it('gives each operation its error answers: 401/403 by its access rule, 400 where it takes input, 404 by id', () => {
    const problems: string[] = [];
    for (const { key, method, path, op } of operations) {
      const access = op['x-esd-access'] as Json | undefined;
      if (!access) {
        problems.push(`${key}: no x-esd-access`);
        continue;
      }
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (Number(status) < 400 || codesAt(op, Number(status)) === undefined) continue;
        const schema = response.content['application/json'].schema as Json;
        if (schema.allOf[0].$ref !== '#/components/schemas/EsdError')
          problems.push(`${key} ${status}: not EsdError`);
        for (const code of codesAt(op, Number(status))!) {
          const described = ERROR_DESCRIPTIONS[code as EsdErrorCode];
          if (described?.httpStatus !== Number(status))
            problems.push(`${key} ${status}: ${code} maps elsewhere`);
          if (response.content['application/json'].examples?.[code]?.value?.code !== code) {
            problems.push(`${key} ${status}: no example of ${code}`);
          }
        }
      }
      if (access.public === true) {
        if (op.responses['401'] || op.responses['403'] || op.security)
          problems.push(`${key}: public, yet guarded`);
      } else {
        if (codesAt(op, 401)?.join() !== 'UNAUTHENTICATED') problems.push(`${key}: no 401 UNAUTHENTICATED`);
        if (codesAt(op, 403)?.join() !== 'FORBIDDEN') problems.push(`${key}: no 403 FORBIDDEN`);
        if (JSON.stringify(op.security) !== JSON.stringify([{ hostPrincipal: [] }]))
          problems.push(`${key}: no security`);
      }
      const takesInput =
        BODY_METHODS.has(method) ||
        op.requestBody !== undefined ||
        ((op.parameters ?? []) as Json[]).length > 0;
      if (takesInput && !codesAt(op, 400)?.includes('VALIDATION_FAILED')) problems.push(`${key}: no 400`);
      if (!takesInput && op.responses['400']) problems.push(`${key}: 400 without input`);
      if (path.includes('{') && !codesAt(op, 404)?.includes('NOT_FOUND')) problems.push(`${key}: no 404`);
    }
    expect(problems).toEqual([]);
  });

  it('answers 401 and 403 exactly where the document says, with the codes it gives', async () => {
    const guarded = operations.filter((o) => o.op['x-esd-access'].public !== true);
    expect(guarded.length).toBeGreaterThanOrEqual(25);
    for (const { key, method, path, op } of guarded) {
      const url = path.replace(/\{\w+\}/g, 'no-such-id');
      const anonymous = await call(method, url);
      expect({ key, status: anonymous.status, code: anonymous.body.code }).toEqual({
        key,
        status: 401,
        code: 'UNAUTHENTICATED',
      });
      expectDocumented(method, path, anonymous);
      const refused = await call(method, url, allowedFor(op) === 'admin' ? 'customer:C1' : 'admin');
      expect({ key, status: refused.status, code: refused.body.code }).toEqual({
        key,
        status: 403,
        code: 'FORBIDDEN',
      });
      expectDocumented(method, path, refused);
    }
  });

  it('answers 400 VALIDATION_FAILED for bad input wherever the document says it takes input', async () => {
    let probes = 0;
    for (const { key, method, path, op } of operations.filter((o) => o.op['x-esd-access'].public !== true)) {
      const who = allowedFor(op);
      const params = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      const url = path.replace(/\{\w+\}/g, 'no-such-id');
      const attempts: Array<{ what: string; send: () => request.Test }> = [];
      if (op.requestBody) {
        attempts.push({
          what: 'an unknown body field',
          send: () => call(method, url, who).send({ notAField: true }),
        });
      }
      if (((op.parameters ?? []) as Json[]).some((p) => p.in === 'query')) {
        attempts.push({
          what: 'an unknown query parameter',
          send: () => call(method, `${url}?notAField=1`, who),
        });
      }
      if (params.length > 0) {
        attempts.push({
          what: 'a NUL in a path parameter',
          send: () => call(method, path.replace(/\{\w+\}/g, '%00'), who),
        });
      }
      if (BODY_METHODS.has(method)) {
        attempts.push({
          what: 'a body that is not JSON',
          send: () => call(method, url, who).set('content-type', 'text/plain').send('hello'),
        });
      }
      for (const attempt of attempts) {
        probes += 1;
        const answer = await attempt.send();
        expect({ key, what: attempt.what, status: answer.status, code: answer.body.code }).toEqual({
          key,
          what: attempt.what,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
        expectDocumented(method, path, answer);
      }
    }
    expect(probes).toBeGreaterThanOrEqual(40);
  });

  it('marks a body required exactly where leaving it out is refused', async () => {
    const withBody = operations.filter((o) => o.op.requestBody !== undefined);
    expect(withBody.map((o) => o.op.requestBody.required as boolean)).toEqual(
      expect.arrayContaining([true, false]),
    );
    for (const { key, method, path, op } of withBody) {
      const answer = await call(method, path.replace(/\{\w+\}/g, 'no-such-id'), allowedFor(op));
      // Left out, a required body is refused; an optional one lets the route go on (to 404 for an unknown id).
      expect({ key, refused: answer.status === 400 }).toEqual({
        key,
        refused: op.requestBody.required === true,
      });
      expectDocumented(method, path, answer);
    }
  });

  it('describes real answers: an instance created, a page of them, a conflict, health, settings', async () => {
    const stage1 = {
      systemName: `OPENAPI-${randomBytes(3).toString('hex')}`,
      resourceApi: 'https://cis.sandbox.esd.local',
      serviceUrl: 'https://cis.sandbox.esd.local/api',
      tenantId: 'contoso.onmicrosoft.com',
      channelId: 'channel-1',
      clientId: `client-${randomBytes(3).toString('hex')}`,
    };
    const created = await http().post('/esd/instances').set('x-principal', 'admin').send(stage1);
    expect(created.status).toBe(201);
    expectDocumented('post', '/esd/instances', created);

    const again = await http().post('/esd/instances').set('x-principal', 'admin').send(stage1);
    expect(again.body.code).toBe(EsdErrorCode.SYSTEM_NAME_TAKEN);
    expectDocumented('post', '/esd/instances', again);

    const page = await http().get('/esd/instances?limit=5').set('x-principal', 'admin');
    expect(page.body.items.length).toBeGreaterThan(0);
    expectDocumented('get', '/esd/instances', page);

    const unknown = await http().get('/esd/instances/no-such-id').set('x-principal', 'admin');
    expect(unknown.body.code).toBe(EsdErrorCode.NOT_FOUND);
    expectDocumented('get', '/esd/instances/{id}', unknown);

    const notReady = await http()
      .post(`/esd/instances/${created.body.id}/services-definition`)
      .set('x-principal', 'admin');
    expect(notReady.body.code).toBe(EsdErrorCode.INSTANCE_NOT_READY);
    expectDocumented('post', '/esd/instances/{id}/services-definition', notReady);

    const audit = await http().get(`/esd/instances/${created.body.id}/audit`).set('x-principal', 'admin');
    expectDocumented('get', '/esd/instances/{id}/audit', audit);

    for (const path of ['/esd/health', '/esd/settings/schema', '/esd/offers', '/esd/licenses']) {
      expectDocumented('get', path, await http().get(path).set('x-principal', 'admin'));
    }
    expectDocumented(
      'get',
      '/esd/my/licenses',
      await http().get('/esd/my/licenses').set('x-principal', 'customer:C1'),
    );
  });

  it('is a structurally valid OpenAPI 3.0 document', () => {
    const problems: string[] = [];
    const schemaNames = new Set(Object.keys(doc.components.schemas as Json));
    const schemes = new Set(Object.keys((doc.components.securitySchemes ?? {}) as Json));
    const operationIds = operations.map((o) => o.op.operationId as string);
    if (new Set(operationIds).size !== operationIds.length) problems.push('duplicate operationIds');
    walk(doc, (node, pointer) => {
      if ('$ref' in node) {
        const ref = String(node.$ref);
        const name = ref.replace('#/components/schemas/', '');
        if (!ref.startsWith('#/components/schemas/') || !schemaNames.has(name))
          problems.push(`${pointer}: ${ref}`);
        if (Object.keys(node).length > 1) problems.push(`${pointer}: $ref with siblings`);
      }
      if (node.type === 'null' || Array.isArray(node.type)) {
        problems.push(`${pointer}: type ${JSON.stringify(node.type)} is not OpenAPI 3.0`);
      }
      if (node.nullable === true && node.type === undefined && node.allOf === undefined) {
        problems.push(`${pointer}: nullable without a type`);
      }
    });
    for (const { key, path, op } of operations) {
      if (!path.startsWith('/')) problems.push(`${key}: path`);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const parameters = (op.parameters ?? []) as Json[];
      const declared = parameters.filter((p) => p.in === 'path');
      if (
        declared
          .map((p) => p.name as string)
          .sort()
          .join() !== templated.join()
      )
        problems.push(`${key}: path params`);
      for (const p of parameters) {
        if (!['query', 'header', 'path', 'cookie'].includes(p.in as string))
          problems.push(`${key}: parameter in`);
        if (p.in === 'path' && p.required !== true) problems.push(`${key}: ${p.name} not required`);
        if (!p.schema) problems.push(`${key}: ${p.name} has no schema`);
      }
      const names = parameters.map((p) => `${p.in}:${p.name}`);
      if (new Set(names).size !== names.length) problems.push(`${key}: duplicate parameters`);
      if (Object.keys(op.responses as Json).length === 0) problems.push(`${key}: no responses`);
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problems.push(`${key}: status ${status}`);
        if (typeof response.description !== 'string' || response.description === '') {
          problems.push(`${key} ${status}: no description`);
        }
      }
      if (op.requestBody && !op.requestBody.content?.['application/json']?.schema)
        problems.push(`${key}: body`);
      for (const requirement of (op.security ?? []) as Json[]) {
        for (const scheme of Object.keys(requirement))
          if (!schemes.has(scheme)) problems.push(`${key}: ${scheme}`);
      }
    }
    // Every schema is a schema Ajv compiles (with its references resolved), and every example fits its schema.
    for (const name of schemaNames) {
      try {
        compile({ $ref: `#/components/schemas/${name}` });
      } catch (error) {
        problems.push(`schema ${name}: ${(error as Error).message}`);
      }
    }
    for (const { key, op } of operations) {
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        const media = response.content?.['application/json'] as Json | undefined;
        for (const [name, example] of Object.entries((media?.examples ?? {}) as Record<string, Json>)) {
          const validate = compile(media!.schema as Json);
          if (!validate(example.value))
            problems.push(`${key} ${status} example ${name}: ${ajvText(validate)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('says what the routes need and answer (a few facts checked one by one)', () => {
    const reveal = operation('post', '/esd/licenses/{id}/reveal');
    expect(codesAt(reveal, 404)).toEqual([EsdErrorCode.NOT_FOUND]);
    expect(codesAt(reveal, 403)).toEqual([EsdErrorCode.FORBIDDEN]);
    expect(codesAt(reveal, 409)).toEqual([EsdErrorCode.LICENSE_NOT_PROVISIONED]);
    expect(reveal['x-esd-access']).toEqual({ roles: ['admin'], permission: 'esd.licenses.reveal' });
    expect(reveal.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Reveal',
    });

    const list = operation('get', '/esd/licenses');
    const query = Object.fromEntries(
      (list.parameters as Json[]).filter((p) => p.in === 'query').map((p) => [p.name as string, p]),
    );
    expect(Object.keys(query).sort()).toEqual(
      [
        'cursor',
        'limit',
        'status',
        'provisioningStatus',
        'tokenStatus',
        'customerAccountId',
        'offerId',
        'instanceId',
        'purchasedFrom',
        'purchasedTo',
      ].sort(),
    );
    expect(query.provisioningStatus.schema.enum).toEqual(['Unsynchronised', 'Synchronized', 'Failed']);
    expect(query.limit.schema).toEqual(expect.objectContaining({ minimum: 1, maximum: 500 }));
    expect(Object.values(query).every((p) => p.required === false)).toBe(true);
    const page = list.responses['200'].content['application/json'].schema as Json;
    expect(page.properties.items.items).toEqual({ $ref: '#/components/schemas/License' });

    const trigger = operation('post', '/esd/instances/{id}/services-definition');
    expect(Object.keys(trigger.responses as Json).filter((s) => s.startsWith('2'))).toEqual(['202']);
    expect(codesAt(trigger, 409)).toEqual([EsdErrorCode.CATALOG_RUN_ACTIVE]);
    expect(codesAt(trigger, 422)).toEqual([EsdErrorCode.INSTANCE_NOT_READY]);

    const patch = operation('patch', '/esd/instances/{id}');
    expect(codesAt(patch, 409)).toEqual(expect.arrayContaining([EsdErrorCode.CLIENT_ID_COUNTRY_CONFLICT]));
    expect(codesAt(patch, 422)).toEqual(expect.arrayContaining([EsdErrorCode.MARKET_NOT_OFFERED]));
    expect(patch.responses['503'].headers['Retry-After']).toBeDefined();
    const body = patch.requestBody.content['application/json'].schema as Json;
    const bodySchema = doc.components.schemas[String(body.$ref).split('/').pop()!] as Json;
    expect(Object.keys(bodySchema.properties as Json)).toEqual(
      expect.arrayContaining(['certificate', 'country', 'language', 'disabled', 'systemName']),
    );

    const withdraw = operation('delete', '/esd/my/licenses/{id}/cancellation-request');
    expect(withdraw['x-esd-access']).toEqual({ roles: ['reseller', 'customer'] });
    expect(codesAt(withdraw, 409)).toEqual([EsdErrorCode.REQUEST_NOT_PENDING]);

    expect(Object.keys(operation('get', '/esd/metrics').responses['200'].content as Json)).toEqual([
      'text/plain',
    ]);
    expect(operation('get', '/esd/health').responses['503'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/HealthReport',
    });
    expect(doc.components.securitySchemes.hostPrincipal).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-principal' }),
    );
  });
});

function ajvText(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ');
}

describe('OpenAPI document under another prefix, beside the host (SQLite, Redis)', () => {
  @Controller('orders')
  class HostOrdersController {
    @Get()
    list(): string[] {
      return [];
    }
  }

  it("carries the host's global prefix and the plugin's routePrefix, and leaves the host's routes out", async () => {
    const db = await createTestDatabase('sqlite');
    const dataSource = new DataSource({
      ...db.dataSourceOptions,
      entities: ESD_ENTITIES,
      migrations: ESD_MIGRATIONS,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    const redis = new URL(await requireService('redis'));
    redis.pathname = `/${await idleRedisDb(redis.toString())}`;

    @Module({
      imports: [
        MicrosoftEsdModule.forRootAsync({
          routePrefix: 'billing/esd',
          worker: false,
          useFactory: async () => ({
            hostApiVersion: '1.0.0',
            ...inertHostPorts(),
            principal: () => undefined,
            secretKey: randomBytes(32).toString('base64'),
            redis: redis.toString(),
            dataSource,
          }),
        }),
      ],
      controllers: [HostOrdersController],
    })
    class HostModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.setGlobalPrefix('api');
    try {
      await app.init();
      const answer = await request(app.getHttpServer()).get('/api/billing/esd/openapi.json');
      expect(answer.status).toBe(200);
      const paths = Object.keys(answer.body.paths as Json);
      expect(paths).toEqual(
        expect.arrayContaining(['/api/billing/esd/licenses/{id}/reveal', '/api/billing/esd/health']),
      );
      expect(paths.filter((p) => !p.startsWith('/api/billing/esd/'))).toEqual([]);
      const mounted = mountedRoutes(app);
      expect(mounted.map((r) => r.path)).toContain('/api/orders');
      const plugin = mounted
        .filter((r) => r.path.startsWith('/api/billing/esd/'))
        .map((r) => routeKey(r.method, openApiPath(r.path)));
      expect(
        operationsOf(answer.body as Json)
          .map((o) => o.key)
          .sort(),
      ).toEqual(plugin.sort());
    } finally {
      await app.close();
      await dataSource.destroy();
      await db.drop();
    }
  }, 60_000);
});
