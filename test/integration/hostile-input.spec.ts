/**
 * Hostile input against every plugin route and the `order` and `precheck` hooks (PostgreSQL, Redis, CIS sandbox).
 *
 * The routes are read from the Express router and matched to their Nest handlers, so a new route is covered
 * without touching this file; each handler's metadata says which inputs it reads (path parameters, the body
 * and query DTOs and their fields). For each route fast-check generates invalid and hostile path parameters,
 * query strings, bodies and headers — wrong types, ~1 MB strings, RTL, zero-width and lone-surrogate text, NUL,
 * `__proto__`/`constructor`/`prototype` keys, SQL and path fragments, negative, enormous and non-finite
 * numbers, deep nesting, arrays for objects, repeated query keys, wrong content types, hostile `x-principal`
 * values — and calls it as the route's own principal (the admin; a customer on `/esd/my/*`) so the request
 * reaches validation. Every answer is checked:
 *
 * - never a 5xx; a 4xx whenever the input holds something the route must refuse;
 * - a 4xx carries the plugin's error body `{ statusCode, code, message }` — unless the case is one the host's
 *   own parsers refuse before any plugin code runs (malformed JSON, a charset it cannot decode, a form body
 *   past its limits, an undecodable path); those get the host's body, and only those may;
 * - the database is unchanged (a checksum of every row of every table of the scratch schema, `esd_*` and the
 *   reference host's, taken before each route's run and compared after each of its cases), and
 *   `Object.prototype` and friends are unpolluted after each route.
 *
 * Cases per route: `HOSTILE_INPUT_RUNS` (default 80: ~34 routes → about 2,700 HTTP cases, ~30 ms each on a loaded
 * two-core machine and a fraction of that idle, so with the hooks' properties (`HOSTILE_INPUT_HOOK_RUNS`, default
 * 500 each) the file stays within 60–90 s). `HOSTILE_INPUT_SEED` replays a run, `HOSTILE_INPUT_ROUTE` (a regular
 * expression on `METHOD /path`) narrows it to some routes. The table of cases per route is printed
 * at the end. The worker is off (`worker: false`) so no job writes to the database while the checksums are taken.
 * The host here accepts JSON bodies up to 4 MB (its 100 kB default would answer 413 before the ~1 MB strings reach
 * the plugin's own validation, which is what is under test).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { parse as parseQueryString } from 'node:querystring';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { ConsoleLogger, RequestMethod } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { DiscoveryService } from '@nestjs/core';
import { getMetadataStorage } from 'class-validator';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { principalFromRequest } from '../../sandbox/host/principal';
import { CancellationRequestEntity } from '../../src/cancellation/cancellation-request.entity';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { OrderRequest } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { MAX_ORDER_QUANTITY } from '../../src/licenses/order-request.dto';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { licenseRow, orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';

const RUNS = Number(process.env.HOSTILE_INPUT_RUNS ?? 80);
const HOOK_RUNS = Number(process.env.HOSTILE_INPUT_HOOK_RUNS ?? 500);
const SEED =
  process.env.HOSTILE_INPUT_SEED === undefined ? undefined : Number(process.env.HOSTILE_INPUT_SEED);
/** Only the routes whose label matches (to replay one route's failure with its seed). */
const ONLY =
  process.env.HOSTILE_INPUT_ROUTE === undefined ? undefined : new RegExp(process.env.HOSTILE_INPUT_ROUTE);
const ROUTE_PREFIX = '/esd';
const MARKET = { country: 'GR', language: 'el-GR' };
const ERROR_CODES = new Set<string>(Object.values(EsdErrorCode));
/** Routes where hostile but well-formed values may pass validation and change nothing (acknowledging ids that do not exist). */
const HARMLESS_WHEN_VALID = new Set(['POST /esd/offers/acknowledge']);

// ---------------------------------------------------------------------------------------------------------------
// The routes, from the router and the handlers' metadata

type Method = 'get' | 'post' | 'patch' | 'delete';

interface DtoInput {
  /** The DTO's validated fields (what the whitelist lets through). */
  fields: string[];
}

interface PluginRoute {
  method: Method;
  path: string;
  label: string;
  params: string[];
  body: DtoInput | null;
  query: DtoInput | null;
  /** `/esd/my/*`: the storefront's principals. */
  storefront: boolean;
  /** Answers without a principal (found by calling it without one). */
  isPublic: boolean;
  /** Matched to its Nest handler, so its inputs are known. */
  handled: boolean;
}

type Constructor = abstract new (...args: never[]) => unknown;

function dtoInput(type: unknown): DtoInput {
  const fields =
    typeof type === 'function'
      ? getMetadataStorage()
          .getTargetValidationMetadatas(type as Constructor as new () => object, '', true, false)
          .map((m) => m.propertyName)
      : [];
  return { fields: [...new Set(fields)] };
}

const joinPath = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;

