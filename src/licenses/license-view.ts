import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { MoneyDto, ReasonDto } from '../common/http/openapi';
import type { HookLicense } from '../host/hooks';
import type { EsdPrincipal } from '../host/principal';
import { actionsFor, type LicenseAction } from './license-access';
import type { Money } from '../host/ports';
import {
  LICENSE_RETURN_STATUSES,
  LICENSE_STATUSES,
  PROVISIONING_STATUSES,
  TOKEN_STATUSES,
  type LicenseEntity,
  type LicenseReturnStatus,
  type LicenseStatus,
  type ProvisioningStatus,
  type TokenStatus,
} from './license.entity';

/** A 5x5 key with every group but the last hidden: `*****-*****-*****-*****-7QX4P`. */
export function maskedToken(lastGroup: string | null): string | null {
  return lastGroup === null ? null : `*****-*****-*****-*****-${lastGroup}`;
}

/** The last group of a 5x5 key: all the masked form keeps. */
export function lastGroupOf(productKey: string): string {
  const groups = productKey.split('-');
  return groups[groups.length - 1].slice(-5);
}

/** The license as the wire shape of host-contract.md §7 shows it (key masked; never a secret). */
export interface LicenseView {
  id: string;
  instanceId: string;
  productCode: string;
  productName: string;
  customerAccountId: string;
  customerName: string;
  billToAccountId: string;
  resellerAccountId: string | null;
  status: LicenseStatus;
  hostOrderId: string;
  hostOrderItemId: string;
  unitIndex: number;
  purchaseDate: string;
  price: Money;
  provisioningStatus: ProvisioningStatus;
  provisioningError: { code: string; message: string } | null;
  tokenMasked: string | null;
  tokenStatus: TokenStatus | null;
  /** When Microsoft last told us the token's status. */
  tokenStatusCheckedAt: string | null;
  redeemedAt: string | null;
  returnStatus: LicenseReturnStatus;
  returnReason: { code: string; message: string } | null;
  /** What the caller may do with the license now. */
  actions: LicenseAction[];
  /** The id Microsoft knows the token by; admins (and the host) only. */
  clientTransactionId?: string;
}

/** Every action, listed once (the record keeps this list complete: a new action fails to compile until added). */
const LICENSE_ACTIONS = Object.keys({
  reveal: true,
  resend: true,
  'refresh-status': true,
  resync: true,
  cancel: true,
  'request-cancellation': true,
} satisfies Record<LicenseAction, true>);

/** {@link LicenseView} as an OpenAPI schema. */
@ApiSchema({ name: 'License', description: 'A license record; the key masked, never a secret.' })
export class LicenseViewDto implements LicenseView {
  @ApiProperty() id: string;
  @ApiProperty() instanceId: string;
  @ApiProperty({ description: 'The ESD offer ID.' }) productCode: string;
  @ApiProperty() productName: string;
  @ApiProperty() customerAccountId: string;
  @ApiProperty() customerName: string;
  @ApiProperty() billToAccountId: string;
  @ApiProperty({ type: 'string', nullable: true }) resellerAccountId: string | null;
  @ApiProperty({ enum: LICENSE_STATUSES }) status: LicenseStatus;
  @ApiProperty() hostOrderId: string;
  @ApiProperty() hostOrderItemId: string;
  @ApiProperty({ type: 'integer', description: 'Which unit of the order item (0-based).' }) unitIndex: number;
  @ApiProperty({ format: 'date-time' }) purchaseDate: string;
  @ApiProperty({ type: () => MoneyDto }) price: MoneyDto;
  @ApiProperty({ enum: PROVISIONING_STATUSES }) provisioningStatus: ProvisioningStatus;
  @ApiProperty({ type: () => ReasonDto, nullable: true }) provisioningError: ReasonDto | null;
  @ApiProperty({ type: 'string', nullable: true, example: '*****-*****-*****-*****-7QX4P' })
  tokenMasked: string | null;
  @ApiProperty({ enum: TOKEN_STATUSES, nullable: true }) tokenStatus: TokenStatus | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) tokenStatusCheckedAt: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) redeemedAt: string | null;
  @ApiProperty({ enum: LICENSE_RETURN_STATUSES }) returnStatus: LicenseReturnStatus;
  @ApiProperty({
    type: () => ReasonDto,
    nullable: true,
    description:
      'Also set when the plugin refused before asking Microsoft (the return status then stays None).',
  })
  returnReason: ReasonDto | null;
  @ApiProperty({ enum: LICENSE_ACTIONS, isArray: true, description: 'What the caller may do with it now.' })
  actions: LicenseAction[];
  @ApiPropertyOptional({ description: 'The id Microsoft knows the token by; admins only.' })
  clientTransactionId?: string;
}

