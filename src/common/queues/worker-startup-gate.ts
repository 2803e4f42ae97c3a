import { getQueueToken } from '@nestjs/bull';
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bull';
import type { Redis } from 'ioredis';
import { once } from 'node:events';
import { ESD_OPTIONS, QUEUES } from '../../constants';
import type { ResolvedEsdOptions } from '../../microsoft-esd.options';

/** How long a shutdown waits for a worker's queue connections to finish connecting. */
const STARTUP_WAIT_MS = 5_000;

/**
 * A worker node closed right after it booted (a host's smoke test, a rolling restart that gives up at once) would
 * close Bull's queues while their processors still connect their blocking Redis client; Bull then rejects the
 * promise `process()` returned, which `@nestjs/bull` drops, and the host sees unhandled rejections. Before the
 * queues close, this waits until every queue's blocking client is ready, as Bull's own start-up does.
 */
@Injectable()
export class WorkerStartupGate implements BeforeApplicationShutdown {
  constructor(
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.options.worker) return;
    const queues = Object.values(QUEUES).map((name) =>
      this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }),
    );
    await Promise.all(queues.map((queue) => this.started(queue)));
  }

  private async started(queue: Queue): Promise<void> {
    const signal = AbortSignal.timeout(STARTUP_WAIT_MS);
    try {
      await queue.isReady();
      // `bclient` is Bull's blocking client, made when a processor starts: every queue has processors here.
      const blocking = (queue as unknown as { bclient: Redis }).bclient;
      if (blocking.status !== 'ready') await once(blocking, 'ready', { signal });
      // Bull's start-up goes on from `ready` in its own callbacks: let them run before the queue closes.
      await new Promise((resolve) => setImmediate(resolve));
    } catch {
      // Redis away, or the wait timed out: close anyway, as Bull would.
    }
  }
}
