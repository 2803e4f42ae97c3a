import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import {
  CisError,
  cisErrorFromAuthFailure,
  cisErrorFromResponse,
  cisErrorFromTransport,
  cisMalformedResponse,
  isTransientCisError,
  readVendorError,
} from '../../src/cis/cis-errors';

const GET = {
  method: 'GET',
  route: 'GET /channels/:channelId/markets',
  correlationId: 'corr-1',
  requestId: 'req-1',
};
const POST = {
  method: 'POST',
  route: 'POST /channels/:channelId/tokens',
  correlationId: 'corr-2',
  requestId: 'req-2',
};

function vendorBody(code: string, message = `vendor says ${code}`, correlationId?: string): string {
  return JSON.stringify({ error: { code, message, correlationId } });
}

describe('cisErrorFromResponse: business errors (permanent, never retried)', () => {
  const table: [number, string, EsdErrorCode][] = [
    [400, 'InvalidRequest', EsdErrorCode.CIS_INVALID_REQUEST],
    [400, 'OfferDiscontinued', EsdErrorCode.CIS_OFFER_DISCONTINUED],
    [400, 'QuantityOutOfRange', EsdErrorCode.CIS_QUANTITY_OUT_OF_RANGE],
    [401, 'InvalidToken', EsdErrorCode.CIS_UNAUTHORIZED],
    [403, 'ChannelMismatch', EsdErrorCode.CIS_CHANNEL_MISMATCH],
    [404, 'OfferNotFound', EsdErrorCode.CIS_OFFER_NOT_FOUND],
    [404, 'TokenNotFound', EsdErrorCode.CIS_TOKEN_NOT_FOUND],
    [409, 'ClientTransactionIdConflict', EsdErrorCode.CIS_TRANSACTION_CONFLICT],
    [422, 'TokenRedeemed', EsdErrorCode.CIS_TOKEN_REDEEMED],
    [422, 'ReturnWindowExpired', EsdErrorCode.CIS_RETURN_WINDOW_EXPIRED],
    [422, 'NotReturnable', EsdErrorCode.CIS_NOT_RETURNABLE],
  ];

  it.each(table)('%i %s → %s', (status, vendorCode, expected) => {
    const error = cisErrorFromResponse(
      { status, body: vendorBody(vendorCode, 'Some detail', 'ms-corr') },
      POST,
    );
    expect(error).toBeInstanceOf(CisError);
    expect(error).toBeInstanceOf(EsdError);
    expect(error.code).toBe(expected);
    expect(error.message).toBe(ERROR_DESCRIPTIONS[expected].message);
    expect(error.httpStatus).toBe(ERROR_DESCRIPTIONS[expected].httpStatus);
    expect(error.transient).toBe(false);
    expect(error.outcomeUnknown).toBe(false);
    expect(error.vendorCode).toBe(vendorCode);
    expect(error.vendorStatus).toBe(status);
    // Microsoft's echo of the correlation id wins over ours; its message stays in details, not in the sentence.
    expect(error.correlationId).toBe('ms-corr');
    expect(error.requestId).toBe('req-2');
    expect(error.details).toMatchObject({
      vendorMessage: 'Some detail',
      route: POST.route,
      transient: false,
    });
    expect(isTransientCisError(error)).toBe(false);
  });

  it('falls back on the status for unknown vendor codes and unreadable bodies', () => {
    expect(cisErrorFromResponse({ status: 400, body: vendorBody('Weird') }, GET).code).toBe(
      EsdErrorCode.CIS_INVALID_REQUEST,
    );
    expect(cisErrorFromResponse({ status: 401, body: '<html>nope</html>' }, GET).code).toBe(
      EsdErrorCode.CIS_UNAUTHORIZED,
    );
    const notFound = cisErrorFromResponse({ status: 404, body: '' }, GET);
    expect(notFound.code).toBe(EsdErrorCode.CIS_REQUEST_FAILED);
    expect(notFound.vendorCode).toBeUndefined();
    expect(notFound.correlationId).toBe('corr-1');
    expect(notFound.transient).toBe(false);
    expect(cisErrorFromResponse({ status: 302, body: '' }, GET).code).toBe(EsdErrorCode.CIS_REQUEST_FAILED);
  });

  it('accepts an already parsed body', () => {
    const error = cisErrorFromResponse({ status: 403, body: { error: { code: 'ChannelMismatch' } } }, GET);
    expect(error.code).toBe(EsdErrorCode.CIS_CHANNEL_MISMATCH);
  });
});

