import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEsdJsonLogger } from '../../src/common/logging';
import { CisSandbox } from '../cis/cis-sandbox';
import { ensureRedis } from './redis';
import { startReferenceHost } from './reference-host';

/**
 * `npm start`: the reference host with the plugin loaded by its manifest and, unless CIS_URL points elsewhere,
 * the CIS sandbox (host contract §6).
 */
function secretKeyFor(dataDir: string): { key: string; source: string } {
  if (process.env.ESD_SECRET_KEY) return { key: process.env.ESD_SECRET_KEY, source: 'ESD_SECRET_KEY' };
  const file = path.join(dataDir, 'secret.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return { key: fs.readFileSync(file, 'utf8').trim(), source: file };
}

async function main(): Promise<void> {
  // LOG_FORMAT=json: every line, the host's own included, one JSON object (README, "Operations"); default readable.
  const jsonLogger =
    process.env.LOG_FORMAT === 'json'
      ? createEsdJsonLogger({ logLevels: ['log', 'warn', 'error', 'fatal'] })
      : undefined;
  const log = (line: string) => (jsonLogger ? jsonLogger.log(line, 'ReferenceHost') : console.log(line));
  const dataDir = path.resolve('data');
  const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'esd.sqlite')}`;
  const redis = await ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', log);
  const sandbox = process.env.CIS_URL
    ? undefined
    : await CisSandbox.start({ port: Number(process.env.CIS_PORT ?? 3100), log: () => undefined });
  const secret = secretKeyFor(dataDir);
  const host = await startReferenceHost({
    databaseUrl,
    redisUrl: redis.url,
    secretKey: secret.key,
    port: Number(process.env.PORT ?? 3000),
    ...(jsonLogger ? { logger: jsonLogger } : {}),
  });

  log(
    `Reference host:   ${host.url}   (plugin ${host.plugin.manifest.name} ${host.plugin.manifest.version})`,
  );
  log(`Plugin API:       ${host.url}/esd   health: ${host.url}/esd/health`);
  log(`Database:         ${databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}`);
  log(`Redis:            ${redis.url}${redis.private ? ' (private, started by the host)' : ''}`);
  log(`Sealing key:      from ${secret.source}`);
  if (sandbox) {
    const c = sandbox.credentials;
    log(`CIS sandbox:      ${sandbox.url}`);
    log(`  tenant ${c.tenantId}  client ${c.clientId}  channel ${c.channelId}`);
    log(`  credentials (certificate, key, CA): curl -sk ${sandbox.url}/__sandbox/credentials`);
  } else {
    log(`CIS API:          ${process.env.CIS_URL}`);
  }
  log('Callers: header x-principal: admin | reseller:<accountId> | customer:<accountId>. Ctrl-C stops.');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down…`);
    await host.close();
    await sandbox?.close();
    await redis.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
