/**
 * `npm run demo`: the whole story so far, end to end through real servers, printed as it happens. It starts the
 * CIS sandbox (HTTPS) and the reference host (the plugin loaded by its manifest, SQLite, local Redis), drives them
 * the way an administrator would, and cleans up what it started.
 */
import axios from 'axios';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CisSandbox } from './cis/cis-sandbox';
import { createClientIdentity } from './cis/test-identity';
import { ensureRedis, RedisHandle } from './host/redis';
import { ReferenceHost, startReferenceHost } from './host/reference-host';
import type { InvoiceView } from './host/invoices';
import type { OrderView } from './host/order-pipeline';
import type { CancellationRequestView, EligibilityView } from '../src/cancellation/cancellation-view';
import type { RevealView } from '../src/licenses/license.dto';
import type { LicenseView } from '../src/licenses/license-view';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let stepNo = 0;
const step = (title: string) => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const say = (line: string) => console.log(`   ${line}`);

/** GET a JSON document; `ca` trusts the sandbox's own CA for its HTTPS controls. */
async function getJson(url: string, ca?: string): Promise<unknown> {
  const response = await axios.get<unknown>(url, { httpsAgent: ca ? new https.Agent({ ca }) : undefined });
  return response.data;
}

/** One call to the reference host's HTTP API, answering status and body whatever the status. */
async function call(
  method: 'get' | 'post' | 'patch',
  url: string,
  headers: Record<string, string>,
  body?: unknown,
  ca?: string,
): Promise<{ status: number; body: unknown }> {
  const response = await axios.request<unknown>({
    method,
    url,
    headers,
    data: body,
    validateStatus: () => true,
    httpsAgent: ca ? new https.Agent({ ca }) : undefined,
  });
  return { status: response.status, body: response.data };
}

/** A progress bar on one terminal line (a plain line at 100% when the output is not a terminal). */
function progressBar(percent: number): void {
  const width = 30;
  const filled = Math.round((percent / 100) * width);
  const bar = `   [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%`;
  if (process.stdout.isTTY) process.stdout.write(`\r${bar}`);
  else if (percent === 100) process.stdout.write(bar);
}

/** An amount in minor units as a person reads it: `€249.00`. */
function money(amountMinor: number, currency: string): string {
  const symbol = currency === 'EUR' ? '€' : `${currency} `;
  return `${symbol}${(amountMinor / 100).toFixed(2)}`;
}

/** A product key with every group but the last hidden — the demo never prints a whole key. */
function maskKey(productKey: string): string {
  const groups = productKey.split('-');
  return [...groups.slice(0, -1).map(() => '*****'), groups[groups.length - 1]].join('-');
}

/**
 * An activation link with its secret hidden: the link carries an activation token (and, at Microsoft, the key),
 * so every query value but the client transaction id keeps only its last five characters.
 */
function maskLink(link: string): string {
  const url = new URL(link);
  const query = [...url.searchParams.entries()]
    .map(([name, value]) => `${name}=${name === 'ctid' ? value : `*****${value.slice(-5)}`}`)
    .join('&');
  return `${url.origin}${url.pathname}${query ? `?${query}` : ''}`;
}

/** The first 8 characters of an id: enough to tell the demo's licenses apart on screen. */
const short = (id: string) => id.slice(0, 8);

/** Fails the demo with what was expected and what the API answered instead. */
function expectStatus(response: { status: number; body: unknown }, expected: number[], what: string): void {
  if (expected.includes(response.status)) return;
  const body = response.body as {
    code?: string;
    message?: string;
    error?: { code?: string; message?: string };
  };
  const code = body?.code ?? body?.error?.code ?? '';
  // An unexpected body is shown as it came, shortened, and with any product key in it masked all the same.
  const message = (body?.message ?? body?.error?.message ?? JSON.stringify(response.body))
    .slice(0, 400)
    .replace(/[0-9A-Z]{5}(-[0-9A-Z]{5}){4}/g, maskKey);
  throw new Error(
    `${what}: expected HTTP ${expected.join(' or ')}, got ${response.status}${code ? ` ${code}` : ''}: ${message}`,
  );
}

