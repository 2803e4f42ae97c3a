import { InjectQueue } from '@nestjs/bull';
import { Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSchema,
  ApiTags,
} from '@nestjs/swagger';
import type { Queue } from 'bull';
import { AuditService } from '../common/audit.service';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ESD_OPTIONS, QUEUES } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { SecretSealer } from './secret-sealer';
import { ApiEsdErrors } from '../common/http/openapi';
import { SettingsFormSchemaDto, settingsFormSchema, type SettingsFormSchema } from './settings-schema';

/** The job that moves every sealed value to the current sealing key (processed by the secrets feature). */
export const RESEAL_SECRETS_JOB = 'reseal-secrets';

/** `202` of `POST /esd/settings/reseal`. */
@ApiSchema({ name: 'ResealJob' })
export class ResealJobDto {
  @ApiProperty({ description: 'The job moving every sealed value to the current key; one per key.' })
  jobId: string;
}

/** Applications Setup settings that are not one instance's: the form schema and the key rotation. */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.settings.manage' })
@ApiTags('settings')
@Controller('settings')
export class SettingsController {
  constructor(
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    @InjectQueue(QUEUES.maintenance) private readonly maintenance: Queue,
    private readonly sealer: SecretSealer,
    private readonly audit: AuditService,
  ) {}

  /** The JSON Schema of both stages of the instance form (the manifest's `settings.schemaRoute`). */
  @Get('schema')
  @ApiOperation({
    summary: 'The JSON Schema of the instance form',
    description: 'Both stages and the whole PATCH body, secret fields marked `writeOnly` and `x-secret`.',
  })
  @ApiOkResponse({ type: SettingsFormSchemaDto })
  @ApiEsdErrors()
  schema(): SettingsFormSchema {
    return settingsFormSchema(this.options.routePrefix);
  }

  /**
   * Re-seals every secret under the current key. The job id is derived from the key, so asking twice while a
   * run is queued or running answers the same job; a finished run is replaced by a new one.
   */
  @Post('reseal')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Re-seal every secret under the current key',
    description: 'Asking again while a run is queued or running answers the same job.',
  })
  @ApiAcceptedResponse({ type: ResealJobDto })
  @ApiEsdErrors()
  async reseal(@Req() request: unknown): Promise<ResealJobDto> {
    const jobId = `${RESEAL_SECRETS_JOB}:${this.sealer.currentKeyId}`;
    const existing = await this.maintenance.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return { jobId };
      await existing.remove();
    }
    await this.maintenance.add(RESEAL_SECRETS_JOB, { keyId: this.sealer.currentKeyId }, { jobId });
    await this.audit.record({
      actor: principalOf(request),
      action: 'settings.reseal',
      subjectType: 'settings',
      subjectId: null,
      details: { jobId },
    });
    return { jobId };
  }
}
