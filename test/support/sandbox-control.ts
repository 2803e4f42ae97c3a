import request from 'supertest';
import type { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import type { CisConnection } from '../../src/cis';

/** One call to the CIS sandbox over HTTPS, trusting its CA; the answer whatever its status. */
export async function sandboxControlRaw(
  sandbox: CisSandbox,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const verb = method.toLowerCase() as 'get' | 'post' | 'delete' | 'put' | 'patch';
  let req = request(sandbox.url)[verb](path).ca(sandbox.credentials.caPem);
  if (body !== undefined) req = req.send(body as object);
  const res = await req;
  return { status: res.status, body: res.text ? (JSON.parse(res.text) as unknown) : undefined };
}

/** A sandbox control call that must succeed (a 4xx/5xx fails the test with the sandbox's answer). */
export async function sandboxControl<T = unknown>(
  sandbox: CisSandbox,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const answer = await sandboxControlRaw(sandbox, method, path, body);
  if (answer.status >= 400)
    throw new Error(`sandbox ${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

/** The CIS connection of the sandbox's own test identity, trusting its CA; fields may be overridden. */
export function sandboxConnection(
  sandbox: CisSandbox,
  overrides: Partial<CisConnection> = {},
): CisConnection {
  const c = sandbox.credentials;
  return {
    instanceId: 'inst-sandbox',
    tenantId: c.tenantId,
    clientId: c.clientId,
    channelId: c.channelId,
    resourceApi: c.resourceApi,
    serviceUrl: c.serviceUrl,
    authorityHost: c.authorityHost,
    caCertificatePem: c.caPem,
    certificate: { certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem },
    ...overrides,
  };
}

/** `GET /__sandbox/stats` as the sandbox answers it. */
export interface SandboxStatsAnswer {
  tokensCreated: number;
  tokenRequestsByClientTransactionId: Record<string, number>;
  returnsCreated: number;
  accessTokensIssued: number;
  callsByRoute: Record<string, number>;
  heldRequests: number;
}

export function sandboxStats(sandbox: CisSandbox): Promise<SandboxStatsAnswer> {
  return sandboxControl<SandboxStatsAnswer>(sandbox, 'GET', '/__sandbox/stats');
}

/** Marks a token Redeemed, as a customer entering the key would (`redeemedAt` from the business clock). */
export function redeemSandboxToken(
  sandbox: CisSandbox,
  clientTransactionId: string,
): Promise<{ channelId: string; clientTransactionId: string; tokenStatus: string; redeemedAt: string }> {
  return sandboxControl(
    sandbox,
    'POST',
    `/__sandbox/tokens/${encodeURIComponent(clientTransactionId)}/redeem`,
  );
}

/** Moves the sandbox's business clock (return window) forward; access tokens keep the real clock. */
export function advanceSandboxClock(
  sandbox: CisSandbox,
  days: number,
): Promise<{ now: string; advancedDays: number }> {
  return sandboxControl(sandbox, 'POST', '/__sandbox/clock', { advanceDays: days });
}
