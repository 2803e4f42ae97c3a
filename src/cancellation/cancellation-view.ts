import type { ActorRole } from '../common/audit-event.entity';
import type { Money } from '../host/ports';
import type { LicenseEntity } from '../licenses/license.entity';
import type { CancellationRequestEntity, CancellationRequestStatus } from './cancellation-request.entity';
import type { Eligibility, EligibilityReason } from './eligibility';
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
