/**
 * The real services the tests talk to, from env URLs with the machine's defaults. A test that cannot reach
 * one fails with a message naming it and the command that starts it — it never skips.
 */
import * as net from 'node:net';

export const SERVICE_URLS = {
  postgres: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  mariadb: process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test',
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

const START_COMMANDS: Record<keyof typeof SERVICE_URLS, string> = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  mariadb: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
};

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) };
}

function canConnect(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Throws, naming the service and how to start it, when it does not accept connections. */
export async function requireService(name: keyof typeof SERVICE_URLS): Promise<string> {
  const url = SERVICE_URLS[name];
  const defaults = { postgres: 5432, mariadb: 3306, redis: 6379 };
  const { host, port } = hostPort(url, defaults[name]);
  if (!(await canConnect(host, port))) {
    throw new Error(
      `${name} is not reachable at ${host}:${port} (from ${name === 'redis' ? 'TEST_REDIS_URL' : name === 'postgres' ? 'TEST_POSTGRES_URL' : 'TEST_MARIADB_URL'}). ` +
        `Start it with: ${START_COMMANDS[name]}`,
    );
  }
  return url;
}
