import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';

/** A Redis the reference host can use, and how to let go of it. */
export interface RedisHandle {
  url: string;
  /** `true` when the host started its own redis-server. */
  private: boolean;
  stop(): Promise<void>;
}

function reachable(url: string, timeoutMs = 1500): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Uses the Redis at `url`; when none answers there and a `redis-server` binary is on the PATH, starts a private
 * one (no persistence) on a free loopback port; with neither, fails saying how to get one.
 */
export async function ensureRedis(
  url: string,
  log: (line: string) => void = () => undefined,
): Promise<RedisHandle> {
  if (await reachable(url)) return { url, private: false, stop: async () => undefined };
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const binary = which.stdout.trim();
  if (which.status !== 0 || !binary) {
    throw new Error(
      `No Redis answers at ${url} and no redis-server is on the PATH. Start one (e.g. \`redis-server --save "" --appendonly no\`), ` +
        'install it (`apt-get install redis-server`), or set REDIS_URL to a reachable Redis.',
    );
  }
  const port = await freePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await reachable(privateUrl, 300))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `No Redis answers at ${url}, and a private redis-server on port ${port} did not start.`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(
    `No Redis answered at ${url}; started a private redis-server at ${privateUrl} (nothing is kept on disk).`,
  );
  return {
    url: privateUrl,
    private: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
