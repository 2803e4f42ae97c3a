import type { Response, Router } from 'express';
import type { SandboxState } from '../sandbox-state';
import { parseClockAdvance, parseRedeem } from './control-schemas';

/**
 * `POST /__sandbox/tokens/:clientTransactionId/redeem?channelId=` marks a token Redeemed (what a customer
 * entering the key does), with `redeemedAt` from the business clock; redeeming again keeps the first time.
 * Without `channelId` the id is looked up on every channel. 404 `TokenNotFound` when unknown, 409
 * `TokenReturned` once returned, 400 `AmbiguousToken` when several channels hold the id. The answer never
 * carries the product key.
 *
 * `GET /__sandbox/clock` and `POST /__sandbox/clock { advanceDays }`: the business clock (return window,
 * creation and redemption times) — never access-token or assertion expiry.
 */
export function registerTokenControls(router: Router, deps: { state: SandboxState }): void {
  const { state } = deps;

  router.post('/tokens/:clientTransactionId/redeem', (req, res) => {
    const parsed = parseRedeem(req.body);
    if (!parsed.ok) {
      refuse(res, 400, 'InvalidControlRequest', parsed.reason);
      return;
    }
    const channelId: unknown = req.query.channelId;
    if (channelId !== undefined && typeof channelId !== 'string') {
      refuse(res, 400, 'InvalidControlRequest', 'channelId must be a single string');
      return;
    }
    const id = req.params.clientTransactionId;
    const matches = state.ledger
      .tokensWithId(id)
      .filter((t) => channelId === undefined || t.channelId === channelId);
    if (matches.length === 0) {
      refuse(res, 404, 'TokenNotFound', `no token has client transaction id ${id}`);
      return;
    }
    if (matches.length > 1) {
      refuse(res, 400, 'AmbiguousToken', `several channels hold ${id}; name one with ?channelId=`);
      return;
    }
    const token = matches[0];
    if (token.tokenStatus === 'ReturnAccepted') {
      refuse(res, 409, 'TokenReturned', `token ${id} was returned and can no longer be redeemed`);
      return;
    }
    token.tokenStatus = 'Redeemed';
    token.redeemedAt ??= state.clock.now();
    res.json({
      channelId: token.channelId,
      clientTransactionId: token.clientTransactionId,
      tokenStatus: token.tokenStatus,
      redeemedAt: token.redeemedAt.toISOString(),
    });
  });

  router.get('/clock', (_req, res) => {
    res.json(state.clock.view());
  });

  router.post('/clock', (req, res) => {
    const parsed = parseClockAdvance(req.body);
    if (!parsed.ok) {
      refuse(res, 400, 'InvalidControlRequest', parsed.reason);
      return;
    }
    state.clock.advanceDays(parsed.value.advanceDays);
    res.json(state.clock.view());
  });
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
