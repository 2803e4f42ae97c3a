import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Access, EsdController } from '../common/http/access';
import { EsdMetrics } from './metrics.service';

/** `GET /esd/metrics`: Prometheus text (no principal needed in the reference host; a real host may guard it). */
@EsdController()
@Access({ public: true })
@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: EsdMetrics) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Provisioning outcomes, CIS call latency by route and status, retries, queue depths, catalog run durations and counts.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format.', schema: { type: 'string' } })
  async metricsText(@Res() response: { type(t: string): { send(body: string): void } }): Promise<void> {
    const { contentType, body } = await this.metrics.text();
    response.type(contentType).send(body);
  }
}
