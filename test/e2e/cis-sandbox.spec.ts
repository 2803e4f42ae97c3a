import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { ConfidentialClientApplication, type INetworkModule, type NetworkResponse } from '@azure/msal-node';
import { SignJWT, type JWTPayload } from 'jose';
import * as forge from 'node-forge';
import { CisSandbox, type CisSandboxCredentials } from '../../sandbox/cis/cis-sandbox';
import { MALFORMED_BODY } from '../../sandbox/cis/front-door';
import {
  certificateThumbprints,
  createClientIdentity,
  type ClientIdentity,
} from '../../sandbox/cis/test-identity';

/** Response bodies are read loosely here: each test asserts the fields it cares about. */
type Json = ReturnType<typeof JSON.parse>;

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Json;
}

interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  rawBody?: string;
  signal?: AbortSignal;
  host?: string;
}

let sandbox: CisSandbox;
let creds: CisSandboxCredentials;
let agent: https.Agent;
/** The sandbox's default identity, in the shape the signing helper takes. */
let defaultIdentity: ClientIdentity;

function call(method: string, path: string, options: CallOptions = {}): Promise<HttpResult> {
  const url = new URL(path, sandbox.url);
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  } else if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=utf-8';
  } else if (options.rawBody !== undefined) {
    body = options.rawBody;
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  if (options.host) headers.host = options.host;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, headers, agent, signal: options.signal, servername: options.host?.split(':')[0] },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const tokenPath = (tenant = creds.tenantId): string => `/${tenant}/oauth2/v2.0/token`;
const tokenUrl = (tenant = creds.tenantId): string => `${sandbox.url}${tokenPath(tenant)}`;

interface AssertionOptions {
  identity?: ClientIdentity;
  /** Key that actually signs (defaults to the identity's): another key makes the signature fail. */
  signingKeyPem?: string;
  alg?: 'RS256' | 'PS256';
  clientId?: string;
  claims?: JWTPayload;
}

/** A client assertion as Azure AD expects it, signed here with jose (RS256 + x5t or PS256 + x5t#S256). */
async function signAssertion(options: AssertionOptions = {}): Promise<string> {
  const identity = options.identity ?? defaultIdentity;
  const alg = options.alg ?? 'RS256';
  const clientId = options.clientId ?? creds.clientId;
  const now = Math.floor(Date.now() / 1000);
  const header =
    alg === 'RS256'
      ? { alg, typ: 'JWT', x5t: Buffer.from(identity.thumbprint, 'hex').toString('base64url') }
      : { alg, typ: 'JWT', 'x5t#S256': Buffer.from(identity.thumbprintSha256, 'hex').toString('base64url') };
  return new SignJWT({
    aud: tokenUrl(),
    iss: clientId,
    sub: clientId,
    jti: randomUUID(),
    nbf: now,
    iat: now,
    exp: now + 600,
    ...options.claims,
  })
    .setProtectedHeader(header)
    .sign(createPrivateKey(options.signingKeyPem ?? identity.privateKeyPem));
}

function tokenForm(assertion: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: creds.clientId,
    scope: `${creds.resourceApi}/.default`,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    ...overrides,
  };
}

async function getAccessToken(options: AssertionOptions = {}): Promise<string> {
  const clientId = options.clientId ?? creds.clientId;
  const res = await call('POST', tokenPath(), {
    form: tokenForm(await signAssertion(options), { client_id: clientId }),
  });
  expect(res.status).toBe(200);
  return res.json().access_token;
}

async function control(method: string, path: string, json?: unknown): Promise<HttpResult> {
  return call(method, `/__sandbox${path}`, json === undefined ? {} : { json });
}

