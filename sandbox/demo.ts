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

    step('The administrator activates, prices and publishes two products in the host');
    for (const [product, price] of [
      [fresh.items[0], 14900],
      [fresh.items[1], 24900],
    ] as const) {
      await call('patch', `${host.url}/host/products/${product.id}`, admin, {
        active: true,
        published: true,
        priceMinor: price,
      });
      say(`${product.code}  ${product.name}  → €${(price / 100).toFixed(2)}, active, published`);
    }

    const reviewed = (await api('get', `/esd/offers?instanceId=${instance.id}&catalogStatus=new&limit=500`))
      .body as {
      items: Array<{ id: string; offerId: string }>;
    };
    const done = reviewed.items.filter((o) => [fresh.items[0].code, fresh.items[1].code].includes(o.offerId));
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
        changes: { add: 2, rename: [fresh.items[0].code], discontinue: 1, remove: 1, corrupt: 1 },
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
    for (const p of products.items.filter((item) => item.code === fresh.items[0].code)) {
      say(
        `${p.code} is now "${p.name}" (${p.catalogStatus}) — still €${(p.priceMinor / 100).toFixed(2)}, active ${p.active}`,
      );
    }

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
      callsByRoute: Record<string, number>;
    };
    step('What Microsoft saw (GET /__sandbox/stats)');
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
