import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Job, JobStatus, Queue } from 'bull';
import { EXECUTE_RETURN_JOB, QUEUES } from '../constants';

/** Payload of `execute-return`: the return row is the truth, the job only points at it. */
export interface ExecuteReturnJobData {
  returnId: string;
}

/** Job states in which the job will still run, or is running. */
const LIVE_JOB_STATES: ReadonlySet<JobStatus | 'stuck'> = new Set(['waiting', 'active', 'delayed', 'paused']);

/**
 * Enqueues returns with one deterministic job id per return (`return-<returnId>`): an accept, a repeated `cancel`
 * hook and the sweeper all name the same job, and Bull keeps one.
 */
@Injectable()
export class ReturnsQueue {
  constructor(@InjectQueue(QUEUES.provisioning) private readonly queue: Queue<ExecuteReturnJobData>) {}

  static jobId(returnId: string): string {
    return `return-${returnId}`;
  }

  /**
   * Puts a return in line unless its job is still live; a finished job under its id is removed first (Bull ignores
   * an add whose id it still holds). Answers whether a job was added.
   */
  async enqueue(returnId: string): Promise<boolean> {
    const jobId = ReturnsQueue.jobId(returnId);
    const existing: Job<ExecuteReturnJobData> | null = await this.queue.getJob(jobId);
    if (existing) {
      if (LIVE_JOB_STATES.has(await existing.getState())) return false;
      await existing.remove();
    }
    await this.queue.add(EXECUTE_RETURN_JOB, { returnId }, { jobId });
    return true;
  }
}
