import request from 'supertest';
import type { CisSandbox } from '../../sandbox/cis/cis-sandbox';

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