describe('cisErrorFromResponse: transient answers', () => {
  it('429 is rate limited with the Retry-After in ms, whatever the vendor code', () => {
    const error = cisErrorFromResponse(
      { status: 429, body: vendorBody('InvalidRequest'), retryAfter: '3' },
      POST,
    );
    expect(error.code).toBe(EsdErrorCode.CIS_RATE_LIMITED);
    expect(error.transient).toBe(true);
    expect(error.outcomeUnknown).toBe(false);
    expect(error.retryAfterMs).toBe(3_000);
    expect(isTransientCisError(error)).toBe(true);
  });

  it('5xx is unavailable; the outcome is unknown on a write only', () => {
    for (const status of [500, 502, 503, 504]) {
      const read = cisErrorFromResponse({ status, body: '' }, GET);
      expect(read.code).toBe(EsdErrorCode.CIS_UNAVAILABLE);
      expect(read.transient).toBe(true);
      expect(read.outcomeUnknown).toBe(false);
      const write = cisErrorFromResponse({ status, body: '' }, POST);
      expect(write.outcomeUnknown).toBe(true);
    }
    const statusLookup = cisErrorFromResponse({ status: 500, body: '' }, { ...POST, write: false });
    expect(statusLookup.outcomeUnknown).toBe(false);
    expect(cisErrorFromResponse({ status: 503, body: '', retryAfter: '2' }, GET).retryAfterMs).toBe(2_000);
  });

  it('408 is a timeout the server reported: transient, not sent on', () => {
    const error = cisErrorFromResponse({ status: 408, body: '' }, POST);
    expect(error.code).toBe(EsdErrorCode.CIS_TIMEOUT);
    expect(error.transient).toBe(true);
    expect(error.outcomeUnknown).toBe(false);
  });
});

describe('cisMalformedResponse', () => {
  it('is transient; unknown outcome on writes (the change may have happened)', () => {
    const read = cisMalformedResponse(GET, 200, 'body is not JSON');
    expect(read.code).toBe(EsdErrorCode.CIS_MALFORMED_RESPONSE);
    expect(read.message).toBe(ERROR_DESCRIPTIONS.CIS_MALFORMED_RESPONSE.message);
    expect(read.transient).toBe(true);
    expect(read.outcomeUnknown).toBe(false);
    expect(cisMalformedResponse(POST, 201, 'x').outcomeUnknown).toBe(true);
  });
});

