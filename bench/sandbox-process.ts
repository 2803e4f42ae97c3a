/**
 * The CIS sandbox in a process of its own (`dist/sandbox/cis/main.js`), as Microsoft runs on another machine: the
 * CPU it spends building, serialising and encrypting its answers is not counted against the plugin's. Shared by
 * the benchmarks that talk to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as https from 'node:https';
import * as path from 'node:path';
import type { CisSandboxCredentials } from '../sandbox/cis/cis-sandbox';

/** The CIS sandbox in a process of its own: where it listens, the identity it trusts, how to stop it. */
export interface SandboxProcess {
  url: string;
  credentials: CisSandboxCredentials;
  close(): Promise<void>;
}

/** One HTTPS call to the sandbox; `ca` undefined only for the first call, which fetches the CA itself. */
export function sandboxCall<T>(
  sandbox: Pick<SandboxProcess, 'url'> & { credentials?: Pick<CisSandboxCredentials, 'caPem'> },
  method: string,
  route: string,
  body?: unknown,
): Promise<T> {
  const trust = sandbox.credentials ? { ca: sandbox.credentials.caPem } : { rejectUnauthorized: false };
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(route, sandbox.url),
      { method, ...trust, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 400)
            reject(new Error(`sandbox ${route}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * Starts `dist/sandbox/cis/main.js` on a free port, its rate limit off (`POST /__sandbox/config` sets one), and
 * fetches the credentials it trusts.
 */
export async function startSandboxProcess(): Promise<SandboxProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(__dirname, '..', 'sandbox', 'cis', 'main.js')],
    {
      env: { ...process.env, CIS_PORT: '0', CIS_LOG: '0', CIS_RATE_LIMIT_PER_MINUTE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A bench that dies on an error must not leave a sandbox listening behind it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!(url = /CIS sandbox listening on (https:\/\/\S+)/.exec(output)?.[1])) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the CIS sandbox did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Its CA is made at start and handed out with the credentials, so this one call to a child of ours trusts blindly.
  const credentials = await sandboxCall<CisSandboxCredentials>({ url }, 'GET', '/__sandbox/credentials');
  return {
    url,
    credentials,
    close: async () => {
      process.off('exit', orphanGuard);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
