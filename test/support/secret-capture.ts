/**
 * What the secret scan reads (issue 9 item 4): a test process's stdout and stderr, its test files' console, the
 * output of the child processes its tests start, and the bodies of the plugin's and the host's HTTP responses it
 * served, appended as JSON lines to `<run dir>/<pid>.log`; and the secret values its CIS sandboxes hold, to
 * `<run dir>/<pid>.secrets` (never to stdout). The run directory comes from {@link SCAN_DIR_ENV}, which the
 * global setup sets; without it (a script, not a test run) every function here does nothing.
 *
 * Nothing is kept in memory but the body of a response being written (up to {@link MAX_RECORD_CHARS} at a time).
 * The state lives on `process.stdout` (under a global symbol), not in this module: Jest loads a module once per
 * test file, and a process's streams and `http` must be patched once.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { isScannedResponse, type CaptureRecord, type SecretRecord } from './secret-scan';

/** The environment variable naming this run's capture directory (`test-output/secret-scan/<runId>`). */
export const SCAN_DIR_ENV = 'ESD_SECRET_SCAN_DIR';
/** The pid of the Jest process that runs the reporters (and, run in band, the tests). */
export const SCAN_PARENT_PID_ENV = 'ESD_SECRET_SCAN_PARENT_PID';
/** A response body longer than this is written in several records (the scan joins them again). */
const MAX_RECORD_CHARS = 1 << 20;

const STATE = Symbol.for('esd.secret-scan.capture');
const RESPONSE = Symbol.for('esd.secret-scan.response');

interface CaptureState {
  dir: string;
  logFd?: number;
  secretsFd?: number;
  closed: boolean;
  /** The test file (and test) running now. */
  label?: string;
  stdio: boolean;
  http: boolean;
  responses: number;
}

interface ResponseCapture {
  src: string;
  chunks: string[];
  chars: number;
  done: boolean;
}

function captureState(): CaptureState | undefined {
  const holder = process.stdout as unknown as Record<symbol, CaptureState | undefined>;
  const existing = holder[STATE];
  if (existing) return existing.closed ? undefined : existing;
  const dir = process.env[SCAN_DIR_ENV];
  if (!dir) return undefined;
  const state: CaptureState = { dir, closed: false, stdio: false, http: false, responses: 0 };
  holder[STATE] = state;
  return state;
}

function append(state: CaptureState, file: 'log' | 'secrets', line: string): void {
  try {
    const fdKey = file === 'log' ? 'logFd' : 'secretsFd';
    if (state[fdKey] === undefined) {
      fs.mkdirSync(state.dir, { recursive: true });
      state[fdKey] = fs.openSync(path.join(state.dir, `${process.pid}.${file}`), 'a', 0o600);
    }
    fs.writeSync(state[fdKey], `${line}\n`);
  } catch {
    // Capturing must never break a test; a capture that failed to write shows as fewer bytes in the summary.
  }
}

function record(state: CaptureState, entry: Omit<CaptureRecord, 'test'>): void {
  if (!entry.data && !entry.end) return;
  const withTest: CaptureRecord = state.label ? { ...entry, test: state.label } : entry;
  append(state, 'log', JSON.stringify(withTest));
}

function text(chunk: unknown, encoding?: unknown): string {
  if (typeof chunk === 'string') {
    return typeof encoding === 'string' &&
      encoding !== 'utf8' &&
      encoding !== 'utf-8' &&
      Buffer.isEncoding(encoding)
      ? Buffer.from(chunk, encoding).toString('utf8')
      : chunk;
  }
  // Not `instanceof`: a Buffer from outside a test file's realm is no instance of its `Uint8Array`.
  if (ArrayBuffer.isView(chunk))
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
  return '';
}

/**
 * Records the output of a child process a test started (call it from the child's `data` handlers). `source`
 * tells the pieces of one stream apart, e.g. `chaos-node 1234 stdout`.
 */
export function recordOutput(output: string | Uint8Array, source = 'child process'): void {
  const state = captureState();
  if (state) record(state, { t: 'child', src: source, data: text(output) });
}

/** Registers a secret value (a PFX, its password, a private key, an access token) for the scan to look for. */
export function registerSecret(kind: string, value: string | undefined): void {
  const state = captureState();
  if (!state || !value) return;
  const entry: SecretRecord = { kind, value };
  append(state, 'secrets', JSON.stringify(entry));
}

/** Names the test file (and test) that is running, for the scan's message; `undefined` between files. */
export function setCaptureLabel(label: string | undefined): void {
  const state = captureState();
  if (state) state.label = label;
}

