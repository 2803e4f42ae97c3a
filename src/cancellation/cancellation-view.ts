import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ACTOR_ROLES, type ActorRole } from '../common/audit-event.entity';
import { MoneyDto, ReasonDto } from '../common/http/openapi';
import type { Money } from '../host/ports';
import type { LicenseEntity } from '../licenses/license.entity';
import {
  CANCELLATION_REQUEST_STATUSES,
  type CancellationRequestEntity,
  type CancellationRequestStatus,
} from './cancellation-request.entity';
import {
  ELIGIBILITY_REASON_CODES,
  type Eligibility,
  type EligibilityReason,
  type EligibilityReasonCode,
} from './eligibility';
import type { LicenseReturnEntity, ReturnStatus } from './return.entity';

/** Who asked or decided, as the wire shows it. */
export interface ActorView {
  role: ActorRole;
  accountId: string | null;
  userId?: string;
}

/** The license a request is about, in a line: what the provider's list shows beside each request. */
export interface RequestLicenseSummary {
  instanceId: string;
  productCode: string;
  productName: string;
  customerAccountId: string;
  billToAccountId: string;
  price: Money;
}

/** A cancellation request (host contract §7), with what became of it. */
export interface CancellationRequestView {
  id: string;
  licenseId: string;
  status: CancellationRequestStatus;
  requestedBy: ActorView;
  comment: string | null;
  decidedBy?: ActorView;
  decisionComment?: string | null;
  createdAt: string;
  decidedAt?: string;
  /** The return an accepted request started. */
  returnId?: string;
  /** Why an accepted request did not end in a cancellation (status `failed`). */
  failure?: { code: string; message: string };
  license?: RequestLicenseSummary;
}

/** `GET /my/licenses/:id/cancellation`: eligible? why not? until when? and the latest request, if any. */
export interface EligibilityView {
  eligible: boolean;
  reasons: EligibilityReason[];
  deadline: string | null;
  request: CancellationRequestView | null;
}

/** A return as the immediate cancel answers it. */
export interface ReturnView {
  id: string;
  licenseId: string;
  status: ReturnStatus;
  reason: { code: string; message: string } | null;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// The same views as OpenAPI schemas: each class implements its interface, so the two cannot drift apart.

@ApiSchema({ name: 'Actor' })
export class ActorDto implements ActorView {
  @ApiProperty({ enum: ACTOR_ROLES }) role: ActorRole;
  @ApiProperty({ type: 'string', nullable: true }) accountId: string | null;
  @ApiPropertyOptional() userId?: string;
}

@ApiSchema({ name: 'RequestLicenseSummary' })
export class RequestLicenseSummaryDto implements RequestLicenseSummary {
  @ApiProperty() instanceId: string;
  @ApiProperty() productCode: string;
  @ApiProperty() productName: string;
  @ApiProperty() customerAccountId: string;
  @ApiProperty() billToAccountId: string;
  @ApiProperty({ type: () => MoneyDto }) price: MoneyDto;
}

/** {@link CancellationRequestView} as an OpenAPI schema. */
@ApiSchema({ name: 'CancellationRequest' })
export class CancellationRequestViewDto implements CancellationRequestView {
  @ApiProperty() id: string;
  @ApiProperty() licenseId: string;
  @ApiProperty({ enum: CANCELLATION_REQUEST_STATUSES }) status: CancellationRequestStatus;
  @ApiProperty({ type: () => ActorDto }) requestedBy: ActorDto;
  @ApiProperty({ type: 'string', nullable: true }) comment: string | null;
  @ApiPropertyOptional({ type: () => ActorDto }) decidedBy?: ActorDto;
  @ApiPropertyOptional({ type: 'string', nullable: true }) decisionComment?: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({ format: 'date-time' }) decidedAt?: string;
  @ApiPropertyOptional({ description: 'The return an accepted request started.' }) returnId?: string;
  @ApiPropertyOptional({
    type: () => ReasonDto,
    description: 'Why an accepted request did not end in a cancellation (status failed).',
  })
  failure?: ReasonDto;
  @ApiPropertyOptional({ type: () => RequestLicenseSummaryDto }) license?: RequestLicenseSummaryDto;
}

@ApiSchema({ name: 'EligibilityReason' })
export class EligibilityReasonDto implements EligibilityReason {
  @ApiProperty({ enum: ELIGIBILITY_REASON_CODES }) code: EligibilityReasonCode;
  @ApiProperty({ description: 'A sentence the customer or the administrator can act on.' }) message: string;
}

/** {@link EligibilityView} as an OpenAPI schema. */
@ApiSchema({ name: 'Eligibility' })
export class EligibilityViewDto implements EligibilityView {
  @ApiProperty() eligible: boolean;
  @ApiProperty({ type: () => [EligibilityReasonDto], description: 'Every reason why not.' })
  reasons: EligibilityReasonDto[];
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'The end of the return window (null while the license has no token).',
  })
  deadline: string | null;
  @ApiProperty({ type: () => CancellationRequestViewDto, nullable: true, description: 'The latest request.' })
  request: CancellationRequestViewDto | null;
}

