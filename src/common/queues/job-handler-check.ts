import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
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
        problems.push(`${h.owner} handles every job of ${queue} (@Process without a name); name the job it handles`);
      } else if (!names.includes(h.job)) {
        problems.push(`${h.owner} handles job "${h.job}" on ${queue}, which is not in the job table (constants.ts)`);
      }
    }
    for (const name of names) {
      const owners = onQueue.filter((h) => h.job === name).map((h) => h.owner);
      if (owners.length === 0) problems.push(`job "${name}" on ${queue} has no handler`);
      if (owners.length > 1) problems.push(`job "${name}" on ${queue} has ${owners.length} handlers: ${owners.join(', ')}`);
    }
  }
  return problems;
}

/** Fails the boot when the plugin's queue processors and its job table disagree. */
@Injectable()
export class JobHandlerCheck implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
  ) {}

  onModuleInit(): void {
    if (!this.options.worker) return;
    const problems = findJobHandlerProblems(JOBS, this.discover());
    if (problems.length > 0) {
      throw new EsdError(
        EsdErrorCode.JOB_HANDLERS_INCONSISTENT,
        `Microsoft ESD queue handlers are inconsistent:\n  - ${problems.join('\n  - ')}`,
        { problems },
      );
    }
  }

  /** Every `@Process` handler on a `@Processor` of one of the plugin's queues. */
  discover(): DiscoveredJobHandler[] {
    const queues = new Set(Object.keys(JOBS));
    const found: DiscoveredJobHandler[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as object | null | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const processor = this.reflector.get<{ name?: string } | undefined>(BULL_QUEUE_METADATA, instance.constructor);
      if (!processor?.name || !queues.has(processor.name)) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handler = (prototype as Record<string, unknown>)[method];
        if (typeof handler !== 'function') continue;
        const meta = this.reflector.get<{ name?: string } | undefined>(BULL_PROCESS_METADATA, handler);
        if (meta === undefined) continue;
        found.push({ queue: processor.name, job: meta.name, owner: `${instance.constructor.name}.${method}` });
      }
    }
    return found;
  }
}
