import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access, EsdController } from '../common/http/access';
import { HealthReport, HealthService } from './health.service';

@EsdController()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when ok or degraded, 503 when down, with the same report body. */
  @Get()
  @Access({ public: true })
  async get(@Res({ passthrough: true }) response: Response): Promise<HealthReport> {
    const report = await this.health.report();
    response.status(report.status === 'down' ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK);
    return report;
  }
}
