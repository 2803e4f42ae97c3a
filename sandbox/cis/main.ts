import { CisSandbox } from './cis-sandbox';

/**
 * Standalone CIS sandbox: `node dist/sandbox/cis/main.js`. Port from `CIS_PORT` (default 3100), host from
 * `CIS_HOST` (default 127.0.0.1), rate limit from `CIS_RATE_LIMIT_PER_MINUTE`. Prints where to fetch the
 * credentials, never the private key or the PFX password.
 */
async function main(): Promise<void> {
  const port = parsePort(process.env.CIS_PORT);
  const sandbox = await CisSandbox.start({
    host: process.env.CIS_HOST || undefined,
    port,
    log: process.env.CIS_LOG === '0' ? undefined : (line) => console.log(`[cis-sandbox] ${line}`),
  });
  const { tenantId, clientId, channelId, resourceApi } = sandbox.credentials;
  console.log(
    [
      `CIS sandbox listening on ${sandbox.url}`,
      `  tenant ID:    ${tenantId}`,
      `  client ID:    ${clientId}`,
      `  channel ID:   ${channelId}`,
      `  resource API: ${resourceApi}`,
      `  credentials (CA, certificate, key, PFX): GET ${sandbox.url}/__sandbox/credentials`,
      `  (the CA is generated at start: curl -k, or trust caPem from the credentials)`,
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[cis-sandbox] ${signal}: stopping`);
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('[cis-sandbox] stop failed', err instanceof Error ? err.message : err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 3100;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`CIS_PORT: expected a port number 0-65535, got "${raw}"`);
  }
  return port;
}

main().catch((err: unknown) => {
  console.error('[cis-sandbox] failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
