import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a piece of work serves, carried by every log line it emits (the CIS client's call records, the services'
 * lines): set by each queue processor around its job, so an operator can follow one license or run through the
 * logs of any node.
 */
export interface EsdLogContext {
  licenseId?: string;
  /** A catalog (Get Services Definition) run. */
  runId?: string;
  returnId?: string;
  instanceId?: string;
  /** The Bull job id. */
  jobId?: string;
  /** The job's name (`provision-license`, `catalog-sync`, …). */
  job?: string;
}

/**
 * One store per process, shared through a global symbol: a host that imports the logger from one copy of the
 * package (its sources) while the plugin runs from another (its build) still sees the plugin's context.
 */
const STORAGE_KEY = Symbol.for('microsoft-esd.log-context');
const globalStore = globalThis as typeof globalThis & {
  [STORAGE_KEY]?: AsyncLocalStorage<Readonly<EsdLogContext>>;
};
const storage = (globalStore[STORAGE_KEY] ??= new AsyncLocalStorage<Readonly<EsdLogContext>>());

/** Runs `work` with `context` added to the current log context (inner values win; `undefined` ones are dropped). */
export function runWithLogContext<T>(context: EsdLogContext, work: () => T): T {
  const merged: EsdLogContext = { ...storage.getStore() };
  for (const [key, value] of Object.entries(context) as Array<[keyof EsdLogContext, string | undefined]>) {
    if (value !== undefined) merged[key] = value;
  }
  return storage.run(Object.freeze(merged), work);
}

/** The log context of the current async flow (empty outside any job). */
export function currentLogContext(): Readonly<EsdLogContext> {
  return storage.getStore() ?? {};
}
