import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createApiCallerResolver, type ApiCaller } from './api/api-caller';
import { registerMarketsRoutes } from './api/markets.routes';
import { registerOffersRoutes } from './api/offers.routes';
import { registerReturnsRoutes } from './api/returns.routes';
import { registerTokensRoutes } from './api/tokens.routes';
import { renderVendorFailure } from './api/vendor-error';
import { createControlsRouter } from './controls/controls.router';
import { FaultInjector } from './fault-injector';
import { createFrontDoor } from './front-door';
import { renderAadFailure } from './identity-provider/aad-error';
import {
  createIdpCallerResolver,
  registerIdentityProviderRoutes,
  type IdpCaller,
} from './identity-provider/identity-provider.routes';
import { RateLimiter } from './rate-limiter';
import { deliver, requestContext, RouteTable } from './route-table';
import { SandboxState, type SandboxConfig } from './sandbox-state';
import { createClientIdentityAsync, createSandboxPki, packPfx, type SandboxPki } from './test-identity';

/** Options of {@link CisSandbox.start}. */
export interface CisSandboxOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port; default 0 (a free one). */
  port?: number;
  /** API requests a minute per channel; default env `CIS_RATE_LIMIT_PER_MINUTE`, else 500; 0 turns it off. */
  rateLimitPerMinute?: number;
  /** Latency added to every API and identity-provider request; default 0. */
  latencyMs?: number;
  /** Receives one line per API / identity-provider request (method, path, status, time; never a secret). */
  log?: (line: string) => void;
  /** Ids of the built-in test identity; defaults are fixed so a configuration outlives a restart. */
  tenantId?: string;
  clientId?: string;
  channelId?: string;
  /** Application ID URI of the API; default {@link SANDBOX_DEFAULTS}.resourceApi. */
  resourceApi?: string;
}

/**
 * The connection settings and the test identity the sandbox trusts (`GET /__sandbox/credentials`):
 * what an administrator would type into the plugin's instance form, plus the CA of the sandbox's HTTPS
 * certificate. `privateKeyPem`, `pfxBase64` and `pfxPassword` are secrets: never log them.
 */
export interface CisSandboxCredentials {
  tenantId: string;
  clientId: string;
  channelId: string;
  /** Application ID URI; the token scope is `{resourceApi}/.default`. */
  resourceApi: string;
  /** Base URL of the CIS API (the sandbox serves it at its origin's root). */
  serviceUrl: string;
  /** Origin of the identity provider: the authority is `{authorityHost}/{tenantId}`. */
  authorityHost: string;
  /** CA certificate that signed the sandbox's HTTPS certificate. */
  caPem: string;
  /** Client certificate registered for `clientId`. */
  certificatePem: string;
  privateKeyPem: string;
  /** The same certificate and key as a PFX (3DES), base64. */
  pfxBase64: string;
  pfxPassword: string;
}

/** Ids and resource of the built-in test identity, unless the options say otherwise. */
export const SANDBOX_DEFAULTS = {
  tenantId: '2f4a9c1e-7b3d-4e58-9a6f-0c1d2e3f4a5b',
  clientId: '8e1d2c3b-4a59-4f6e-8d7c-9b0a1f2e3d4c',
  channelId: '1000012345',
  resourceApi: 'https://cis.sandbox.esd.local',
  rateLimitPerMinute: 500,
  accessTokenLifetimeSeconds: 3599,
} as const;

/**
 * A stateful stand-in for Microsoft's CIS ESD API and its identity provider over real HTTPS
 * (cis-api.md §1–§3, host-contract.md §6). Start it in-process with {@link CisSandbox.start} or as a
 * process with `node dist/sandbox/cis/main.js`.
 */