/** Polls `probe` until it answers a value, or fails the demo naming what it was waiting for. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Call = (
  method: 'get' | 'post' | 'patch',
  route: string,
  principal: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

interface NotificationView {
  id: string;
  template: string;
  to: { accountId: string; email?: string; name?: string };
  data: Record<string, unknown>;
  dedupeKey: string;
}

/**
 * After the catalog: a reseller's new customer orders 3 licenses, gets them with their welcome e-mails, uses one,
 * and returns another — through the host's and the plugin's HTTP API, as the people involved would.
 */
async function licenseStory(ctx: {
  as: Call;
  sandbox: (method: 'post', route: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
  product: { id: string; code: string; priceMinor: number };
}): Promise<void> {
  const { as, product } = ctx;
  const get = async <T>(route: string, principal: string): Promise<T> => {
    const response = await as('get', route, principal);
    expectStatus(response, [200], `GET ${route} as ${principal}`);
    return response.body as T;
  };

  step('A reseller signs up a new customer (POST /host/accounts)');
  const resellerAccount = await as('post', '/host/accounts', 'admin', {
    name: 'Acropolis IT Reseller',
    email: 'sales@acropolis-it.example',
    country: 'GR',
    locale: 'el-GR',
  });
  expectStatus(resellerAccount, [201], 'creating the reseller account');
  const resellerId = (resellerAccount.body as { accountId: string }).accountId;
  const reseller = `reseller:${resellerId}`;
  say(`reseller Acropolis IT Reseller: account ${resellerId} (created by the provider)`);
  const customerAccount = await as('post', '/host/accounts', reseller, {
    name: 'Eleni Papadopoulou',
    email: 'eleni@papadopoulou-design.example',
    country: 'GR',
    locale: 'el-GR',
  });
  expectStatus(customerAccount, [201], 'creating the customer account');
  const customerId = (customerAccount.body as { accountId: string }).accountId;
  const customer = `customer:${customerId}`;
  say(
    `customer Eleni Papadopoulou <eleni@papadopoulou-design.example>: account ${customerId}, under the reseller`,
  );

  step(`The reseller orders 3 × ${product.code} for the customer (POST /host/orders)`);
  const placed = await as('post', '/host/orders', reseller, {
    customerAccountId: customerId,
    items: [{ productId: product.id, quantity: 3 }],
  });
  expectStatus(placed, [201], 'placing the order');
  const order = placed.body as OrderView;
  const [item] = order.items;
  say(
    `order ${order.id}: ${item.quantity} × ${item.productName} at ${money(item.unitPrice.amountMinor, item.unitPrice.currency)}`,
  );
  if (item.unitPrice.amountMinor !== product.priceMinor)
    throw new Error(
      `the order was priced ${item.unitPrice.amountMinor}, not the ${product.priceMinor} set above`,
    );
  if (item.outcome === 'failed')
    throw new Error(`the order failed: ${item.failure?.code} ${item.failure?.message}`);
  say(
    `the plugin answered ${item.outcome}${item.outcome === 'pending' ? ` (look again in ${item.retryAfterSeconds} s)` : ''}` +
      `: ${item.licenseIds.length} licenses, one Microsoft token each`,
  );
  // A `pending` answer means Microsoft is still being asked: wait for the worker, as the storefront would.
  const licenses = await waitFor('the 3 licenses to be provisioned', async () => {
    const mine = await get<{ items: LicenseView[] }>(`/esd/my/licenses?limit=50`, customer);
    const ours = mine.items.filter((l) => l.hostOrderId === order.id);
    if (ours.some((l) => l.provisioningStatus === 'Failed'))
      throw new Error(`provisioning failed: ${ours.map((l) => l.provisioningError?.message).join('; ')}`);
    return ours.length === 3 && ours.every((l) => l.provisioningStatus === 'Synchronized')
      ? ours.sort((a, b) => a.unitIndex - b.unitIndex)
      : undefined;
  });
  say(`order of 3 done: ${licenses.length} licenses Synchronized`);

  step('The invoice the host issued with the order (GET /host/invoices)');
  const invoices = await get<{ items: InvoiceView[] }>('/host/invoices?type=invoice', reseller);
  const invoice = invoices.items.find((i) => i.orderId === order.id);
  if (!invoice) throw new Error(`no invoice was issued for order ${order.id}`);
  say(
    `invoice ${invoice.id}, billed to the reseller (${invoice.accountId === resellerId ? 'Acropolis IT Reseller' : invoice.accountId})`,
  );
  for (const line of invoice.lines)
    say(
      `  ${line.description}   license ${short(line.licenseId ?? '?')}   ${money(line.amountMinor, line.currency)}`,
    );
  say(`invoice of ${invoice.lines.length} lines, total ${money(invoice.totalMinor, invoice.currency)}`);

  step('The customer looks at the licenses (GET /esd/my/licenses) — keys masked');
  for (const l of licenses)
    say(
      `license ${short(l.id)}  ${l.tokenMasked}  ${l.status}, ${l.provisioningStatus}, token ${l.tokenStatus}`,
    );
  const adminView = await get<{ items: LicenseView[] }>(
    `/esd/licenses?customerAccountId=${customerId}&limit=50`,
    'admin',
  );
  const ctidOf = new Map(adminView.items.map((l) => [l.id, l.clientTransactionId]));
  say(
    dim(`the provider's view (GET /esd/licenses) also shows Microsoft's clientTransactionId of each token`),
  );

  step('The welcome e-mails the plugin asked the host to send (GET /host/notifications) — one per license');
  const welcomes = await waitFor('the 3 welcome notifications', async () => {
    const all = await get<{ items: NotificationView[] }>('/host/notifications?limit=500', 'admin');
    const ours = all.items.filter(
      (n) => n.template === 'esd.welcome' && licenses.some((l) => l.id === n.data.licenseId),
    );
    return ours.length >= 3 ? ours : undefined;
  });
  for (const n of welcomes) {
    const key = String(n.data.productKey);
    const link = String(n.data.activationLink);
    say(`to ${n.to.email ?? n.to.accountId}: ${String(n.data.productName)}`);
    say(`   key ${maskKey(key)}   link ${maskLink(link)}`);
  }
  say(`${welcomes.length} welcome notifications, each with its own key and link (masked here)`);

  const [used, unused] = licenses;
  step(`The provider reveals one key (POST /esd/licenses/${short(used.id)}…/reveal) — audited`);
  const revealed = await as('post', `/esd/licenses/${used.id}/reveal`, 'admin');
  expectStatus(revealed, [200], 'revealing the key');
  const { productKey, activationLink } = revealed.body as RevealView;
  say(`revealed: ${maskKey(productKey)} (full key shown to the admin, masked here)`);
  say(`activation link: ${maskLink(activationLink)} (masked here)`);
  if (used.tokenMasked !== maskKey(productKey))
    throw new Error(`the revealed key does not end like the record's ${used.tokenMasked}`);
  say(`its last group ${productKey.split('-').pop()} is the one the masked record shows: yes`);

  step('The customer enters one key at Microsoft (POST /__sandbox/tokens/:clientTransactionId/redeem)');
  const ctid = ctidOf.get(used.id);
  if (!ctid) throw new Error(`the provider's view of license ${used.id} has no clientTransactionId`);
  const redeemed = await ctx.sandbox('post', `/__sandbox/tokens/${ctid}/redeem`, {});
  expectStatus(redeemed, [200], 'redeeming the token at the sandbox');
  say(`Microsoft: token ${ctid} is ${(redeemed.body as { tokenStatus: string }).tokenStatus}`);
  say(
    'the plugin learns it on its next token-status sync; the provider asks now (POST /esd/licenses/:id/refresh-status):',
  );
  for (const l of licenses) {
    const refreshed = await as('post', `/esd/licenses/${l.id}/refresh-status`, 'admin');
    expectStatus(refreshed, [200], `refreshing license ${l.id}`);
    const view = refreshed.body as LicenseView;
    say(
      `license ${short(l.id)}  ${view.tokenMasked}  token ${view.tokenStatus}${view.redeemedAt ? ` (redeemed ${view.redeemedAt})` : ''}`,
    );
  }
  const after = await get<LicenseView>(`/esd/licenses/${used.id}`, 'admin');
  if (after.tokenStatus !== 'Redeemed')
    throw new Error(`license ${used.id} shows ${after.tokenStatus}, not Redeemed`);
  say(`license ${short(used.id)} is now Redeemed`);

  step('The customer tries to cancel the redeemed license');
  const notEligible = await get<EligibilityView>(`/esd/my/licenses/${used.id}/cancellation`, customer);
  say(
    `GET /esd/my/licenses/${short(used.id)}…/cancellation: eligible ${notEligible.eligible ? 'yes' : 'no'}`,
  );
  for (const reason of notEligible.reasons) say(`  ${reason.code}: ${reason.message}`);
  const attempt = await as('post', `/esd/my/licenses/${used.id}/cancellation-request`, customer, {
    comment: 'I do not need it after all',
  });
  const refused = attempt.body as { code: string; message: string };
  if (attempt.status < 400 || refused.code !== 'TOKEN_REDEEMED')
    throw new Error(
      `cancelling a redeemed license was not refused as redeemed: HTTP ${attempt.status} ${refused.code}`,
    );
  say(`cancellation refused: ${attempt.status} ${refused.code} — ${refused.message}`);

  step('The customer asks to cancel an unused license; the provider accepts');
  const eligibility = await get<EligibilityView>(`/esd/my/licenses/${unused.id}/cancellation`, customer);
  say(
    `license ${short(unused.id)}: eligible ${eligibility.eligible ? 'yes' : 'no'}, return window until ${eligibility.deadline ?? '—'}`,
  );
  if (!eligibility.eligible)
    throw new Error(
      `license ${unused.id} is not eligible: ${eligibility.reasons.map((r) => r.message).join(' ')}`,
    );
  const requested = await as('post', `/esd/my/licenses/${unused.id}/cancellation-request`, customer, {
    comment: 'Ordered one too many',
  });
  expectStatus(requested, [201], 'requesting the cancellation');
  const request = requested.body as CancellationRequestView;
  say(
    `POST /esd/my/licenses/${short(unused.id)}…/cancellation-request → request ${short(request.id)} ${request.status}`,
  );
  const pending = await get<{ items: CancellationRequestView[] }>(
    '/esd/cancellation-requests?status=pending',
    'admin',
  );
  say(
    `the provider's queue (GET /esd/cancellation-requests?status=pending): ${pending.items.length} pending`,
  );
  for (const r of pending.items)
    say(
      `  ${short(r.id)}  ${r.license?.productName ?? r.licenseId}  "${r.comment ?? ''}"  by ${r.requestedBy.role}`,
    );
  const accepted = await as('post', `/esd/cancellation-requests/${request.id}/accept`, 'admin', {
    comment: 'Unused, inside the return window',
  });
  expectStatus(accepted, [200], 'accepting the request');
  say(
    `POST /esd/cancellation-requests/${short(request.id)}…/accept → ${(accepted.body as CancellationRequestView).status}`,
  );
  const cancelled = await waitFor('Microsoft to take the license back', async () => {
    const view = await get<LicenseView>(`/esd/licenses/${unused.id}`, 'admin');
    if (view.returnStatus === 'Rejected' || view.returnStatus === 'Failed')
      throw new Error(`the return ended ${view.returnStatus}: ${view.returnReason?.message}`);
    return view.status === 'cancelled' ? view : undefined;
  });
  say(
    `Microsoft took it back: license ${short(cancelled.id)} ${cancelled.status}, token ${cancelled.tokenStatus}, return ${cancelled.returnStatus}`,
  );

  step('The credit note the host issued (GET /host/invoices?type=credit-note)');
  const credit = await waitFor('the credit note', async () => {
    const notes = await get<{ items: InvoiceView[] }>('/host/invoices?type=credit-note', reseller);
    return notes.items.find((n) => n.lines.some((line) => line.licenseId === unused.id));
  });
  for (const line of credit.lines) say(`  ${line.description}   ${money(line.amountMinor, line.currency)}`);
  const paid = invoice.lines.find((line) => line.licenseId === unused.id);
  if (!paid || paid.amountMinor !== credit.totalMinor)
    throw new Error(`the credit note (${credit.totalMinor}) is not the price paid (${paid?.amountMinor})`);
  say(
    `credit note ${credit.id}: ${money(credit.totalMinor, credit.currency)}, equal to the price paid ` +
      `(${money(paid.amountMinor, paid.currency)})`,
  );
  const told = await waitFor('the customer to be told of the decision', async () => {
    const all = await get<{ items: NotificationView[] }>('/host/notifications?limit=500', 'admin');
    const ours = all.items.filter(
      (n) => n.template.startsWith('esd.cancellation.') && n.data.licenseId === unused.id,
    );
    return ours.some((n) => n.template === 'esd.cancellation.decided') ? ours : undefined;
  });
  say(`the customer was told (GET /host/notifications): ${told.map((n) => n.template).join(', ')}`);

  step("The customer's licenses now");
  const now = await get<{ items: LicenseView[] }>(`/esd/my/licenses?limit=50`, customer);
  for (const l of now.items.sort((a, b) => a.unitIndex - b.unitIndex))
    say(
      `license ${short(l.id)}  ${l.tokenMasked}  ${l.status}, token ${l.tokenStatus}, return ${l.returnStatus}`,
    );
}

async function main(): Promise<void> {
  const started = Date.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esd-demo-'));
  let redis: RedisHandle | undefined;
  let sandbox: CisSandbox | undefined;
  let host: ReferenceHost | undefined;
  try {
    console.log(bold('Microsoft ESD service manager — demo'));
    console.log(
      dim('Everything below runs on this machine: Microsoft is played by the CIS sandbox, over real HTTPS.'),
    );

    step('Start the CIS sandbox, Redis and the reference host');
    sandbox = await CisSandbox.start({ port: 0, log: () => undefined });
    say(`CIS sandbox (Microsoft's stand-in) at ${sandbox.url}, with a CA it generated just now`);
    redis = await ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', say);
    say(`Redis at ${redis.url}${redis.private ? ' (a private redis-server started for the demo)' : ''}`);
    const databaseUrl = `sqlite:${path.join(dataDir, 'esd.sqlite')}`;
    // The demo narrates refusals itself; the host's operator log would only repeat them.
    host = await startReferenceHost({
      databaseUrl,
      redisUrl: redis.url,
      secretKey: randomBytes(32).toString('base64'),
      logger: false,
    });
    const m = host.plugin.manifest;
    say(`Reference host at ${host.url}: read plugin.manifest.json, loaded ${m.module} from ${m.entry}`);
    say(`${m.name} ${m.version}, host contract ${m.hostApi}; migrations ran on ${databaseUrl}`);

    step('Fetch the sandbox identity a distributor gets from Microsoft at onboarding');
    const c = sandbox.credentials;
    say(`tenant ${c.tenantId}`);
    say(`client ${c.clientId}   channel (Bill-To) ${c.channelId}`);
    say(`resource API ${c.resourceApi}   service URL ${c.serviceUrl}`);
    say(dim('plus a certificate, its private key and the CA — never printed'));

    const admin = { 'x-principal': 'admin' };
    const api = (method: 'get' | 'post' | 'patch', route: string, body?: unknown) =>
      call(method, `${host!.url}${route}`, admin, body);
    const connection = {
      resourceApi: c.resourceApi,
      serviceUrl: c.serviceUrl,
      tenantId: c.tenantId,
      channelId: c.channelId,
      clientId: c.clientId,
      authorityHost: c.authorityHost,
      caCertificatePem: c.caPem,
    };

    step('Applications Setup, stage 1: the connection (POST /esd/instances)');
    const created = await api('post', '/esd/instances', {
      systemName: 'Microsoft ESD Greece',
      ...connection,
      environment: 'sandbox',
    });
    const instance = created.body as { id: string; state: string; missing: string[] };
    say(
      `${created.status}: instance ${instance.id} is ${instance.state}; still missing: ${instance.missing.join(', ')}`,
    );

    step('Stage 2: upload the certificate as PFX + password (sealed at rest, never shown again)');
    const withCert = await api('patch', `/esd/instances/${instance.id}`, {
      certificate: { pfxBase64: c.pfxBase64, password: c.pfxPassword },
    });
    const cert = (
      withCert.body as { certificate: { thumbprint: string; subject: string; expiresAt: string } }
    ).certificate;
    say(`${withCert.status}: thumbprint ${cert.thumbprint}`);
    say(`subject ${cert.subject}, expires ${cert.expiresAt}`);

    step('Choose the market among those Microsoft offers this channel (GET /esd/instances/:id/options)');
    const options = (await api('get', `/esd/instances/${instance.id}/options`)).body as {
      markets: Array<{ country: string; currency: string; languages: string[] }>;
    };
    for (const market of options.markets)
      say(`${market.country}  ${market.currency}  ${market.languages.join(', ')}`);
    const chosen = await api('patch', `/esd/instances/${instance.id}`, { country: 'GR', language: 'el-GR' });
    say(`${chosen.status}: GR / el-GR chosen; state ${(chosen.body as { state: string }).state}`);

    step('Test the connection: a token with the certificate, then one read call');
    const test = await api('post', `/esd/instances/${instance.id}/test-connection`);
    for (const s of (test.body as { steps: Array<{ step: string; ok: boolean; message?: string }> }).steps) {
      say(`${s.ok ? '✓' : '✗'} ${s.step}${s.message ? `: ${s.message}` : ''}`);
    }
    const ready = (await api('get', `/esd/instances/${instance.id}`)).body as { state: string };
    say(`the instance is now ${ready.state}`);

    step('One client ID serves one country: the same client ID for Ireland is refused');
    const second = await api('post', '/esd/instances', {
      systemName: 'Microsoft ESD Ireland',
      ...connection,
    });
    const secondId = (second.body as { id: string }).id;
    await api('patch', `/esd/instances/${secondId}`, {
      certificate: { pem: c.certificatePem, privateKeyPem: c.privateKeyPem },
    });
    const conflict = await api('patch', `/esd/instances/${secondId}`, { country: 'IE', language: 'en-IE' });
    const refusal = conflict.body as { code: string; message: string };
    say(`${conflict.status} ${refusal.code}: ${refusal.message}`);

    step(
      'A certificate Microsoft does not know fails the connection test, in words an administrator can act on',
    );
    const stranger = createClientIdentity({ commonName: 'not-registered.example' });
    await api('patch', `/esd/instances/${secondId}`, {
      certificate: { pem: stranger.certificatePem, privateKeyPem: stranger.privateKeyPem },
    });
    const failed = await api('post', `/esd/instances/${secondId}/test-connection`);
    const failure = failed.body as { code: string; message: string };
    say(`${failed.status} ${failure.code}: ${failure.message}`);
    type RunView = {
      id: string;
      status: string;
      progress: number;
      error: string | null;
      result: {
        counts: Record<string, number>;
        new: string[];
        updated: string[];
        discontinued: string[];
        skipped: Array<{ offerId?: string; reason: string }>;
      } | null;
    };
    const runSync = async (): Promise<RunView> => {
      const triggered = await api('post', `/esd/instances/${instance.id}/services-definition`);
      let run = triggered.body as RunView;
      say(`${triggered.status}: run ${run.id} ${run.status}`);
      for (;;) {
        run = (await api('get', `/esd/instances/${instance.id}/services-definition/runs/${run.id}`))
          .body as RunView;
        progressBar(run.progress);
        if (run.status === 'succeeded' || run.status === 'failed') break;
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      process.stdout.write('\n');
      if (run.status === 'failed') throw new Error(`the catalog run failed: ${run.error}`);
      const counts = run.result!.counts;
      say(
        `${run.status}: ${counts.new} new, ${counts.updated} updated, ${counts.discontinued} discontinued, ` +
          `${counts.unchanged} unchanged, ${counts.skipped} skipped`,
      );
      return run;
    };

    step('Get Services Definition: pull the GR / el-GR offers into the host catalog');
    await call(
      'post',
      `${sandbox.url}/__sandbox/catalog`,
      {},
      { country: 'GR', language: 'el-GR', count: 240, seed: 7 },
      c.caPem,
    );
    await runSync();
    const fresh = (await call('get', `${host.url}/host/products?instanceId=${instance.id}&limit=500`, admin))
      .body as {
      items: Array<{
        id: string;
        code: string;
        name: string;
        active: boolean;
        published: boolean;
        returnable: boolean;
        priceMinor: number;
      }>;
    };
    say(
      `the host catalog has ${fresh.items.length} Microsoft ESD products, all inactive, unpublished, priced 0`,
    );
    const views = (await api('get', `/esd/offers?instanceId=${instance.id}&catalogStatus=new&limit=1`))
      .body as {
      items: Array<{ nextSteps: string[] }>;
    };
    say(`next steps for new products: ${views.items[0]?.nextSteps.join(' ')}`);

    step(
      'The administrator activates, prices and publishes two products in the host (PATCH /host/products/:id)',
    );
    // Two returnable products (the first by code, so every run tells the same story), so that the cancellation
    // below can end in a return.
    const returnable = fresh.items.filter((p) => p.returnable).sort((a, b) => a.code.localeCompare(b.code));
    if (returnable.length < 2) throw new Error('the sandbox catalog has fewer than two returnable offers');
    const onSale = [
      { product: returnable[0], priceMinor: 14900 },
      { product: returnable[1], priceMinor: 24900 },
    ];
    for (const [i, { product, priceMinor }] of onSale.entries()) {
      const patched = await call('patch', `${host.url}/host/products/${product.id}`, admin, {
        active: true,
        published: true,
        priceMinor,
      });
      expectStatus(patched, [200], `pricing ${product.code}`);
      const view = patched.body as {
        active: boolean;
        published: boolean;
        priceMinor: number;
        currency: string;
      };
      say(
        `product ${i + 1}: ${product.code}  ${product.name}  → ${money(view.priceMinor, view.currency)}, ` +
          `${view.active ? 'active' : 'inactive'}, ${view.published ? 'published' : 'unpublished'}`,
      );
    }
    say(`2 products on sale; the other ${fresh.items.length - 2} stay inactive until someone prices them`);

    const reviewed = (await api('get', `/esd/offers?instanceId=${instance.id}&catalogStatus=new&limit=500`))
      .body as {
      items: Array<{ id: string; offerId: string }>;
    };
    const done = reviewed.items.filter((o) => onSale.some(({ product }) => product.code === o.offerId));
    const ack = await api('post', '/esd/offers/acknowledge', { ids: done.map((o) => o.id) });
    say(
      `acknowledged in the plugin: ${(ack.body as { acknowledged: string[] }).acknowledged.length} offers are now current`,
    );

    step('Microsoft changes its catalog: 2 new, product 1 renamed, 1 discontinued, 1 gone, 1 corrupt');
    await call(
      'post',
      `${sandbox.url}/__sandbox/catalog`,
      {},
      {
        country: 'GR',
        language: 'el-GR',
        count: 240,
        seed: 7,
        changes: { add: 2, rename: [onSale[0].product.code], discontinue: 1, remove: 1, corrupt: 1 },
      },
      c.caPem,
    );
    const changed = await runSync();
    say(
      `updated: ${changed.result!.updated.join(', ')}   discontinued: ${changed.result!.discontinued.join(', ')}`,
    );
    for (const skipped of changed.result!.skipped)
      say(`skipped ${skipped.offerId ?? '?'}: ${skipped.reason}`);
    const products = (
      await call('get', `${host.url}/host/products?instanceId=${instance.id}&limit=500`, admin)
    ).body as {
      items: Array<{
        code: string;
        name: string;
        priceMinor: number;
        active: boolean;
        catalogStatus: string;
      }>;
    };
    for (const p of products.items.filter((item) => item.code === onSale[0].product.code)) {
      say(
        `${p.code} is now "${p.name}" (${p.catalogStatus}) — still €${(p.priceMinor / 100).toFixed(2)}, active ${p.active}`,
      );
    }

    await licenseStory({
      as: (method, route, principal, body) =>
        call(method, `${host!.url}${route}`, { 'x-principal': principal }, body),
      sandbox: (method, route, body) => call(method, `${sandbox!.url}${route}`, {}, body, c.caPem),
      // Product 1: renamed by Microsoft above, still on sale at its price (and never picked for another change).
      product: { ...onSale[0].product, priceMinor: onSale[0].priceMinor },
    });

    step('Ask the plugin how it is doing (GET /esd/health)');
    const health = (await getJson(`${host.url}/esd/health`)) as {
      status: string;
      checks: Array<{ name: string; status: string }>;
      queues: Record<string, Record<string, number>>;
      problems: string[];
    };
    say(`status ${health.status}: ${health.checks.map((k) => `${k.name} ${k.status}`).join(', ')}`);
    for (const problem of health.problems) say(`- ${problem}`);
    say(
      `queues: ${Object.entries(health.queues)
        .map(([q, n]) => `${q} ${n.waiting ?? 0} waiting`)
        .join(', ')}`,
    );

    const stats = (await getJson(`${sandbox.url}/__sandbox/stats`, sandbox.credentials.caPem)) as {
      tokensCreated: number;
      returnsCreated: number;
      callsByRoute: Record<string, number>;
    };
    step('What Microsoft saw (GET /__sandbox/stats)');
    say(`tokens created: ${stats.tokensCreated}, returns: ${stats.returnsCreated}`);
    for (const [route, n] of Object.entries(stats.callsByRoute)) say(`${route}: ${n}`);

    console.log(`\n${bold('Done')} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    console.log(dim('Next: npm start serves the same host and sandbox to try by hand (see the README).'));
  } finally {
    await host?.close();
    await sandbox?.close();
    await redis?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\nThe demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
