import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { HealthCheck, HealthReport } from './health.service';

/**
 * {@link HealthReport} as an OpenAPI schema. The classes implement the report's interfaces, so a field added there
 * fails to compile until it is described here.
 */
@ApiSchema({ name: 'HealthCheck' })
export class HealthCheckDto implements HealthCheck {
  @ApiProperty({
    example: 'instance:ESD-GR',
    description: '`database`, `redis`, or `instance:<systemName>`.',
  })
  name: string;

  @ApiProperty({ enum: ['ok', 'warn', 'fail'] })
  status: HealthCheck['status'];

  @ApiPropertyOptional({
    description: 'A sentence a person on call can act on; present when status is not ok.',
  })
  message?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      "What was looked at (an instance's state, certificate expiry, last run, licenses); never a secret.",
  })
  data?: Record<string, unknown>;
}

@ApiSchema({
  name: 'HealthReport',
  description: 'A machine-readable status and a sentence for each problem.',
})
export class HealthReportDto implements HealthReport {
  @ApiProperty({ enum: ['ok', 'degraded', 'down'] })
  status: HealthReport['status'];

  @ApiProperty({ format: 'date-time' })
  checkedAt: string;

  @ApiProperty({ type: () => [HealthCheckDto] })
  checks: HealthCheckDto[];

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } },
    description: 'Jobs per queue by Bull state; empty when Redis is down.',
    example: { 'esd-provisioning': { waiting: 0, active: 0, delayed: 0, failed: 0 } },
  })
  queues: Record<string, Record<string, number>>;

  @ApiProperty({ type: [String], description: "Every check's sentence, worst first." })
  problems: string[];
}
