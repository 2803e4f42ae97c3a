/**
 * The reference host's console (`GET /`) in a real browser: Debian's Chromium driven by playwright-core against
 * the reference host started in-process (SQLite, a Redis database of this suite's own) and an in-process CIS
 * sandbox. The walk is the administrator's: set up an instance in two stages, Get Services Definition with the
 * progress bar reaching 100%, put a product on sale, order one license for a new customer, see it with its key
 * masked and reveal it, then a customer's cancellation request accepted. Every step is done by clicking in the
 * page; what the page claims is checked against the API. The screenshot lands in `test-output/console.png`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { startReferenceHost, type ReferenceHost } from '../../sandbox/host/reference-host';
import { QUEUES } from '../../src/constants';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import type { VendorOffer } from '../support/licensing';
import { sandboxControl } from '../support/sandbox-control';
import { requireService } from '../support/services';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT_DIR = path.resolve(__dirname, '../../test-output');
const MARKET = { country: 'GR', language: 'el-GR' };
const OFFER_COUNT = 40;
const SYSTEM_NAME = 'Console GR';
const MASKED_KEY = /^\*{5}-\*{5}-\*{5}-\*{5}-[A-Z0-9]{5}$/;
const PRODUCT_KEY = /^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$/;

/** The browser is a test dependency like PostgreSQL: missing, the suite fails saying how to get it. */
/**
 * A Redis database no one is using (1–15), so no other suite's worker, in this run or another one on the machine,
 * takes this host's jobs: the reference host's queues use no prefix of their own.
 */
async function emptyRedisDatabase(base: string): Promise<string> {
  const redis = new Redis(base, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const free: number[] = [];
    for (let db = 1; db < 16; db++) {
      await redis.select(db);
      if ((await redis.dbsize()) === 0) free.push(db);
    }
    const db = free.length > 0 ? free[randomInt(free.length)] : randomInt(1, 16);
    const url = new URL(base);
    url.pathname = `/${db}`;
    return url.toString();
  } finally {
    redis.disconnect();
  }
}

function requireChromium(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; the console's browser test needs it. ` +
        'Install it with: apt-get install -y chromium',
    );
  }
}

