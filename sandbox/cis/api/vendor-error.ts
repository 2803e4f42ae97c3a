import { HttpFailure, type FailureRenderer } from '../route-table';

/** The CIS API's error body (cis-api.md §2). */
export interface VendorErrorBody {
  error: { code: string; message: string; correlationId: string };
}

/** Vendor codes for statuses a fault or the pipeline answers without a more specific reason. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'InvalidRequest',
  401: 'InvalidToken',
  403: 'ChannelMismatch',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export function vendorErrorBody(code: string, message: string, correlationId: string): VendorErrorBody {
  return { error: { code, message, correlationId } };
}

/** A refusal in the vendor's shape, thrown by API pre-steps and handlers. */
export function vendorFailure(
  status: number,
  code: string,
  message: string,
  correlationId: string,
  headers: Record<string, string> = {},
): HttpFailure {
  return new HttpFailure(status, vendorErrorBody(code, message, correlationId), headers);
}

export const renderVendorFailure: FailureRenderer = ({ status, code, message, correlationId }) =>
  vendorErrorBody(code ?? CODE_BY_STATUS[status] ?? `Http${status}`, message, correlationId);
