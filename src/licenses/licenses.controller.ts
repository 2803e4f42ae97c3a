import { Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { Access, EsdController, principalOf } from '../common/http/access';
import type { Page } from '../common/pagination';
import { LicensesQueryDto, type RevealView } from './license.dto';
import type { LicenseView } from './license-view';
import { LicensesService } from './licenses.service';

/** The provider's license routes (host contract §5): every license, with the admin's permissions. */
@EsdController()
@Controller('licenses')
export class LicensesController {
  constructor(private readonly licenses: LicensesService) {}

  @Get()
  @Access({ roles: ['admin'], permission: 'esd.licenses.read' })
  list(@Query() query: LicensesQueryDto, @Req() request: unknown): Promise<Page<LicenseView>> {
    return this.licenses.list(principalOf(request), query);
  }

  @Get(':id')
  @Access({ roles: ['admin'], permission: 'esd.licenses.read' })
  get(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.get(principalOf(request), id);
  }

  /** The full key and activation link; audited. */
  @Post(':id/reveal')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.reveal' })
  reveal(@Param('id') id: string, @Req() request: unknown): Promise<RevealView> {
    return this.licenses.reveal(principalOf(request), id);
  }

  /** The welcome notification again; audited. */
  @Post(':id/resend')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  resend(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.resend(principalOf(request), id);
  }

  /** The token's status from Microsoft, now. */
  @Post(':id/refresh-status')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  refreshStatus(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.refreshStatus(principalOf(request), id);
  }

  /** A Failed license back in line (Unsynchronised, its job enqueued); 409 `LICENSE_NOT_FAILED` otherwise. */
  @Post(':id/resync')
  @HttpCode(200)
  @Access({ roles: ['admin'], permission: 'esd.licenses.manage' })
  resync(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.resync(principalOf(request), id);
  }
}

/** The storefront's license routes: a reseller's and an end customer's own licenses. */
@EsdController()
@Access({ roles: ['reseller', 'customer'] })
@Controller('my/licenses')
export class MyLicensesController {
  constructor(private readonly licenses: LicensesService) {}

  @Get()
  list(@Query() query: LicensesQueryDto, @Req() request: unknown): Promise<Page<LicenseView>> {
    return this.licenses.list(principalOf(request), query);
  }

  @Get(':id')
  get(@Param('id') id: string, @Req() request: unknown): Promise<LicenseView> {
    return this.licenses.get(principalOf(request), id);
  }

  /** The license's own customer or reseller sees the full key; audited. */
  @Post(':id/reveal')
  @HttpCode(200)
  reveal(@Param('id') id: string, @Req() request: unknown): Promise<RevealView> {
    return this.licenses.reveal(principalOf(request), id);
  }
}
