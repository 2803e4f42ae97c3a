import type { Request } from 'express';
import type { RateLimiter } from '../rate-limiter';
import { requestContext } from '../route-table';
import type { RegisteredClient, SandboxState } from '../sandbox-state';
import { vendorFailure } from './vendor-error';

/** Who is calling an API route, established before any handler runs. */
export interface ApiCaller {
  client: RegisteredClient;
  /** The channel named in the path, already checked against the client's channels. */
  channelId: string;
  correlationId: string;
}

/**
 * The pre-steps of every API route: a known, unexpired bearer token (401 `InvalidToken`), the path's
 * channel among the token client's channels (403 `ChannelMismatch`), then the channel's rate limit (429
 * with `Retry-After`). Refused requests before the limit do not use up the channel's quota.
 */
export function createApiCallerResolver(state: SandboxState, limiter: RateLimiter) {
  return (req: Request): ApiCaller => {
    const correlationId = requestContext(req)?.correlationId ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const client = match ? state.clientForAccessToken(match[1]) : undefined;
    if (!client) {
      throw vendorFailure(
        401,
        'InvalidToken',
        'The access token is missing, unknown or expired.',
        correlationId,
        {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        },
      );
    }
    const channelParam = req.params.channelId;
    const channelId = typeof channelParam === 'string' ? channelParam : '';
    if (!client.channelIds.includes(channelId)) {
      throw vendorFailure(
        403,
        'ChannelMismatch',
        `Client ${client.clientId} is not authorized for channel ${channelId}.`,
        correlationId,
      );
    }
    const verdict = limiter.take(channelId, state.config.rateLimitPerMinute);
    if (!verdict.allowed) {
      throw vendorFailure(
        429,
        'TooManyRequests',
        `Rate limit of ${state.config.rateLimitPerMinute} requests a minute exceeded for channel ${channelId}.`,
        correlationId,
        { 'Retry-After': String(verdict.retryAfterSeconds) },
      );
    }
    return { client, channelId, correlationId };
  };
}
