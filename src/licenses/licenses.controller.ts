import { Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditEventDto, AuditService, type AuditEventView } from '../common/audit.service';
import { EsdErrorCode } from '../common/error-codes';
import { ListQueryDto } from '../settings/instance.dto';
import { Access, EsdController, principalOf } from '../common/http/access';
import { ApiEsdErrors, ApiPageResponse, CIS_CALL_ERRORS, CIS_SIGN_IN_ERRORS } from '../common/http/openapi';
import type { Page } from '../common/pagination';
import { LicensesQueryDto, RevealViewDto, type RevealView } from './license.dto';
import { LicenseViewDto, type LicenseView } from './license-view';
import { LicensesService } from './licenses.service';

/** The provider's license routes (host contract §5): every license, with the admin's permissions. */
@EsdController()
@ApiTags('licenses')
@Controller('licenses')
export class LicensesController {
  constructor(
    private readonly licenses: LicensesService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @Access({ roles: ['admin'], permission: 'esd.licenses.read' })
  @ApiOperation({ summary: 'List every license', description: 'Filtered; newest purchase first.' })
  @ApiPageResponse(LicenseViewDto)
  @ApiEsdErrors()
  list(@Query() query: LicensesQueryDto, @Req() request: unknown): Promise<Page<LicenseView>> {
    return this.licenses.list(principalOf(request), query);
  }

  @Get(':id')
  @Access({ roles: ['admin'], permission: 'esd.licenses.read' })
  @ApiOperation({ summary: 'Read a license record' })
  @ApiOkResponse({ type: LicenseViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  get(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.get(principalOf(request), id);
  }

  /** Who revealed, resent, re-synced or cancelled this license, and when; newest first. */
  @Get(':id/audit')
  @Access({ roles: ['admin'], permission: 'esd.licenses.read' })
  @ApiOperation({
    summary: "The license's audit trail",
    description: 'Reveals, resends, re-syncs; newest first.',
  })
  @ApiPageResponse(AuditEventDto)
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  async auditTrail(
    @Param('id') id: string,
    @Query() query: ListQueryDto,
    @Req() request: unknown,
  ): Promise<Page<AuditEventView>> {
    await this.licenses.get(principalOf(request), id);
    return this.audit.list('license', id, query);
  }

  /** The full key and activation link; audited. */
  @Post(':id/reveal')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.reveal' })
  @ApiOperation({ summary: 'Reveal the product key and activation link', description: 'Audited.' })
  @ApiOkResponse({ type: RevealViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.LICENSE_NOT_PROVISIONED,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
  )
  reveal(@Param('id') id: string, @Req() request: unknown): Promise<RevealView> {
    return this.licenses.reveal(principalOf(request), id);
  }

  /** The welcome notification again; audited. */
  @Post(':id/resend')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  @ApiOperation({
    summary: 'Send the welcome notification again',
    description: 'Under a fresh dedupe key; audited. Answers the license.',
  })
  @ApiOkResponse({ type: LicenseViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.LICENSE_NOT_PROVISIONED,
    EsdErrorCode.ALREADY_CANCELLED,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
  )
  resend(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.resend(principalOf(request), id);
  }

  /** The token's status from Microsoft, now. */
  @Post(':id/refresh-status')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  @ApiOperation({
    summary: "Ask Microsoft for the token's status now",
    description: 'Answers the license with the status Microsoft gave.',
  })
  @ApiOkResponse({ type: LicenseViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.LICENSE_NOT_PROVISIONED,
    EsdErrorCode.INSTANCE_NOT_READY,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
    ...CIS_SIGN_IN_ERRORS,
    ...CIS_CALL_ERRORS,
  )
  refreshStatus(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.refreshStatus(principalOf(request), id);
  }

  /** A Failed license back in line (Unsynchronised, its job enqueued); 409 `LICENSE_NOT_FAILED` otherwise. */
  @Post(':id/resync')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  @ApiOperation({
    summary: 'Put a Failed license back in line',
    description: 'Unsynchronised again, its token requested again (never a second token); audited.',
  })
  @ApiOkResponse({ type: LicenseViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND, EsdErrorCode.LICENSE_NOT_FAILED)
  resync(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.resync(principalOf(request), id);
  }
}

/** The storefront's license routes: a reseller's and an end customer's own licenses. */
@EsdController()
@Access({ roles: ['reseller', 'customer'] })
@ApiTags('storefront')
@Controller('my/licenses')
export class MyLicensesController {
  constructor(private readonly licenses: LicensesService) {}

  @Get()
  @ApiOperation({
    summary: 'My licenses',
    description: "A customer's own; a reseller's are those billed to it and its customers'.",
  })
  @ApiPageResponse(LicenseViewDto)
  @ApiEsdErrors()
  list(@Query() query: LicensesQueryDto, @Req() request: unknown): Promise<Page<LicenseView>> {
    return this.licenses.list(principalOf(request), query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One of my licenses', description: "Another account's license answers 404." })
  @ApiOkResponse({ type: LicenseViewDto })
  @ApiEsdErrors(EsdErrorCode.NOT_FOUND)
  get(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.get(principalOf(request), id);
  }

  /** The license's own customer or reseller sees the full key; audited. */
  @Post(':id/reveal')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reveal the product key of one of my licenses', description: 'Audited.' })
  @ApiOkResponse({ type: RevealViewDto })
  @ApiEsdErrors(
    EsdErrorCode.NOT_FOUND,
    EsdErrorCode.LICENSE_NOT_PROVISIONED,
    EsdErrorCode.SEALED_SECRET_UNREADABLE,
  )
  reveal(@Param('id') id: string, @Req() request: unknown): Promise<RevealView> {
    return this.licenses.reveal(principalOf(request), id);
  }
}
