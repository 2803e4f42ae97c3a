import type { Request } from 'express';
import { requestContext, type RouteTable } from '../route-table';
import type { SandboxState } from '../sandbox-state';
import { aadFailure } from './aad-error';
import { verifyClientAssertion } from './client-assertion';

/** Facts every identity-provider route needs: the origin the caller used and its correlation id. */
export interface IdpCaller {
  /** `https://<Host header>`: issuers and endpoints are built from it so they match the caller's authority. */
  origin: string;
  correlationId: string;
}

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Tenants Azure AD serves discovery for without them being a directory. */
const MULTI_TENANT_ALIASES = new Set(['common', 'organizations', 'consumers']);

export function createIdpCallerResolver(fallbackOrigin: () => string) {
  return (req: Request): IdpCaller => {
    const host = req.headers.host;
    return {
      origin: host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `https://${host}` : fallbackOrigin(),
      correlationId: clientRequestId(req) ?? requestContext(req)?.correlationId ?? '',
    };
  };
}

/**
 * The identity provider MSAL talks to: the client-credentials token endpoint with certificate assertions,
 * and the discovery documents MSAL fetches when it is not given `authorityMetadata`.
 */
export function registerIdentityProviderRoutes(idp: RouteTable<IdpCaller>, state: SandboxState): void {
  idp.add('POST', '/:tenant/oauth2/v2.0/token', async (req, caller) => {
    const tenant = param(req, 'tenant');
    const form = formFields(req);
    const { correlationId } = caller;
    if (!state.tenants.has(tenant)) throw tenantNotFound(tenant, correlationId);
    if (!form.grant_type) throw missingParameter('grant_type', correlationId);
    if (form.grant_type !== 'client_credentials') {
      throw aadFailure(
        'unsupportedGrantType',
        `The app requested an unsupported grant type '${form.grant_type}'.`,
        correlationId,
      );
    }
    if (!form.client_id) throw missingParameter('client_id', correlationId);
    const client = state.client(form.client_id);
    if (!client || client.tenantId !== tenant) {
      throw aadFailure(
        'clientNotFound',
        `Application with identifier '${form.client_id}' was not found in the directory '${tenant}'. This can ` +
          `happen if the application has not been installed by the administrator of the tenant or consented ` +
          `to by any user in the tenant.`,
        correlationId,
      );
    }
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE || !form.client_assertion) {
      throw aadFailure(
        'credentialMissing',
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        correlationId,
      );
    }
    const verdict = await verifyClientAssertion({
      client,
      assertion: form.client_assertion,
      tokenUrl: `${caller.origin}/${tenant}/oauth2/v2.0/token`,
      nowSeconds: Math.floor(Date.now() / 1000) + state.config.authClockOffsetSeconds,
    });
    if (!verdict.ok) throw aadFailure(verdict.kind, verdict.description, correlationId);

    if (!form.scope) throw missingParameter('scope', correlationId);
    const scopes = form.scope
      .split(/\s+/)
      .filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
    if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
      throw aadFailure(
        'scopeInvalid',
        `The provided value for scope ${form.scope} is not valid. Client credential flows must have a scope ` +
          `value with /.default suffixed to the resource identifier (application ID URI).`,
        correlationId,
      );
    }
    const resource = scopes[0].slice(0, -'/.default'.length);
    if (stripSlash(resource) !== stripSlash(state.resourceApi)) {
      throw aadFailure(
        'resourceNotFound',
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen ` +
          `if the application has not been installed by the administrator of the tenant or consented to by any ` +
          `user in the tenant.`,
        correlationId,
      );
    }

    const issued = state.issueAccessToken(client);
    return {
      headers: { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
      body: {
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        ext_expires_in: issued.expiresIn,
        access_token: issued.accessToken,
      },
    };
  });

  idp.add('GET', '/:tenant/v2.0/.well-known/openid-configuration', (req, caller) => {
    const tenant = param(req, 'tenant');
    const multiTenant = MULTI_TENANT_ALIASES.has(tenant.toLowerCase());
    if (!multiTenant && !state.tenants.has(tenant)) throw tenantNotFound(tenant, caller.correlationId);
    return { body: openIdConfiguration(caller.origin, tenant, multiTenant ? '{tenantid}' : tenant) };
  });

  idp.add('GET', '/:tenant/discovery/instance', (req, caller) => {
    const host = new URL(caller.origin).host;
    const authorizeTenant = /^https:\/\/[^/]+\/([^/]+)\//.exec(
      queryString(req, 'authorization_endpoint') ?? '',
    );
    const tenant = authorizeTenant?.[1] ?? 'common';
    return {
      body: {
        tenant_discovery_endpoint: `${caller.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  });

  // The jwks_uri of the discovery document. Access tokens are opaque, so there is no signing key to publish.
  idp.add('GET', '/:tenant/discovery/v2.0/keys', () => ({ body: { keys: [] } }));
}

function openIdConfiguration(origin: string, tenant: string, issuerTenant: string): Record<string, unknown> {
  const base = `${origin}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${origin}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'tid', 'ver', 'oid'],
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
  };
}

function tenantNotFound(tenant: string, correlationId: string) {
  return aadFailure(
    'tenantNotFound',
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the ` +
      `correct cloud. Check with your subscription administrator, this may happen if there are no active ` +
      `subscriptions for the tenant.`,
    correlationId,
  );
}

function missingParameter(name: string, correlationId: string) {
  return aadFailure(
    'missingParameter',
    `The request body must contain the following parameter: '${name}'.`,
    correlationId,
  );
}

interface TokenForm {
  grant_type?: string;
  client_id?: string;
  client_assertion_type?: string;
  client_assertion?: string;
  scope?: string;
}

function formFields(req: Request): TokenForm {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return {};
  const form: Record<string, string> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'string') form[key] = value;
  }
  return form;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

function queryString(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

function clientRequestId(req: Request): string | undefined {
  const value = req.headers['client-request-id'];
  return typeof value === 'string' && value.length <= 100 ? value : undefined;
}

function stripSlash(value: string): string {
  return value.replace(/\/+$/, '').toLowerCase();
}
