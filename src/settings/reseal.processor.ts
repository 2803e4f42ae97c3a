import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { QUEUES } from '../constants';
import { ResealService, type ResealResult } from './reseal.service';
import { SecretSealer } from './secret-sealer';

/** Payload of `reseal-secrets`. */
export interface ResealSecretsJobData {
  /** The current key id of the node that asked: the key every value is to be moved to. */
  keyId: string;
}

/** Runs the key-rotation re-seal on the maintenance queue (enqueued by `POST /esd/settings/reseal`). */
@Processor(QUEUES.maintenance)
export class ResealProcessor {
  constructor(
    private readonly reseal: ResealService,
    private readonly sealer: SecretSealer,
  ) {}

  @Process('reseal-secrets')
  async resealSecrets(job: Job<ResealSecretsJobData>): Promise<ResealResult> {
    // During a rolling change of secretKey, a worker still on the old key would seal everything back to it.
    // Refuse; a retry may land on a worker that has the new key.
    if (job.data.keyId !== this.sealer.currentKeyId) {
      throw new EsdError(
        EsdErrorCode.CONFLICT,
        `The re-seal was asked for key id ${job.data.keyId}, but this worker seals with key id ${this.sealer.currentKeyId}. ` +
          'Give every node the same secretKey, then run the re-seal again.',
        { requestedKeyId: job.data.keyId, workerKeyId: this.sealer.currentKeyId },
      );
    }
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
