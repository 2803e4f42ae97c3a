import { Inject, Injectable } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bull';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { QUEUES } from '../constants';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { instanceHealthChecks } from './instance-health';

/** One thing health looked at. */
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
  queues: Record<string, Record<string, number>>;
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
          ...(await withTimeout(instanceHealthChecks(this.dataSource, new Date()), 'The database')),
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
      problems: checks.filter((c) => c.message).map((c) => c.message!),
    };
  }
}