async function stats(): Promise<Json> {
  return (await control('GET', '/stats')).json();
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function expectAadError(res: HttpResult, status: number, error: string, code: number): Json {
  expect({ status: res.status, error: res.json().error, codes: res.json().error_codes }).toEqual({
    status,
    error,
    codes: [code],
  });
  const body = res.json();
  expect(body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
  expect(body).toEqual(
    expect.objectContaining({
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/),
      trace_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      correlation_id: expect.any(String),
    }),
  );
  return body;
}

beforeAll(async () => {
  sandbox = await CisSandbox.start();
  creds = sandbox.credentials;
  agent = new https.Agent({ ca: creds.caPem });
  defaultIdentity = {
    certificatePem: creds.certificatePem,
    privateKeyPem: creds.privateKeyPem,
    ...certificateThumbprints(creds.certificatePem),
  };
});

afterEach(async () => {
  const res = await control('POST', '/reset');
  expect(res.status).toBe(204);
});

afterAll(async () => {
  agent?.destroy();
  await sandbox?.close();
});

describe('CIS sandbox: start and credentials', () => {
  it('publishes working credentials over HTTPS signed by its own CA', async () => {
    const res = await control('GET', '/credentials');
    expect(res.status).toBe(200);
    const published = res.json();
    expect(published).toEqual(creds);
    for (const key of [
      'tenantId',
      'clientId',
      'channelId',
      'resourceApi',
      'serviceUrl',
      'authorityHost',
      'caPem',
      'certificatePem',
      'privateKeyPem',
      'pfxBase64',
      'pfxPassword',
    ]) {
      expect(typeof published[key]).toBe('string');
      expect(published[key].length).toBeGreaterThan(0);
    }
    expect(sandbox.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(creds.authorityHost).toBe(sandbox.url);
    expect(creds.serviceUrl).toBe(sandbox.url);

    const cert = new X509Certificate(creds.certificatePem);
    expect(cert.checkPrivateKey(createPrivateKey(creds.privateKeyPem))).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(days).toBeGreaterThan(360);

    const der = forge.util.decode64(creds.pfxBase64);
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), creds.pfxPassword);
    const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];
    expect(bags.map((b) => forge.pki.certificateToPem(b.cert!).replace(/\r/g, ''))).toEqual([
      creds.certificatePem.replace(/\r/g, ''),
    ]);
    expect(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), 'wrong-password')).toThrow();
  });

  it('serves a certificate for 127.0.0.1, ::1 and localhost that only its CA vouches for', async () => {
    const { hostname, port } = new URL(sandbox.url);
    const san = await new Promise<string | undefined>((resolve, reject) => {
      const socket = tls.connect({ host: hostname, port: Number(port), ca: creds.caPem }, () => {
        resolve(socket.getPeerCertificate().subjectaltname);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(san?.split(', ').sort()).toEqual([
      'DNS:localhost',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:127.0.0.1',
    ]);
    const untrusted = new https.Agent();
    await expect(
      new Promise((resolve, reject) => {
        https.get(`${sandbox.url}/__sandbox/stats`, { agent: untrusted }, resolve).on('error', reject);
      }),
    ).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    untrusted.destroy();
  });

  it('lists at least two markets for its channel, one with two languages', async () => {
    const res = await control('GET', `/markets?channelId=${creds.channelId}`);
    expect(res.status).toBe(200);
    const items: { country: string; currency: string; languages: string[] }[] = res.json().items;
    expect(items.length).toBeGreaterThanOrEqual(2);
    expect(items.some((m) => m.languages.length >= 2)).toBe(true);
    expect(new Set(items.map((m) => m.country)).size).toBe(items.length);
    expect((await control('GET', '/markets?channelId=no-such-channel')).status).toBe(404);
  });

  it('starts fast and takes its rate limit from CIS_RATE_LIMIT_PER_MINUTE', async () => {
    process.env.CIS_RATE_LIMIT_PER_MINUTE = '42';
    const started = Date.now();
    const other = await CisSandbox.start().finally(() => delete process.env.CIS_RATE_LIMIT_PER_MINUTE);
    const elapsed = Date.now() - started;
    try {
      expect(elapsed).toBeLessThan(3000);
      expect(other.url).not.toBe(sandbox.url);
      expect(other.credentials.certificatePem).not.toBe(creds.certificatePem);
      expect(other.credentials.clientId).toBe(creds.clientId);
      const otherAgent = new https.Agent({ ca: other.credentials.caPem });
      const config = await new Promise<Json>((resolve, reject) => {
        https
          .get(`${other.url}/__sandbox/config`, { agent: otherAgent }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve(JSON.parse(text)));
          })
          .on('error', reject);
      });
      otherAgent.destroy();
      expect(config.rateLimitPerMinute).toBe(42);
    } finally {
      await other.close();
    }
  });
});

