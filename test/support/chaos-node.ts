/**
 * A plugin node in a child process (`dist/bench/chaos-worker.js`, built by `npm run build`): for the chaos run and
 * the two-node tests. Like `worker-process.ts`, but with the CIS timeout and retry backoff set by the caller, its
 * HTTP URL known, and the licenses whose provisioning job it completed read from its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordOutput } from './secret-capture';

const ROOT = path.resolve(__dirname, '..', '..');
/** From `test/support` (ts-jest) or `dist/test/support` (the compiled chaos script): the compiled entry point. */
const MAIN =
  path.basename(ROOT) === 'dist'
    ? path.join(ROOT, 'bench', 'chaos-worker.js')
    : path.join(ROOT, 'dist', 'bench', 'chaos-worker.js');
const READY = /Chaos worker: (http:\/\/\S+)/;
const HANDLED = /^chaos-worker handled (\S+)$/gm;
const CATALOG = /^chaos-worker catalog job (\S+ \S+)$/gm;
const SWEPT = /^chaos-worker swept (\d+)$/gm;

export interface ChaosNodeSetup {
  databaseUrl: string;
  redisUrl: string;
  secretKey: string;
  cisTimeoutMs?: number;
  jobRetry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /** The module's `scheduleCheckMs`. */
  scheduleCheckMs?: number;
  /** false: a web-only node (no queue processors). Default true. */
  worker?: boolean;
}

export interface ChaosNode {
  pid: number;
  url: string;
  output(): string;
  /** License ids whose provisioning job completed in this process, in order (a license may appear twice only if
   * its job ran twice to completion). */
  handled(): string[];
  /** `<name> <id>` of the `esd-catalog` jobs this process started (a repeatable job's id names its tick). */
  catalogJobs(): string[];
  /** The licenses each `sweeper` job that completed in this process enqueued again, one number a job. */
  sweeps(): number[];
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

export async function startChaosNode(setup: ChaosNodeSetup, timeoutMs = 60_000): Promise<ChaosNode> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first.`);
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: setup.databaseUrl,
      REDIS_URL: setup.redisUrl,
      ESD_SECRET_KEY: setup.secretKey,
      CHAOS_CIS_TIMEOUT_MS: String(setup.cisTimeoutMs ?? 2000),
      ...(setup.jobRetry ? { CHAOS_JOB_RETRY: JSON.stringify(setup.jobRetry) } : {}),
      ...(setup.scheduleCheckMs ? { CHAOS_SCHEDULE_CHECK_MS: String(setup.scheduleCheckMs) } : {}),
      CHAOS_WORKER: setup.worker === false ? 'false' : 'true',
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    recordOutput(chunk, `chaos-node ${child.pid} stdout`);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    recordOutput(chunk, `chaos-node ${child.pid} stderr`);
  });
  const exited = once(child, 'exit').then(() => undefined);
  const gone = () => child.exitCode !== null || child.signalCode !== null;

  const deadline = Date.now() + timeoutMs;
  let ready: RegExpExecArray | null;
  while (!(ready = READY.exec(output))) {
    if (gone() || Date.now() > deadline) {
      if (!gone()) child.kill('SIGKILL');
      throw new Error(`the chaos node did not start:\n${output}`);
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
    url: ready[1],
    output: () => output,
    handled: () => [...output.matchAll(HANDLED)].map((m) => m[1]),
    catalogJobs: () => [...output.matchAll(CATALOG)].map((m) => m[1]),
    sweeps: () => [...output.matchAll(SWEPT)].map((m) => Number(m[1])),
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
