/**
 * Cancelling licenses end to end on PostgreSQL and Redis, against the CIS sandbox over real HTTPS: eligibility
 * on the plugin's (injected) clock, storefront requests and the provider's decisions through the plugin's routes,
 * the immediate cancel and the `cancel` hook, the Bull worker returning tokens, and what the reference host was
 * handed (events, credit notes, notifications). Licenses come from the real `order` hook. What Microsoft did is read
 * from the sandbox's stats, never from the code under test.
 */
import { randomInt } from 'node:crypto';
import type { Response } from 'supertest';
import {
  HostEventRow,
  HostInvoiceLineRow,
  HostInvoiceRow,
  HostNotificationRow,
} from '../../sandbox/host/host.entities';
import { CancellationRequestEntity } from '../../src/cancellation/cancellation-request.entity';
import { LicenseReturnEntity } from '../../src/cancellation/return.entity';
import { OfferEntity } from '../../src/catalog/offer.entity';
import { AuditEventEntity } from '../../src/common/audit-event.entity';
import type { CancelResult, OrderResult } from '../../src/host/hooks';
import { EsdHooksService } from '../../src/licenses/esd-hooks.service';
import { LicenseEntity } from '../../src/licenses/license.entity';
import { TokenStatusService } from '../../src/licenses/token-status.service';
import { SweeperService } from '../../src/maintenance/sweeper.service';
import { newId } from '../../src/storage/entity-columns';
import { instanceHelpers, type Json } from '../support/instances';
import { orderRequest, seedOffers, type VendorOffer } from '../support/licensing';
import { startPluginApp, type PluginApp } from '../support/plugin-app';
import { asReseller, newAccount, withParties, type OrderParties } from '../support/roles';
import {
  advanceSandboxClock,
  redeemSandboxToken,
  sandboxControl,
  sandboxStats,
  type SandboxStatsAnswer,
} from '../support/sandbox-control';
import { sample } from '../support/metrics';

const MARKET = { country: 'GR', language: 'el-GR' };
const RETURNS_ROUTE = 'POST /channels/:channelId/returns';
const STATUS_ROUTE = 'POST /channels/:channelId/tokens/status';
const DAY_MS = 24 * 60 * 60 * 1000;
const PRICE = { amountMinor: 14900, currency: 'EUR' };
/** `jobRetry.attempts` of the suite: how many times a return job tries before it gives up. */
const JOB_ATTEMPTS = 5;
/** The end customer's name on every order of the suite (`orderRequest`). */
const CUSTOMER_NAME = 'Μαρία Παπαδοπούλου';

/** The plugin's clock, which a test moves; the system clock stays where it is. */
const pluginClock = { offsetMs: 0, now: () => new Date(Date.now() + pluginClock.offsetMs) };