describe('CIS sandbox: identity provider', () => {
  it('issues a bearer token for an RS256 + x5t assertion, and again for the same assertion', async () => {
    const assertion = await signAssertion({ alg: 'RS256' });
    const first = await call('POST', tokenPath(), { form: tokenForm(assertion) });
    expect(first.status).toBe(200);
    const body = first.json();
    expect(body).toEqual({
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
    });
    const replay = await call('POST', tokenPath(), { form: tokenForm(assertion) });
    expect(replay.status).toBe(200);
    expect(replay.json().access_token).not.toBe(body.access_token);
    expect((await stats()).accessTokensIssued).toBe(2);
  });

  it('issues a bearer token for a PS256 + x5t#S256 assertion', async () => {
    const res = await call('POST', tokenPath(), { form: tokenForm(await signAssertion({ alg: 'PS256' })) });
    expect(res.status).toBe(200);
    expect(res.json().token_type).toBe('Bearer');
  });

  it('refuses each bad request with its own Azure AD code', async () => {
    const stranger = createClientIdentity({ commonName: 'Unregistered' });
    const now = Math.floor(Date.now() / 1000);
    const cases: {
      name: string;
      send: () => Promise<HttpResult>;
      status: number;
      error: string;
      code: number;
    }[] = [
      {
        name: 'unknown tenant',
        send: async () =>
          call('POST', tokenPath('00000000-0000-0000-0000-000000000000'), {
            form: tokenForm(await signAssertion()),
          }),
        status: 400,
        error: 'invalid_request',
        code: 90002,
      },
      {
        name: 'unknown client',
        send: async () =>
          call('POST', tokenPath(), { form: tokenForm(await signAssertion(), { client_id: randomUUID() }) }),
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
      },
      {
        name: 'certificate not registered',
        send: async () =>
          call('POST', tokenPath(), { form: tokenForm(await signAssertion({ identity: stranger })) }),
        status: 401,
        error: 'invalid_client',
        code: 700027,
      },
      {
        name: 'signature by another key',
        send: async () =>
          call('POST', tokenPath(), {
            form: tokenForm(await signAssertion({ signingKeyPem: stranger.privateKeyPem, alg: 'PS256' })),
          }),
        status: 401,
        error: 'invalid_client',
        code: 7000274,
      },
      {
        name: 'expired assertion',
        send: async () =>
          call('POST', tokenPath(), {
            form: tokenForm(
              await signAssertion({ claims: { nbf: now - 4200, iat: now - 4200, exp: now - 3600 } }),
            ),
          }),
        status: 401,
        error: 'invalid_client',
        code: 700024,
      },
      {
        name: 'unknown resource',
        send: async () =>
          call('POST', tokenPath(), {
            form: tokenForm(await signAssertion(), { scope: 'https://graph.microsoft.com/.default' }),
          }),
        status: 400,
        error: 'invalid_resource',
        code: 500011,
      },
      {
        name: 'scope without /.default',
        send: async () =>
          call('POST', tokenPath(), { form: tokenForm(await signAssertion(), { scope: creds.resourceApi }) }),
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
      },
      {
        name: 'audience of another token URL',
        send: async () =>
          call('POST', tokenPath(), {
            form: tokenForm(await signAssertion({ claims: { aud: tokenUrl('another-tenant') } })),
          }),
        status: 401,
        error: 'invalid_client',
        code: 50013,
      },
      {
        name: 'issuer is not the client',
        send: async () =>
          call('POST', tokenPath(), {
            form: tokenForm(await signAssertion({ claims: { iss: randomUUID() } })),
          }),
        status: 401,
        error: 'invalid_client',
        code: 700021,
      },
      {
        name: 'no assertion',
        send: () => call('POST', tokenPath(), { form: tokenForm('', { client_assertion: '' }) }),
        status: 401,
        error: 'invalid_client',
        code: 7000218,
      },
      {
        name: 'password grant',
        send: async () =>
          call('POST', tokenPath(), { form: tokenForm(await signAssertion(), { grant_type: 'password' }) }),
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
      },
      {
        name: 'garbage assertion',
        send: () => call('POST', tokenPath(), { form: tokenForm('not.a.jwt') }),
        status: 400,
        error: 'invalid_request',
        code: 50027,
      },
    ];
    const seen: Record<string, number> = {};
    for (const c of cases) {
      const res = await c.send();
      try {
        const body = expectAadError(res, c.status, c.error, c.code);
        if (c.code === 700027) expect(body.error_description).toContain('The key was not found');
      } catch (err) {
        throw new Error(`${c.name}: ${(err as Error).message}`, { cause: err });
      }
      seen[c.name] = res.json().error_codes[0];
    }
    expect(new Set(Object.values(seen)).size).toBe(cases.length);
    expect((await stats()).accessTokensIssued).toBe(0);
  });

  it('trusts a certificate registered through /__sandbox/identities, and keeps it across a reset', async () => {
    const rotated = createClientIdentity({ commonName: 'Rotated' });
    const before = await call('POST', tokenPath(), {
      form: tokenForm(await signAssertion({ identity: rotated })),
    });
    expectAadError(before, 401, 'invalid_client', 700027);

    const registered = await control('POST', '/identities', { certificatePem: rotated.certificatePem });
    expect(registered.status).toBe(201);
    expect(registered.json()).toEqual({
      clientId: creds.clientId,
      thumbprint: rotated.thumbprint,
      thumbprintSha256: rotated.thumbprintSha256,
    });
    await control('POST', '/reset');
    for (const alg of ['RS256', 'PS256'] as const) {
      const res = await call('POST', tokenPath(), {
        form: tokenForm(await signAssertion({ identity: rotated, alg })),
      });
      expect(res.status).toBe(200);
    }
  });

  it('refuses garbage identity registrations with a reason', async () => {
    const bodies: [unknown, number][] = [
      [{}, 400],
      [{ certificatePem: 'not a certificate' }, 400],
      [{ certificatePem: creds.certificatePem + creds.privateKeyPem }, 400],
      [{ certificatePem: creds.certificatePem, extra: 1 }, 400],
      [{ certificatePem: creds.certificatePem, clientId: 'nobody' }, 404],
    ];
    for (const [body, status] of bodies) {
      const res = await control('POST', '/identities', body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.json().error.message.length).toBeGreaterThan(5);
    }
  });

  it('makes a fresh assertion look expired when the auth clock is moved, and only the auth clock', async () => {
    const config = await control('POST', '/config', { authClockOffsetSeconds: 3600 });
    expect(config.json().authClockOffsetSeconds).toBe(3600);
    const assertion = await signAssertion();
    expectAadError(
      await call('POST', tokenPath(), { form: tokenForm(assertion) }),
      401,
      'invalid_client',
      700024,
    );

    await control('POST', '/config', { authClockOffsetSeconds: -3600 });
    expectAadError(
      await call('POST', tokenPath(), { form: tokenForm(assertion) }),
      401,
      'invalid_client',
      700024,
    );

    await control('POST', '/config', { authClockOffsetSeconds: 0 });
    expect((await call('POST', tokenPath(), { form: tokenForm(assertion) })).status).toBe(200);
  });

  it('serves OpenID discovery built from the Host the caller used', async () => {
    const byIp = await call('GET', `/${creds.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(byIp.status).toBe(200);
    expect(byIp.json()).toEqual(
      expect.objectContaining({
        issuer: `${sandbox.url}/${creds.tenantId}/v2.0`,
        token_endpoint: tokenUrl(),
        authorization_endpoint: `${sandbox.url}/${creds.tenantId}/oauth2/v2.0/authorize`,
        jwks_uri: `${sandbox.url}/${creds.tenantId}/discovery/v2.0/keys`,
      }),
    );
    const port = new URL(sandbox.url).port;
    const byName = await call('GET', `/${creds.tenantId}/v2.0/.well-known/openid-configuration`, {
      host: `localhost:${port}`,
    });
    expect(byName.json().token_endpoint).toBe(
      `https://localhost:${port}/${creds.tenantId}/oauth2/v2.0/token`,
    );

    const instance = await call(
      'GET',
      `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(
        `${sandbox.url}/${creds.tenantId}/oauth2/v2.0/authorize`,
      )}`,
    );
    expect(instance.json()).toEqual({
      tenant_discovery_endpoint: `${sandbox.url}/${creds.tenantId}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [
        {
          preferred_network: `127.0.0.1:${port}`,
          preferred_cache: `127.0.0.1:${port}`,
          aliases: [`127.0.0.1:${port}`],
        },
      ],
    });
    expectAadError(
      await call('GET', `/${randomUUID()}/v2.0/.well-known/openid-configuration`),
      400,
      'invalid_request',
      90002,
    );
  });

  it('gives MSAL a token, with discovery (RS256) and with authorityMetadata (PS256), and MSAL caches it', async () => {
    const networkClient: INetworkModule = {
      sendGetRequestAsync: <T>(url: string, options?: { headers?: Record<string, string> }) =>
        send<T>('GET', url, options),
      sendPostRequestAsync: <T>(url: string, options?: { headers?: Record<string, string>; body?: string }) =>
        send<T>('POST', url, options),
    };
    async function send<T>(
      method: string,
      url: string,
      options?: { headers?: Record<string, string>; body?: string },
    ): Promise<NetworkResponse<T>> {
      const target = new URL(url);
      const res = await call(method, `${target.pathname}${target.search}`, {
        headers: options?.headers,
        rawBody: options?.body,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
      return { status: res.status, headers, body: res.json() as T };
    }
    const host = new URL(creds.authorityHost).host;
    const authority = `${creds.authorityHost}/${creds.tenantId}`;
    const metadata = (await call('GET', `/${creds.tenantId}/v2.0/.well-known/openid-configuration`)).text;
    const variants = [
      { clientCertificate: { thumbprint: defaultIdentity.thumbprint, privateKey: creds.privateKeyPem } },
      {
        clientCertificate: {
          thumbprintSha256: defaultIdentity.thumbprintSha256,
          privateKey: creds.privateKeyPem,
        },
        authorityMetadata: metadata,
      },
    ];
    for (const variant of variants) {
      await control('POST', '/reset');
      const app = new ConfidentialClientApplication({
        auth: {
          clientId: creds.clientId,
          authority,
          knownAuthorities: [host],
          clientCertificate: variant.clientCertificate,
          authorityMetadata: variant.authorityMetadata,
        },
        system: { networkClient },
      });
      const request = { scopes: [`${creds.resourceApi}/.default`], azureRegion: 'DisableMsalForceRegion' };
      const first = await app.acquireTokenByClientCredential(request);
      expect(first?.accessToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      const second = await app.acquireTokenByClientCredential(request);
      expect(second?.accessToken).toBe(first?.accessToken);
      const counted = await stats();
      expect(counted.accessTokensIssued).toBe(1);
      const discoveryCalls = counted.callsByRoute['GET /:tenant/v2.0/.well-known/openid-configuration'] ?? 0;
      expect(discoveryCalls).toBe(variant.authorityMetadata ? 0 : 1);

      const markets = await call('GET', `/channels/${creds.channelId}/markets`, {
        headers: { authorization: `Bearer ${first?.accessToken}` },
      });
      expect(markets.status).toBe(200);
    }
  });
});

describe('CIS sandbox: API', () => {
  it('lists the channel markets for a valid token, echoing MS-CorrelationId', async () => {
    const token = await getAccessToken();
    const correlationId = randomUUID();
    const res = await call('GET', `/channels/${creds.channelId}/markets`, {
      headers: { authorization: `Bearer ${token}`, 'MS-CorrelationId': correlationId },
    });
    expect(res.status).toBe(200);
    expect(res.headers['ms-correlationid']).toBe(correlationId);
    const fromControl = (await control('GET', `/markets?channelId=${creds.channelId}`)).json().items;
    expect(res.json()).toEqual({ items: fromControl });
  });

  it('answers 401 InvalidToken without, with an unknown and with an expired token', async () => {
    const correlationId = randomUUID();
    const path = `/channels/${creds.channelId}/markets`;
    const none = await call('GET', path, { headers: { 'MS-CorrelationId': correlationId } });
    expect(none.status).toBe(401);
    expect(none.json()).toEqual({
      error: { code: 'InvalidToken', message: expect.any(String), correlationId },
    });
    const unknown = await call('GET', path, { headers: { authorization: 'Bearer not-a-token' } });
    expect([unknown.status, unknown.json().error.code]).toEqual([401, 'InvalidToken']);

    await control('POST', '/config', { accessTokenLifetimeSeconds: 1 });
    const res = await call('POST', tokenPath(), { form: tokenForm(await signAssertion()) });
    expect(res.json().expires_in).toBe(1);
    const shortLived = res.json().access_token;
    const fresh = await call('GET', path, { headers: { authorization: `Bearer ${shortLived}` } });
    expect(fresh.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await call('GET', path, { headers: { authorization: `Bearer ${shortLived}` } });
    expect([expired.status, expired.json().error.code]).toEqual([401, 'InvalidToken']);
  });

  it('answers 403 ChannelMismatch when the token belongs to a client of another channel', async () => {
    const other = createClientIdentity({ commonName: 'Other distributor' });
    const otherClientId = randomUUID();
    sandbox.registerClient({
      clientId: otherClientId,
      channelIds: ['2000099999'],
      certificatePem: other.certificatePem,
    });
    const token = await getAccessToken({ identity: other, clientId: otherClientId, alg: 'PS256' });
    const auth = { authorization: `Bearer ${token}` };

    const mismatch = await call('GET', `/channels/${creds.channelId}/markets`, { headers: auth });
    expect([mismatch.status, mismatch.json().error.code]).toEqual([403, 'ChannelMismatch']);
    const own = await call('GET', '/channels/2000099999/markets', { headers: auth });
    expect(own.status).toBe(200);
    expect(own.json().items.length).toBeGreaterThanOrEqual(2);

    const defaultToken = await getAccessToken();
    const reverse = await call('GET', '/channels/2000099999/markets', {
      headers: { authorization: `Bearer ${defaultToken}` },
    });
    expect(reverse.status).toBe(403);
  });

  it('rate-limits per channel with 429 and Retry-After, and reset lifts the limit', async () => {
    const token = await getAccessToken();
    const auth = { authorization: `Bearer ${token}` };
    await control('POST', '/config', { rateLimitPerMinute: 3 });
    const statuses: number[] = [];
    let refused: HttpResult | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await call('GET', `/channels/${creds.channelId}/markets`, { headers: auth });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(refused!.json().error.code).toBe('TooManyRequests');
    const retryAfter = Number(refused!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    await control('POST', '/reset');
    expect((await control('GET', '/config')).json().rateLimitPerMinute).toBe(500);
    const after = await call('GET', `/channels/${creds.channelId}/markets`, { headers: auth });
    expect(after.status).toBe(200);
  });

  it('answers an unknown route with a vendor-shaped 404', async () => {
    const res = await call('GET', '/channels/x/nothing-here');
    expect([res.status, res.json().error.code]).toEqual([404, 'NotFound']);
  });
});

describe('CIS sandbox: faults, stats and reset', () => {
  let auth: Record<string, string>;
  const marketsPath = (): string => `/channels/${creds.channelId}/markets`;
  const route = 'GET /channels/:channelId/markets';

  beforeEach(async () => {
    auth = { authorization: `Bearer ${await getAccessToken()}` };
  });

  it('answers an injected status a given number of times, counting every call', async () => {
    const added = await control('POST', '/faults', { path: '/markets$', status: 503, times: 2 });
    expect(added.status).toBe(201);
    const correlationId = randomUUID();
    const results: HttpResult[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(
        await call('GET', marketsPath(), { headers: { ...auth, 'MS-CorrelationId': correlationId } }),
      );
    }
    expect(results.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(results[0].json()).toEqual({
      error: { code: 'ServiceUnavailable', message: expect.any(String), correlationId },
    });
    expect((await stats()).callsByRoute[route]).toBe(3);
    expect((await control('GET', '/faults')).json().items).toEqual([]);
  });

  it('turns retryAfter alone into a 429 with Retry-After', async () => {
    await control('POST', '/faults', { path: '/markets', retryAfter: 7 });
    const res = await call('GET', marketsPath(), { headers: auth });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json().error.code).toBe('TooManyRequests');
  });

  it('lets the first added fault that fires win, and honours the method', async () => {
    await control('POST', '/faults', { method: 'POST', path: '/markets', status: 400 });
    await control('POST', '/faults', { path: '/markets', status: 500 });
    await control('POST', '/faults', { path: '/markets', status: 502 });
    const res = await call('GET', marketsPath(), { headers: auth });
    expect([res.status, res.json().error.code]).toEqual([500, 'InternalServerError']);
  });

  it('answers malformed JSON with a 200', async () => {
    await control('POST', '/faults', { path: '/markets', malformed: true, times: 1 });
    const res = await call('GET', marketsPath(), { headers: auth });
    expect(res.status).toBe(200);
    expect(res.text).toBe(MALFORMED_BODY);
    expect(() => res.json()).toThrow(SyntaxError);
  });

  it('delays a request by latencyMs and then answers normally', async () => {
    await control('POST', '/faults', { path: '/markets', latencyMs: 300 });
    const started = Date.now();
    const res = await call('GET', marketsPath(), { headers: auth });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('holds a timed-out request until the client gives up', async () => {
    await control('POST', '/faults', { path: '/markets', timeout: true });
    const abort = new AbortController();
    const pending = call('GET', marketsPath(), { headers: auth, signal: abort.signal });
    await waitFor(async () => (await stats()).heldRequests === 1);
    abort.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    await waitFor(async () => (await stats()).heldRequests === 0);
    expect((await stats()).callsByRoute[route]).toBe(1);
  });

  it('does the write and then cuts the connection on dropAfterCommit', async () => {
    const before = (await stats()).accessTokensIssued;
    await control('POST', '/faults', {
      method: 'POST',
      path: '/oauth2/v2\\.0/token$',
      dropAfterCommit: true,
      times: 1,
    });
    await expect(call('POST', tokenPath(), { form: tokenForm(await signAssertion()) })).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
    expect((await stats()).accessTokensIssued).toBe(before + 1);
    const next = await call('POST', tokenPath(), { form: tokenForm(await signAssertion()) });
    expect(next.status).toBe(200);
  });

  it('answers identity-provider faults in Azure AD shape and never faults the controls', async () => {
    await control('POST', '/faults', { path: '.*', status: 503 });
    const token = await call('POST', tokenPath(), { form: tokenForm(await signAssertion()) });
    expect(token.status).toBe(503);
    expect(token.json()).toEqual(
      expect.objectContaining({ error: 'temporarily_unavailable', error_codes: [expect.any(Number)] }),
    );
    expect((await control('GET', '/stats')).status).toBe(200);
    expect((await control('GET', '/credentials')).status).toBe(200);
  });

  it('refuses bad fault and config bodies with a reason', async () => {
    const faults: unknown[] = [
      {},
      { path: '(' },
      { path: '/x' },
      { path: '/x', status: 'a' },
      { path: '/x', status: 99 },
      { path: '/x', timeout: true, malformed: true },
      { path: '/x', status: 500, unknownField: 1 },
      { path: '/x', rate: 0, status: 500 },
      { path: '/x', method: 'FETCH', status: 500 },
      [],
    ];
    for (const body of faults) {
      const res = await control('POST', '/faults', body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.json().error.message.length).toBeGreaterThan(5);
    }
    const notJson = await call('POST', '/__sandbox/faults', { rawBody: '{"path":' });
    expect(notJson.status).toBe(400);
    for (const body of [{ rateLimitPerMinute: -1 }, { latencyMs: 'slow' }, { other: 1 }]) {
      expect((await control('POST', '/config', body)).status).toBe(400);
    }
    expect((await control('GET', '/faults')).json().items).toEqual([]);
  });

  it('counts calls per route pattern and resets faults, stats and config', async () => {
    await control('POST', '/faults', { path: '/markets', status: 500 });
    await control('POST', '/config', { latencyMs: 5, rateLimitPerMinute: 10 });
    await call('GET', marketsPath(), { headers: auth });
    await call('GET', '/channels/2000099999/markets', { headers: auth });
    const counted = await stats();
    expect(counted).toEqual({
      tokensCreated: 0,
      tokenRequestsByClientTransactionId: {},
      returnsCreated: 0,
      accessTokensIssued: 1,
      heldRequests: 0,
      callsByRoute: { 'POST /:tenant/oauth2/v2.0/token': 1, [route]: 2 },
    });

    await control('POST', '/reset');
    expect(await stats()).toEqual({
      tokensCreated: 0,
      tokenRequestsByClientTransactionId: {},
      returnsCreated: 0,
      accessTokensIssued: 0,
      heldRequests: 0,
      callsByRoute: {},
    });
    expect((await control('GET', '/faults')).json().items).toEqual([]);
    expect((await control('GET', '/config')).json()).toEqual({
      rateLimitPerMinute: 500,
      latencyMs: 0,
      authClockOffsetSeconds: 0,
      accessTokenLifetimeSeconds: 3599,
    });
    const res = await call('GET', marketsPath(), { headers: auth });
    expect(res.status).toBe(200);
  });
});

describe('CIS sandbox: tokens, returns, redeem and the business clock', () => {
  let auth: Record<string, string>;
  const tokensPath = (channelId = creds.channelId): string => `/channels/${channelId}/tokens`;
  let offerId: string;

  beforeEach(async () => {
    auth = { authorization: `Bearer ${await getAccessToken()}` };
    const catalog = (await control('GET', '/catalog?country=US&language=en-US')).json();
    offerId = catalog.offers.find((o: { isReturnable: unknown }) => o.isReturnable === true).offerId;
  });

  function tokenBody(clientTransactionId: string, overrides: Record<string, unknown> = {}) {
    return {
      clientTransactionId,
      offerId,
      country: 'US',
      language: 'en-US',
      endCustomer: { name: 'Pat Doe', email: 'pat@example.com', country: 'US' },
      ...overrides,
    };
  }

  const post = (path: string, json: unknown) => call('POST', path, { headers: auth, json });

  it('creates a token (201), replays it (200) and refuses the id with another body (409)', async () => {
    const id = randomUUID();
    const created = await post(tokensPath(), tokenBody(id));
    expect(created.status).toBe(201);
    const token = created.json();
    expect(Object.keys(token).sort()).toEqual(
      [
        'activationLink',
        'clientTransactionId',
        'createdAt',
        'offerId',
        'token',
        'tokenStatus',
        'transactionId',
      ].sort(),
    );
    expect(/^[BCDFGHJKMPQRTVWXY2346789]{5}(-[BCDFGHJKMPQRTVWXY2346789]{5}){4}$/.test(token.token)).toBe(true);
    expect(new URL(token.activationLink).searchParams.get('ctid')).toBe(id);
    expect(token.tokenStatus).toBe('Activated');

    const replay = await post(tokensPath(), tokenBody(id));
    expect(replay.status).toBe(200);
    expect(replay.text === created.text).toBe(true);

    const conflict = await post(tokensPath(), tokenBody(id, { language: 'EN-us' }));
    expect([conflict.status, conflict.json().error.code]).toEqual([409, 'ClientTransactionIdConflict']);

    const lookedUp = await call('GET', `${tokensPath()}/${id}`, { headers: auth });
    expect(lookedUp.status).toBe(200);
    expect(lookedUp.text === created.text).toBe(true);

    expect(await stats()).toEqual({
      tokensCreated: 1,
      tokenRequestsByClientTransactionId: { [id]: 3 },
      returnsCreated: 0,
      accessTokensIssued: 1,
      heldRequests: 0,
      callsByRoute: {
        'POST /:tenant/oauth2/v2.0/token': 1,
        'GET /channels/:channelId/tokens/:clientTransactionId': 1,
        'POST /channels/:channelId/tokens': 3,
      },
    });
  });

  it('refuses bad token bodies with 400 InvalidRequest and a reason, creating nothing', async () => {
    const id = randomUUID();
    const bodies: unknown[] = [
      {},
      [],
      tokenBody(id, { endCustomer: undefined }),
      tokenBody(id, { endCustomer: { name: ' ', country: 'US' } }),
      tokenBody(id, { endCustomer: { name: 'A', email: 'no-at-sign', country: 'US' } }),
      tokenBody(id, { country: 'USA' }),
      tokenBody(id, { colour: 'red' }),
      tokenBody('has space'),
      tokenBody('__proto__'),
    ];
    for (const body of bodies) {
      const res = await post(tokensPath(), body);
      expect({ body, status: res.status, code: res.json().error.code }).toEqual({
        body,
        status: 400,
        code: 'InvalidRequest',
      });
      expect(res.json().error.message).toMatch(/^The request body is not valid: body/);
    }
    const notJson = await call('POST', tokensPath(), { headers: auth, rawBody: '{"clientTransactionId":' });
    expect(notJson.status).toBe(400);
    const counted = await stats();
    expect(counted.tokensCreated).toBe(0);
    // Only the requests with a well-formed id are counted per id.
    expect(counted.tokenRequestsByClientTransactionId).toEqual({ [id]: 5 });
  });

  it('answers 404 OfferNotFound and 400 OfferDiscontinued for a new transaction, and still replays an old one', async () => {
    const missing = await post(tokensPath(), tokenBody(randomUUID(), { offerId: 'DG7GNOPE' }));
    expect([missing.status, missing.json().error.code]).toEqual([404, 'OfferNotFound']);
    const greekOnly = await post(tokensPath(), tokenBody(randomUUID(), { language: 'el-GR' }));
    expect([greekOnly.status, greekOnly.json().error.code]).toEqual([400, 'InvalidRequest']);

    const id = randomUUID();
    expect((await post(tokensPath(), tokenBody(id))).status).toBe(201);
    await control('POST', '/catalog', {
      country: 'US',
      language: 'en-US',
      count: 25,
      seed: 1,
      changes: { discontinue: [offerId] },
    });
    const discontinued = await post(tokensPath(), tokenBody(randomUUID()));
    expect([discontinued.status, discontinued.json().error.code]).toEqual([400, 'OfferDiscontinued']);
    expect((await post(tokensPath(), tokenBody(id))).status).toBe(200);
  });

  it('reads statuses of 1 to 100 ids (unknown ones absent) and refuses 0 or 101', async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await post(tokensPath(), tokenBody(id));
    const res = await post(`${tokensPath()}/status`, {
      clientTransactionIds: [ids[1], randomUUID(), ids[0]],
    });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      items: [
        { clientTransactionId: ids[1], tokenStatus: 'Activated' },
        { clientTransactionId: ids[0], tokenStatus: 'Activated' },
      ],
    });
    const hundred = Array.from({ length: 100 }, () => randomUUID());
    expect((await post(`${tokensPath()}/status`, { clientTransactionIds: hundred })).status).toBe(200);
    for (const clientTransactionIds of [[], [...hundred, randomUUID()]]) {
      const refused = await post(`${tokensPath()}/status`, { clientTransactionIds });
      expect([refused.status, refused.json().error.code]).toEqual([400, 'InvalidRequest']);
    }
    const unknown = await call('GET', `${tokensPath()}/${randomUUID()}`, { headers: auth });
    expect([unknown.status, unknown.json().error.code]).toEqual([404, 'TokenNotFound']);
  });

  it("keeps a channel's tokens from another channel (404) and another client (403)", async () => {
    const id = randomUUID();
    await post(tokensPath(), tokenBody(id));
    const other = createClientIdentity({ commonName: 'Two-channel distributor' });
    const otherClientId = randomUUID();
    sandbox.registerClient({
      clientId: otherClientId,
      channelIds: ['2000055555'],
      certificatePem: other.certificatePem,
    });
    const otherAuth = {
      authorization: `Bearer ${await getAccessToken({ identity: other, clientId: otherClientId })}`,
    };
    const elsewhere = await call('GET', `${tokensPath('2000055555')}/${id}`, { headers: otherAuth });
    expect([elsewhere.status, elsewhere.json().error.code]).toEqual([404, 'TokenNotFound']);
    const forbidden = await call('GET', `${tokensPath()}/${id}`, { headers: otherAuth });
    expect([forbidden.status, forbidden.json().error.code]).toEqual([403, 'ChannelMismatch']);
  });

  it('dropAfterCommit on POST /tokens and /returns commits, then cuts; timeout and malformed write nothing', async () => {
    const id = randomUUID();
    await control('POST', '/faults', { method: 'POST', path: '/tokens$', dropAfterCommit: true, times: 1 });
    await expect(post(tokensPath(), tokenBody(id))).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await call('GET', `${tokensPath()}/${id}`, { headers: auth })).status).toBe(200);

    const returnBody = { clientTransactionId: randomUUID(), tokenClientTransactionId: id };
    await control('POST', '/faults', { method: 'POST', path: '/returns$', dropAfterCommit: true, times: 1 });
    await expect(post(`/channels/${creds.channelId}/returns`, returnBody)).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
    const replay = await post(`/channels/${creds.channelId}/returns`, returnBody);
    expect([replay.status, replay.json().tokenStatus]).toEqual([200, 'ReturnAccepted']);

    const untouched = randomUUID();
    await control('POST', '/faults', { method: 'POST', path: '/tokens$', malformed: true, times: 1 });
    expect((await post(tokensPath(), tokenBody(untouched))).text).toBe(MALFORMED_BODY);
    await control('POST', '/faults', { method: 'POST', path: '/tokens$', timeout: true, times: 1 });
    const abort = new AbortController();
    const held = call('POST', tokensPath(), {
      headers: auth,
      json: tokenBody(untouched),
      signal: abort.signal,
    });
    await waitFor(async () => (await stats()).heldRequests === 1);
    abort.abort();
    await expect(held).rejects.toThrow(/abort/i);
    const counted = await stats();
    expect([counted.tokensCreated, counted.returnsCreated]).toEqual([1, 1]);
    // Neither faulted request reached the handler, so neither was counted for its id.
    expect(counted.tokenRequestsByClientTransactionId).toEqual({ [id]: 1 });
    const lookup = await call('GET', `${tokensPath()}/${untouched}`, { headers: auth });
    expect([lookup.status, lookup.json().error.code]).toEqual([404, 'TokenNotFound']);
  });

  it('refuses bad return bodies with 400 and unknown tokens with 404', async () => {
    const path = `/channels/${creds.channelId}/returns`;
    for (const body of [
      {},
      { clientTransactionId: randomUUID() },
      { clientTransactionId: randomUUID(), tokenClientTransactionId: randomUUID(), reason: 'x'.repeat(501) },
      { clientTransactionId: randomUUID(), tokenClientTransactionId: randomUUID(), extra: true },
    ]) {
      const res = await post(path, body);
      expect([res.status, res.json().error.code]).toEqual([400, 'InvalidRequest']);
    }
    const unknown = await post(path, {
      clientTransactionId: randomUUID(),
      tokenClientTransactionId: randomUUID(),
    });
    expect([unknown.status, unknown.json().error.code]).toEqual([404, 'TokenNotFound']);
  });

  it('redeems through the control (once, keeping the first time) and refuses what it cannot redeem', async () => {
    const id = randomUUID();
    await post(tokensPath(), tokenBody(id));
    const unknown = await control('POST', `/tokens/${randomUUID()}/redeem`);
    expect([unknown.status, unknown.json().error.code]).toEqual([404, 'TokenNotFound']);
    const badBody = await control('POST', `/tokens/${id}/redeem`, { when: 'now' });
    expect([badBody.status, badBody.json().error.code]).toEqual([400, 'InvalidControlRequest']);

    const first = await control('POST', `/tokens/${id}/redeem`);
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({
      channelId: creds.channelId,
      clientTransactionId: id,
      tokenStatus: 'Redeemed',
      redeemedAt: expect.any(String),
    });
    await control('POST', '/clock', { advanceDays: 1 });
    const second = await control('POST', `/tokens/${id}/redeem?channelId=${creds.channelId}`);
    expect(second.json().redeemedAt).toBe(first.json().redeemedAt);
    const otherChannel = await control('POST', `/tokens/${id}/redeem?channelId=2000000000`);
    expect(otherChannel.status).toBe(404);

    const returned = randomUUID();
    await post(tokensPath(), tokenBody(returned));
    await post(`/channels/${creds.channelId}/returns`, {
      clientTransactionId: randomUUID(),
      tokenClientTransactionId: returned,
    });
    const late = await control('POST', `/tokens/${returned}/redeem`);
    expect([late.status, late.json().error.code]).toEqual([409, 'TokenReturned']);
  });

  it('moves the business clock only: sign-in and access tokens keep the real one; reset puts it back', async () => {
    expect((await control('GET', '/clock')).json()).toEqual({ now: expect.any(String), advancedDays: 0 });
    for (const body of [{}, { advanceDays: -1 }, { advanceDays: 'x' }, { advanceDays: 1, extra: 1 }]) {
      const res = await control('POST', '/clock', body);
      expect([res.status, res.json().error.code]).toEqual([400, 'InvalidControlRequest']);
    }
    const moved = await control('POST', '/clock', { advanceDays: 400.5 });
    expect(moved.json().advancedDays).toBe(400.5);
    expect(Date.parse(moved.json().now)).toBeGreaterThan(Date.now() + 400 * 86_400_000);

    // The access token from before the move still works, and a new assertion still signs in.
    expect((await call('GET', `/channels/${creds.channelId}/markets`, { headers: auth })).status).toBe(200);
    const fresh = await getAccessToken();
    expect(
      (
        await call('GET', `/channels/${creds.channelId}/markets`, {
          headers: { authorization: `Bearer ${fresh}` },
        })
      ).status,
    ).toBe(200);

    await control('POST', '/reset');
    expect((await control('GET', '/clock')).json().advancedDays).toBe(0);
  });
});
