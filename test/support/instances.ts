/**
 * Applications Setup through the plugin's own routes, against the CIS sandbox: a draft instance, and a READY
 * one (stage 1, certificate, market, passing connection test). Each instance gets its own client ID, which
 * the sandbox trusts with its test certificate (Microsoft issues one client ID per country).
 */
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { CisSandbox } from '../../sandbox/cis/cis-sandbox';

export type Json = Record<string, ReturnType<typeof JSON.parse>>;
export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export interface InstanceHelpers {
  /** One HTTP call to the app as `who` (default the reference host's admin). */
  call(method: HttpMethod, path: string, body?: unknown, who?: string): Promise<request.Response>;
  /** A client ID the sandbox trusts with its certificate: each instance its own (one client ID, one country). */
  freshClient(prefix?: string): string;
  /** A valid stage-1 body (a fresh system name and client ID) with `patch` on top. */
  stageOne(patch?: Record<string, unknown>): Record<string, unknown>;
  /** A draft instance (stage 1 only). */
  createInstance(patch?: Record<string, unknown>): Promise<Json>;
  /** An instance through both stages and a passing connection test. */
  readyInstance(
    patch?: Record<string, unknown>,
    market?: { country: string; language: string },
  ): Promise<Json>;
}

export function instanceHelpers(
  app: () => INestApplication,
  sandbox: () => CisSandbox,
  options: { onResponse?: (response: request.Response) => void } = {},
): InstanceHelpers {
  let counter = 0;
  const creds = () => sandbox().credentials;

  async function call(
    method: HttpMethod,
    path: string,
    body?: unknown,
    who = 'admin',
  ): Promise<request.Response> {
    let req = request(app().getHttpServer())[method](path);
    if (who) req = req.set('x-principal', who);
    const res = body === undefined ? await req : await req.send(body as object);
    options.onResponse?.(res);
    return res;
  }

  const freshClient = (prefix = 'client') => {
    const clientId = `${prefix}-${randomBytes(4).toString('hex')}`;
    sandbox().registerClient({
      clientId,
      channelIds: [creds().channelId],
      certificatePem: creds().certificatePem,
    });
    return clientId;
  };

  const stageOne = (patch: Record<string, unknown> = {}) => ({
    systemName: `ESD-${++counter}-${randomBytes(3).toString('hex')}`,
    resourceApi: creds().resourceApi,
    serviceUrl: creds().serviceUrl,
    tenantId: creds().tenantId,
    channelId: creds().channelId,
    clientId: freshClient(),
    authorityHost: creds().authorityHost,
    caCertificatePem: creds().caPem,
    ...patch,
  });

  async function createInstance(patch: Record<string, unknown> = {}): Promise<Json> {
    const res = await call('post', '/esd/instances', stageOne(patch));
    if (res.status !== 201) throw new Error(`create instance: ${res.status} ${res.text}`);
    return res.body as Json;
  }

  async function readyInstance(
    patch: Record<string, unknown> = {},
    market = { country: 'GR', language: 'el-GR' },
  ): Promise<Json> {
    const created = await createInstance(patch);
    const steps: Array<[HttpMethod, string, unknown]> = [
      [
        'patch',
        `/esd/instances/${created.id}`,
        { certificate: { pem: creds().certificatePem, privateKeyPem: creds().privateKeyPem } },
      ],
      ['patch', `/esd/instances/${created.id}`, market],
      ['post', `/esd/instances/${created.id}/test-connection`, undefined],
    ];
    for (const [method, path, body] of steps) {
      const res = await call(method, path, body);
      if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    }
    const res = await call('get', `/esd/instances/${created.id}`);
    if (res.body.state !== 'ready') throw new Error(`instance not ready: ${res.text}`);
    return res.body as Json;
  }

  return { call, freshClient, stageOne, createInstance, readyInstance };
}
