import { Inject, Injectable } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bull';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { QUEUES } from '../constants';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { CisCallTracker } from './cis-call-tracker';
import { instanceHealthChecks } from './instance-health';

/**
 * One thing health looked at: `database`, `redis`, and `instance:<systemName>` per instance (its certificate,
 * credentials, last catalog run and licenses in `data`).
 */
export interface HealthCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  /** A sentence a person on call can act on; present when status is not ok. */
  message?: string;
  data?: Record<string, unknown>;
}

/** `GET /esd/health`: a machine-readable status and a human sentence for each problem. Never shows secrets. */
export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  checkedAt: string;
  checks: HealthCheck[];
  /** Jobs per queue by Bull state (`waiting`, `active`, `delayed`, `failed`, `completed`, `paused`); empty when Redis is down. */
  queues: Record<string, Record<string, number>>;
  /** Every check's sentence, worst first. */
  problems: string[];
}

const PROBE_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not answer within ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

@Injectable()
export class HealthService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly moduleRef: ModuleRef,
    private readonly cisCalls: CisCallTracker,
  ) {}

  async report(): Promise<HealthReport> {
    const checks: HealthCheck[] = [];
    const queues: HealthReport['queues'] = {};

    try {
      await withTimeout(this.dataSource.query('SELECT 1'), 'The database');
      checks.push({ name: 'database', status: 'ok' });
    } catch (error) {
      checks.push({
        name: 'database',
        status: 'fail',
        message: `The database is unreachable (${(error as Error).message}). Check the host's database connection.`,
      });
    }

    let redisOk = true;
    for (const name of Object.values(QUEUES)) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      try {
        if (redisOk) {
          await withTimeout(queue.client.ping(), 'Redis');
          queues[name] = { ...(await withTimeout(queue.getJobCounts(), 'Redis')) };
        }
      } catch (error) {
        redisOk = false;
        checks.push({
          name: 'redis',
          status: 'fail',
          message: `Redis is unreachable (${(error as Error).message}): no license is provisioned and no catalog runs until it is back. Check the plugin's Redis connection.`,
        });
      }
    }
    if (redisOk) checks.push({ name: 'redis', status: 'ok' });

    // Instances are read only when the database answered: otherwise the database check already says why.
    if (checks[0].status === 'ok') {
      try {
        checks.push(
          ...(await withTimeout(
            instanceHealthChecks(this.dataSource, new Date(), (id) => this.cisCalls.of(id)),
            'The database',
          )),
        );
      } catch (error) {
        checks.push({
          name: 'instances',
          status: 'warn',
          message: `The instances could not be read (${(error as Error).message}).`,
        });
      }
    }

    const failed = checks.some((c) => c.status === 'fail');
    const warned = checks.some((c) => c.status === 'warn');
    return {
      status: failed ? 'down' : warned ? 'degraded' : 'ok',
      checkedAt: new Date().toISOString(),
      checks,
      queues,
      problems: [
        ...checks.filter((c) => c.status === 'fail' && c.message),
        ...checks.filter((c) => c.status !== 'fail' && c.message),
      ].map((c) => c.message!),
    };
  }
}