/** Columns every view reads (the sealed key and link are never among them). */
export const LICENSE_VIEW_COLUMNS = [
  'id',
  'instanceId',
  'productCode',
  'productName',
  'customerAccountId',
  'customerName',
  'billToAccountId',
  'resellerAccountId',
  'status',
  'hostOrderId',
  'hostOrderItemId',
  'unitIndex',
  'purchaseDate',
  'priceAmountMinor',
  'priceCurrency',
  'provisioningStatus',
  'provisioningErrorCode',
  'provisioningErrorMessage',
  'tokenLastGroup',
  'tokenStatus',
  'tokenStatusCheckedAt',
  'redeemedAt',
  'clientTransactionId',
  'returnStatus',
  'returnReasonCode',
  'returnReasonMessage',
] as const satisfies readonly (keyof LicenseEntity)[];

export type LicenseViewRow = Pick<LicenseEntity, (typeof LICENSE_VIEW_COLUMNS)[number]>;

/** {@link LICENSE_VIEW_COLUMNS} as a TypeORM `select`. */
export const LICENSE_VIEW_SELECT = Object.fromEntries(LICENSE_VIEW_COLUMNS.map((c) => [c, true])) as {
  [K in (typeof LICENSE_VIEW_COLUMNS)[number]]: true;
};

/**
 * The record as `viewer` sees it: the host (the `status` hook) and admins also get the client transaction id;
 * the actions are the viewer's.
 */
export function toLicenseView(row: LicenseViewRow, viewer: EsdPrincipal | 'host'): LicenseView {
  return {
    id: row.id,
    instanceId: row.instanceId,
    productCode: row.productCode,
    productName: row.productName,
    customerAccountId: row.customerAccountId,
    customerName: row.customerName,
    billToAccountId: row.billToAccountId,
    resellerAccountId: row.resellerAccountId,
    status: row.status,
    hostOrderId: row.hostOrderId,
    hostOrderItemId: row.hostOrderItemId,
    unitIndex: row.unitIndex,
    purchaseDate: row.purchaseDate.toISOString(),
    price: { amountMinor: row.priceAmountMinor, currency: row.priceCurrency },
    provisioningStatus: row.provisioningStatus,
    provisioningError: pair(row.provisioningErrorCode, row.provisioningErrorMessage),
    tokenMasked: maskedToken(row.tokenLastGroup),
    tokenStatus: row.tokenStatus,
    tokenStatusCheckedAt: row.tokenStatusCheckedAt?.toISOString() ?? null,
    redeemedAt: row.redeemedAt?.toISOString() ?? null,
    returnStatus: row.returnStatus,
    returnReason: pair(row.returnReasonCode, row.returnReasonMessage),
    actions: viewer === 'host' ? [] : actionsFor(viewer, row),
    ...(viewer === 'host' || viewer.role === 'admin' ? { clientTransactionId: row.clientTransactionId } : {}),
  };
}

/** The license as the `order` hook reports it. */
export function toHookLicense(row: LicenseViewRow): HookLicense {
  return {
    id: row.id,
    unitIndex: row.unitIndex,
    provisioningStatus: row.provisioningStatus,
    tokenMasked: maskedToken(row.tokenLastGroup),
    error: pair(row.provisioningErrorCode, row.provisioningErrorMessage),
  };
}

function pair(code: string | null, message: string | null): { code: string; message: string } | null {
  return code === null ? null : { code, message: message ?? '' };
}
