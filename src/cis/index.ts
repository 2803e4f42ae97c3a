export {
  DEFAULT_AUTHORITY_HOST,
  certificateThumbprints,
  resolveCisConnection,
  type CisCertificateMaterial,
  type CisConnection,
  type ResolvedCisConnection,
} from './cis-connection';
export { CisClient, type CisCallOptions, type CisClientOptions, type CisMarket } from './cis-client';
export { CIS_CLIENT_OPTIONS, CisClientFactory } from './cis-client.factory';
export {
  CIS_OFFER_STATUSES,
  DEFAULT_OFFERS_PAGE_SIZE,
  MAX_OFFERS_PAGE_SIZE,
  listOfferPages,
  listOffers,
  offersPageFingerprint,
  parseCisOffer,
  readOffersPage,
  type CisOffer,
  type CisOfferEntry,
  type CisOfferKey,
  type CisOfferStatus,
  type CisOffersOptions,
  type CisOffersPage,
  type CisOffersQuery,
  type OffersPageRead,
} from './cis-offers';
export {
  CIS_TOKEN_STATUSES,
  MAX_TOKEN_STATUS_BATCH,
  parseCisToken,
  parseTokenStatuses,
  type CisCreateTokenInput,
  type CisCreatedToken,
  type CisEndCustomer,
  type CisToken,
  type CisTokenStatus,
  type CisTokenStatusItem,
  type CisTokenStatusOptions,
} from './cis-tokens';
export { parseCisReturnAnswer, type CisCreateReturnInput, type CisReturn } from './cis-returns';
export {
  AAD_ERROR_CODES,
  CisError,
  VENDOR_ERROR_CODES,
  isTransientCisError,
  type CisErrorInfo,
} from './cis-errors';
export {
  DEFAULT_CIS_TIMEOUT_MS,
  DEFAULT_CLIENT_RETRY,
  CisShapeError,
  derivedRequestId,
  type CisRequest,
  type CisResponse,
  type CisRetryOptions,
  type CisCallRecord,
} from './cis-http';
export {
  DEFAULT_RETRY_POLICY,
  backoffDelayMs,
  parseRetryAfterMs,
  type BackoffOptions,
  type RetryPolicy,
} from './retry-policy';