/** Every route under the plugin's prefix, with the inputs its handler reads. */
function pluginRoutes(env: PluginApp): Omit<PluginRoute, 'isPublic'>[] {
  const router = (
    env.app.getHttpAdapter().getInstance() as unknown as {
      router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
    }
  ).router;
  const handlers = new Map<string, { body: DtoInput | null; query: DtoInput | null }>();
  for (const wrapper of env.app.get(DiscoveryService).getControllers()) {
    const type = wrapper.metatype as (Constructor & { prototype: Record<string, unknown> }) | null;
    if (!type) continue;
    const controllerPaths = [Reflect.getMetadata(PATH_METADATA, type) as string | string[]].flat();
    for (const name of Object.getOwnPropertyNames(type.prototype)) {
      const handler = type.prototype[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodPath === undefined || method === undefined) continue;
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {}) as Record<
        string,
        { index: number }
      >;
      const types = (Reflect.getMetadata('design:paramtypes', type.prototype, name) ?? []) as unknown[];
      const input = (kind: RouteParamtypes) => {
        const arg = Object.entries(args).find(([key]) => key.split(':')[0] === String(kind));
        return arg ? dtoInput(types[arg[1].index]) : null;
      };
      for (const c of controllerPaths)
        for (const m of [methodPath].flat())
          handlers.set(`${RequestMethod[method].toLowerCase()} ${joinPath(ROUTE_PREFIX, c ?? '', m)}`, {
            body: input(RouteParamtypes.BODY),
            query: input(RouteParamtypes.QUERY),
          });
    }
  }
  return router.stack
    .flatMap((layer) =>
      layer.route
        ? Object.keys(layer.route.methods).map((m) => ({ method: m, path: layer.route!.path }))
        : [],
    )
    .filter(
      (r) => r.path.startsWith(`${ROUTE_PREFIX}/`) && ['get', 'post', 'patch', 'delete'].includes(r.method),
    )
    .map((r) => {
      const found = handlers.get(`${r.method} ${joinPath(r.path)}`);
      return {
        method: r.method as Method,
        path: r.path,
        label: `${r.method.toUpperCase()} ${r.path}`,
        params: [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]),
        body: found?.body ?? null,
        query: found?.query ?? null,
        handled: found !== undefined,
        storefront: r.path.startsWith(`${ROUTE_PREFIX}/my/`),
      };
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile material

const SQL = [
  "' OR '1'='1",
  "'; DROP TABLE esd_license; --",
  '1 UNION SELECT secret FROM esd_certificate --',
  '") OR 1=1 --',
  "%' AND 1=0 UNION SELECT NULL--",
  '$1',
  '\\',
  "\\'",
  '; SELECT pg_sleep(5)',
  '*/ OR /*',
];
const PATHS = [
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/etc/shadow',
  '%2e%2e%2f',
  '....//',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  '.',
  '..',
  '/',
];
const UNICODE = [
  '\u202Eevil\u202C',
  '\u200B',
  '\u200D\uFEFF',
  '\uD800',
  '\uDFFF',
  'a\uDBFFb',
  '\u0000',
  'a\u0000b',
  'Ω≈ç√∫',
  '😀'.repeat(50),
  'ｱｲｳ',
  '\u0007\u001b[31m',
  '\r\n',
  '\t',
  'İı',
  'e\u0301'.repeat(20),
  '\u2028\u2029',
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const SPECIAL_KEYS = [...PROTO_KEYS, 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '', ' '];
const NUMBERISH = [
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e309',
  '0x10',
  '1_000',
  '',
  ' ',
  'null',
  'undefined',
  'true',
];
/** Number tokens as JSON text: `1e999` parses to Infinity. */
const NUMBER_TOKENS = [
  '-1',
  '0',
  '-0',
  '1.5',
  '1e308',
  '-1e308',
  '1e999',
  '-1e999',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.0000001',
  '2147483648',
  '-2147483649',
];
/** ~1 MB strings (one per body at most; the host accepts 4 MB). */
const HUGE = [
  'A'.repeat(1_000_000),
  '\u202E\u200B'.repeat(250_000),
  "' OR 1=1 --".repeat(90_000),
  '😀'.repeat(250_000),
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...SQL, ...PATHS, ...UNICODE, ...SPECIAL_KEYS, ...NUMBERISH),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ minLength: 2_001, maxLength: 6_000 }),
  fc.uuid(),
  fc
    .tuple(fc.constantFrom(...SQL, ...UNICODE, ...PATHS), fc.constantFrom(...SQL, ...UNICODE, ...PATHS))
    .map(([a, b]) => a + b),
);

/** JSON text of hostile values: strings, numbers beyond range, arrays where objects go, objects with hostile keys. */
const jsonKey = fc.oneof(
  fc.constantFrom(...SPECIAL_KEYS, ...SQL, ...PATHS, ...UNICODE),
  fc.string({ maxLength: 12 }),
);
const { json: hostileJson } = fc.letrec<{ json: string; leaf: string; arr: string; obj: string }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('arr'), tie('obj')),
  leaf: fc.oneof(
    hostileString.map((s) => JSON.stringify(s)),
    fc.constantFrom(...NUMBER_TOKENS),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
    fc.constantFrom('true', 'false', 'null', '{}', '[]'),
  ),
  arr: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  obj: fc
    .array(fc.tuple(jsonKey, tie('json')), { maxLength: 4 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
}));

const deepJson = fc
  .tuple(
    fc.integer({ min: 17, max: 100_000 }),
    fc.constantFrom('[', '{"a":', '{"__proto__":'),
    fc.constantFrom(...SPECIAL_KEYS.slice(0, 3), 'comment', 'ids'),
  )
  .map(([depth, open, key]) => {
    const close = open === '[' ? ']' : '}';
    return `{${JSON.stringify(key)}:${open.repeat(depth)}1${close.repeat(depth)}}`;
  });

/** A body as it goes on the wire, and what its content says. */
interface BodyCase {
  text: string;
  contentType: string;
  /** Holds something the route's DTO must refuse (when the route reads a body). */
  poisoned: boolean;
  /** The host's parsers may refuse it before the plugin runs (and answer in the host's own shape). */
  transport: boolean;
}

function bodyArb(fields: readonly string[], mustPoison: boolean): fc.Arbitrary<BodyCase> {
  const known = fields.length > 0 ? fc.constantFrom(...fields) : jsonKey;
  const unknownKey = fc.oneof(
    fc.constantFrom(...PROTO_KEYS),
    jsonKey.filter((k) => !fields.includes(k)),
  );
  const objectBody = fc
    .record({
      known: fc.array(fc.tuple(known, hostileJson), { maxLength: Math.max(1, fields.length) }),
      unknown: fc.array(fc.tuple(unknownKey, hostileJson), {
        minLength: mustPoison ? 1 : 0,
        maxLength: 3,
      }),
      huge: fc.oneof(
        { weight: 1, arbitrary: fc.tuple(fc.oneof(known, unknownKey), fc.constantFrom(...HUGE)) },
        { weight: 9, arbitrary: fc.constant(null) },
      ),
    })
    .chain(({ known: k, unknown: u, huge }) =>
      fc
        .shuffledSubarray([...k, ...u], { minLength: k.length + u.length })
        .map((entries) => ({ entries, huge })),
    )
    .map(({ entries, huge }): BodyCase => {
      const all = [...entries, ...(huge ? [[huge[0], JSON.stringify(huge[1])] as [string, string]] : [])];
      return {
        text: `{${all.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`,
        contentType: 'application/json',
        poisoned: all.some(([k]) => !fields.includes(k)),
        transport: false,
      };
    });
  const json = (text: string, poisoned = true): BodyCase => ({
    text,
    contentType: 'application/json',
    poisoned,
    transport: false,
  });
  return fc
    .oneof(
      { weight: 12, arbitrary: objectBody },
      // An array or a scalar where an object goes; scalars are refused by the host's strict JSON parser.
      {
        weight: 2,
        arbitrary: hostileJson
          .filter((t) => !t.startsWith('{'))
          .map((t) => ({ ...json(t), transport: !t.startsWith('[') })),
      },
      { weight: 2, arbitrary: deepJson.map((t) => json(t)) },
      // Malformed JSON: the host's parser answers.
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '{',
            '{"comment":',
            "{'a':1}",
            '{"a":1,}',
            '{"a":NaN}',
            '\u0000',
            '{"a":"\\ud800"',
            'undefined',
          )
          .map((t) => ({ ...json(t), transport: true })),
      },
      // A body of a type the routes do not read.
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom(
              'text/plain',
              'application/xml',
              'application/octet-stream',
              'multipart/form-data; boundary=x',
              'application/merge-patch+json',
              'text/html; charset=utf-8',
              'application/x-www-form-urlencoded',
              'application/json; charset=latin1',
            ),
            fc.oneof(
              objectBody.map((b) => b.text),
              hostileString.filter((s) => s.length > 0),
            ),
          )
          .map(([contentType, text]) => ({
            text,
            contentType,
            poisoned: true,
            // The host parses forms (with its own limits) and refuses JSON in a charset it cannot decode.
            transport:
              contentType.startsWith('application/x-www-form-urlencoded') || contentType.includes('latin1'),
          })),
      },
    )
    .filter((b) => !mustPoison || b.poisoned);
}

