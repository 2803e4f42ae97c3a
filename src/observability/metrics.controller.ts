import { Controller, Get, Header, Res } from '@nestjs/common';
import { Access, EsdController } from '../common/http/access';
import { EsdMetrics } from './metrics.service';

/** `GET /esd/metrics`: Prometheus text (no principal needed in the reference host; a real host may guard it). */
@EsdController()
@Access({ public: true })
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: EsdMetrics) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async metricsText(@Res() response: { type(t: string): { send(body: string): void } }): Promise<void> {
    const { contentType, body } = await this.metrics.text();
    response.type(contentType).send(body);
  }
}
