import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { QUEUES } from '../constants';
import { ResealService, type ResealResult } from './reseal.service';

/** Payload of `reseal-secrets`: the job needs none (everything stale is moved). */
export type ResealSecretsJobData = Record<string, never>;

/** Runs the key-rotation re-seal on the maintenance queue (enqueued by `POST /esd/settings/reseal`). */
@Processor(QUEUES.maintenance)
export class ResealProcessor {
  constructor(private readonly reseal: ResealService) {}

  @Process('reseal-secrets')
  async resealSecrets(job: Job<ResealSecretsJobData>): Promise<ResealResult> {
    try {
      return await this.reseal.resealAll();
    } catch (error) {
      // A missing key does not come back by retrying: fail once, loudly, with the ids to configure.
      if (error instanceof EsdError && error.code === EsdErrorCode.SEALED_SECRET_UNREADABLE) {
        await job.discard();
      }
      throw error;
    }
  }
}