export class CisSandbox {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: https.Server,
    private readonly state: SandboxState,
    private readonly faults: FaultInjector,
    /** Aborted on close, so requests waiting out a latency stop waiting. */
    private readonly shutdown: AbortController,
    /** The sandbox's origin, `https://127.0.0.1:<port>`. */
    readonly url: string,
    readonly credentials: CisSandboxCredentials,
  ) {}

  static async start(options: CisSandboxOptions = {}): Promise<CisSandbox> {
    const ids = {
      tenantId: options.tenantId ?? SANDBOX_DEFAULTS.tenantId,
      clientId: options.clientId ?? SANDBOX_DEFAULTS.clientId,
      channelId: options.channelId ?? SANDBOX_DEFAULTS.channelId,
    };
    const resourceApi = options.resourceApi ?? SANDBOX_DEFAULTS.resourceApi;
    const config: SandboxConfig = {
      rateLimitPerMinute:
        options.rateLimitPerMinute ?? rateLimitFromEnv() ?? SANDBOX_DEFAULTS.rateLimitPerMinute,
      latencyMs: options.latencyMs ?? 0,
      authClockOffsetSeconds: 0,
      accessTokenLifetimeSeconds: SANDBOX_DEFAULTS.accessTokenLifetimeSeconds,
    };
    const [pki, identity] = await Promise.all([processPki(), createClientIdentityAsync()]);
    const pfx = packPfx(identity);

    const state = new SandboxState(resourceApi, config);
    state.registerClient({ ...ids, channelIds: [ids.channelId] });
    state.registerCertificate(ids.clientId, identity.certificatePem);
    const faults = new FaultInjector();
    const limiter = new RateLimiter();

    // Filled once the port is known; requests cannot arrive before that.
    const published: { url: string; credentials?: CisSandboxCredentials } = { url: '' };
    const idp = new RouteTable<IdpCaller>('identity-provider', {
      prepare: createIdpCallerResolver(() => published.url),
      renderFailure: renderAadFailure,
      bodyParser: express.urlencoded({ extended: false, limit: '64kb' }),
    });
    registerIdentityProviderRoutes(idp, state);
    const api = new RouteTable<ApiCaller>('api', {
      prepare: createApiCallerResolver(state, limiter),
      renderFailure: renderVendorFailure,
      bodyParser: express.json({ limit: '1mb' }),
    });
    registerMarketsRoutes(api, state);
    registerOffersRoutes(api, state);
    registerTokensRoutes(api, state);
    registerReturnsRoutes(api, state);

    const shutdown = new AbortController();
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(
      '/__sandbox',
      createControlsRouter({
        state,
        faults,
        credentials: () => published.credentials ?? {},
        defaultClientId: ids.clientId,
        defaultChannelId: ids.channelId,
        reset: () => {
          state.reset();
          faults.clear();
          faults.releaseAll();
          limiter.reset();
        },
      }),
    );
    app.use(
      createFrontDoor({ state, faults, areas: [idp, api], shutdown: shutdown.signal, log: options.log }),
    );
    for (const table of [idp, api]) {
      table.router.use(table.errorHandler());
      app.use(table.router);
    }
    app.use((req: Request, res: Response) => {
      const correlationId = requestContext(req)?.correlationId ?? '';
      deliver(req, res, {
        status: 404,
        body: renderVendorFailure({
          status: 404,
          code: 'NotFound',
          message: 'No such route.',
          correlationId,
        }),
      });
    });
    app.use((_err: unknown, req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) {
        next(_err);
        return;
      }
      const correlationId = requestContext(req)?.correlationId ?? '';
      res
        .status(500)
        .json(renderVendorFailure({ status: 500, message: 'The sandbox failed.', correlationId }));
    });

    const server = https.createServer(
      { key: pki.server.privateKeyPem, cert: pki.server.certificatePem },
      app,
    );
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const url = `https://${displayHost(options.host ?? '127.0.0.1')}:${port}`;
    const credentials: CisSandboxCredentials = {
      ...ids,
      resourceApi,
      serviceUrl: url,
      authorityHost: url,
      caPem: pki.ca.certificatePem,
      certificatePem: identity.certificatePem,
      privateKeyPem: identity.privateKeyPem,
      pfxBase64: pfx.pfxBase64,
      pfxPassword: pfx.password,
    };
    Object.assign(published, { url, credentials });
    return new CisSandbox(server, state, faults, shutdown, url, credentials);
  }

  /** Trusts another certificate for a registered client (e.g. a rotated one). */
  registerCertificate(clientId: string, certificatePem: string): void {
    this.state.registerCertificate(clientId, certificatePem);
  }

  /** Adds (or replaces) an app registration: its tenant (default the sandbox's), channels and a certificate. */
  registerClient(input: {
    clientId: string;
    tenantId?: string;
    channelIds: string[];
    certificatePem: string;
  }): void {
    this.state.registerClient({
      tenantId: input.tenantId ?? this.credentials.tenantId,
      clientId: input.clientId,
      channelIds: input.channelIds,
    });
    this.state.registerCertificate(input.clientId, input.certificatePem);
  }

  /** Stops listening, cuts open connections and held requests; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.shutdown.abort();
      this.faults.releaseAll();
      const closed = once(this.server, 'close');
      this.server.close();
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }
}

let sharedPki: Promise<SandboxPki> | undefined;

/**
 * The TLS certificates, made once per process: key generation is the slow part of a start, and sandboxes
 * started by one process (a test run, the reference host) may share a CA. Each sandbox still gets its own
 * client identity.
 */
function processPki(): Promise<SandboxPki> {
  sharedPki ??= createSandboxPki().catch((err: unknown) => {
    sharedPki = undefined;
    throw err;
  });
  return sharedPki;
}

function rateLimitFromEnv(): number | undefined {
  const raw = process.env.CIS_RATE_LIMIT_PER_MINUTE;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(
      `CIS_RATE_LIMIT_PER_MINUTE: expected a whole number of requests a minute (0 = off), got "${raw}"`,
    );
  }
  return value;
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
