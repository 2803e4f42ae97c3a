import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Job, JobStatus, Queue } from 'bull';
import { PROVISION_LICENSE_JOB, QUEUES } from '../constants';

/** Payload of `provision-license`: the row is the truth, the job only points at it. */
export interface ProvisionLicenseJobData {
  licenseId: string;
  /**
   * The license's attempt count when an attempt of this job last failed leaving nothing unaccounted for at
   * Microsoft: every earlier attempt was looked up, and Microsoft answered this one's request with a refusal (a 429,
   * an answered error) that created nothing. While the row still counts that many attempts, the next attempt sends
   * its request without looking the transaction up first: a look-up is a call against the rate limit too.
   */
  settledThrough?: number;
}

/** Job states in which the job will still run, or is running. */
const LIVE_JOB_STATES: ReadonlySet<JobStatus | 'stuck'> = new Set(['waiting', 'active', 'delayed', 'paused']);

/**
 * Enqueues provisioning with one deterministic job id per license (`provision-<licenseId>`), so every node, the
 * order hook called twice, the sweeper and a re-sync all name the same job and Bull keeps one.
 */
@Injectable()
export class ProvisioningQueue {
  constructor(@InjectQueue(QUEUES.provisioning) private readonly queue: Queue<ProvisionLicenseJobData>) {}

  static jobId(licenseId: string): string {
    return `provision-${licenseId}`;
  }

  /** New licenses: one job each, added in one round trip. A job id already queued is left as it is. */
  async enqueue(licenseIds: readonly string[]): Promise<void> {
    if (licenseIds.length === 0) return;
    await this.queue.addBulk(
      licenseIds.map((licenseId) => ({
        name: PROVISION_LICENSE_JOB,
        data: { licenseId },
        opts: { jobId: ProvisioningQueue.jobId(licenseId) },
      })),
    );
  }

  /**
   * Puts a license back in line unless its job is still live: a finished (completed or failed) job under the
   * license's id is removed first, since Bull ignores an add whose id it still holds. Answers whether a job was
   * added.
   */
  async requeue(licenseId: string): Promise<boolean> {
    const jobId = ProvisioningQueue.jobId(licenseId);
    const existing: Job<ProvisionLicenseJobData> | null = await this.queue.getJob(jobId);
    if (existing) {
      if (LIVE_JOB_STATES.has(await existing.getState())) return false;
      await existing.remove();
    }
    await this.queue.add(PROVISION_LICENSE_JOB, { licenseId }, { jobId });
    return true;
  }

  /** Whether the license's job is waiting, delayed or running somewhere. */
  async isLive(licenseId: string): Promise<boolean> {
    const job = await this.queue.getJob(ProvisioningQueue.jobId(licenseId));
    return job !== null && LIVE_JOB_STATES.has(await job.getState());
  }
}