/** A raw query string: known and hostile keys, repeated keys, bracket keys, undecodable escapes. */
function queryArb(fields: readonly string[]): fc.Arbitrary<string> {
  const enc = (s: string) => percentEncode(s);
  const key = fc.oneof(
    fields.length > 0 ? fc.constantFrom(...fields) : fc.constant('limit'),
    fields.length > 0
      ? fc.constantFrom(...fields.map((f) => `${f}[]`), ...fields.map((f) => `${f}[x]`))
      : fc.constant('a[]'),
    fc.constantFrom(...SPECIAL_KEYS, ...SQL, ...PATHS, '__proto__[x]', 'constructor[prototype][x]'),
  );
  const value = fc.oneof(
    hostileString.map((s) => s.slice(0, 1_500)),
    fc.constantFrom(
      ...NUMBERISH,
      '-1',
      '0',
      '501',
      '1.5',
      '1e3',
      '99999999999999999999',
      '2026-W05-1',
      '2026-031',
      '+002026-01-01',
    ),
  );
  const pair = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(key, value).map(([k, v]) => `${enc(k)}=${enc(v)}`) },
    { weight: 1, arbitrary: key.map(enc) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', 'limit=%ff', '&&', '=', '==') },
  );
  return fc
    .array(pair, { maxLength: 6 })
    .chain((pairs) =>
      pairs.length === 0
        ? fc.constant(pairs)
        : fc
            .option(fc.constantFrom(...pairs), { nil: undefined })
            .map((dup) => (dup ? [...pairs, dup] : pairs)),
    )
    .map((pairs) => pairs.join('&'));
}

/** Percent-encodes UTF-8 bytes (a lone surrogate goes as U+FFFD), dots included so `..` stays a parameter. */
function percentEncode(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** A path parameter: a real id (when the case carries its poison elsewhere), or a hostile one. */
interface ParamCase {
  /** As it goes in the URL. */
  raw: string;
  real: boolean;
  /** Undecodable: the host's router refuses it. */
  transport: boolean;
}

function paramArb(real: string | undefined, allowReal: boolean): fc.Arbitrary<ParamCase> {
  const mutations = real
    ? [
        real.toUpperCase(),
        `${real} `,
        `${real}\u0000`,
        real.split('').reverse().join(''),
        `${real}' OR '1'='1`,
        `${real}/..`,
        real.slice(0, 35),
      ]
    : [];
  const hostile = fc
    .oneof(
      fc.uuid(),
      hostileString.filter((s) => s.length > 0).map((s) => s.slice(0, 2_000)),
      ...(mutations.length ? [fc.constantFrom(...mutations)] : []),
    )
    .map((s): ParamCase => ({ raw: percentEncode(s), real: false, transport: false }));
  const undecodable = fc
    .constantFrom('%E0%A4%A', '%', '%zz', '%C0%AF', '%ED%A0%80', '%FF')
    .map((raw): ParamCase => ({ raw, real: false, transport: true }));
  const options: Array<fc.WeightedArbitrary<ParamCase>> = [
    { weight: 8, arbitrary: hostile },
    { weight: 1, arbitrary: undecodable },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('%00', '%00abc', 'abc%00')
        .map((raw) => ({ raw, real: false, transport: false })),
    },
  ];
  if (real && allowReal)
    options.push({ weight: 6, arbitrary: fc.constant({ raw: real, real: true, transport: false }) });
  return fc.oneof(...options);
}

const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;
const hostilePrincipal: fc.Arbitrary<string | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom(
    '',
    ' ',
    'Admin',
    'ADMIN',
    'admin ',
    ' admin',
    'admin:admin',
    'root',
    'customer',
    'customer:',
    'customer:../../admin',
    "customer:' OR 1=1 --",
    'customer:__proto__',
    'reseller:constructor',
    'customer:a:admin',
    'admin\t',
    'x'.repeat(8_000),
    'admin, admin',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }).filter((s) => HEADER_SAFE.test(s)),
  fc
    .string({ maxLength: 60 })
    .map((s) => `customer:${s}`)
    .filter((s) => HEADER_SAFE.test(s)),
);

/** Drops the host's log line for a body its parsers refused (an expected outcome here); prints everything else. */
class QuietHostParserLogger extends ConsoleLogger {
  constructor() {
    super();
    this.setLogLevels(['error', 'fatal']);
  }

  override error(message: unknown, ...rest: unknown[]): void {
    const refusedBody = message instanceof Error && typeof (message as { type?: unknown }).type === 'string';
    if (refusedBody && rest.includes('ExceptionsHandler')) return;
    super.error(message, ...rest);
  }
}

interface HostileCase {
  params: Record<string, ParamCase>;
  query: string;
  body: BodyCase | null;
  principal: string | null;
  /** Extra headers: a second principal, a forged forwarded-for, an odd accept. */
  headers: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// The suite

interface RouteTally {
  cases: number;
  refused: number;
  byStatus: Map<number, number>;
  hostShaped: number;
  ms: number;
}

describe('Hostile input (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offer: VendorOffer;
  let license: LicenseEntity;
  let pendingRequestId: string;
  let runId: string;
  let schema: string;
  let tables: string[];
  let routes: PluginRoute[];
  const customer = `c${randomInt(1e9)}`;
  const tallies = new Map<string, RouteTally>();
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );

