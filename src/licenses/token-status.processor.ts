import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { runWithLogContext } from '../common/logging/log-context';
import { QUEUES, TOKEN_STATUS_SYNC_JOB } from '../constants';
import { TokenStatusService, type TokenStatusSyncResult } from './token-status.service';

/** Runs the repeatable `token-status-sync` job on the maintenance queue (once per tick, cluster-wide). */
@Processor(QUEUES.maintenance)
export class TokenStatusProcessor {
  constructor(private readonly tokenStatus: TokenStatusService) {}

  @Process(TOKEN_STATUS_SYNC_JOB)
  sync(job: Job): Promise<TokenStatusSyncResult> {
    return runWithLogContext({ jobId: String(job.id), job: job.name }, () =>
      this.tokenStatus.syncActivated(),
    );
  }
}
