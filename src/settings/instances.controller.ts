import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditEventDto, AuditService, type AuditEventView } from '../common/audit.service';
import type { Page } from '../common/pagination';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ApiEsdErrors, ApiPageResponse, CIS_CALL_ERRORS, CIS_SIGN_IN_ERRORS } from '../common/http/openapi';
import {
  ConnectionTestResultDto,
  CreateInstanceDto,
  InstanceOptionsDto,
  InstanceViewDto,
  ListQueryDto,
  UpdateInstanceDto,
  type ConnectionTestResult,
  type InstanceOptionsView,
  type InstanceView,
} from './instance.dto';
import { InstancesService } from './instances.service';

/** Applications Setup > Microsoft ESD: the instances (host contract §5). */
@EsdController()
@Access({ roles: ['admin'], permission: 'esd.settings.manage' })
@ApiTags('instances')
@Controller('instances')
export class InstancesController {
  constructor(
    private readonly instances: InstancesService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List the instances', description: 'By system name.' })
  @ApiPageResponse(InstanceViewDto)
  @ApiEsdErrors()
  list(@Query() query: ListQueryDto): Promise<Page<InstanceView>> {
    return this.instances.list(query);
  }

  /** Stage 1. */
  @Post()
  @ApiOperation({
    summary: 'Create an instance (stage 1: the connection)',
    description: 'The instance starts as a draft; stage 2 (certificate and market) is a PATCH.',
  })
  @ApiCreatedResponse({ type: InstanceViewDto })
  @ApiEsdErrors(EsdErrorCode.SYSTEM_NAME_TAKEN)
  create(@Body() body: CreateInstanceDto, @Req() request: unknown): Promise<InstanceView> {
    return this.instances.create(body, principalOf(request));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an instance' })
  @ApiOkResponse({ type: InstanceViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  get(@Param('id') id: string): Promise<InstanceView> {
    return this.instances.get(id);
  }

  /** Any subset of both stages, and `disabled`. */
  @Patch(':id')
  @ApiOperation({
    summary: 'Change an instance (stage 2, or any subset of both stages)',
    description:
      'The certificate may come alone (`{ pem, privateKeyPem }` or `{ pfxBase64, password }`; its thumbprint and expiry are read from it); `country` and `language` come together and must be among the options (checked with Microsoft). `disabled` takes the instance out of service or puts it back.',
  })
  @ApiBody({ type: UpdateInstanceDto, required: false })
  @ApiOkResponse({ type: InstanceViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.CONFLICT,
    EsdErrorCode.SYSTEM_NAME_TAKEN,
    EsdErrorCode.INSTANCE_MARKET_TAKEN,
    EsdErrorCode.CLIENT_ID_COUNTRY_CONFLICT,
    EsdErrorCode.CERTIFICATE_UNREADABLE,
    EsdErrorCode.CERTIFICATE_PFX_WRONG_PASSWORD,
    EsdErrorCode.CERTIFICATE_KEY_MISSING,
    EsdErrorCode.CERTIFICATE_KEY_MISMATCH,
    EsdErrorCode.CERTIFICATE_EXPIRED,
    EsdErrorCode.CERTIFICATE_NOT_YET_VALID,
    EsdErrorCode.INSTANCE_CERTIFICATE_REQUIRED,
    EsdErrorCode.MARKET_NOT_OFFERED,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
    ...CIS_SIGN_IN_ERRORS,
    ...CIS_CALL_ERRORS,
  )
  update(
    @Param('id') id: string,
    @Body() body: UpdateInstanceDto,
    @Req() request: unknown,
  ): Promise<InstanceView> {
    return this.instances.update(id, body, principalOf(request));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an instance',
    description: 'Refused while it has licenses: disable it instead.',
  })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.INSTANCE_IN_USE)
  async remove(@Param('id') id: string, @Req() request: unknown): Promise<void> {
    await this.instances.remove(id, principalOf(request));
  }

  @Get(':id/options')
  @ApiOperation({
    summary: 'The certificates, countries and languages to choose from',
    description:
      "Markets come from Microsoft and need a sign-in, so they are listed once the instance's certificate is stored; when they cannot be listed, `note` says why.",
  })
  @ApiOkResponse({ type: InstanceOptionsDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  options(@Param('id') id: string): Promise<InstanceOptionsView> {
    return this.instances.options(id);
  }

  @Post(':id/test-connection')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Test the connection',
    description:
      'Signs in with the certificate and makes one read call. A pass makes the instance ready; a failure answers 422 `CONNECTION_FAILED` with `details.steps` naming the step that failed and why.',
  })
  @ApiOkResponse({ type: ConnectionTestResultDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.CONNECTION_FAILED)
  testConnection(@Param('id') id: string, @Req() request: unknown): Promise<ConnectionTestResult> {
    return this.instances.testConnection(id, principalOf(request));
  }

  /** Who changed what, newest first; kept after the instance is deleted. */
  @Get(':id/audit')
  @ApiOperation({ summary: "The instance's audit trail", description: 'Who changed what, newest first.' })
  @ApiPageResponse(AuditEventDto)
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  async auditTrail(@Param('id') id: string, @Query() query: ListQueryDto): Promise<Page<AuditEventView>> {
    const page = await this.audit.list('instance', id, query);
    if (page.items.length === 0 && query.cursor === undefined) {
      // An unknown id answers 404 like every other route; a known one with no events cannot exist.
      await this.instances.get(id).catch(() => {
        throw new EsdError(EsdErrorCode.NOT_FOUND, 'No instance with this id exists.');
      });
    }
    return page;
  }
}