describe('Cancelling licenses (PostgreSQL, Redis, CIS sandbox)', () => {
  let env: PluginApp;
  let hooks: EsdHooksService;
  let instance: Json;
  let offers: VendorOffer[];
  const { call, readyInstance } = instanceHelpers(
    () => env.app,
    () => env.sandbox,
  );
  const stats = (): Promise<SandboxStatsAnswer> => sandboxStats(env.sandbox);
  const returnCalls = (s: SandboxStatsAnswer) => s.callsByRoute[RETURNS_ROUTE] ?? 0;
  const licenseRow = (id: string) => env.dataSource.getRepository(LicenseEntity).findOneByOrFail({ id });
  const returnsOf = (licenseId: string) =>
    env.dataSource
      .getRepository(LicenseReturnEntity)
      .find({ where: { licenseId }, order: { createdAt: 'ASC' } });
  const requestRow = (id: string) =>
    env.dataSource.getRepository(CancellationRequestEntity).findOneByOrFail({ id });
  const returnable = () => offers.find((o) => o.isReturnable && o.status === 'Active' && o.minQuantity <= 1)!;

  /**
   * One license bought through the real `order` hook, Synchronized; with its customer's principal header. With
   * `parties`, for that customer, sold by that reseller and billed to that account.
   */
  async function buy(
    onInstance: Json = instance,
    offer: VendorOffer = returnable(),
    parties?: OrderParties,
  ): Promise<{ license: LicenseEntity; customer: string; who: string }> {
    const base = orderRequest(onInstance.id, offer, 1);
    const request = parties ? withParties(base, parties) : base;
    const result: OrderResult = await hooks.order(request);
    expect(result.outcome).toBe('done');
    const [row] = await env.dataSource
      .getRepository(LicenseEntity)
      .findBy({ hostOrderItemId: request.hostOrderItemId });
    return {
      license: row,
      customer: request.customer.accountId,
      who: `customer:${request.customer.accountId}`,
    };
  }

  /** Polls `read` until `done` holds (the worker finishes in the background). */
  async function until<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`still waiting: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function notificationsOf(template: string, licenseId: string): Promise<HostNotificationRow[]> {
    const rows = await env.dataSource.getRepository(HostNotificationRow).findBy({ template });
    return rows.filter((n) => (JSON.parse(n.data) as { licenseId: string }).licenseId === licenseId);
  }

  /** A notification as the host received it: addressee, dedupe key and data, parsed. */
  const received = (n: HostNotificationRow) => ({
    dedupeKey: n.dedupeKey,
    toAccountId: n.toAccountId,
    to: JSON.parse(n.to) as Json,
    data: JSON.parse(n.data) as Json,
  });

  /** The one decided notification of a license, once the return's hand-over sent it. */
  async function decidedOf(licenseId: string): Promise<ReturnType<typeof received>> {
    const rows = await until(
      () => notificationsOf('esd.cancellation.decided', licenseId),
      (found) => found.length > 0,
    );
    expect(rows).toHaveLength(1);
    return received(rows[0]);
  }

  /** How the end customer of `license` is addressed: account, and the name and e-mail of the order. */
  const customerAddress = (license: LicenseEntity) => ({
    accountId: license.customerAccountId,
    email: `${license.customerAccountId}@example.test`,
    name: CUSTOMER_NAME,
  });

  /** An accepted request once its return has an outcome (executed or failed). */
  const settled = (requestId: string) =>
    until(
      () => requestRow(requestId),
      (r) => r.status !== 'accepted',
    );
  const requestAs = (who: string, licenseId: string, body: unknown = {}) =>
    call('post', `/esd/my/licenses/${licenseId}/cancellation-request`, body, who);
  const withdrawAs = (who: string, licenseId: string) =>
    call('delete', `/esd/my/licenses/${licenseId}/cancellation-request`, undefined, who);
  const eligibilityAs = (who: string, licenseId: string) =>
    call('get', `/esd/my/licenses/${licenseId}/cancellation`, undefined, who);
  const decide = (verdict: 'accept' | 'reject', requestId: string, body: unknown = {}) =>
    call('post', `/esd/cancellation-requests/${requestId}/${verdict}`, body);

  function expectError(res: Response, status: number, code: string): void {
    expect({ status: res.status, code: (res.body as { code?: string }).code }).toEqual({ status, code });
  }

  beforeAll(async () => {
    env = await startPluginApp({
      redisDb: randomInt(1, 16),
      options: {
        orderWaitMs: 15_000,
        jobRetry: { attempts: JOB_ATTEMPTS, baseMs: 50, maxMs: 200 },
        clock: pluginClock,
      },
    });
    hooks = env.app.get(EsdHooksService);
    instance = await readyInstance({}, MARKET);
    offers = await seedOffers(env.dataSource, env.sandbox, instance.id, MARKET, 40);
  }, 60_000);

  afterAll(async () => {
    await env?.close();
  });

  afterEach(async () => {
    pluginClock.offsetMs = 0;
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
  });

  it('eligibility: an issued, unused license may be cancelled until 30 days after its key was created', async () => {
    const { license, who } = await buy();
    const res = await eligibilityAs(who, license.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      eligible: true,
      reasons: [],
      deadline: new Date(license.tokenCreatedAt!.getTime() + 30 * DAY_MS).toISOString(),
      request: null,
    });
    // The record offers the matching actions to each role.
    expect((await call('get', `/esd/my/licenses/${license.id}`, undefined, who)).body.actions).toEqual([
      'reveal',
      'request-cancellation',
    ]);
    expect((await call('get', `/esd/licenses/${license.id}`)).body.actions).toContain('cancel');
    // Not theirs: as if it did not exist. The provider uses its own routes.
    expectError(await eligibilityAs('customer:someone-else', license.id), 404, 'NOT_FOUND');
    expectError(await eligibilityAs('admin', license.id), 403, 'FORBIDDEN');
    expectError(await call('get', '/esd/cancellation-requests', undefined, who), 403, 'FORBIDDEN');
  });

  it('request → accept: license cancelled, token ReturnAccepted, return Successful, credit = the price paid', async () => {
    const { license, customer, who } = await buy();
    const before = await stats();

    const created = await requestAs(who, license.id, { comment: 'Bought the wrong edition.' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      licenseId: license.id,
      status: 'pending',
      requestedBy: { role: 'customer', accountId: customer },
      comment: 'Bought the wrong edition.',
    });
    const requestId = created.body.id as string;
    const received = await notificationsOf('esd.cancellation.requested', license.id);
    expect(received.map((n) => [n.dedupeKey, n.toAccountId])).toEqual([
      [`esd.cancellation.requested:${requestId}`, customer],
    ]);
    const shown = (await eligibilityAs(who, license.id)).body;
    expect(shown).toMatchObject({ eligible: false, request: { id: requestId, status: 'pending' } });
    expect(shown.reasons.map((r: { code: string }) => r.code)).toEqual(['REQUEST_PENDING']);
    // A second pending request for the same license: the database's active key refuses it.
    expectError(await requestAs(who, license.id), 409, 'REQUEST_PENDING');

    const pending = await call('get', `/esd/cancellation-requests?status=pending&instanceId=${instance.id}`);
    expect(pending.status).toBe(200);
    expect(pending.body.items.map((r: Json) => r.id)).toContain(requestId);

    const accepted = await decide('accept', requestId, { comment: 'Refund approved.' });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      id: requestId,
      decidedBy: { role: 'admin', accountId: 'provider' },
      decisionComment: 'Refund approved.',
    });
    const executed = await settled(requestId);
    expect(executed.status).toBe('executed');
    expect(executed.activeLicenseId).toBeNull();

    const after = await licenseRow(license.id);
    expect([after.status, after.tokenStatus, after.returnStatus, after.returnReasonCode]).toEqual([
      'cancelled',
      'ReturnAccepted',
      'Successful',
      null,
    ]);
    const [ret] = await returnsOf(license.id);
    expect(ret.status).toBe('Successful');
    expect(ret.id).toBe(executed.returnId);
    expect(ret.clientTransactionId).not.toBe(license.clientTransactionId);
    expect(ret.vendorReturnId).toEqual(expect.any(String));
    const afterStats = await stats();
    expect(afterStats.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(afterStats) - returnCalls(before)).toBe(1);

    // The host is told: licenseCancelled with the credit, turned into a credit note of the price paid.
    const event = await until(
      () => env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
      (e) => e !== null,
    );
    expect(JSON.parse(event!.payload)).toEqual({
      licenseId: license.id,
      hostOrderId: license.hostOrderId,
      accountId: license.billToAccountId,
      credit: PRICE,
    });
    const line = await env.dataSource
      .getRepository(HostInvoiceLineRow)
      .findOneByOrFail({ licenseId: license.id });
    const note = await env.dataSource.getRepository(HostInvoiceRow).findOneByOrFail({ id: line.invoiceId });
    expect([note.type, note.accountId, note.totalMinor, note.currency]).toEqual([
      'credit-note',
      license.billToAccountId,
      PRICE.amountMinor,
      PRICE.currency,
    ]);
    const decided = await until(
      () => notificationsOf('esd.cancellation.decided', license.id),
      (rows) => rows.length > 0,
    );
    expect(decided).toHaveLength(1);
    expect(decided[0].dedupeKey).toBe(`esd.cancellation.decided:${requestId}:executed`);
    expect(JSON.parse(decided[0].data)).toMatchObject({
      requestId,
      decision: 'accepted',
      outcome: 'executed',
      decisionComment: 'Refund approved.',
      credit: PRICE,
    });
    // The finished return is handed over, so the sweeper has nothing left to redo.
    await until(
      () => env.dataSource.getRepository(LicenseReturnEntity).findOneByOrFail({ id: ret.id }),
      (r) => r.nextAttemptAt === null,
    );

    // Decided: a second decision, a withdrawal and a new request are all refused.
    expectError(await decide('accept', requestId), 409, 'REQUEST_NOT_PENDING');
    expectError(await decide('reject', requestId), 409, 'REQUEST_NOT_PENDING');
    expectError(await withdrawAs(who, license.id), 409, 'REQUEST_NOT_PENDING');
    const closed = await requestAs(who, license.id);
    expectError(closed, 409, 'ALREADY_CANCELLED');

    const audit = await env.dataSource.getRepository(AuditEventEntity).find({ order: { at: 'ASC' } });
    const mine = audit
      .filter((a) => a.subjectId === license.id || a.subjectId === requestId)
      .map((a) => a.action);
    expect(mine).toEqual(
      expect.arrayContaining([
        'cancellation_request.create',
        'license.return_started',
        'license.return_successful',
      ]),
    );
  });

  it('request → withdraw: nothing reaches Microsoft, and withdrawing twice is refused', async () => {
    const { license, who } = await buy();
    const before = await stats();
    const created = await requestAs(who, license.id);
    expect(created.status).toBe(201);
    const withdrawn = await withdrawAs(who, license.id);
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body).toMatchObject({ id: created.body.id, status: 'withdrawn' });
    expectError(await withdrawAs(who, license.id), 409, 'REQUEST_NOT_PENDING');
    expectError(await decide('accept', created.body.id), 409, 'REQUEST_NOT_PENDING');
    // Withdrawn frees the license's key: a new request may follow.
    const again = await requestAs(who, license.id);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(created.body.id);
    expect((await withdrawAs(who, license.id)).status).toBe(200);

    expect((await licenseRow(license.id)).status).toBe('active');
    expect(returnCalls(await stats())).toBe(returnCalls(before));
    expectError(await withdrawAs('customer:someone-else', license.id), 404, 'NOT_FOUND');
  });

  it('three requests for one license at once: one pending request, two 409 REQUEST_PENDING', async () => {
    const { license, who } = await buy();
    const answers = await Promise.all(Array.from({ length: 3 }, () => requestAs(who, license.id)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('REQUEST_PENDING');
    const rows = await env.dataSource
      .getRepository(CancellationRequestEntity)
      .findBy({ licenseId: license.id });
    expect(rows.map((r) => r.status)).toEqual(['pending']);
    expect((await withdrawAs(who, license.id)).status).toBe(200);
  });

  it('request → reject: the license stays active, the requester is told, and the request is closed', async () => {
    const { license, customer, who } = await buy();
    const before = await stats();
    const created = await requestAs(who, license.id, { comment: 'Please refund.' });
    const rejected = await decide('reject', created.body.id, { comment: 'The key was delivered and used.' });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      decidedBy: { role: 'admin' },
      decisionComment: 'The key was delivered and used.',
    });
    const row = await licenseRow(license.id);
    expect([row.status, row.returnStatus]).toEqual(['active', 'None']);
    const [decided] = await notificationsOf('esd.cancellation.decided', license.id);
    expect(decided.toAccountId).toBe(customer);
    expect(JSON.parse(decided.data)).toMatchObject({ decision: 'rejected', outcome: null });
    expectError(await withdrawAs(who, license.id), 409, 'REQUEST_NOT_PENDING');
    expectError(await decide('accept', created.body.id), 409, 'REQUEST_NOT_PENDING');
    expect(returnCalls(await stats())).toBe(returnCalls(before));
  });

  it('a redeemed token is refused before Microsoft is asked, on every path', async () => {
    const { license, who } = await buy();
    await redeemSandboxToken(env.sandbox, license.clientTransactionId);
    const before = await stats();

    // The request refreshes the token's status first, and refuses with the reason.
    const refused = await requestAs(who, license.id);
    expectError(refused, 422, 'TOKEN_REDEEMED');
    expect(refused.body.details.reasons.map((r: Json) => r.code)).toEqual(['TOKEN_REDEEMED']);
    const row = await licenseRow(license.id);
    expect([row.tokenStatus, row.returnStatus, row.returnReasonCode]).toEqual([
      'Redeemed',
      'None',
      'TOKEN_REDEEMED',
    ]);
    expect(row.returnReasonMessage).toMatch(/redeemed on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    const shown = (await eligibilityAs(who, license.id)).body;
    expect(shown.eligible).toBe(false);
    expect(shown.reasons.map((r: Json) => r.code)).toEqual(['TOKEN_REDEEMED']);
    expect((await call('get', `/esd/my/licenses/${license.id}`, undefined, who)).body.actions).toEqual([
      'reveal',
    ]);

    expectError(await call('post', `/esd/licenses/${license.id}/cancel`, {}), 422, 'TOKEN_REDEEMED');
    expect(
      await hooks.cancel({ licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } }),
    ).toMatchObject({ outcome: 'failed', code: 'TOKEN_REDEEMED' });
    expect(
      await hooks.precheck({
        action: 'cancel',
        request: { licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } },
      }),
    ).toMatchObject({ ok: false, violations: [{ code: 'TOKEN_REDEEMED' }] });

    const after = await stats();
    expect(returnCalls(after)).toBe(returnCalls(before));
    expect(after.returnsCreated).toBe(before.returnsCreated);
    expect(await returnsOf(license.id)).toHaveLength(0);
  });

  it('redeemed between the request and the decision: the fresh status check refuses, and the request fails', async () => {
    const { license, customer, who } = await buy();
    const created = await requestAs(who, license.id);
    expect(created.status).toBe(201);
    await redeemSandboxToken(env.sandbox, license.clientTransactionId);
    const before = await stats();

    const accepted = await decide('accept', created.body.id);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      status: 'failed',
      decidedBy: { role: 'admin' },
      failure: { code: 'TOKEN_REDEEMED' },
    });
    const after = await stats();
    expect(after.callsByRoute[STATUS_ROUTE] ?? 0).toBeGreaterThan(before.callsByRoute[STATUS_ROUTE] ?? 0);
    expect(returnCalls(after)).toBe(returnCalls(before));
    const row = await licenseRow(license.id);
    expect([row.status, row.returnStatus, row.returnReasonCode]).toEqual([
      'active',
      'None',
      'TOKEN_REDEEMED',
    ]);
    const [decided] = await notificationsOf('esd.cancellation.decided', license.id);
    expect(decided.toAccountId).toBe(customer);
    expect(JSON.parse(decided.data)).toMatchObject({
      decision: 'accepted',
      outcome: 'failed',
      reason: { code: 'TOKEN_REDEEMED' },
    });
  });

  it('redeemed between the request and the decision, status check unavailable: Microsoft’s refusal is recorded', async () => {
    const { license, customer, who } = await buy();
    const created = await requestAs(who, license.id);
    await redeemSandboxToken(env.sandbox, license.clientTransactionId);
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens/status$',
      status: 503,
    });
    const before = await stats();

    expect((await decide('accept', created.body.id)).status).toBe(200);
    const failed = await settled(created.body.id);
    expect(failed.status).toBe('failed');
    const [ret] = await returnsOf(license.id);
    expect([ret.status, ret.reasonCode]).toEqual(['Rejected', 'TOKEN_REDEEMED']);
    expect(ret.reasonMessage).toMatch(/redeemed.*Microsoft said:/);
    const row = await licenseRow(license.id);
    expect([row.status, row.returnStatus, row.returnReasonCode, row.tokenStatus]).toEqual([
      'active',
      'Rejected',
      'TOKEN_REDEEMED',
      'Redeemed',
    ]);
    const after = await stats();
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
    expect(after.returnsCreated).toBe(before.returnsCreated);
    const view = await call('get', `/esd/cancellation-requests?licenseId=${license.id}`);
    expect(view.body.items[0]).toMatchObject({ status: 'failed', failure: { code: 'TOKEN_REDEEMED' } });

    // The requester hears the outcome once Microsoft answered: accepted by the provider, refused by Microsoft.
    const decided = await decidedOf(license.id);
    expect(decided).toEqual({
      dedupeKey: `esd.cancellation.decided:${created.body.id}:failed`,
      toAccountId: customer,
      to: customerAddress(license),
      data: {
        licenseId: license.id,
        requestId: created.body.id,
        productName: license.productName,
        decision: 'accepted',
        decisionComment: null,
        outcome: 'failed',
        reason: { code: 'TOKEN_REDEEMED', message: ret.reasonMessage },
        credit: null,
      },
    });
    expect(
      await env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
    ).toBeNull();
  });

  it('the plugin’s clock 31 days past the purchase: not eligible, with the deadline that passed', async () => {
    const { license, who } = await buy();
    const before = await stats();
    pluginClock.offsetMs = 31 * DAY_MS;
    const deadline = new Date(license.tokenCreatedAt!.getTime() + 30 * DAY_MS);

    const shown = await eligibilityAs(who, license.id);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ eligible: false, deadline: deadline.toISOString() });
    expect(shown.body.reasons).toEqual([
      {
        code: 'RETURN_WINDOW_EXPIRED',
        message: expect.stringContaining(`closed on ${deadline.toISOString().slice(0, 10)}`),
      },
    ]);
    expect(new Date(shown.body.deadline).getTime()).toBeLessThan(pluginClock.now().getTime());
    const refused = await requestAs(who, license.id);
    expectError(refused, 422, 'RETURN_WINDOW_EXPIRED');
    expect(refused.body.details.deadline).toBe(deadline.toISOString());
    expect(
      await hooks.cancel({ licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } }),
    ).toMatchObject({ outcome: 'failed', code: 'RETURN_WINDOW_EXPIRED' });
    const row = await licenseRow(license.id);
    expect([row.status, row.returnStatus, row.returnReasonCode]).toEqual([
      'active',
      'None',
      'RETURN_WINDOW_EXPIRED',
    ]);
    expect(returnCalls(await stats())).toBe(returnCalls(before));

    // A day before the deadline the same license is eligible again: the clock, not the data, decided.
    pluginClock.offsetMs = 29 * DAY_MS;
    expect((await eligibilityAs(who, license.id)).body.eligible).toBe(true);
  });

  it('an offer that is not returnable: not eligible, and Microsoft is never asked', async () => {
    const offer = offers.find((o) => !o.isReturnable && o.status === 'Active' && o.minQuantity <= 1);
    expect(offer).toBeDefined();
    const { license, who } = await buy(instance, offer);
    const shown = (await eligibilityAs(who, license.id)).body;
    expect(shown.reasons.map((r: Json) => r.code)).toEqual(['NOT_RETURNABLE']);
    expectError(await call('post', `/esd/licenses/${license.id}/cancel`, {}), 422, 'NOT_RETURNABLE');
  });

  it('two concurrent accepts of one request: one decision, one return at Microsoft', async () => {
    const { license, who } = await buy();
    const created = await requestAs(who, license.id);
    const before = await stats();
    const answers = await Promise.all(Array.from({ length: 5 }, () => decide('accept', created.body.id)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('REQUEST_NOT_PENDING');
    await until(
      () => requestRow(created.body.id),
      (r) => r.status === 'executed',
    );
    const after = await stats();
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
    expect(await returnsOf(license.id)).toHaveLength(1);
  });

  it('the cancel hook called again and again (and at once): one return, the same credit every time', async () => {
    const { license } = await buy();
    const before = await stats();
    const cancel = () =>
      hooks.cancel({
        licenseId: license.id,
        requestedBy: { role: 'admin', accountId: 'provider', userId: 'ops' },
        comment: 'Customer called.',
      });
    const results: CancelResult[] = await Promise.all([cancel(), cancel(), cancel()]);
    results.push(await cancel());
    expect(results).toEqual(Array.from({ length: 4 }, () => ({ outcome: 'done', credit: PRICE })));
    const after = await stats();
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
    expect(await returnsOf(license.id)).toHaveLength(1);
    expect(
      await hooks.precheck({
        action: 'cancel',
        request: { licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } },
      }),
    ).toMatchObject({ ok: false, violations: [{ code: 'ALREADY_CANCELLED' }] });
    const events = await until(
      () => env.dataSource.getRepository(HostEventRow).findBy({ id: `licenseCancelled:${license.id}` }),
      (rows) => rows.length > 0,
    );
    expect(events).toHaveLength(1);
    const immediate = await call('post', `/esd/licenses/${license.id}/cancel`, {});
    expect(immediate.status).toBe(200);
    expect(immediate.body).toMatchObject({
      outcome: 'done',
      credit: PRICE,
      license: {
        id: license.id,
        status: 'cancelled',
        returnStatus: 'Successful',
        tokenStatus: 'ReturnAccepted',
      },
    });
    expect(returnCalls(await stats()) - returnCalls(before)).toBe(1);
  });

  it('an immediate cancel with a storefront request pending settles the request with the same return', async () => {
    const { license, who } = await buy();
    const created = await requestAs(who, license.id);
    const res = await call('post', `/esd/licenses/${license.id}/cancel`, { comment: 'Done from the BSS.' });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('done');
    const request = await until(
      () => requestRow(created.body.id),
      (r) => r.status === 'executed',
    );
    expect(request.returnId).toBe(res.body.returnId);
    expect(request.decisionComment).toBe('Done from the BSS.');
  });

  it('a dropped answer after Microsoft took the license back: the same return id is sent again and replayed', async () => {
    const { license } = await buy();
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      dropAfterCommit: true,
      times: 1,
    });
    const before = await stats();
    const result = await hooks.cancel({
      licenseId: license.id,
      requestedBy: { role: 'admin', accountId: 'p' },
    });
    expect(result).toEqual({ outcome: 'done', credit: PRICE });
    const [ret] = await returnsOf(license.id);
    expect([ret.status, ret.attempts]).toEqual(['Successful', 2]);
    const after = await stats();
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(after) - returnCalls(before)).toBe(2);
  });

  it('every answer lost although Microsoft took the license back: the last attempt asks the token status and finishes the return', async () => {
    const { license } = await buy();
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      dropAfterCommit: true,
    });
    const before = await stats();
    const res = await call('post', `/esd/licenses/${license.id}/cancel`, { comment: 'Answers lost.' });
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      outcome: 'done',
      credit: PRICE,
      license: {
        id: license.id,
        status: 'cancelled',
        tokenStatus: 'ReturnAccepted',
        returnStatus: 'Successful',
      },
    });
    const [ret] = await returnsOf(license.id);
    expect([ret.status, ret.attempts, ret.reasonCode, ret.vendorReturnId]).toEqual([
      'Successful',
      JOB_ATTEMPTS,
      null,
      null,
    ]);
    const after = await stats();
    // The first attempt took the key back; the others were replays Microsoft answered, and lost, the same way.
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(after) - returnCalls(before)).toBe(JOB_ATTEMPTS);
    const events = await until(
      () => env.dataSource.getRepository(HostEventRow).findBy({ id: `licenseCancelled:${license.id}` }),
      (rows) => rows.length > 0,
    );
    expect(events).toHaveLength(1);
  });

  it('an instance that accepts on its own: the request is accepted at once and executed', async () => {
    const auto = await readyInstance({ autoAcceptCancellations: true }, MARKET);
    const repo = env.dataSource.getRepository(OfferEntity);
    const mine = await repo.findBy({ instanceId: instance.id });
    await repo.insert(
      mine.map(({ createdAt: _c, updatedAt: _u, ...o }) => ({ ...o, id: newId(), instanceId: auto.id })),
    );
    const { license, customer, who } = await buy(auto);
    const created = await requestAs(who, license.id, { comment: 'Not needed after all.' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'accepted',
      decidedBy: { role: 'system', accountId: null },
    });
    await until(
      () => requestRow(created.body.id),
      (r) => r.status === 'executed',
    );
    expect((await licenseRow(license.id)).status).toBe('cancelled');

    // Told on receipt, and told the outcome with the credit, both addressed to the customer who asked.
    const receipts = (await notificationsOf('esd.cancellation.requested', license.id)).map(received);
    expect(receipts).toEqual([
      {
        dedupeKey: `esd.cancellation.requested:${created.body.id}`,
        toAccountId: customer,
        to: customerAddress(license),
        data: {
          licenseId: license.id,
          requestId: created.body.id,
          productName: license.productName,
          comment: 'Not needed after all.',
        },
      },
    ]);
    expect(await decidedOf(license.id)).toEqual({
      dedupeKey: `esd.cancellation.decided:${created.body.id}:executed`,
      toAccountId: customer,
      to: customerAddress(license),
      data: {
        licenseId: license.id,
        requestId: created.body.id,
        productName: license.productName,
        decision: 'accepted',
        decisionComment: null,
        outcome: 'executed',
        reason: null,
        credit: PRICE,
      },
    });
  });

  it('a return whose job was lost: the sweeper enqueues it again and it completes', async () => {
    const { license } = await buy();
    // A crash between the commit and the enqueue: the row is there, no job is.
    const returnId = newId();
    await env.dataSource.getRepository(LicenseReturnEntity).insert({
      id: returnId,
      licenseId: license.id,
      clientTransactionId: newId(),
      status: 'Pending',
      activeLicenseId: license.id,
      attempts: 0,
      nextAttemptAt: new Date(Date.now() + 60_000),
    });
    await env.dataSource.getRepository(LicenseEntity).update({ id: license.id }, { returnStatus: 'Pending' });
    const sweeper = env.app.get(SweeperService);
    expect((await sweeper.sweepReturns(new Date())).requeued).not.toContain(returnId);
    const swept = await sweeper.sweepReturns(new Date(Date.now() + 2 * 60_000));
    expect(swept.requeued).toContain(returnId);
    await until(
      () => licenseRow(license.id),
      (l) => l.status === 'cancelled',
    );
    await until(
      () => env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
      (e) => e !== null,
    );
  });

  it('the provider’s list pages with a cursor and filters by status and instance', async () => {
    const a = await buy();
    const b = await buy();
    await requestAs(a.who, a.license.id);
    await requestAs(b.who, b.license.id);
    const first = await call(
      'get',
      `/esd/cancellation-requests?status=pending&instanceId=${instance.id}&limit=1`,
    );
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await call(
      'get',
      `/esd/cancellation-requests?status=pending&instanceId=${instance.id}&limit=1&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items).toHaveLength(1);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
    expect([first.body.items[0].licenseId, second.body.items[0].licenseId].sort()).toEqual(
      [a.license.id, b.license.id].sort(),
    );
    expect(first.body.items[0].license).toMatchObject({ instanceId: instance.id, price: PRICE });
    expectError(await call('get', '/esd/cancellation-requests?status=nonsense'), 400, 'VALIDATION_FAILED');
    expectError(
      await requestAs(a.who, a.license.id, { comment: 'x', extra: true }),
      400,
      'VALIDATION_FAILED',
    );
    for (const x of [a, b]) await withdrawAs(x.who, x.license.id);
  });

  it('a reseller requests for its customer (billed to the customer), withdraws, requests again, and is told on receipt and decision', async () => {
    const reseller = newAccount('res');
    const customer = newAccount('cust');
    const { license } = await buy(instance, returnable(), { customer, reseller, billTo: customer });
    // R sees this license only as its reseller: the Bill-To account is the customer's.
    expect([license.customerAccountId, license.billToAccountId, license.resellerAccountId]).toEqual([
      customer,
      customer,
      reseller,
    ]);
    const who = asReseller(reseller);
    const other = asReseller(newAccount('res'));
    const before = await stats();

    expect((await eligibilityAs(who, license.id)).body).toMatchObject({
      eligible: true,
      reasons: [],
      request: null,
    });
    expectError(await eligibilityAs(other, license.id), 404, 'NOT_FOUND');
    expectError(await requestAs(other, license.id), 404, 'NOT_FOUND');

    const first = await requestAs(who, license.id, { comment: 'The customer ordered it twice.' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      licenseId: license.id,
      status: 'pending',
      requestedBy: { role: 'reseller', accountId: reseller },
      comment: 'The customer ordered it twice.',
    });
    expect((await eligibilityAs(who, license.id)).body).toMatchObject({
      eligible: false,
      request: { id: first.body.id, status: 'pending' },
    });
    expectError(await withdrawAs(other, license.id), 404, 'NOT_FOUND');
    const withdrawn = await withdrawAs(who, license.id);
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body).toMatchObject({ id: first.body.id, status: 'withdrawn' });

    const second = await requestAs(who, license.id);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body).toMatchObject({
      status: 'pending',
      requestedBy: { role: 'reseller', accountId: reseller },
    });

    // Receipt: one notification per request, addressed to the reseller's account alone — not to the customer,
    // whose name and e-mail the order gave.
    const receipts = (await notificationsOf('esd.cancellation.requested', license.id))
      .map(received)
      .sort((a, b) => a.dedupeKey.localeCompare(b.dedupeKey));
    const expectedReceipts = [
      { id: first.body.id as string, comment: 'The customer ordered it twice.' },
      { id: second.body.id as string, comment: null },
    ]
      .map(({ id, comment }) => ({
        dedupeKey: `esd.cancellation.requested:${id}`,
        toAccountId: reseller,
        to: { accountId: reseller },
        data: { licenseId: license.id, requestId: id, productName: license.productName, comment },
      }))
      .sort((a, b) => a.dedupeKey.localeCompare(b.dedupeKey));
    expect(receipts).toEqual(expectedReceipts);

    const accepted = await decide('accept', second.body.id, { comment: 'Refund to the customer.' });
    expect(accepted.status).toBe(200);
    await until(
      () => requestRow(second.body.id),
      (r) => r.status === 'executed',
    );
    expect((await requestRow(first.body.id)).status).toBe('withdrawn');
    const row = await licenseRow(license.id);
    expect([row.status, row.tokenStatus, row.returnStatus]).toEqual([
      'cancelled',
      'ReturnAccepted',
      'Successful',
    ]);

    // Decision: to the reseller, for the request that was decided (the withdrawn one hears nothing more).
    expect(await decidedOf(license.id)).toEqual({
      dedupeKey: `esd.cancellation.decided:${second.body.id}:executed`,
      toAccountId: reseller,
      to: { accountId: reseller },
      data: {
        licenseId: license.id,
        requestId: second.body.id,
        productName: license.productName,
        decision: 'accepted',
        decisionComment: 'Refund to the customer.',
        outcome: 'executed',
        reason: null,
        credit: PRICE,
      },
    });
    const all = await env.dataSource.getRepository(HostNotificationRow).find();
    const cancellationNotes = all.filter(
      (n) =>
        n.template.startsWith('esd.cancellation.') &&
        (JSON.parse(n.data) as { licenseId: string }).licenseId === license.id,
    );
    expect(cancellationNotes.map((n) => n.toAccountId)).toEqual([reseller, reseller, reseller]);

    // The credit goes to whoever was billed: the customer.
    const event = await until(
      () => env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
      (e) => e !== null,
    );
    expect(JSON.parse(event!.payload)).toMatchObject({ accountId: customer, credit: PRICE });
    const after = await stats();
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
  });

  it('a transient 503 on POST /returns: the job retries with the same return id, and Microsoft makes one return', async () => {
    const { license } = await buy();
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      status: 503,
      times: 1,
    });
    const before = await stats();
    const result = await hooks.cancel({
      licenseId: license.id,
      requestedBy: { role: 'admin', accountId: 'provider' },
    });
    expect(result).toEqual({ outcome: 'done', credit: PRICE });

    const returns = await returnsOf(license.id);
    expect(returns).toHaveLength(1);
    expect([
      returns[0].status,
      returns[0].attempts,
      returns[0].reasonCode,
      returns[0].activeLicenseId,
    ]).toEqual(['Successful', 2, null, null]);
    const after = await stats();
    // Two calls (the 503, then the answer), one return made.
    expect(returnCalls(after) - returnCalls(before)).toBe(2);
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    // The fault fired, and only once.
    expect(
      (await sandboxControl<{ items: unknown[] }>(env.sandbox, 'get', '/__sandbox/faults')).items,
    ).toEqual([]);
    const row = await licenseRow(license.id);
    expect([row.status, row.tokenStatus, row.returnStatus, row.returnReasonCode]).toEqual([
      'cancelled',
      'ReturnAccepted',
      'Successful',
      null,
    ]);
    await until(
      () => env.dataSource.getRepository(HostEventRow).findBy({ id: `licenseCancelled:${license.id}` }),
      (rows) => rows.length === 1,
    );
  });

  it('Microsoft unavailable for every attempt: RETURN_ATTEMPTS_EXHAUSTED after jobRetry.attempts, the license stays active; cancelling later is safe', async () => {
    const { license, who } = await buy();
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      status: 503,
    });
    const before = await stats();

    const res = await call('post', `/esd/licenses/${license.id}/cancel`, { comment: 'Microsoft is away.' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      outcome: 'failed',
      code: 'RETURN_ATTEMPTS_EXHAUSTED',
      license: {
        id: license.id,
        status: 'active',
        tokenStatus: 'Activated',
        returnStatus: 'Failed',
        returnReason: { code: 'RETURN_ATTEMPTS_EXHAUSTED' },
      },
    });
    expect(res.body.message).toMatch(/after every retry/);
    // The last attempt asked Microsoft whether the key was taken back all the same: it was not.
    expect(res.body.license.returnReason.message).toMatch(/still active: nothing was returned\.$/);
    const [failed] = await returnsOf(license.id);
    expect([
      failed.status,
      failed.reasonCode,
      failed.attempts,
      failed.activeLicenseId,
      failed.vendorReturnId,
    ]).toEqual(['Failed', 'RETURN_ATTEMPTS_EXHAUSTED', JOB_ATTEMPTS, null, null]);
    const after = await stats();
    // One call per job attempt: an outcome-unknown write is never re-sent inside a call.
    expect(returnCalls(after) - returnCalls(before)).toBe(JOB_ATTEMPTS);
    expect(after.returnsCreated).toBe(before.returnsCreated);
    const row = await licenseRow(license.id);
    expect([row.status, row.tokenStatus, row.returnStatus, row.returnReasonCode]).toEqual([
      'active',
      'Activated',
      'Failed',
      'RETURN_ATTEMPTS_EXHAUSTED',
    ]);
    expect(
      await env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
    ).toBeNull();
    // Nothing is under way any more: the customer may ask again.
    expect((await eligibilityAs(who, license.id)).body).toMatchObject({ eligible: true, reasons: [] });

    // Microsoft is back: a new cancel makes a new return, and Microsoft takes the license back once.
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');
    expect(
      await hooks.cancel({ licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } }),
    ).toEqual({ outcome: 'done', credit: PRICE });
    expect((await returnsOf(license.id)).map((r) => r.status)).toEqual(['Failed', 'Successful']);
    const final = await stats();
    expect(final.returnsCreated - before.returnsCreated).toBe(1);
    expect((await licenseRow(license.id)).status).toBe('cancelled');
  });

  it('answers lost and the token status unavailable too: the return fails; once the status sync reports the key taken back, the sweeper reopens the return and it completes', async () => {
    const { license, customer, who } = await buy();
    const created = await requestAs(who, license.id);
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/returns$',
      dropAfterCommit: true,
    });
    await sandboxControl(env.sandbox, 'post', '/__sandbox/faults', {
      method: 'POST',
      path: '/tokens/status$',
      status: 503,
    });
    const before = await stats();
    expect((await decide('accept', created.body.id, { comment: 'Approved.' })).status).toBe(200);
    const failed = await settled(created.body.id);
    expect(failed.status).toBe('failed');
    const [ret] = await returnsOf(license.id);
    expect([ret.status, ret.reasonCode, ret.activeLicenseId]).toEqual([
      'Failed',
      'RETURN_ATTEMPTS_EXHAUSTED',
      null,
    ]);
    await sandboxControl(env.sandbox, 'delete', '/__sandbox/faults');

    // The token status sync learns what Microsoft did; the license is stuck until the return is taken up again:
    // no longer eligible for a new return, yet still active, and its holder not credited.
    await env.app.get(TokenStatusService).refresh([license.id]);
    expect(await licenseRow(license.id)).toMatchObject({ status: 'active', tokenStatus: 'ReturnAccepted' });
    expect((await eligibilityAs(who, license.id)).body).toMatchObject({
      eligible: false,
      reasons: [{ code: 'ALREADY_CANCELLED' }],
    });

    const outcomes = async (outcome: string) =>
      sample((await call('get', '/esd/metrics', undefined, '')).text, 'esd_return_outcomes_total', {
        outcome,
      });
    const [reopenedBefore, successfulBefore] = [await outcomes('reopened'), await outcomes('successful')];
    const sweeper = env.app.get(SweeperService);
    const swept = await sweeper.sweepReturns(new Date());
    expect(swept.reopened).toEqual([ret.id]);
    expect(swept.requeued).toContain(ret.id);
    const cancelled = await until(
      () => licenseRow(license.id),
      (l) => l.status === 'cancelled',
    );
    expect([cancelled.tokenStatus, cancelled.returnStatus, cancelled.returnReasonCode]).toEqual([
      'ReturnAccepted',
      'Successful',
      null,
    ]);
    const [done] = await returnsOf(license.id);
    // The same return, replayed by Microsoft with the id it gave the first time.
    expect([done.id, done.status, done.activeLicenseId]).toEqual([ret.id, 'Successful', null]);
    expect(done.vendorReturnId).not.toBeNull();
    const after = await stats();
    expect(after.returnsCreated - before.returnsCreated).toBe(1);
    expect((await requestRow(created.body.id)).status).toBe('executed');
    await until(
      () => env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
      (e) => e !== null,
    );
    // The requester was told it failed, and is now told it was executed, with the credit.
    const decided = await until(
      () => notificationsOf('esd.cancellation.decided', license.id),
      (rows) => rows.length === 2,
    );
    expect(decided.map((n) => [n.dedupeKey, n.toAccountId, (JSON.parse(n.data) as Json).outcome])).toEqual(
      expect.arrayContaining([
        [`esd.cancellation.decided:${created.body.id}:failed`, customer, 'failed'],
        [`esd.cancellation.decided:${created.body.id}:executed`, customer, 'executed'],
      ]),
    );
    const audit = await env.dataSource
      .getRepository(AuditEventEntity)
      .findBy({ subjectId: license.id, action: 'license.return_reopened' });
    expect(audit).toHaveLength(1);
    // Operators see it in the metrics: one return reopened, one more successful.
    expect(await outcomes('reopened')).toBe(reopenedBefore + 1);
    await until(
      () => outcomes('successful'),
      (n) => n === successfulBefore + 1,
    );
    // Nothing more to reopen.
    expect((await sweeper.sweepReturns(new Date())).reopened).toEqual([]);
  });

  it('Microsoft refuses a return as NotReturnable: return Rejected with the reason, license active, requester told', async () => {
    const offer = offers.find((o) => !o.isReturnable && o.status === 'Active' && o.minQuantity <= 1);
    expect(offer).toBeDefined();
    const { license, customer, who } = await buy(instance, offer);
    // The offer's row has since left the plugin's catalog (its foreign key sets the license's reference to NULL):
    // the plugin cannot judge the terms, so Microsoft, which sold the key as not returnable, does.
    await env.dataSource.getRepository(LicenseEntity).update({ id: license.id }, { offerRefId: null });
    expect((await eligibilityAs(who, license.id)).body).toMatchObject({ eligible: true, reasons: [] });
    const created = await requestAs(who, license.id);
    expect(created.status).toBe(201);
    const before = await stats();

    expect((await decide('accept', created.body.id, { comment: 'Approved.' })).status).toBe(200);
    const closed = await settled(created.body.id);
    expect(closed.status).toBe('failed');
    const returns = await returnsOf(license.id);
    expect(returns).toHaveLength(1);
    const [ret] = returns;
    expect([ret.status, ret.reasonCode, ret.vendorReturnId, ret.activeLicenseId]).toEqual([
      'Rejected',
      'NOT_RETURNABLE',
      null,
      null,
    ]);
    expect(ret.reasonMessage).toContain(`Microsoft said: Offer ${offer!.offerId} does not accept returns.`);
    const after = await stats();
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
    expect(after.returnsCreated).toBe(before.returnsCreated);

    const row = await licenseRow(license.id);
    expect([
      row.status,
      row.tokenStatus,
      row.returnStatus,
      row.returnReasonCode,
      row.returnReasonMessage,
    ]).toEqual(['active', 'Activated', 'Rejected', 'NOT_RETURNABLE', ret.reasonMessage]);
    const record = await call('get', `/esd/licenses/${license.id}`);
    expect(record.body).toMatchObject({
      status: 'active',
      returnStatus: 'Rejected',
      returnReason: { code: 'NOT_RETURNABLE', message: ret.reasonMessage },
    });
    const view = await call('get', `/esd/cancellation-requests?licenseId=${license.id}`);
    expect(view.body.items[0]).toMatchObject({
      id: created.body.id,
      status: 'failed',
      failure: { code: 'NOT_RETURNABLE' },
    });
    expect(await decidedOf(license.id)).toEqual({
      dedupeKey: `esd.cancellation.decided:${created.body.id}:failed`,
      toAccountId: customer,
      to: customerAddress(license),
      data: {
        licenseId: license.id,
        requestId: created.body.id,
        productName: license.productName,
        decision: 'accepted',
        decisionComment: 'Approved.',
        outcome: 'failed',
        reason: { code: 'NOT_RETURNABLE', message: ret.reasonMessage },
        credit: null,
      },
    });
    expect(
      await env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
    ).toBeNull();

    // Microsoft's refusal stands: the eligibility says so, and nobody asks Microsoft again in vain.
    const shown = (await eligibilityAs(who, license.id)).body;
    expect(shown.eligible).toBe(false);
    expect(shown.reasons.map((r: Json) => r.code)).toEqual(['NOT_RETURNABLE']);
    expect(
      await hooks.cancel({ licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } }),
    ).toMatchObject({ outcome: 'failed', code: 'NOT_RETURNABLE' });
    expect(returnCalls(await stats())).toBe(returnCalls(after));
  });

  // Last: the sandbox's clock only moves forward, and would age every token bought before it.
  it('only the sandbox’s clock moved: Microsoft’s ReturnWindowExpired is recorded, the license stays active', async () => {
    const { license, who } = await buy();
    await advanceSandboxClock(env.sandbox, 31);
    const before = await stats();
    // The plugin's clock has not moved: it still finds the license eligible, so Microsoft is asked.
    expect((await eligibilityAs(who, license.id)).body.eligible).toBe(true);

    const res = await call('post', `/esd/licenses/${license.id}/cancel`, { comment: 'Late.' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      outcome: 'failed',
      code: 'RETURN_WINDOW_EXPIRED',
      license: {
        status: 'active',
        returnStatus: 'Rejected',
        returnReason: { code: 'RETURN_WINDOW_EXPIRED' },
      },
    });
    expect(res.body.message).toMatch(/Microsoft said: .*30-day return window/);
    const [ret] = await returnsOf(license.id);
    expect([ret.status, ret.reasonCode, ret.activeLicenseId]).toEqual([
      'Rejected',
      'RETURN_WINDOW_EXPIRED',
      null,
    ]);
    const after = await stats();
    expect(returnCalls(after) - returnCalls(before)).toBe(1);
    expect(after.returnsCreated).toBe(before.returnsCreated);
    // Microsoft's refusal now stands in the eligibility too, so nobody asks it again in vain.
    const shown = (await eligibilityAs(who, license.id)).body;
    expect(shown.eligible).toBe(false);
    expect(shown.reasons.map((r: Json) => r.code)).toEqual(['RETURN_WINDOW_EXPIRED']);
    expect(
      await hooks.cancel({ licenseId: license.id, requestedBy: { role: 'admin', accountId: 'provider' } }),
    ).toMatchObject({ outcome: 'failed', code: 'RETURN_WINDOW_EXPIRED' });
    expect(returnCalls(await stats())).toBe(returnCalls(after));
    expect(
      await env.dataSource.getRepository(HostEventRow).findOneBy({ id: `licenseCancelled:${license.id}` }),
    ).toBeNull();
  });
});