/** Stops capturing in this process and closes its files (the scan reads them next). */
export function closeCapture(): void {
  const holder = process.stdout as unknown as Record<symbol, CaptureState | undefined>;
  const state = holder[STATE];
  if (!state || state.closed) return;
  state.closed = true;
  for (const fd of [state.logFd, state.secretsFd]) {
    if (fd === undefined) continue;
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
  }
  state.logFd = undefined;
  state.secretsFd = undefined;
}

/** Patches this process's stdout, stderr and HTTP responses, once; a no-op outside a scanned run. */
export function installCapture(): void {
  const state = captureState();
  if (!state) return;
  if (!state.stdio) {
    state.stdio = true;
    wrapStream(process.stdout, 'stdout');
    wrapStream(process.stderr, 'stderr');
  }
  if (!state.http) {
    state.http = true;
    patchServerResponse();
  }
}

function wrapStream(stream: NodeJS.WriteStream, name: 'stdout' | 'stderr'): void {
  const original = stream.write;
  const wrapped = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    const state = captureState();
    if (state) {
      try {
        record(state, { t: name, src: name, data: text(chunk, rest[0]) });
      } catch {
        // Never in the way of the output.
      }
    }
    return (original as (...args: unknown[]) => boolean).apply(this, [chunk, ...rest]);
  };
  stream.write = wrapped;
}

const CONSOLE = Symbol.for('esd.secret-scan.console');

/**
 * Records what a test file's `console` prints when Jest buffers it in a worker process: the reporter, in the
 * parent, prints the buffer where no stream is patched. (Run in band, the reporter prints it through this
 * process's patched `process.stderr`, so this does nothing.) Jest's `BufferedConsole.write` is patched, once a
 * process: it finds the caller's line by cutting the stack at `BufferedConsole.write`, which stays right.
 */
export function captureConsole(target: Console): void {
  const state = captureState();
  const buffered = target.constructor as unknown as Record<string | symbol, unknown>;
  const inWorker = process.env[SCAN_PARENT_PID_ENV] !== String(process.pid);
  if (!state || !inWorker || typeof buffered.write !== 'function' || buffered[CONSOLE]) return;
  const original = buffered.write as (
    buffer: unknown,
    type: string,
    message: string,
    ...rest: unknown[]
  ) => unknown;
  buffered[CONSOLE] = true;
  buffered.write = function (
    this: unknown,
    buffer: unknown,
    type: string,
    message: string,
    ...rest: unknown[]
  ) {
    const current = captureState();
    if (current && typeof message === 'string') {
      const stream = ['log', 'info', 'dir', 'group', 'count', 'time'].includes(type) ? 'stdout' : 'stderr';
      record(current, { t: 'console', src: stream, data: `${message}\n` });
    }
    return original.call(this, buffer, type, message, ...rest);
  };
}

type Writer = (this: http.ServerResponse, ...args: unknown[]) => unknown;

function patchServerResponse(): void {
  const proto = http.ServerResponse.prototype as unknown as { write: Writer; end: Writer };
  const originalWrite = proto.write;
  const originalEnd = proto.end;
  proto.write = function (this: http.ServerResponse, ...args: unknown[]) {
    collect(this, args[0], args[1], false);
    return originalWrite.apply(this, args);
  };
  proto.end = function (this: http.ServerResponse, ...args: unknown[]) {
    collect(this, typeof args[0] === 'function' ? undefined : args[0], args[1], true);
    return originalEnd.apply(this, args);
  };
}

function collect(res: http.ServerResponse, chunk: unknown, encoding: unknown, last: boolean): void {
  try {
    const state = captureState();
    if (!state) return;
    const holder = res as unknown as Record<symbol, ResponseCapture | null | undefined>;
    let capture = holder[RESPONSE];
    if (capture === undefined) {
      const req = res.req as (http.IncomingMessage & { originalUrl?: string }) | undefined;
      const url = req?.originalUrl ?? req?.url;
      capture = isScannedResponse(url)
        ? { src: `#${++state.responses} ${req?.method ?? '?'} ${url}`, chunks: [], chars: 0, done: false }
        : null;
      holder[RESPONSE] = capture;
    }
    if (!capture || capture.done) return;
    const piece = text(chunk, typeof encoding === 'string' ? encoding : undefined);
    if (piece) {
      capture.chunks.push(piece);
      capture.chars += piece.length;
    }
    if (last || capture.chars >= MAX_RECORD_CHARS) {
      record(state, {
        t: 'response',
        src: capture.src,
        data: capture.chunks.join(''),
        ...(last ? { end: true, status: res.statusCode } : {}),
      });
      capture.chunks = [];
      capture.chars = 0;
      capture.done = last;
    }
  } catch {
    // Never in the way of the response.
  }
}
