/**
 * A plugin worker in a process of its own: the compiled reference host (`dist/sandbox/host/main.js`, built by
 * `npm run build`, which `npm test` runs first) on the suite's database and Redis, talking to the suite's CIS
 * sandbox. A test can kill it as an operating system would, which no in-process app can stand in for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { recordOutput } from './secret-capture';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'sandbox', 'host', 'main.js');
/** What the reference host prints once it listens, its plugin booted and its queue processors registered. */
const READY_LINE = 'Reference host:';

export interface WorkerProcessSetup {
  databaseUrl: string;
  /** `redis://host:port/<db>`: the suite's own Redis database. */
  redisUrl: string;
  /** The sealing key the suite's app uses: the worker opens the instance's sealed private key with it. */
  secretKey: string;
  /** The CIS sandbox's URL: set, the reference host starts no sandbox of its own. */
  cisUrl: string;
}

export interface WorkerProcess {
  pid: number;
  /** Everything the process wrote so far (stdout and stderr), for a failure message or a leak check. */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM (the reference host shuts down cleanly), SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the reference host as a worker node; resolves once it is ready, rejects with its output otherwise. */
export async function startWorkerProcess(
  setup: WorkerProcessSetup,
  timeoutMs = 30_000,
): Promise<WorkerProcess> {
  if (!fs.existsSync(MAIN)) {
    throw new Error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first.`);
  }
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: setup.databaseUrl,
      REDIS_URL: setup.redisUrl,
      ESD_SECRET_KEY: setup.secretKey,
      CIS_URL: setup.cisUrl,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    recordOutput(chunk, `worker-process ${child.pid} stdout`);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    recordOutput(chunk, `worker-process ${child.pid} stderr`);
  });
  const exited = once(child, 'exit').then(() => undefined);
  const gone = () => child.exitCode !== null || child.signalCode !== null;

  const deadline = Date.now() + timeoutMs;
  while (!output.includes(READY_LINE)) {
    if (gone() || Date.now() > deadline) {
      if (!gone()) child.kill('SIGKILL');
      throw new Error(`the worker process did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const kill = async (signal: NodeJS.Signals) => {
    if (gone()) return;
    child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid!,
    output: () => output,
    alive: () => !gone(),
    kill,
    stop: async (graceMs = 10_000) => {
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A Redis database number (1–15) holding no keys, tried in random order: suites pick theirs at random, and two on
 * one database would take each other's jobs.
 */
export async function idleRedisDb(redisUrl: string): Promise<number> {
  const numbers = Array.from({ length: 15 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    for (const db of numbers) {
      await redis.select(db);
      if ((await redis.dbsize()) === 0) return db;
    }
  } finally {
    redis.disconnect();
  }
  throw new Error(`every Redis database 1–15 at ${redisUrl} holds keys: flush the ones no suite uses`);
}
