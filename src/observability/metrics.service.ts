import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CisCallRecord } from '../cis';
import { QUEUES } from '../constants';

/** Bull job states a queue's depth is reported in. */
const DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * The plugin's Prometheus metrics, in a registry of its own (the host's default registry is left alone; a host
 * may merge them with `Registry.merge`). Served as text at `GET /esd/metrics`.
 */
@Injectable()
export class EsdMetrics {
  readonly registry = new Registry();

  private readonly provisioning = new Counter({
    name: 'esd_provisioning_outcomes_total',
    help: 'Provisioning attempts by outcome (synchronized, reconciled, failed, retry, announced, skipped).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly returns = new Counter({
    name: 'esd_return_outcomes_total',
    help: 'Return attempts by outcome (successful, rejected, failed, retry, announced, skipped), and returns the sweeper reopened because Microsoft reports their key taken back (reopened).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly cisCalls = new Histogram({
    name: 'esd_cis_call_duration_seconds',
    help: 'HTTP calls to the Microsoft CIS API by route template and status (or transport error code).',
    labelNames: ['route', 'status'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly cisRetries = new Counter({
    name: 'esd_cis_retries_total',
    help: 'HTTP calls to the CIS API that were retries of an earlier call of the same operation.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  private readonly catalogRuns = new Histogram({
    name: 'esd_catalog_run_duration_seconds',
    help: 'Get Services Definition runs by final status, from start to finish (count = runs finished).',
    labelNames: ['status'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800],
    registers: [this.registry],
  });

  constructor(
    @InjectQueue(QUEUES.provisioning) provisioning: Queue,
    @InjectQueue(QUEUES.catalog) catalog: Queue,
    @InjectQueue(QUEUES.maintenance) maintenance: Queue,
  ) {
    const queues = [provisioning, catalog, maintenance];
    new Gauge({
      name: 'esd_queue_jobs',
      help: 'Jobs in each plugin queue by state, read from Redis at scrape time.',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const queue of queues) {
          const counts = await queue.getJobCounts();
          for (const state of DEPTH_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }
      },
    });
  }

  /** For `CisClientOptions.observe`. */
  readonly observeCisCall = (call: CisCallRecord): void => {
    this.cisCalls.observe({ route: call.route, status: call.outcome }, call.durationMs / 1000);
    if (call.attempt > 1) this.cisRetries.inc({ route: call.route });
  };

  provisioningOutcome(outcome: string): void {
    this.provisioning.inc({ outcome });
  }

  returnOutcome(outcome: string, count = 1): void {
    this.returns.inc({ outcome }, count);
  }

  catalogRunFinished(status: 'succeeded' | 'failed', startedAt: Date | null, finishedAt: Date): void {
    const seconds = startedAt ? Math.max(0, finishedAt.getTime() - startedAt.getTime()) / 1000 : 0;
    this.catalogRuns.observe({ status }, seconds);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
