/**
 * The plugin's one error vocabulary. Every refusal the plugin answers, logs or stores on a row carries one
 * of these codes; the HTTP status and the sentence a person can act on live beside it, in one place.
 */
export enum EsdErrorCode {
  // Input and access
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',

  // Certificates and sealed secrets (Applications Setup)
  CERTIFICATE_UNREADABLE = 'CERTIFICATE_UNREADABLE',
  CERTIFICATE_PFX_WRONG_PASSWORD = 'CERTIFICATE_PFX_WRONG_PASSWORD',
  CERTIFICATE_KEY_MISSING = 'CERTIFICATE_KEY_MISSING',
  CERTIFICATE_KEY_MISMATCH = 'CERTIFICATE_KEY_MISMATCH',
  CERTIFICATE_EXPIRED = 'CERTIFICATE_EXPIRED',
  CERTIFICATE_NOT_YET_VALID = 'CERTIFICATE_NOT_YET_VALID',
  SEALED_SECRET_UNREADABLE = 'SEALED_SECRET_UNREADABLE',

  // Module options and host compatibility (boot time)
  INVALID_MODULE_OPTIONS = 'INVALID_MODULE_OPTIONS',
  HOST_API_INCOMPATIBLE = 'HOST_API_INCOMPATIBLE',
  JOB_HANDLERS_INCONSISTENT = 'JOB_HANDLERS_INCONSISTENT',

  // CIS authentication (Microsoft identity platform)
  CIS_AUTH_UNKNOWN_CLIENT = 'CIS_AUTH_UNKNOWN_CLIENT',
  CIS_AUTH_UNKNOWN_TENANT = 'CIS_AUTH_UNKNOWN_TENANT',
  CIS_AUTH_CERTIFICATE_NOT_TRUSTED = 'CIS_AUTH_CERTIFICATE_NOT_TRUSTED',
  CIS_AUTH_BAD_SIGNATURE = 'CIS_AUTH_BAD_SIGNATURE',
  CIS_AUTH_ASSERTION_EXPIRED = 'CIS_AUTH_ASSERTION_EXPIRED',
  CIS_AUTH_INVALID_RESOURCE = 'CIS_AUTH_INVALID_RESOURCE',
  CIS_AUTH_AUTHORITY_UNREACHABLE = 'CIS_AUTH_AUTHORITY_UNREACHABLE',
  CIS_AUTH_FAILED = 'CIS_AUTH_FAILED',

  // CIS API calls
  CIS_UNAVAILABLE = 'CIS_UNAVAILABLE',
  CIS_TIMEOUT = 'CIS_TIMEOUT',
  CIS_RATE_LIMITED = 'CIS_RATE_LIMITED',
  CIS_MALFORMED_RESPONSE = 'CIS_MALFORMED_RESPONSE',
  CIS_UNAUTHORIZED = 'CIS_UNAUTHORIZED',
  CIS_CHANNEL_MISMATCH = 'CIS_CHANNEL_MISMATCH',
  CIS_INVALID_REQUEST = 'CIS_INVALID_REQUEST',
  CIS_OFFER_NOT_FOUND = 'CIS_OFFER_NOT_FOUND',
  CIS_OFFER_DISCONTINUED = 'CIS_OFFER_DISCONTINUED',
  CIS_QUANTITY_OUT_OF_RANGE = 'CIS_QUANTITY_OUT_OF_RANGE',
  CIS_TOKEN_NOT_FOUND = 'CIS_TOKEN_NOT_FOUND',
  CIS_TRANSACTION_CONFLICT = 'CIS_TRANSACTION_CONFLICT',
  CIS_TOKEN_REDEEMED = 'CIS_TOKEN_REDEEMED',
  CIS_RETURN_WINDOW_EXPIRED = 'CIS_RETURN_WINDOW_EXPIRED',
  CIS_NOT_RETURNABLE = 'CIS_NOT_RETURNABLE',
  CIS_TOKEN_ALREADY_RETURNED = 'CIS_TOKEN_ALREADY_RETURNED',
  CIS_REQUEST_FAILED = 'CIS_REQUEST_FAILED',
  CIS_TLS_NOT_TRUSTED = 'CIS_TLS_NOT_TRUSTED',

  // Applications Setup: instances
  SYSTEM_NAME_TAKEN = 'SYSTEM_NAME_TAKEN',
  INSTANCE_MARKET_TAKEN = 'INSTANCE_MARKET_TAKEN',
  CLIENT_ID_COUNTRY_CONFLICT = 'CLIENT_ID_COUNTRY_CONFLICT',
  MARKET_NOT_OFFERED = 'MARKET_NOT_OFFERED',
  INSTANCE_CERTIFICATE_REQUIRED = 'INSTANCE_CERTIFICATE_REQUIRED',
  INSTANCE_IN_USE = 'INSTANCE_IN_USE',
  CONNECTION_FAILED = 'CONNECTION_FAILED',
  INSTANCE_NOT_READY = 'INSTANCE_NOT_READY',