  /** Prototypes whose own properties must not change under any input. */
  const guarded: Array<[string, object]> = [
    ['Object.prototype', Object.prototype],
    ['Array.prototype', Array.prototype],
    ['Function.prototype', Function.prototype],
    ['String.prototype', String.prototype],
  ];
  let prototypeSnapshot: string;
  const prototypesNow = () =>
    JSON.stringify(guarded.map(([name, p]) => [name, Object.getOwnPropertyNames(p).sort()]));

  /** One checksum over every row of every table of the scratch schema (the plugin's and the host's). */
  async function databaseState(): Promise<string> {
    const parts = tables.map(
      (t) =>
        `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) AS h FROM "${schema}"."${t}" r`,
    );
    const rows = await env.dataSource.query<Array<{ t: string; n: number; h: string }>>(
      parts.join(' UNION ALL '),
    );
    return rows.map((r) => `${r.t}:${r.n}:${r.h}`).join(',');
  }

  /** The tables whose rows differ from a {@link databaseState} taken before, or null when none does. */
  async function changedSince(before: string): Promise<string | null> {
    const was = new Set(before.split(','));
    const changed = (await databaseState())
      .split(',')
      .filter((t) => !was.has(t))
      .map((t) => t.split(':')[0]);
    return changed.length > 0 ? changed.join(', ') : null;
  }

  /** The real id a route's parameter can take, by the path segment before it. */
  function realIdFor(route: PluginRoute, param: string): string | undefined {
    const before = route.path.split('/')[route.path.split('/').indexOf(`:${param}`) - 1];
    switch (before) {
      case 'instances':
        return instance.id as string;
      case 'licenses':
        return license.id;
      case 'cancellation-requests':
        return pendingRequestId;
      case 'runs':
        return runId;
      default:
        return undefined;
    }
  }

  const validPrincipal = (route: PluginRoute) => (route.storefront ? `customer:${customer}` : 'admin');

  function urlOf(route: PluginRoute, c: HostileCase): string {
    let path = route.path;
    for (const [name, p] of Object.entries(c.params)) path = path.replace(`:${name}`, p.raw);
    return c.query ? `${path}?${c.query}` : path;
  }

  function send(route: PluginRoute, c: HostileCase): Promise<request.Response> {
    let req = request(env.app.getHttpServer())[route.method](urlOf(route, c));
    if (c.principal !== null) req = req.set('x-principal', c.principal);
    for (const [name, value] of Object.entries(c.headers)) req = req.set(name, value);
    if (c.body) req = req.set('content-type', c.body.contentType).send(c.body.text);
    return req;
  }

  /** The role the route wants, from what the host's resolver makes of the header. */
  function principalFits(route: PluginRoute, header: string | null): boolean {
    // The HTTP parser strips the value's surrounding spaces and tabs before the host reads it.
    const value = header?.replace(/^[ \t]+|[ \t]+$/g, '');
    const principal = principalFromRequest({ headers: value === undefined ? {} : { 'x-principal': value } });
    if (!principal) return false;
    return route.storefront ? principal.role !== 'admin' : principal.role === 'admin';
  }

  /**
   * A body no route may act on: not JSON (the plugin refuses it on every command), JSON the host's strict parser
   * refuses, or — on a route that reads a body — one its DTO must refuse.
   */
  function bodyRefused(route: PluginRoute, body: BodyCase): boolean {
    const mediaType = body.contentType.split(';')[0].trim().toLowerCase();
    if (body.text.length === 0) return false;
    if (mediaType !== 'application/json' || body.contentType.includes('latin1')) return true;
    try {
      const parsed = JSON.parse(body.text) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return true;
    } catch {
      return true;
    }
    return route.body !== null && body.poisoned;
  }

  /** True when the case holds something the route must refuse with a 4xx. */
  function mustRefuse(route: PluginRoute, c: HostileCase): boolean {
    if (!route.isPublic && !principalFits(route, c.principal)) return true;
    if (Object.values(c.params).some((p) => !p.real)) return true;
    if (c.body && bodyRefused(route, c.body)) return true;
    if (route.query && c.query) {
      const keys = Object.keys(parseQueryString(c.query));
      if (keys.some((k) => !route.query!.fields.includes(k))) return true;
    }
    return false;
  }

