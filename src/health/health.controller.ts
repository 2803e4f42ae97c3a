import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Access, EsdController } from '../common/http/access';
import { HealthReportDto } from './health-report.dto';
import { HealthReport, HealthService } from './health.service';

@EsdController()
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when ok or degraded, 503 when down, with the same report body. */
  @Get()
  @Access({ public: true })
  @ApiOperation({
    summary: 'Health of the plugin and of each instance',
    description:
      'Database, Redis, queue depths and, per instance, credentials, certificate expiry, last catalog run and licenses stuck. Never shows a secret.',
  })
  @ApiOkResponse({ type: HealthReportDto, description: 'ok or degraded.' })
  @ApiServiceUnavailableResponse({ type: HealthReportDto, description: 'down: the same report.' })
  async get(@Res({ passthrough: true }) response: Response): Promise<HealthReport> {
    const report = await this.health.report();
    response.status(report.status === 'down' ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK);
    return report;
  }
}
