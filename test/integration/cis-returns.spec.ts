/**
 * Returns over real HTTPS: the plugin's CisClient against the CIS sandbox's returns route, with the
 * sandbox's redeem and business-clock controls standing in for a customer and for the passing of 30 days.
 */
import { randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import {
  CisClient,
  CisError,
  CisShapeError,
  parseCisReturnAnswer,
  type CisCreateReturnInput,
  type CisCreatedToken,
} from '../../src/cis';
import { EsdErrorCode } from '../../src/common/error-codes';
import type { CatalogEntry } from '../../sandbox/cis/catalog-generator';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import {
  advanceSandboxClock,
  redeemSandboxToken,
  sandboxConnection,
  sandboxControl,
  sandboxStats,
} from '../support/sandbox-control';

const RETURNS_ROUTE = 'POST /channels/:channelId/returns';
const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('CIS returns over HTTPS against the sandbox', () => {
  let sandbox: CisSandbox;
  let client: CisClient;
  let returnableId: string;
  let notReturnableId: string;

  beforeAll(async () => {
    sandbox = await CisSandbox.start({ port: 0, rateLimitPerMinute: 0 });
    client = new CisClient(sandboxConnection(sandbox, { instanceId: 'inst-returns' }), {
      logger: quiet,
      timeoutMs: 5_000,
      retry: { maxAttempts: 4, baseMs: 20, maxMs: 100 },
    });
    const { offers } = await sandboxControl<{ offers: CatalogEntry[] }>(
      sandbox,
      'GET',
      '/__sandbox/catalog?country=IE&language=en-IE',
    );
    returnableId = offers.find((o) => o.isReturnable === true)!.offerId;
    notReturnableId = offers.find((o) => o.isReturnable === false)!.offerId;
  });

  afterEach(async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  });

  afterAll(async () => {
    client?.close();
    await sandbox?.close();
  });

  function buy(offerId = returnableId): Promise<CisCreatedToken> {
    return client.createToken({
      clientTransactionId: randomUUID(),
      offerId,
      country: 'IE',
      language: 'en-IE',
      endCustomer: { name: 'Siobhán Murphy', country: 'IE' },
    });
  }

  function returnOf(token: CisCreatedToken, reason?: string): CisCreateReturnInput {
    return {
      clientTransactionId: randomUUID(),
      tokenClientTransactionId: token.clientTransactionId,
      ...(reason !== undefined ? { reason } : {}),
    };
  }

  async function failure(promise: Promise<unknown>): Promise<CisError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof CisError) return error;
      throw error;
    }
    throw new Error('expected the call to fail');
  }

  function expectRefusal(error: CisError, code: EsdErrorCode, vendorCode: string): void {
    expect([error.code, error.vendorCode, error.vendorStatus]).toEqual([code, vendorCode, 422]);
    expect(error.transient).toBe(false);
    expect(error.outcomeUnknown).toBe(false);
  }

  async function returnCalls(): Promise<number> {
    return (await sandboxStats(sandbox)).callsByRoute[RETURNS_ROUTE] ?? 0;
  }

  it('returns a token: Successful, and the token is ReturnAccepted', async () => {
    const token = await buy();
    const input = returnOf(token, 'Customer changed their mind');
    const done = await client.createReturn(input);
    expect(done).toEqual({
      returnId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      returnStatus: 'Successful',
      tokenStatus: 'ReturnAccepted',
      clientTransactionId: input.clientTransactionId,
      tokenClientTransactionId: token.clientTransactionId,
      replayed: false,
    });
    expect((await client.getToken(token.clientTransactionId))?.tokenStatus).toBe('ReturnAccepted');
    expect(await client.getTokenStatuses([token.clientTransactionId])).toEqual([
      { clientTransactionId: token.clientTransactionId, tokenStatus: 'ReturnAccepted', redeemedAt: null },
    ]);
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(1);
  });

  it('is idempotent on its own transaction id: the same body replays, another body conflicts', async () => {
    const token = await buy();
    const input = returnOf(token, 'Wrong edition');
    const first = await client.createReturn(input);
    const again = await client.createReturn(input);
    expect(again).toEqual({ ...first, replayed: true });
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(1);

    const conflict = await failure(client.createReturn({ ...input, reason: 'Another reason' }));
    expect([conflict.code, conflict.vendorStatus, conflict.transient]).toEqual([
      EsdErrorCode.CIS_TRANSACTION_CONFLICT,
      409,
      false,
    ]);
    // A second return of a token already taken back is refused, and counts nothing.
    const second = await failure(client.createReturn(returnOf(token)));
    expect([second.code, second.vendorCode]).toEqual([
      EsdErrorCode.CIS_TOKEN_ALREADY_RETURNED,
      'TokenAlreadyReturned',
    ]);
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(1);
  });

  it('refuses a redeemed token with CIS_TOKEN_REDEEMED, permanent and not retried', async () => {
    const token = await buy();
    await redeemSandboxToken(sandbox, token.clientTransactionId);
    const error = await failure(client.createReturn(returnOf(token)));
    expectRefusal(error, EsdErrorCode.CIS_TOKEN_REDEEMED, 'TokenRedeemed');
    expect(await returnCalls()).toBe(1);
    expect((await client.getToken(token.clientTransactionId))?.tokenStatus).toBe('Redeemed');
  });

  it('refuses an offer sold as not returnable with CIS_NOT_RETURNABLE', async () => {
    const token = await buy(notReturnableId);
    const error = await failure(client.createReturn(returnOf(token)));
    expectRefusal(error, EsdErrorCode.CIS_NOT_RETURNABLE, 'NotReturnable');
    expect((await client.getToken(token.clientTransactionId))?.tokenStatus).toBe('Activated');
  });

  it('judges the 30-day window by the business clock: day 29 returns, day 31 is ReturnWindowExpired', async () => {
    const early = await buy();
    const late = await buy();
    await advanceSandboxClock(sandbox, 29);
    expect((await client.createReturn(returnOf(early))).returnStatus).toBe('Successful');

    const clock = await advanceSandboxClock(sandbox, 2);
    expect(clock.advancedDays).toBe(31);
    const error = await failure(client.createReturn(returnOf(late)));
    expectRefusal(error, EsdErrorCode.CIS_RETURN_WINDOW_EXPIRED, 'ReturnWindowExpired');

    // A token bought "now" on the moved clock has its own fresh window; sign-in still works.
    const fresh = await buy();
    expect(fresh.createdAt.getTime()).toBeGreaterThan(Date.now() + 30 * 86_400_000);
    expect((await client.createReturn(returnOf(fresh))).returnStatus).toBe('Successful');
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(2);
  });

  it('an unknown token is CIS_TOKEN_NOT_FOUND', async () => {
    const error = await failure(
      client.createReturn({ clientTransactionId: randomUUID(), tokenClientTransactionId: randomUUID() }),
    );
    expect([error.code, error.vendorStatus, error.transient]).toEqual([
      EsdErrorCode.CIS_TOKEN_NOT_FOUND,
      404,
      false,
    ]);
  });

  it('dropAfterCommit: the return is made, the answer lost; the same return again replays it', async () => {
    const token = await buy();
    const input = returnOf(token);
    await sandboxControl(sandbox, 'POST', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      dropAfterCommit: true,
      times: 1,
    });
    const error = await failure(client.createReturn(input));
    expect([error.code, error.outcomeUnknown]).toEqual([EsdErrorCode.CIS_UNAVAILABLE, true]);
    expect(await returnCalls()).toBe(1);
    expect((await client.getToken(token.clientTransactionId))?.tokenStatus).toBe('ReturnAccepted');

    const again = await client.createReturn(input);
    expect(again.replayed).toBe(true);
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(1);
  });

  it('a timeout or a garbled answer writes nothing: the token stays Activated', async () => {
    const token = await buy();
    await sandboxControl(sandbox, 'POST', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      malformed: true,
      times: 1,
    });
    const garbled = await failure(client.createReturn(returnOf(token)));
    expect([garbled.code, garbled.outcomeUnknown]).toEqual([EsdErrorCode.CIS_MALFORMED_RESPONSE, true]);

    const impatient = new CisClient(sandboxConnection(sandbox, { instanceId: 'inst-returns-slow' }), {
      logger: quiet,
      timeoutMs: 300,
    });
    try {
      await impatient.acquireToken();
      await sandboxControl(sandbox, 'POST', '/__sandbox/faults', {
        method: 'POST',
        path: '/returns$',
        timeout: true,
        times: 1,
      });
      const timedOut = await failure(impatient.createReturn(returnOf(token)));
      expect([timedOut.code, timedOut.outcomeUnknown]).toEqual([EsdErrorCode.CIS_TIMEOUT, true]);
    } finally {
      impatient.close();
    }
    expect(await returnCalls()).toBe(2);
    expect((await client.getToken(token.clientTransactionId))?.tokenStatus).toBe('Activated');
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(0);
  });

  it('reset forgets returns and puts the clock back', async () => {
    const token = await buy();
    const input = returnOf(token);
    await client.createReturn(input);
    await advanceSandboxClock(sandbox, 40);
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    expect(
      (await sandboxControl<{ advancedDays: number }>(sandbox, 'GET', '/__sandbox/clock')).advancedDays,
    ).toBe(0);
    expect((await sandboxStats(sandbox)).returnsCreated).toBe(0);
    // The token is gone too, so the same return now finds nothing to return.
    const error = await failure(client.createReturn(input));
    expect(error.code).toBe(EsdErrorCode.CIS_TOKEN_NOT_FOUND);
  });
});

describe('return answers (parse at the edge)', () => {
  it.each<[string, unknown, string]>([
    ['not an object', [], 'return: the answer is not an object'],
    ['no returnId', { returnStatus: 'Successful', tokenStatus: 'ReturnAccepted' }, 'returnId is missing'],
    [
      'another status',
      { returnId: 'r', returnStatus: 'None', tokenStatus: 'Activated' },
      'returnStatus is not Successful; tokenStatus is not ReturnAccepted',
    ],
  ])('refuses %s', (_case, body, reason) => {
    expect(() => parseCisReturnAnswer(body)).toThrow(CisShapeError);
    expect(() => parseCisReturnAnswer(body)).toThrow(reason);
  });
});
