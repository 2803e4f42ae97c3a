import { Provider } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { JOBS, ESD_OPTIONS } from '../../constants';
import { EsdErrorCode } from '../error-codes';
import { EsdError } from '../esd-error';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';

/** `@nestjs/bull`'s metadata keys for `@Processor` and `@Process`. */
const BULL_QUEUE_METADATA = 'bull:module_queue';
const BULL_PROCESS_METADATA = 'bull:module_queue_process';

/** A `@Process` handler found on a `@Processor` class. */
export interface DiscoveredJobHandler {
  queue: string;
  /** `undefined` for a catch-all `@Process()` without a name. */
  job: string | undefined;
  /** `Class.method`, for the message. */
  owner: string;
}

/**
 * Compares the job table with the handlers found. Each job must have exactly one handler, and each handler on a
 * plugin queue must serve a job of the table; answers one sentence per problem.
 */
export function findJobHandlerProblems(
  jobs: { readonly [queue: string]: readonly string[] },
  handlers: DiscoveredJobHandler[],
): string[] {
  const problems: string[] = [];
  for (const [queue, names] of Object.entries(jobs)) {
    const onQueue = handlers.filter((h) => h.queue === queue);
    for (const h of onQueue) {
      if (h.job === undefined) {
        problems.push(
          `${h.owner} handles every job of ${queue} (@Process without a name); name the job it handles`,
        );
      } else if (!names.includes(h.job)) {
        problems.push(
          `${h.owner} handles job "${h.job}" on ${queue}, which is not in the job table (constants.ts)`,
        );
      }
    }
    for (const name of names) {
      const owners = onQueue.filter((h) => h.job === name).map((h) => h.owner);
      if (owners.length === 0) problems.push(`job "${name}" on ${queue} has no handler`);
      if (owners.length > 1)
        problems.push(`job "${name}" on ${queue} has ${owners.length} handlers: ${owners.join(', ')}`);
    }
  }
  return problems;
}

/**
 * Every `@Process` handler of a `@Processor` class registered on one of the plugin's queues. It reads the classes,
 * not instances, so it can run while providers are still being created — before `@nestjs/bull` binds anything.
 */
export function discoverJobHandlers(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
): DiscoveredJobHandler[] {
  const queues = new Set(Object.keys(JOBS));
  const processorOf = (candidate: unknown) =>
    typeof candidate === 'function'
      ? reflector.get<{ name?: string } | undefined>(BULL_QUEUE_METADATA, candidate as () => unknown)
      : undefined;
  const found: DiscoveredJobHandler[] = [];
  const seen = new Set<unknown>();
  for (const wrapper of discovery.getProviders()) {
    // A class provider carries the class as metatype; processorProvider() registers a factory under the class.
    const type = [wrapper.metatype, wrapper.token].find((c) => processorOf(c)?.name !== undefined);
    if (!type || seen.has(type)) continue;
    seen.add(type);
    const queue = processorOf(type)!.name!;
    if (!queues.has(queue)) continue;
    const prototype = (type as { prototype: object }).prototype;
    for (const method of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[method];
      if (typeof handler !== 'function') continue;
      const meta = reflector.get<{ name?: string } | undefined>(
        BULL_PROCESS_METADATA,
        handler as () => unknown,
      );
      if (meta === undefined) continue;
      found.push({ queue, job: meta.name, owner: `${(type as { name: string }).name}.${method}` });
    }
  }
  return found;
}

/** Injection token of the boot check; resolving it fails the boot when processors and the job table disagree. */
export const JOB_HANDLER_CHECK = Symbol('JOB_HANDLER_CHECK');

export const jobHandlerCheckProvider: Provider = {
  provide: JOB_HANDLER_CHECK,
  inject: [DiscoveryService, MetadataScanner, Reflector, ESD_OPTIONS],
  useFactory: (
    discovery: DiscoveryService,
    scanner: MetadataScanner,
    reflector: Reflector,
    options: ResolvedEsdOptions,
  ): DiscoveredJobHandler[] => {
    if (!options.worker) return [];
    const handlers = discoverJobHandlers(discovery, scanner, reflector);
    const problems = findJobHandlerProblems(JOBS, handlers);
    if (problems.length > 0) {
      throw new EsdError(
        EsdErrorCode.JOB_HANDLERS_INCONSISTENT,
        `Microsoft ESD queue handlers are inconsistent:\n  - ${problems.join('\n  - ')}`,
        { problems },
      );
    }
    return handlers;
  },
};