  // Get Services Definition (catalog)
  CATALOG_RUN_ACTIVE = 'CATALOG_RUN_ACTIVE',
  CATALOG_RUN_STALE = 'CATALOG_RUN_STALE',

  // Ordering and provisioning (licenses)
  ORDER_INVALID = 'ORDER_INVALID',
  OFFER_UNKNOWN = 'OFFER_UNKNOWN',
  OFFER_DISCONTINUED = 'OFFER_DISCONTINUED',
  QUANTITY_OUT_OF_RANGE = 'QUANTITY_OUT_OF_RANGE',
  CUSTOMER_DATA_MISSING = 'CUSTOMER_DATA_MISSING',
  ORDER_ITEM_CONFLICT = 'ORDER_ITEM_CONFLICT',
  LICENSE_NOT_FAILED = 'LICENSE_NOT_FAILED',
  LICENSE_NOT_PROVISIONED = 'LICENSE_NOT_PROVISIONED',
  PROVISIONING_ATTEMPTS_EXHAUSTED = 'PROVISIONING_ATTEMPTS_EXHAUSTED',

  // Cancellation and returns (the first six are also the eligibility reasons of host contract §7)
  NOT_RETURNABLE = 'NOT_RETURNABLE',
  TOKEN_REDEEMED = 'TOKEN_REDEEMED',
  RETURN_WINDOW_EXPIRED = 'RETURN_WINDOW_EXPIRED',
  ALREADY_CANCELLED = 'ALREADY_CANCELLED',
  REQUEST_PENDING = 'REQUEST_PENDING',
  NOT_PROVISIONED = 'NOT_PROVISIONED',
  REQUEST_NOT_PENDING = 'REQUEST_NOT_PENDING',
  RETURN_ATTEMPTS_EXHAUSTED = 'RETURN_ATTEMPTS_EXHAUSTED',