  function caseArb(route: PluginRoute): fc.Arbitrary<HostileCase> {
    const readsInput = route.params.length > 0 || route.body !== null || route.query !== null;
    // Safe to send unrefused: a GET, or a route where valid hostile values change nothing.
    const harmless = route.method === 'get' || HARMLESS_WHEN_VALID.has(route.label);
    // A real id only where the poison can sit in the body the route reads.
    const allowReal = route.method === 'get' || route.body !== null;
    const params = fc.record(
      Object.fromEntries(route.params.map((p) => [p, paramArb(realIdFor(route, p), allowReal)])),
    ) as fc.Arbitrary<Record<string, ParamCase>>;
    const principal =
      !route.isPublic && !readsInput && !harmless
        ? hostilePrincipal // a no-input command: only the principal can be wrong
        : fc.oneof(
            { weight: 6, arbitrary: fc.constant(validPrincipal(route)) },
            { weight: 1, arbitrary: hostilePrincipal },
          );
    const headers = fc.oneof(
      { weight: 6, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            'x-forwarded-for': fc.constantFrom("127.0.0.1, ' OR 1=1", '::1'),
            accept: fc.constantFrom('application/xml', '*/*;q=NaN', 'text/html'),
            'x-http-method-override': fc.constantFrom('DELETE', 'PATCH'),
          },
          { requiredKeys: [] },
        ),
      },
    );
    const body =
      route.method === 'get'
        ? fc.constant(null)
        : fc.option(bodyArb(route.body?.fields ?? [], route.body !== null && !harmless), {
            nil: null,
            freq: route.body ? 12 : 3,
          });
    return fc
      .record({ params, query: queryArb(route.query?.fields ?? []), body, principal, headers })
      .filter((c) => harmless || mustRefuse(route, c));
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: { worker: false, orderWaitMs: 200 },
    });
    // The host's JSON parser, with room for the ~1 MB strings (see the file's comment).
    const stack = (
      env.app.getHttpAdapter().getInstance() as unknown as {
        router: { stack: Array<{ name: string; handle: unknown }> };
      }
    ).router.stack;
    const jsonLayer = stack.find((layer) => layer.name === 'jsonParser');
    // The host's parsers refusing hostile bodies is expected here: keep their stack traces out of the log.
    env.app.useLogger(new QuietHostParserLogger());
    if (!jsonLayer) throw new Error('the host has no JSON parser to widen');
    jsonLayer.handle = express.json({ limit: '4mb' });
    await new Promise<void>((resolve) => env.app.getHttpServer().listen(0, '127.0.0.1', resolve));
    hooks = env.app.get(EsdHooksService);

    instance = await readyInstance({}, MARKET);
    offer = (await seedOffers(env.dataSource, env.sandbox, instance.id as string, MARKET, 10)).find(
      (o) => o.status === 'Active' && o.minQuantity <= 1,
    )!;
    const licenses = env.dataSource.getRepository(LicenseEntity);
    await licenses.insert([
      licenseRow(instance.id as string, {
        customerAccountId: customer,
        billToAccountId: customer,
        productCode: offer.offerId,
        provisioningStatus: 'Synchronized',
        tokenStatus: 'Activated',
        tokenLastGroup: 'ABCDE',
      }),
      licenseRow(instance.id as string, { customerAccountId: customer, provisioningStatus: 'Failed' }),
    ]);
    license = await licenses.findOneByOrFail({
      customerAccountId: customer,
      provisioningStatus: 'Synchronized',
    });
    pendingRequestId = newId();
    await env.dataSource.getRepository(CancellationRequestEntity).insert({
      id: pendingRequestId,
      licenseId: license.id,
      status: 'pending',
      activeLicenseId: license.id,
      requestedByRole: 'customer',
      requestedByAccountId: customer,
      requestedByUserId: customer,
      comment: 'fixture',
    });
    const run = await call('post', `/esd/instances/${instance.id}/services-definition`);
    if (run.status !== 202) throw new Error(`catalog run: ${run.status} ${run.text}`);
    runId = (run.body as Json).id as string;

    schema = (env.dataSource.options as { schema?: string }).schema ?? 'public';
    tables = (
      await env.dataSource.query<Array<{ table_name: string }>>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'migrations' ORDER BY 1`,
        [schema],
      )
    ).map((r) => r.table_name);

    routes = [];
    for (const route of pluginRoutes(env)) {
      let path = route.path;
      for (const p of route.params) path = path.replace(`:${p}`, randomUUID());
      const anonymous = await request(env.app.getHttpServer())[route.method](path);
      routes.push({ ...route, isPublic: anonymous.status !== 401 });
    }
    prototypeSnapshot = prototypesNow();
  }, 120_000);

  afterAll(async () => {
    if (tallies.size > 0) {
      const rows = [...tallies].map(([label, t]) => {
        const statuses = [...t.byStatus]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ');
        return `${label.padEnd(62)} ${String(t.cases).padStart(5)} ${String(t.refused).padStart(7)} ${String(t.hostShaped).padStart(5)} ${String(t.ms).padStart(7)}  ${statuses}`;
      });
      const total = [...tallies.values()].reduce((n, t) => n + t.cases, 0);
      console.log(
        [
          `Hostile input: generated cases per route (numRuns ${RUNS}${SEED === undefined ? '' : `, seed ${SEED}`})`,
          `${'route'.padEnd(62)} ${'cases'.padStart(5)} ${'refused'.padStart(7)} ${'host'.padStart(5)} ${'ms'.padStart(7)}  statuses`,
          ...rows,
          `${'total'.padEnd(62)} ${String(total).padStart(5)}`,
        ].join('\n'),
      );
    }
    await env?.close();
  });

  it('finds every plugin route, with the inputs each reads', () => {
    const labels = routes.map((r) => r.label);
    expect(labels).toEqual(
      expect.arrayContaining([
        'GET /esd/health',
        'POST /esd/instances',
        'PATCH /esd/instances/:id',
        'GET /esd/instances/:id/services-definition/runs/:runId',
        'POST /esd/offers/acknowledge',
        'GET /esd/licenses',
        'POST /esd/licenses/:id/cancel',
        'POST /esd/cancellation-requests/:id/accept',
        'DELETE /esd/my/licenses/:id/cancellation-request',
      ]),
    );
    const byLabel = new Map(routes.map((r) => [r.label, r]));
    expect(byLabel.get('PATCH /esd/instances/:id')?.body?.fields).toEqual(
      expect.arrayContaining(['systemName', 'certificate', 'country', 'disabled']),
    );
    expect(byLabel.get('GET /esd/licenses')?.query?.fields).toEqual(
      expect.arrayContaining(['cursor', 'limit', 'status', 'purchasedFrom']),
    );
    expect(routes.filter((r) => !r.handled).map((r) => r.label)).toEqual([]);
    expect(byLabel.get('GET /esd/health')?.isPublic).toBe(true);
    expect(byLabel.get('GET /esd/licenses')?.isPublic).toBe(false);
  });

  it('every route: hostile input answers a 4xx with a code, never a 5xx, and changes nothing', async () => {
    const failures: string[] = [];
    for (const route of routes.filter((r) => !ONLY || ONLY.test(r.label))) {
      const tally: RouteTally = { cases: 0, refused: 0, byStatus: new Map(), hostShaped: 0, ms: 0 };
      tallies.set(route.label, tally);
      const started = Date.now();
      // Nothing may change, so one reading before the route's run serves every case of it.
      const before = await databaseState();
      try {
        await fc.assert(
          fc.asyncProperty(caseArb(route), async (c) => {
            const res = await send(route, c);
            const refuse = mustRefuse(route, c);
            const transport =
              Object.values(c.params).some((p) => p.transport) || (c.body !== null && c.body.transport);
            tally.cases += 1;
            tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
            const body = (res.body ?? {}) as Record<string, unknown>;
            const where = [
              `${route.method.toUpperCase()} ${urlOf(route, c).slice(0, 300)}`,
              `x-principal: ${JSON.stringify(c.principal)}`,
              ...(c.body ? [`${c.body.contentType}: ${JSON.stringify(c.body.text.slice(0, 300))}`] : []),
              `→ ${res.status} ${res.text.slice(0, 300)}`,
            ].join('\n');
            if (res.status >= 500) throw new Error(`5xx: ${where}`);
            if (refuse && (res.status < 400 || res.status >= 500)) throw new Error(`not refused: ${where}`);
            if (res.status >= 400) {
              tally.refused += 1;
              const pluginShaped =
                typeof body.code === 'string' &&
                ERROR_CODES.has(body.code) &&
                typeof body.message === 'string' &&
                body.message.length > 0 &&
                body.statusCode === res.status;
              if (!pluginShaped) {
                if (!transport) throw new Error(`not the plugin's error body: ${where}`);
                if (typeof body.message !== 'string') throw new Error(`no message at all: ${where}`);
                tally.hostShaped += 1;
              }
            }
            const changed = await changedSince(before);
            if (changed) throw new Error(`the database changed (${changed}): ${where}`);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
      } catch (error) {
        // The counterexample may hold ~1 MB strings: keep the reason and the start of the case.
        const cause =
          error instanceof Error && error.cause instanceof Error ? `${error.cause.message}\n` : '';
        const message = cause + (error instanceof Error ? error.message : String(error));
        failures.push(`${route.label}: ${message.length > 3_000 ? `${message.slice(0, 3_000)}…` : message}`);
      }
      if (prototypesNow() !== prototypeSnapshot) failures.push(`${route.label}: a prototype was polluted`);
      tally.ms = Date.now() - started;
    }
    expect(failures).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(prototypesNow()).toBe(prototypeSnapshot);
  }, 600_000);
  describe('what the suite found, each kept as a fixed example', () => {
    const admin = (method: Method, path: string) =>
      request(env.app.getHttpServer())[method](path).set('x-principal', 'admin');
    const cursorOf = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');

    /** A 400 VALIDATION_FAILED naming `field`, and nothing written. */
    async function expectRefused(send: () => Promise<request.Response>, field: string): Promise<void> {
      const before = await databaseState();
      const res = await send();
      expect({ status: res.status, code: (res.body as Json).code }).toEqual({
        status: 400,
        code: EsdErrorCode.VALIDATION_FAILED,
      });
      expect(
        ((res.body as Json).details as { fields: Array<{ field: string }> }).fields.map((f) => f.field),
      ).toContain(field);
      expect(await databaseState()).toBe(before);
    }

    it('a NUL character in a path parameter, a query filter or a body answers 400, not a driver error (500)', async () => {
      await expectRefused(() => admin('get', '/esd/instances/%00abc'), 'id');
      await expectRefused(() => admin('post', `/esd/licenses/${license.id}%00/resync`), 'id');
      await expectRefused(
        () => admin('get', `/esd/instances/${instance.id}/services-definition/runs/%00`),
        'runId',
      );
      await expectRefused(() => admin('get', '/esd/licenses?customerAccountId=%00'), 'customerAccountId');
      await expectRefused(
        () => admin('post', '/esd/offers/acknowledge').send({ ids: ['ok', 'a\u0000b'] }),
        'ids[1]',
      );
    });

    it('a cursor carrying NUL, or a time no database stores, answers 400 (it was a 500)', async () => {
      await expectRefused(
        () => admin('get', `/esd/licenses?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', '\u0000'])}`),
        'cursor',
      );
      await expectRefused(() => admin('get', `/esd/instances?cursor=${cursorOf(['ESD\u0000'])}`), 'cursor');
      await expectRefused(
        () => admin('get', `/esd/licenses?cursor=${cursorOf(['-271821-04-20T00:00:00.000Z', randomUUID()])}`),
        'cursor',
      );
    });

    it('ISO 8601 week and ordinal dates, which IsISO8601 passes and Date cannot read, answer 400 (they were a 500)', async () => {
      await expectRefused(() => admin('get', '/esd/licenses?purchasedFrom=2026-W05-1'), 'purchasedFrom');
      await expectRefused(() => admin('get', '/esd/licenses?purchasedTo=2026-031'), 'purchasedTo');
      // The order hook would have stored an Invalid Date: now the request is refused before anything is written.
      const before = await databaseState();
      const answer = await hooks.order(
        orderRequest(instance.id as string, offer, 1, { placedAt: '2026-W05-1' }),
      );
      expect(answer).toMatchObject({ outcome: 'failed', code: EsdErrorCode.ORDER_INVALID });
      expect(await databaseState()).toBe(before);
    });

    it('deep nesting answers 400, not a stack overflow (500)', async () => {
      const deep = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;
      await expectRefused(
        () =>
          admin('post', '/esd/offers/acknowledge')
            .set('content-type', 'application/json')
            .send(`{"ids":${deep(20_000)}}`),
        `ids${'[0]'.repeat(15)}`,
      );
    });

    it('keys naming Object.prototype members are refused, not silently dropped past forbidNonWhitelisted', async () => {
      const patch = (text: string) => () =>
        admin('patch', `/esd/instances/${instance.id}`).set('content-type', 'application/json').send(text);
      await expectRefused(patch('{"__proto__":{"systemName":"taken-over"}}'), '__proto__');
      await expectRefused(patch('{"constructor":{"prototype":{"polluted":true}}}'), 'constructor');
      await expectRefused(patch('{"returnWindowDays":7,"valueOf":1}'), 'valueOf');
      await expectRefused(() => admin('get', '/esd/licenses?hasOwnProperty'), 'hasOwnProperty');
      await expectRefused(() => admin('get', '/esd/offers?toString=1'), 'toString');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(prototypesNow()).toBe(prototypeSnapshot);
    });

    it('a body that is not JSON is refused on a command rather than ignored (the cancel ran without its comment)', async () => {
      await expectRefused(
        () =>
          admin('post', `/esd/licenses/${license.id}/cancel`)
            .set('content-type', 'text/plain')
            .send('{"comment":"keep this"}'),
        'body',
      );
      await expectRefused(
        () =>
          request(env.app.getHttpServer())
            .post(`/esd/my/licenses/${license.id}/cancellation-request`)
            .set('x-principal', `customer:${customer}`)
            .set('content-type', 'application/x-www-form-urlencoded')
            .send('comment=x'),
        'body',
      );
      expect(
        (await env.dataSource.getRepository(LicenseEntity).findOneByOrFail({ id: license.id })).status,
      ).toBe('active');
      // JSON, and no body at all, still go through to the route.
      expect(
        (await admin('post', `/esd/licenses/${randomUUID()}/cancel`).send({ comment: 'x' })).status,
      ).toBe(404);
      expect((await admin('post', `/esd/licenses/${randomUUID()}/cancel`)).status).toBe(404);
    });

    it('the hooks: a null customer detail is missing data, not a TypeError', async () => {
      const before = await databaseState();
      for (const field of ['name', 'email', 'country'] as const) {
        const base = orderRequest(instance.id as string, offer, 1);
        const input = { ...base, customer: { ...base.customer, [field]: null } };
        expect(await hooks.order(input)).toMatchObject({
          outcome: 'failed',
          code: EsdErrorCode.CUSTOMER_DATA_MISSING,
        });
        expect(await hooks.precheck({ action: 'order', request: input })).toMatchObject({
          ok: false,
          violations: [{ code: EsdErrorCode.CUSTOMER_DATA_MISSING }],
        });
      }
      expect(await databaseState()).toBe(before);
    });

    it('the hooks: values that are not JSON data are refused with a code (a Map with object keys made them throw)', async () => {
      const base = orderRequest(instance.id as string, offer, 1);
      const odd = Object.assign(['x'], { constructor: { [Symbol.species]: 1 } });
      const inputs: unknown[] = [
        { action: new Map([[Object.create(null) as object, undefined]]) },
        { ...base, customer: new Map([[{}, 1]]) },
        { ...base, billTo: { accountId: odd } },
        { ...base, quantity: 1n },
      ];
      const before = await databaseState();
      for (const input of inputs) {
        expect(await hooks.order(input as OrderRequest)).toMatchObject({
          outcome: 'failed',
          code: EsdErrorCode.ORDER_INVALID,
        });
        expect(await hooks.precheck({ action: 'order', request: input as OrderRequest })).toMatchObject({
          ok: false,
        });
        expect(
          await hooks.precheck({
            action: 'cancel',
            request: input as Parameters<EsdHooksService['cancel']>[0],
          }),
        ).toMatchObject({ ok: false });
      }
      expect(await databaseState()).toBe(before);
    });
  });

  describe('the order and precheck hooks', () => {
    const licenseCount = () => env.dataSource.getRepository(LicenseEntity).count();
    const FAILURE_CODES = new Set<string>([
      EsdErrorCode.ORDER_INVALID,
      EsdErrorCode.CUSTOMER_DATA_MISSING,
      EsdErrorCode.INSTANCE_NOT_READY,
      EsdErrorCode.OFFER_UNKNOWN,
      EsdErrorCode.OFFER_DISCONTINUED,
      EsdErrorCode.QUANTITY_OUT_OF_RANGE,
      EsdErrorCode.VALIDATION_FAILED,
      EsdErrorCode.NOT_FOUND,
    ]);

    /** Calls both hooks with `input` (and precheck with it as either action's request) and checks each answer. */
    async function refusesEverywhere(input: unknown, before: string): Promise<void> {
      const order = await hooks.order(input as OrderRequest);
      if (order.outcome !== 'failed' || !FAILURE_CODES.has(order.code) || !order.message) {
        throw new Error(`order answered ${JSON.stringify(order)}`);
      }
      for (const asked of [
        input,
        { action: 'order', request: input },
        { action: 'cancel', request: input },
      ]) {
        const precheck = await hooks.precheck(asked as Parameters<EsdHooksService['precheck']>[0]);
        if (
          precheck.ok ||
          precheck.violations.length === 0 ||
          precheck.violations.some((v) => !FAILURE_CODES.has(v.code) || !v.message)
        ) {
          throw new Error(`precheck answered ${JSON.stringify(precheck)}`);
        }
      }
      const changed = await changedSince(before);
      if (changed) throw new Error(`a hook wrote to the database (${changed})`);
    }

    const anything = fc.anything({
      key: fc.oneof(
        fc.string(),
        fc.constantFrom(
          ...PROTO_KEYS,
          'action',
          'request',
          'hostOrderItemId',
          'customer',
          'licenseId',
          'requestedBy',
        ),
      ),
      maxDepth: 4,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true,
    });

    it('arbitrary values: never throw, answer failed / ok: false with a code, write nothing', async () => {
      const licensesBefore = await licenseCount();
      const before = await databaseState();
      await fc.assert(
        fc.asyncProperty(anything, (input) => refusesEverywhere(input, before)),
        { numRuns: HOOK_RUNS, seed: SEED },
      );
      expect(await licenseCount()).toBe(licensesBefore);
      expect(prototypesNow()).toBe(prototypeSnapshot);
    }, 120_000);

    /** A path into the order request and what to do there. */
    type Mutation =
      | { kind: 'delete'; path: string[] }
      | { kind: 'set'; path: string[]; value: unknown }
      | { kind: 'add'; path: string[]; key: string; value: unknown };

    const REQUIRED: string[][] = [
      ['hostOrderId'],
      ['hostOrderItemId'],
      ['instanceId'],
      ['productCode'],
      ['quantity'],
      ['unitPrice'],
      ['unitPrice', 'amountMinor'],
      ['unitPrice', 'currency'],
      ['customer'],
      ['customer', 'accountId'],
      ['customer', 'name'],
      ['customer', 'email'],
      ['customer', 'country'],
      ['customer', 'locale'],
      ['billTo'],
      ['billTo', 'accountId'],
      ['placedAt'],
    ];
    const wrongType = fc.oneof(
      fc.constantFrom(null, true, 0, -1, [], {}, [[]], { __proto__: null }, NaN, Infinity, -Infinity, 10n),
      fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
      fc.object({ maxDepth: 2 }),
    );
    /** Values refused for the field whichever it is: wrong types, plus each field's own near misses. */
    const nearMiss: Record<string, fc.Arbitrary<unknown>> = {
      hostOrderId: fc.constantFrom('', 'x'.repeat(101), 'a\u0000b'),
      hostOrderItemId: fc.constantFrom('', 'x'.repeat(101), '\u0000'),
      instanceId: fc.oneof(fc.uuid(), fc.constantFrom('', 'not-a-uuid', `${randomUUID()} `, "' OR 1=1 --")),
      productCode: fc.oneof(
        fc.string({ minLength: 1, maxLength: 30 }).map((s) => `UNKNOWN-${s}`),
        fc.constantFrom('', 'x'.repeat(101), '\u0000'),
      ),
      quantity: fc.constantFrom(
        0,
        -1,
        1.5,
        MAX_ORDER_QUANTITY + 1,
        Number.MAX_SAFE_INTEGER + 2,
        1e308,
        '1',
        NaN,
        Infinity,
      ),
      amountMinor: fc.constantFrom(-1, 1.5, 2 ** 53 + 2, '14900', NaN, -Infinity),
      currency: fc.constantFrom('eur', 'EURO', '', '€', 'E\u0000R'),
      accountId: fc.constantFrom('', 'x'.repeat(101), 'a\u0000'),
      name: fc.constantFrom(null, '', '   ', '\u200B'.repeat(501), 'x'.repeat(501), 'a\u0000'),
      email: fc.constantFrom(
        null,
        '',
        'not-an-email',
        'a@',
        '@b.c',
        `${'x'.repeat(320)}@example.test`,
        'a\u0000@b.c',
      ),
      country: fc.constantFrom(null, '', 'gr', 'GRC', 'G1', '\u202EGR'),
      resellerAccountId: fc.constantFrom('', 'x'.repeat(101), 'r\u0000', 5),
      locale: fc.constantFrom('', 'x', 'el_GR', 'el-GR-'.repeat(5), '../../etc'),
      placedAt: fc.constantFrom('', 'yesterday', '2026-02-30', '2026-W05-1', '2026-031', '+002026-01-01', 0),
    };
    /** Where a value can be replaced: the required fields and the optional reseller. */
    const SETTABLE: string[][] = [...REQUIRED, ['customer', 'resellerAccountId']];
    /** Every field name of the request, at any level: an added key must be none of them to be unknown. */
    const FIELD_NAMES = new Set(SETTABLE.flat());
    const mutation = (offerMax: number): fc.Arbitrary<Mutation> =>
      fc.oneof(
        {
          weight: 2,
          arbitrary: fc.constantFrom(...REQUIRED).map((path): Mutation => ({ kind: 'delete', path })),
        },
        {
          // Each field's own near misses: these pass every check but one.
          weight: 6,
          arbitrary: fc
            .constantFrom(...SETTABLE.filter((path) => nearMiss[path[path.length - 1]] !== undefined))
            .chain((path) =>
              nearMiss[path[path.length - 1]].map((value): Mutation => ({ kind: 'set', path, value })),
            ),
        },
        {
          weight: 2,
          arbitrary: fc
            .constantFrom(...SETTABLE)
            .chain((path) => wrongType.map((value): Mutation => ({ kind: 'set', path, value })))
            // Not every "wrong type" is wrong everywhere: the reseller is optional (null is no mistake), and a price
            // of 0 is a valid price (a free license).
            .filter(
              (m) =>
                !(m.kind === 'set' && m.path[1] === 'resellerAccountId' && m.value === null) &&
                !(m.kind === 'set' && m.path[1] === 'amountMinor' && m.value === 0),
            ),
        },
        {
          weight: 1,
          arbitrary: fc.constant<Mutation>({ kind: 'set', path: ['quantity'], value: offerMax + 1 }),
        },
        {
          weight: 2,
          arbitrary: fc
            .tuple(
              fc.constantFrom<string[]>([], ['customer'], ['unitPrice'], ['billTo']),
              fc
                .oneof(
                  fc.constantFrom(...PROTO_KEYS, 'valueOf', 'isAdmin', 'status'),
                  fc.string({ minLength: 1 }),
                )
                .filter((key) => !FIELD_NAMES.has(key)),
              fc.oneof(
                fc.constantFrom({ polluted: true }, { isAdmin: true }),
                hostileJson.map((t) => JSON.parse(t) as unknown),
              ),
            )
            .map(([path, key, value]): Mutation => ({ kind: 'add', path, key, value })),
        },
      );

    /** The valid request with `mutations` applied, built with JSON.parse so `__proto__` lands as an own key. */
    function mutate(base: OrderRequest, mutations: Mutation[]): unknown {
      const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
      for (const m of mutations) {
        let target: unknown = copy;
        for (const step of m.path.slice(0, m.kind === 'add' ? undefined : -1)) {
          target =
            typeof target === 'object' && target !== null
              ? (target as Record<string, unknown>)[step]
              : undefined;
        }
        if (typeof target !== 'object' || target === null) continue;
        const at = target as Record<string, unknown>;
        if (m.kind === 'delete') delete at[m.path[m.path.length - 1]];
        // Cloned: a later mutation may add keys inside it, and fast-check keeps the generated value.
        if (m.kind === 'set')
          Object.defineProperty(at, m.path[m.path.length - 1], {
            value: structuredClone(m.value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        if (m.kind === 'add')
          Object.defineProperty(at, m.key, {
            value: structuredClone(m.value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      return copy;
    }

    it('near-valid order requests: each mutation is refused with a code, and no license row is written', async () => {
      const base = orderRequest(instance.id as string, offer, 1);
      // The request the mutations start from is itself valid: precheck has nothing against it.
      expect(await hooks.precheck({ action: 'order', request: base })).toEqual({ ok: true });
      const licensesBefore = await licenseCount();
      const before = await databaseState();
      await fc.assert(
        fc.asyncProperty(
          // Mostly one mutation, so each check is reached on its own; sometimes several at once.
          fc.oneof(
            { weight: 3, arbitrary: mutation(offer.maxQuantity).map((m) => [m]) },
            { weight: 1, arbitrary: fc.array(mutation(offer.maxQuantity), { minLength: 2, maxLength: 3 }) },
          ),
          async (mutations) => {
            const input = mutate({ ...base, hostOrderItemId: `item-${randomUUID()}` }, mutations);
            const order = await hooks.order(input as OrderRequest);
            const precheck = await hooks.precheck({ action: 'order', request: input as OrderRequest });
            const said = fc.stringify({ mutations, order, precheck });
            if (order.outcome !== 'failed' || !FAILURE_CODES.has(order.code) || !order.message) {
              throw new Error(`order was not refused: ${said}`);
            }
            if (precheck.ok || precheck.violations.some((v) => !FAILURE_CODES.has(v.code))) {
              throw new Error(`precheck was not refused: ${said}`);
            }
            const changed = await changedSince(before);
            if (changed) throw new Error(`a hook wrote to the database (${changed}): ${said}`);
          },
        ),
        { numRuns: HOOK_RUNS, seed: SEED },
      );
      expect(await licenseCount()).toBe(licensesBefore);
      expect(prototypesNow()).toBe(prototypeSnapshot);
    }, 120_000);
  });
});