describe('cisErrorFromTransport', () => {
  it('a timeout after sending is CIS_TIMEOUT with an unknown outcome', () => {
    for (const failure of [
      { code: 'ETIMEDOUT' },
      { code: 'ECONNABORTED', message: 'timeout of 500ms exceeded' },
    ]) {
      const error = cisErrorFromTransport(failure, POST);
      expect(error.code).toBe(EsdErrorCode.CIS_TIMEOUT);
      expect(error.transient).toBe(true);
      expect(error.outcomeUnknown).toBe(true);
    }
  });

  it('a dropped connection is CIS_UNAVAILABLE with an unknown outcome', () => {
    for (const code of ['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', undefined]) {
      const error = cisErrorFromTransport({ code, message: 'socket hang up' }, POST);
      expect(error.code).toBe(EsdErrorCode.CIS_UNAVAILABLE);
      expect(error.transient).toBe(true);
      expect(error.outcomeUnknown).toBe(true);
    }
  });

  it('a refused connection never reached Microsoft', () => {
    const error = cisErrorFromTransport({ code: 'ECONNREFUSED', sent: false }, POST);
    expect(error.code).toBe(EsdErrorCode.CIS_UNAVAILABLE);
    expect(error.transient).toBe(true);
    expect(error.outcomeUnknown).toBe(false);
  });

  it('an untrusted TLS certificate needs an administrator, not a retry', () => {
    for (const code of [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      const error = cisErrorFromTransport({ code, sent: false }, GET);
      expect(error.code).toBe(EsdErrorCode.CIS_TLS_NOT_TRUSTED);
      expect(error.transient).toBe(false);
      expect(error.outcomeUnknown).toBe(false);
    }
  });
});

describe('cisErrorFromAuthFailure', () => {
  const table: [number | string, EsdErrorCode][] = [
    [90002, EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT],
    [700016, EsdErrorCode.CIS_AUTH_UNKNOWN_CLIENT],
    [700027, EsdErrorCode.CIS_AUTH_CERTIFICATE_NOT_TRUSTED],
    [7000274, EsdErrorCode.CIS_AUTH_BAD_SIGNATURE],
    [700024, EsdErrorCode.CIS_AUTH_ASSERTION_EXPIRED],
    [500011, EsdErrorCode.CIS_AUTH_INVALID_RESOURCE],
    ['1002012', EsdErrorCode.CIS_AUTH_INVALID_RESOURCE],
  ];

  it.each(table)('AADSTS%s → %s, permanent, the admin sentence as message', (errorNo, expected) => {
    const error = cisErrorFromAuthFailure({ errorCode: 'invalid_client', errorNo, status: 401 });
    expect(error.code).toBe(expected);
    expect(error.message).toBe(ERROR_DESCRIPTIONS[expected].message);
    expect(error.vendorCode).toBe(`AADSTS${errorNo}`);
    expect(error.transient).toBe(false);
    expect(error.outcomeUnknown).toBe(false);
  });

  it('finds the AADSTS code in the message when error_codes is missing', () => {
    const error = cisErrorFromAuthFailure({
      errorCode: 'invalid_request',
      message: 'Error(s): - Description: AADSTS90002: Tenant not found.',
    });
    expect(error.code).toBe(EsdErrorCode.CIS_AUTH_UNKNOWN_TENANT);
    expect(error.vendorCode).toBe('AADSTS90002');
  });

  it('an unreachable, untrusted or failing authority is transient', () => {
    for (const failure of [
      { errorCode: 'network_error' },
      { errorCode: 'endpoints_resolution_error' },
      { errorCode: 'cis_timeout' },
      { errorCode: 'temporarily_unavailable', errorNo: 90033, status: 503 },
      { errorCode: 'server_error', status: 500 },
    ]) {
      const error = cisErrorFromAuthFailure(failure);
      expect(error.code).toBe(EsdErrorCode.CIS_AUTH_AUTHORITY_UNREACHABLE);
      expect(error.transient).toBe(true);
    }
  });

  it('anything else is CIS_AUTH_FAILED', () => {
    for (const failure of [
      { errorCode: 'invalid_client', errorNo: 50013 },
      { errorCode: 'cis_malformed_response' },
      {},
    ]) {
      expect(cisErrorFromAuthFailure(failure).code).toBe(EsdErrorCode.CIS_AUTH_FAILED);
    }
  });
});

describe('readVendorError and CisError', () => {
  it('tolerates every body shape', () => {
    expect(readVendorError('{')).toEqual({});
    expect(readVendorError('[1]')).toEqual({});
    expect(readVendorError({ error: 'flat' })).toEqual({});
    expect(readVendorError({ error: { code: 7, message: 'm' } })).toEqual({ message: 'm' });
    expect(readVendorError(vendorBody('X', 'y'.repeat(2000))).message).toHaveLength(500);
  });

  it('withAttempts keeps every field and records the attempts', () => {
    const error = cisErrorFromResponse(
      { status: 429, body: vendorBody('TooManyRequests'), retryAfter: '1' },
      GET,
    );
    const annotated = error.withAttempts(4);
    expect(annotated.code).toBe(error.code);
    expect(annotated.retryAfterMs).toBe(1_000);
    expect(annotated.correlationId).toBe(error.correlationId);
    expect(annotated.details).toMatchObject({ attempts: 4, route: GET.route, vendorCode: 'TooManyRequests' });
  });
});