  // Infrastructure
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  QUEUE_UNAVAILABLE = 'QUEUE_UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

export interface EsdErrorDescription {
  /** HTTP status the code maps to when it reaches a caller of the plugin's HTTP API. */
  httpStatus: number;
  /** The default sentence: what happened and what the reader can do about it. */
  message: string;
}

export const ERROR_DESCRIPTIONS: Record<EsdErrorCode, EsdErrorDescription> = {
  VALIDATION_FAILED: { httpStatus: 400, message: 'The request is not valid; correct the fields named.' },
  UNAUTHENTICATED: { httpStatus: 401, message: 'Sign in first: this request carries no identity.' },
  FORBIDDEN: { httpStatus: 403, message: 'Your role may not use this route.' },
  NOT_FOUND: { httpStatus: 404, message: 'Nothing with that id exists for you.' },
  CONFLICT: { httpStatus: 409, message: 'The request conflicts with the current state; reload and retry.' },

  CERTIFICATE_UNREADABLE: {
    httpStatus: 422,
    message:
      'The certificate could not be read: it is not a PEM certificate, or not a PFX file, or the file is damaged. Export it again and upload the new file.',
  },
  CERTIFICATE_PFX_WRONG_PASSWORD: {
    httpStatus: 422,
    message:
      'The PFX file could not be opened with this password: the password is wrong — or the file was changed after it was exported. Check the password, or export the PFX again.',
  },
  CERTIFICATE_KEY_MISSING: {
    httpStatus: 422,
    message:
      "No usable private key came with the certificate. Upload the certificate's private key (PEM, unencrypted) or a PFX exported with its private key.",
  },
  CERTIFICATE_KEY_MISMATCH: {
    httpStatus: 422,
    message:
      'The private key does not belong to the certificate. Upload the certificate together with its own private key.',
  },
  CERTIFICATE_EXPIRED: {
    httpStatus: 422,
    message: 'The certificate has expired. Upload its renewal.',
  },
  CERTIFICATE_NOT_YET_VALID: {
    httpStatus: 422,
    message:
      "The certificate is not valid yet. Upload it once its validity starts, or check this server's clock.",
  },
  SEALED_SECRET_UNREADABLE: {
    httpStatus: 500,
    message:
      'A sealed secret could not be opened: the sealing key that made this value is not configured — add it to previousSecretKeys — or the value was changed.',
  },

  INVALID_MODULE_OPTIONS: {
    httpStatus: 500,
    message: 'The Microsoft ESD module options are not valid; fix the options named and restart.',
  },
  HOST_API_INCOMPATIBLE: {
    httpStatus: 500,
    message: 'This host implements a version of the host contract the plugin does not support.',
  },
  JOB_HANDLERS_INCONSISTENT: {
    httpStatus: 500,
    message: 'Every queue job needs exactly one handler; the plugin build is inconsistent.',
  },

  CIS_AUTH_UNKNOWN_CLIENT: {
    httpStatus: 422,
    message:
      'Microsoft does not know this client ID in this tenant. Check the client ID and the Azure AD tenant in the instance settings.',
  },
  CIS_AUTH_UNKNOWN_TENANT: {
    httpStatus: 422,
    message: 'Microsoft does not know this Azure AD tenant. Check the tenant ID in the instance settings.',
  },
  CIS_AUTH_CERTIFICATE_NOT_TRUSTED: {
    httpStatus: 422,
    message:
      'Microsoft does not trust this certificate for this client ID (its thumbprint is not registered). Upload the certificate registered with Microsoft for this client, or register this one.',
  },
  CIS_AUTH_BAD_SIGNATURE: {
    httpStatus: 422,
    message:
      "Microsoft could not verify the request's signature: the private key does not belong to the registered certificate. Upload the matching certificate and private key.",
  },
  CIS_AUTH_ASSERTION_EXPIRED: {
    httpStatus: 422,
    message:
      "Microsoft refused the sign-in because it had expired or was not yet valid. Check that this server's clock is correct (NTP), then retry.",
  },
  CIS_AUTH_INVALID_RESOURCE: {
    httpStatus: 422,
    message:
      'Microsoft does not recognise the Resource API for this client. Check the Resource API in the instance settings.',
  },
  CIS_AUTH_AUTHORITY_UNREACHABLE: {
    httpStatus: 503,
    message:
      'The Microsoft sign-in service could not be reached or its TLS certificate is not trusted. Check the authority host, the network, and the CA certificate if one is configured.',
  },
  CIS_AUTH_FAILED: {
    httpStatus: 422,
    message: 'Microsoft refused the sign-in. Check the tenant, client ID, certificate and Resource API.',
  },

  CIS_UNAVAILABLE: {
    httpStatus: 503,
    message: 'The Microsoft CIS API is unavailable right now; the plugin retries on its own.',
  },
  CIS_TIMEOUT: {
    httpStatus: 503,
    message: 'The Microsoft CIS API did not answer in time; the plugin retries on its own.',
  },
  CIS_RATE_LIMITED: {
    httpStatus: 503,
    message: 'The Microsoft CIS API asked the plugin to slow down; it retries after the wait Microsoft gave.',
  },
  CIS_MALFORMED_RESPONSE: {
    httpStatus: 502,
    message:
      'The Microsoft CIS API answered with something the plugin could not read; it retries on its own.',
  },
  CIS_UNAUTHORIZED: {
    httpStatus: 502,
    message: 'The Microsoft CIS API refused the access token even after a fresh sign-in.',
  },
  CIS_CHANNEL_MISMATCH: {
    httpStatus: 422,
    message:
      'This client ID is not allowed to act for this channel (Bill-To account). Check the channel ID in the instance settings.',
  },
  CIS_INVALID_REQUEST: { httpStatus: 422, message: 'The Microsoft CIS API refused the request as invalid.' },
  CIS_OFFER_NOT_FOUND: { httpStatus: 422, message: 'Microsoft does not know this offer in this market.' },
  CIS_OFFER_DISCONTINUED: { httpStatus: 422, message: 'Microsoft has discontinued this offer.' },
  CIS_QUANTITY_OUT_OF_RANGE: {
    httpStatus: 422,
    message: "The quantity is outside the offer's minimum and maximum.",
  },
  CIS_TOKEN_NOT_FOUND: { httpStatus: 404, message: 'Microsoft has no token for this transaction.' },
  CIS_TRANSACTION_CONFLICT: {
    httpStatus: 409,
    message: 'Microsoft already holds this transaction with different details.',
  },
  CIS_TOKEN_REDEEMED: {
    httpStatus: 422,
    message: 'The product key has been redeemed, so the license can no longer be returned.',
  },
  CIS_RETURN_WINDOW_EXPIRED: {
    httpStatus: 422,
    message: 'The return window for this license has passed.',
  },
  CIS_NOT_RETURNABLE: { httpStatus: 422, message: 'Microsoft does not accept returns for this offer.' },
  CIS_TOKEN_ALREADY_RETURNED: {
    httpStatus: 409,
    message: 'Microsoft has already taken this license back through another return.',
  },
  CIS_REQUEST_FAILED: { httpStatus: 502, message: 'The Microsoft CIS API refused the request.' },
  CIS_TLS_NOT_TRUSTED: {
    httpStatus: 502,
    message:
      "The Microsoft CIS API's TLS certificate is not trusted. Check the Service URL and, for sandbox or pre-production endpoints, the CA certificate in the instance settings.",
  },

  SYSTEM_NAME_TAKEN: {
    httpStatus: 409,
    message: 'Another instance already has this system name. Choose a different system name.',
  },
  INSTANCE_MARKET_TAKEN: {
    httpStatus: 409,
    message:
      'Another instance already sells this client ID in this country and language. Edit that instance instead, or choose another market.',
  },
  CLIENT_ID_COUNTRY_CONFLICT: {
    httpStatus: 409,
    message:
      'This client ID already serves another country, and Microsoft issues one client ID per country. Use the client ID issued for this country.',
  },
  MARKET_NOT_OFFERED: {
    httpStatus: 422,
    message:
      "This country and language are not among the markets Microsoft offers this channel. Choose one from the instance's options.",
  },
  INSTANCE_CERTIFICATE_REQUIRED: {
    httpStatus: 422,
    message:
      "Upload the instance's certificate first: the markets come from Microsoft, and listing them needs a sign-in with it.",
  },
  INSTANCE_IN_USE: {
    httpStatus: 409,
    message: 'This instance has licenses and cannot be deleted. Disable it instead.',
  },
  CONNECTION_FAILED: {
    httpStatus: 422,
    message: 'The connection test failed; the step named says what to fix.',
  },
  INSTANCE_NOT_READY: {
    httpStatus: 422,
    message:
      'This instance is not ready: finish its settings (certificate, country and language) and pass the connection test, or enable it, first.',
  },

  CATALOG_RUN_ACTIVE: {
    httpStatus: 409,
    message:
      'Get Services Definition is already queued or running for this instance. Wait for it to finish; its progress is under the runs.',
  },
  CATALOG_RUN_STALE: {
    httpStatus: 500,
    message:
      'The run made no progress for too long and its job is gone (the queue lost it, or its worker stopped), so it was marked failed. Start Get Services Definition again.',
  },

  ORDER_INVALID: {
    httpStatus: 400,
    message: 'The order item is not valid; correct the fields named.',
  },
  OFFER_UNKNOWN: {
    httpStatus: 422,
    message:
      "This product is not in the instance's Microsoft ESD catalog. Run Get Services Definition, or choose another product.",
  },
  OFFER_DISCONTINUED: {
    httpStatus: 422,
    message: 'Microsoft has discontinued this offer: it can no longer be sold.',
  },
  QUANTITY_OUT_OF_RANGE: {
    httpStatus: 422,
    message: 'The quantity is outside what Microsoft allows for this offer in one order.',
  },
  CUSTOMER_DATA_MISSING: {
    httpStatus: 422,
    message: 'The end customer lacks details Microsoft or the license delivery needs.',
  },
  ORDER_ITEM_CONFLICT: {
    httpStatus: 409,
    message:
      'This order item was already placed with other contents; an order item is placed once and never changes.',
  },
  LICENSE_NOT_FAILED: {
    httpStatus: 409,
    message: 'Only a license whose provisioning failed can be put back in line.',
  },
  LICENSE_NOT_PROVISIONED: {
    httpStatus: 409,
    message:
      'This license has no product key yet: it is still being provisioned, or its provisioning failed.',
  },
  PROVISIONING_ATTEMPTS_EXHAUSTED: {
    httpStatus: 502,
    message:
      'Microsoft could not be reached to issue this license after every retry. Re-sync the license once the service is back.',
  },

  NOT_RETURNABLE: {
    httpStatus: 422,
    message: 'Microsoft does not take this product back: its offer is not returnable.',
  },
  TOKEN_REDEEMED: {
    httpStatus: 422,
    message: 'The product key has been redeemed, and a used license cannot be returned.',
  },
  RETURN_WINDOW_EXPIRED: {
    httpStatus: 422,
    message: 'The return window of this license has closed.',
  },
  ALREADY_CANCELLED: { httpStatus: 409, message: 'This license is already cancelled.' },
  REQUEST_PENDING: {
    httpStatus: 409,
    message:
      'A cancellation of this license is already waiting for a decision or under way. Withdraw it, or wait for its outcome.',
  },
  NOT_PROVISIONED: {
    httpStatus: 409,
    message: 'This license has no product key yet, so there is nothing to return.',
  },
  REQUEST_NOT_PENDING: {
    httpStatus: 409,
    message: 'This cancellation request has already been decided or withdrawn; reload it to see its outcome.',
  },
  RETURN_ATTEMPTS_EXHAUSTED: {
    httpStatus: 502,
    message:
      'Microsoft could not be reached to return this license after every retry. Cancel it again once the service is back.',
  },

  DATABASE_UNAVAILABLE: { httpStatus: 503, message: 'The database is unavailable.' },
  QUEUE_UNAVAILABLE: { httpStatus: 503, message: 'The job queue (Redis) is unavailable.' },
  INTERNAL: {
    httpStatus: 500,
    message: 'Something went wrong inside the plugin; the operator has the details.',
  },
};
