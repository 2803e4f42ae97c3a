import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { runWithLogContext } from '../common/logging/log-context';
import { CatalogRunsService } from '../catalog/catalog-runs.service';
import { SWEEPER_JOB, QUEUES } from '../constants';
import { SweeperService, type ReturnSweepResult, type SweepResult } from './sweeper.service';

/** Runs the repeatable `sweeper` job on the maintenance queue (one firing per tick, cluster-wide). */
@Processor(QUEUES.maintenance)
export class SweeperProcessor {
  constructor(
    private readonly sweeper: SweeperService,
    private readonly catalogRuns: CatalogRunsService,
  ) {}

  @Process(SWEEPER_JOB)
  sweep(job: Job): Promise<{
    licenses: SweepResult;
    returns: ReturnSweepResult;
    catalogRuns: { resumed: string[]; failed: string[] };
  }> {
    return runWithLogContext({ jobId: String(job.id), job: job.name }, async () => {
      const now = new Date();
      return {
        licenses: await this.sweeper.sweepLicenses(now),
        returns: await this.sweeper.sweepReturns(now),
        catalogRuns: await this.catalogRuns.recoverLostRuns(now),
      };
    });
  }
}
