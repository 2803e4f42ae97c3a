import { Process, Processor } from '@nestjs/bull';
import { QUEUES, TOKEN_STATUS_SYNC_JOB } from '../constants';
import { TokenStatusService, type TokenStatusSyncResult } from './token-status.service';

/** Runs the repeatable `token-status-sync` job on the maintenance queue (once per tick, cluster-wide). */
@Processor(QUEUES.maintenance)
export class TokenStatusProcessor {
  constructor(private readonly tokenStatus: TokenStatusService) {}

  @Process(TOKEN_STATUS_SYNC_JOB)
  async sync(): Promise<TokenStatusSyncResult> {
    return this.tokenStatus.syncActivated();
  }
}
