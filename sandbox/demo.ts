/**
 * `npm run demo`: the whole story so far, end to end through real servers, printed as it happens. It starts the
 * CIS sandbox (HTTPS) and the reference host (the plugin loaded by its manifest, SQLite, local Redis), drives them
 * the way an administrator would, and cleans up what it started.
 */
import type { LoggerService } from '@nestjs/common';
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

/** The demo narrates refusals itself; the client's operator log lines would only repeat them. */
const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };

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
    host = await startReferenceHost({
      databaseUrl,
      redisUrl: redis.url,
      secretKey: randomBytes(32).toString('base64'),
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

    step(
      "Sign in to Microsoft's identity platform through the plugin's CIS client (MSAL, certificate assertion)",
    );
    const { CisClient } = host.plugin.exports;
    const client = new CisClient({
      tenantId: c.tenantId,
      clientId: c.clientId,
      channelId: c.channelId,
      resourceApi: c.resourceApi,
      serviceUrl: c.serviceUrl,
      authorityHost: c.authorityHost,
      caCertificatePem: c.caPem,
      certificate: { certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem },
    });
    try {
      const token = await client.acquireToken();
      say(`✓ token issued, valid until ${token.expiresOn.toISOString()} (cached until shortly before that)`);
      const again = await client.acquireToken();
      say(
        `✓ asked again: ${again.fromCache ? 'served from the cache, no second sign-in' : 'signed in again'}`,
      );

      step('List the markets of the channel (GET /channels/{channelId}/markets)');
      const markets = await client.getMarkets();
      for (const market of markets)
        say(`${market.country}  ${market.currency}  ${market.languages.join(', ')}`);
    } finally {
      client.close();
    }

    step('A certificate Microsoft does not know is refused, in words an administrator can act on');
    const stranger = createClientIdentity({ commonName: 'not-registered.example' });
    const refused = new CisClient(
      {
        tenantId: c.tenantId,
        clientId: c.clientId,
        channelId: c.channelId,
        resourceApi: c.resourceApi,
        serviceUrl: c.serviceUrl,
        authorityHost: c.authorityHost,
        caCertificatePem: c.caPem,
        certificate: { certificatePem: stranger.certificatePem, privateKeyPem: stranger.privateKeyPem },
      },
      { logger: quiet },
    );
    try {
      await refused.acquireToken();
      say('unexpected: the sandbox accepted an unregistered certificate');
      process.exitCode = 1;
    } catch (error) {
      const e = error as { code?: string; message?: string };
      say(`✗ ${e.code}: ${e.message}`);
    } finally {
      refused.close();
    }

    step('Ask the plugin how it is doing (GET /esd/health)');
    const health = (await getJson(`${host.url}/esd/health`)) as {
      status: string;
      checks: Array<{ name: string; status: string }>;
      queues: Record<string, Record<string, number>>;
    };
    say(`status ${health.status}: ${health.checks.map((k) => `${k.name} ${k.status}`).join(', ')}`);
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
