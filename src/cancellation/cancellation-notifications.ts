import type { HostNotification, Money } from '../host/ports';
import type { LicenseEntity } from '../licenses/license.entity';
import type { CancellationRequestEntity } from './cancellation-request.entity';

/** The templates of plugin.manifest.json `notifications` this feature asks the host to send. */
export const CANCELLATION_REQUESTED_TEMPLATE = 'esd.cancellation.requested';
export const CANCELLATION_DECIDED_TEMPLATE = 'esd.cancellation.decided';

type NotifiedLicense = Pick<
  LicenseEntity,
  | 'id'
  | 'productName'
  | 'customerAccountId'
  | 'customerEmail'
  | 'customerName'
  | 'customerLocale'
  | 'language'
>;
type NotifiedRequest = Pick<
  CancellationRequestEntity,
  'id' | 'requestedByAccountId' | 'comment' | 'decisionComment'
>;

/** What became of a request, as the requester is told. */
export interface RequestDecision {
  decision: 'accepted' | 'rejected';
  /** For an accepted request: whether Microsoft took the license back (`executed`) or not (`failed`). */
  outcome: 'executed' | 'failed' | null;
  reason: { code: string; message: string } | null;
  credit: Money | null;
}

/**
 * To the requester: a reseller is addressed by its account (the host knows how to reach it); the end customer also
 * by the name and address the order gave.
 */
function requester(license: NotifiedLicense, request: NotifiedRequest): HostNotification['to'] {
  if (request.requestedByAccountId !== license.customerAccountId) {
    return { accountId: request.requestedByAccountId };
  }
  return {
    accountId: license.customerAccountId,
    ...(license.customerEmail === null ? {} : { email: license.customerEmail }),
    name: license.customerName,
  };
}

/** "We received your request": once per request (its dedupe key). */
export function requestedNotification(license: NotifiedLicense, request: NotifiedRequest): HostNotification {
  return {
    template: CANCELLATION_REQUESTED_TEMPLATE,
    to: requester(license, request),
    locale: license.customerLocale ?? license.language,
    data: {
      licenseId: license.id,
      requestId: request.id,
      productName: license.productName,
      comment: request.comment,
    },
    dedupeKey: `${CANCELLATION_REQUESTED_TEMPLATE}:${request.id}`,
  };
}

/**
 * "Your request was decided": sent when the outcome is final — at once for a rejection, when Microsoft has answered
 * for an acceptance — so the requester hears once per outcome, and hears what happened (with the credit, or the
 * reason). Once per outcome, not once per request: a return that failed without Microsoft's answer and is later
 * found to have happened (`ReturnsService.reopenTakenBack`) tells the requester again, `executed` this time.
 */
export function decidedNotification(
  license: NotifiedLicense,
  request: NotifiedRequest,
  decision: RequestDecision,
): HostNotification {
  return {
    template: CANCELLATION_DECIDED_TEMPLATE,
    to: requester(license, request),
    locale: license.customerLocale ?? license.language,
    data: {
      licenseId: license.id,
      requestId: request.id,
      productName: license.productName,
      decision: decision.decision,
      decisionComment: request.decisionComment,
      outcome: decision.outcome,
      reason: decision.reason,
      credit: decision.credit,
    },
    dedupeKey: `${CANCELLATION_DECIDED_TEMPLATE}:${request.id}:${decision.outcome ?? decision.decision}`,
  };
}