export type RequestLicenseFields = Pick<
  LicenseEntity,
  | 'instanceId'
  | 'productCode'
  | 'productName'
  | 'customerAccountId'
  | 'billToAccountId'
  | 'priceAmountMinor'
  | 'priceCurrency'
  | 'returnReasonCode'
  | 'returnReasonMessage'
>;

export function toEligibilityView(
  eligibility: Eligibility,
  request: CancellationRequestView | null,
): EligibilityView {
  return {
    eligible: eligibility.eligible,
    reasons: eligibility.reasons,
    deadline: eligibility.deadline?.toISOString() ?? null,
    request,
  };
}

/**
 * The request as the wire shows it. A failed request names its reason: the vendor's refusal from its return, or
 * the plugin's own refusal, which the license keeps as its return reason.
 */
export function toRequestView(
  row: CancellationRequestEntity,
  license: RequestLicenseFields | null,
  linkedReturn: Pick<LicenseReturnEntity, 'reasonCode' | 'reasonMessage'> | null,
): CancellationRequestView {
  const failure =
    row.status !== 'failed'
      ? undefined
      : linkedReturn?.reasonCode
        ? { code: linkedReturn.reasonCode, message: linkedReturn.reasonMessage ?? '' }
        : license?.returnReasonCode
          ? { code: license.returnReasonCode, message: license.returnReasonMessage ?? '' }
          : undefined;
  return {
    id: row.id,
    licenseId: row.licenseId,
    status: row.status,
    requestedBy: actor(row.requestedByRole, row.requestedByAccountId, row.requestedByUserId),
    comment: row.comment,
    ...(row.decidedByRole === null
      ? {}
      : {
          decidedBy: actor(row.decidedByRole, row.decidedByAccountId, row.decidedByUserId),
          decisionComment: row.decisionComment,
        }),
    createdAt: row.createdAt.toISOString(),
    ...(row.decidedAt === null ? {} : { decidedAt: row.decidedAt.toISOString() }),
    ...(row.returnId === null ? {} : { returnId: row.returnId }),
    ...(failure === undefined ? {} : { failure }),
    ...(license === null
      ? {}
      : {
          license: {
            instanceId: license.instanceId,
            productCode: license.productCode,
            productName: license.productName,
            customerAccountId: license.customerAccountId,
            billToAccountId: license.billToAccountId,
            price: { amountMinor: license.priceAmountMinor, currency: license.priceCurrency },
          },
        }),
  };
}

export function toReturnView(row: LicenseReturnEntity): ReturnView {
  return {
    id: row.id,
    licenseId: row.licenseId,
    status: row.status,
    reason: row.reasonCode === null ? null : { code: row.reasonCode, message: row.reasonMessage ?? '' },
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

function actor(role: ActorRole, accountId: string | null, userId: string | null): ActorView {
  return { role, accountId, ...(userId === null ? {} : { userId }) };
}