describe('Reference host console in Chromium (SQLite, Redis, CIS sandbox)', () => {
  let db: TestDatabase;
  let sandbox: CisSandbox;
  let host: ReferenceHost;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let redisUrl: string;
  const pageProblems: string[] = [];

  const api = (method: 'get' | 'post', url: string, who = 'admin') =>
    request(host.url)[method](url).set('x-principal', who);

  /** Waits until the status line `id` says `text`; on a timeout, says what it said instead. */
  async function statusSays(id: string, text: string, timeout = 20_000): Promise<string> {
    const line = page.locator(`#${id}`);
    try {
      await page.locator(`#${id}:has-text(${JSON.stringify(text)})`).waitFor({ timeout });
    } catch {
      throw new Error(`#${id} never said "${text}"; it says: ${await line.textContent()}`);
    }
    return (await line.textContent()) ?? '';
  }

  beforeAll(async () => {
    requireChromium();
    redisUrl = await emptyRedisDatabase(await requireService('redis'));
    db = await createTestDatabase('sqlite');
    sandbox = await CisSandbox.start({ rateLimitPerMinute: 0, log: () => undefined });
    host = await startReferenceHost({
      databaseUrl: db.url,
      redisUrl,
      secretKey: randomBytes(32).toString('base64'),
    });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'esd-console-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A 4xx is an answer the page shows (a customer may not list instances); anything else is a fault.
      const answered = /^Failed to load resource: the server responded with a status of 4\d\d/;
      if (message.type() === 'error' && !answered.test(message.text()))
        pageProblems.push(`console error: ${message.text()}`);
    });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    // The Redis database was empty when chosen: leave it so (repeatable jobs included) for whoever comes next.
    for (const name of host ? Object.values(QUEUES) : []) {
      await host.app
        .get<Queue>(getQueueToken(name))
        .obliterate({ force: true })
        .catch(() => undefined);
    }
    await host?.close();
    await sandbox?.close();
    await db?.drop();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  it('walks instance → Get Services Definition → product on sale → order → masked license → cancellation', async () => {
    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    try {
      await walk();
    } catch (error) {
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'console-failure.png'), fullPage: true });
      throw error;
    }
  }, 120_000);

  async function walk(): Promise<void> {
    // The page, with a policy that allows its own script and nothing else.
    const response = await page.goto(`${host.url}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(await page.title()).toBe('Microsoft ESD — reference host console');
    await statusSays('instances-msg', '0 instance(s).');

    // Applications Setup in two stages, from the sandbox's credentials pasted into the page.
    await page.locator('#setup > summary').click();
    await page.getByLabel('Sandbox credentials').fill(JSON.stringify(sandbox.credentials));
    await page.getByRole('button', { name: 'Fill the form' }).click();
    await statusSays('setup-msg', 'Both stages filled');
    expect(await page.getByLabel('Sandbox credentials').inputValue()).toBe('');
    await page.getByLabel('System name').fill(SYSTEM_NAME);
    await page.getByRole('button', { name: 'Create draft instance' }).click();
    await statusSays('setup-msg', `Draft instance ${SYSTEM_NAME} created`);
    await page.getByRole('button', { name: 'Upload certificate and load markets' }).click();
    await statusSays('setup-msg', 'Certificate stored.');
    expect(await page.getByLabel('Private key PEM').inputValue()).toBe('');
    await page.getByLabel('Market').selectOption(`${MARKET.country}|${MARKET.language}`);
    await page.getByRole('button', { name: 'Save market and test connection' }).click();
    await statusSays('setup-msg', 'Connection test passed: the instance is ready.');
    const instances = (await api('get', '/esd/instances').expect(200)).body as {
      items: Array<{ id: string; systemName: string; state: string; country: string; language: string }>;
    };
    expect(instances.items).toEqual([
      expect.objectContaining({ systemName: SYSTEM_NAME, state: 'ready', ...MARKET }),
    ]);
    const instanceId = instances.items[0].id;
    await page.locator(`tr[data-instance-id="${instanceId}"] td.state-ready`).waitFor();

    // Get Services Definition: the bar is followed from the page's own rendering, value by value.
    const { offers } = await sandboxControl<{ offers: VendorOffer[] }>(
      sandbox,
      'post',
      '/__sandbox/catalog',
      {
        ...MARKET,
        count: OFFER_COUNT,
        seed: randomInt(1, 1_000_000),
      },
    );
    await page.evaluate(`(() => {
      const bar = document.getElementById('run-progress');
      window.progressSeen = [];
      new MutationObserver(() => window.progressSeen.push(Number(bar.getAttribute('aria-valuenow'))))
        .observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    })()`);
    // Each vendor call slowed for this run only, so the bar stands between 0 and 100 long enough to be seen.
    await sandboxControl(sandbox, 'post', '/__sandbox/config', { latencyMs: 1000 });
    const runStarted = Date.now();
    await page.getByRole('button', { name: `Get Services Definition for ${SYSTEM_NAME}` }).click();
    try {
      await page.locator('[role="progressbar"][aria-valuenow="100"]').waitFor({ timeout: 60_000 });
    } catch (error) {
      const runs = await api('get', `/esd/instances/${instanceId}/services-definition/runs`);
      throw new Error(`the progress bar never reached 100 (Redis ${redisUrl}); runs: ${runs.text}`, {
        cause: error,
      });
    }
    await statusSays('run-msg', 'Run succeeded.');
    const runMs = Date.now() - runStarted;
    await sandboxControl(sandbox, 'post', '/__sandbox/config', { latencyMs: 0 });
    const seen = await page.evaluate<number[]>('window.progressSeen');
    expect(seen[seen.length - 1]).toBe(100);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.some((value) => value > 0 && value < 100)).toBe(true);
    expect(await page.locator('#run-result .counts').textContent()).toBe(
      `New: ${OFFER_COUNT}Updated: 0Discontinued: 0Unchanged: 0Skipped: 0`,
    );
    const listedNew = await page.locator('#run-new li').allTextContents();
    expect([...listedNew].sort()).toEqual(offers.map((o) => o.offerId).sort());
    console.log(
      `console.spec: Get Services Definition of ${OFFER_COUNT} offers, progress seen ${seen.join(' → ')} in ${runMs} ms`,
    );

    // The catalog's new offers, each beside its host product: activate, price and publish one.
    const offer = offers.find((o) => o.isReturnable && o.minQuantity <= 1 && o.status === 'Active');
    if (!offer) throw new Error('the generated catalog has no returnable offer selling one at a time');
    const catalogForm = page.locator('#catalog-form');
    await catalogForm.getByLabel('Instance').selectOption(instanceId);
    await catalogForm.getByLabel('Status').selectOption('new');
    await catalogForm.getByRole('button', { name: 'Show' }).click();
    await statusSays('catalog-msg', `${OFFER_COUNT} new offer(s).`);
    expect(await page.locator('#catalog-rows tr').count()).toBe(OFFER_COUNT);
    const row = page.locator(`#catalog-rows tr[data-offer-id="${offer.offerId}"]`);
    await row.getByLabel('Active').check();
    await row.getByLabel('Published').check();
    await row.getByLabel('Price (EUR)').fill('149.00');
    await row.getByRole('button', { name: `Save ${offer.name}` }).click();
    await statusSays('catalog-msg', `Saved ${offer.offerId}: active, published, 149.00 EUR.`);
    const products = (await api('get', `/host/products?instanceId=${instanceId}&limit=500`).expect(200))
      .body as {
      items: Array<{ id: string; code: string; active: boolean; published: boolean; priceMinor: number }>;
    };
    const product = products.items.find((p) => p.code === offer.offerId);
    expect(product).toMatchObject({ active: true, published: true, priceMinor: 14900 });
    expect(products.items.filter((p) => p.active || p.published || p.priceMinor > 0)).toHaveLength(1);

    // A new customer, and an order of one from the page.
    await page.getByLabel('Name', { exact: true }).fill('Μαρία Παπαδοπούλου');
    await page.getByLabel('Email').fill(`maria-${randomBytes(3).toString('hex')}@example.test`);
    await page.getByRole('button', { name: 'Create account' }).click();
    await statusSays('account-msg', 'created for Μαρία Παπαδοπούλου');
    const customerId = await page.getByLabel('Customer account ID').inputValue();
    expect(customerId).toMatch(/^[0-9a-f-]{36}$/);
    await page.locator(`#order-product option[value="${product!.id}"]`).waitFor({ state: 'attached' });
    await page.getByLabel('Product', { exact: true }).selectOption(product!.id);
    await page.getByLabel('Quantity').fill('1');
    await page.getByRole('button', { name: 'Place order' }).click();
    await statusSays('order-msg', 'placed: done.', 30_000);
    const outcome = await page.locator('#order-result li[data-outcome="done"]').textContent();
    const licenseId = /license\(s\) ([0-9a-f-]{36})/.exec(outcome ?? '')?.[1];
    expect(licenseId).toBeDefined();
    const license = (await api('get', `/esd/licenses/${licenseId}`).expect(200)).body as {
      customerAccountId: string;
      provisioningStatus: string;
      tokenMasked: string;
    };
    expect(license).toMatchObject({ customerAccountId: customerId, provisioningStatus: 'Synchronized' });
    expect(license.tokenMasked).toMatch(MASKED_KEY);

    // The license in the list with its key masked; the key shows only after Reveal, and goes again on Hide.
    const licenseRow = page.locator(`#licenses-rows tr[data-license-id="${licenseId}"]`);
    await licenseRow.waitFor();
    expect(await licenseRow.locator('code.key-masked').textContent()).toBe(license.tokenMasked);
    const beforeReveal = await page.content();
    await licenseRow.getByRole('button', { name: /^Reveal the key of / }).click();
    await statusSays('licenses-msg', 'Key revealed');
    const key = (await licenseRow.locator('code.key-revealed').textContent()) ?? '';
    expect(key).toMatch(PRODUCT_KEY);
    expect(key.slice(-5)).toBe(license.tokenMasked.slice(-5));
    expect(beforeReveal).not.toContain(key);
    expect(await page.evaluate<string>('JSON.stringify([localStorage.length, sessionStorage.length])')).toBe(
      '[0,0]',
    );
    await licenseRow.getByRole('button', { name: /^Hide key of / }).click();
    expect(await licenseRow.locator('code.key-masked').textContent()).toBe(license.tokenMasked);
    expect(await page.content()).not.toContain(key);
    const screenshot = path.join(OUTPUT_DIR, 'console.png');
    fs.rmSync(screenshot, { force: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    // A PNG of the page as it stands, not an empty file: the signature and a size a blank page never has.
    const png = fs.readFileSync(screenshot);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);

    // The customer asks to cancel; the admin accepts in the cancellation requests.
    await page.getByLabel('Act as').selectOption('customer');
    await page.getByLabel('Account ID', { exact: true }).fill(customerId);
    await page.getByRole('button', { name: 'Switch' }).click();
    await statusSays('principal-msg', `x-principal: customer:${customerId}`);
    await statusSays('licenses-msg', '1 license(s).');
    await licenseRow.getByRole('button', { name: /^Request cancellation of / }).click();
    await statusSays('licenses-msg', 'Cancellation requested: pending.');
    await page.getByLabel('Act as').selectOption('admin');
    await statusSays('principal-msg', 'x-principal: admin');
    await statusSays('cancellations-msg', '1 request(s).');
    const requestRow = page.locator('#cancellations-rows tr').first();
    expect(await requestRow.textContent()).toContain(licenseId);
    await requestRow.getByRole('button', { name: /^Accept the request for / }).click();
    const decided = await statusSays('cancellations-msg', 'Request for ');
    expect(decided).toMatch(/: (accepted|executed)\.$/);
    const requests = (await api('get', `/esd/cancellation-requests?licenseId=${licenseId}`).expect(200))
      .body as { items: Array<{ status: string; decidedBy?: { role: string } }> };
    expect(requests.items).toEqual([
      expect.objectContaining({
        status: expect.stringMatching(/^(accepted|executed)$/),
        decidedBy: expect.objectContaining({ role: 'admin' }),
      }),
    ]);

    // Every field has a label; nothing in the page failed (a script blocked by the policy would show here).
    const unlabelled = await page.evaluate<
      string[]
    >(`[...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.id || el.outerHTML)`);
    expect(unlabelled).toEqual([]);
    expect(pageProblems).toEqual([]);
  }
});
