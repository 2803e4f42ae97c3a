/**
 * The plugin's HTTP routes as the reference host's admin calls them, for the benchmarks: one call, and a ready
 * instance made through Applications Setup against the sandbox in its own process.
 */
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SandboxProcess } from './sandbox-process';

/** One call to the plugin's routes as the host's admin; anything but 2xx throws with the answer. */
export async function api<T>(
  app: INestApplication,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'x-principal': 'admin', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A ready instance in the market, through the plugin's own Applications Setup routes. */
export async function readyInstance(
  app: INestApplication,
  sandbox: SandboxProcess,
  market: { country: string; language: string },
): Promise<string> {
  const c = sandbox.credentials;
  const created = await api<{ id: string }>(app, 'POST', '/esd/instances', {
    systemName: `BENCH-${randomBytes(3).toString('hex')}`,
    resourceApi: c.resourceApi,
    serviceUrl: c.serviceUrl,
    tenantId: c.tenantId,
    channelId: c.channelId,
    clientId: c.clientId,
    authorityHost: c.authorityHost,
    caCertificatePem: c.caPem,
  });
  const path = `/esd/instances/${created.id}`;
  await api(app, 'PATCH', path, { certificate: { pem: c.certificatePem, privateKeyPem: c.privateKeyPem } });
  await api(app, 'PATCH', path, market);
  await api(app, 'POST', `${path}/test-connection`);
  return created.id;
}
