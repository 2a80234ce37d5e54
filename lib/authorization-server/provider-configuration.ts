// The oidc-provider configuration with the MCP defaults: PKCE S256 for every
// client, resource indicators with RFC 9068 JWT access tokens whose `aud` is
// the requested resource, default scopes for scope-less requests, refresh
// tokens only when asked for, consented and registered for, rotation on every
// use, `iss` in every authorization response, DPoP with stateless nonces,
// Client ID Metadata Documents behind the address policy, and no symmetric
// client authentication.
import { errors } from 'oidc-provider'
import { defaultScope } from './default-scopes.js'
import { ID_JAG_PROFILE } from './id-jag.js'
import { createOutboundFetch, defaultLookup } from './outbound-fetch.js'
import type { ResolvedAsOptions, ResolvedAsResource } from './options.js'
import type { AdapterFactory } from './provider-types.js'
import { keepOfflineAccess, OFFLINE_ACCESS, scopeTokens } from './offline-access.js'
import type { AuthorizationContext } from './offline-access.js'

/** Endpoint paths below the issuer; the MCP 2025-03-26 fallback paths (/authorize, /token, /register) among them. */
export const ROUTES = Object.freeze({
  authorization: '/authorize',
  token: '/token',
  registration: '/register',
  revocation: '/revoke',
  introspection: '/introspect',
  pushed_authorization_request: '/par',
  userinfo: '/userinfo',
  jwks: '/jwks',
  end_session: '/logout',
})

/** Where oidc-provider sends the browser for login and consent (below the issuer path). */
export const INTERACTION_PATH = '/interaction'

type Client = { clientId: string, clientAuthMethod: string, grantTypeAllowed (type: string): boolean }

/** How oidc-provider issues a resource's access tokens: RFC 9068 JWTs whose `aud` is the resource. */
export function resourceServerInfo (resource: ResolvedAsResource, algorithm: string): Record<string, unknown> {
  return {
    audience: resource.uri,
    scope: resource.scopes.join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: resource.accessTokenTtl,
    jwt: { sign: { alg: algorithm } },
  }
}

export interface ConfigurationHooks {
  readonly adapter: AdapterFactory
  findAccount (subject: string): Promise<unknown>
}

export function buildConfiguration (options: ResolvedAsOptions, hooks: ConfigurationHooks): Record<string, unknown> {
  const byUri = new Map(options.resources.map((r) => [r.uri, r]))
  const allScopes = new Set(['openid', 'offline_access', ...options.resources.flatMap((r) => r.scopes)])
  const claims: Record<string, string[]> = { openid: ['sub'] }
  for (const [scope, names] of Object.entries(options.claims)) {
    claims[scope] = [...names]
    allScopes.add(scope)
  }

  const configuration: Record<string, unknown> = {
    adapter: hooks.adapter,
    jwks: { keys: options.signingKeys.privateKeys.map((k) => ({ ...k })) },
    clients: options.staticClients.map((c) => ({ ...c })),
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: options.signingKeys.algorithm,
    },
    // Asymmetric client authentication or none; client_secret_jwt (HS*) is not offered.
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'EdDSA'],
    },
    cookies: {
      keys: [...options.cookieKeys],
      long: { httpOnly: true, sameSite: 'lax', secure: options.issuerUrl.protocol === 'https:' },
      short: { httpOnly: true, sameSite: 'lax', secure: options.issuerUrl.protocol === 'https:' },
    },
    claims,
    scopes: [...allScopes],
    findAccount: async (_ctx: unknown, subject: string) => hooks.findAccount(subject),
    responseTypes: ['code'],
    // OAuth 2.1 and MCP: PKCE (S256, the only method oidc-provider 9 knows) for every client.
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx: unknown, client: Client, code: { scopes: Set<string> }) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // Every refresh rotates; reusing a rotated one revokes the grant (OAuth 2.1 §4.3.1).
    rotateRefreshToken: true,
    routes: { ...ROUTES },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${options.mountPath}${INTERACTION_PATH}/${interaction.uid}` },
    // After the standard checks and before the grant is looked at, for the
    // authorization and PAR endpoints alike: offline_access for OAuth requests,
    // then the default scopes for a request that names no scope of a resource.
    extraParams: {
      async resource (ctx: AuthorizationContext, value: unknown) {
        keepOfflineAccess(ctx)
        const scopes = scopeTokens(ctx.oidc.params.scope)
        // offline_access asks for a refresh token, not for access to a resource.
        if (scopes.some((s) => s !== OFFLINE_ACCESS)) return
        const named = typeof value === 'string' ? [value] : Array.isArray(value) ? value as string[] : []
        // No resource named: the only resource there is (the provider's default resource).
        const targets = named.length > 0 ? named : options.resources.length === 1 ? [(options.resources[0] as ResolvedAsResource).uri] : []
        const filled = defaultScope({ scope: undefined, resource: targets }, (uri) => byUri.get(uri)?.defaultScopes)
        if (filled === undefined) {
          throw new errors.InvalidScope(targets.length === 0
            ? 'no scope was requested and no resource was named'
            : 'no scope was requested and a requested resource has no default scopes', '')
        }
        ctx.oidc.params.scope = [filled, ...scopes].join(' ')
      },
    },
    // A dynamically registered client is not bound to the scopes of its first
    // request (MCP clients register with it, then step up), unless bindScope says so.
    extraClientMetadata: {
      properties: ['scope'],
      validator (ctx: { oidc?: { route?: string } } | undefined, key: string, value: unknown, metadata: Record<string, unknown>) {
        const route = ctx?.oidc?.route
        if (key === 'scope' && value !== undefined && options.registration?.bindScope !== true && (route === 'registration' || route === 'client_update')) {
          delete metadata.scope
        }
      },
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: false },
      clientCredentials: { enabled: true },
      // A token's details go only to the client it was issued to (RFC 7662 §4
      // leaves who may ask to the server); resource servers verify the JWT access
      // tokens with the public keys, which introspection refuses (oidc-provider's rule).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      registration: options.registration === undefined
        ? { enabled: false }
        : { enabled: true, initialAccessToken: options.registration.initialAccessToken ?? false },
      registrationManagement: { enabled: options.registration !== undefined, rotateRegistrationAccessToken: true },
      dPoP: {
        enabled: true,
        nonceSecret: options.dpopNonceSecret,
        requireNonce: () => options.dpopNonceSecret !== undefined,
        allowReplay: false,
      },
      clientIdMetadataDocument: options.cimd === undefined
        ? { enabled: false }
        : {
            enabled: true,
            ack: 'draft-02',
            allowFetch: async (_ctx: unknown, clientId: string) => (await options.cimd?.allowFetch(new URL(clientId))) === true,
          },
      resourceIndicators: {
        enabled: true,
        // A request that names no resource is for the only one there is, but an
        // OpenID request asking for none of its scopes signs a person in: its
        // access token is for userinfo.
        async defaultResource (ctx: AuthorizationContext, _client: unknown, oneOf?: string[]) {
          if (oneOf !== undefined) return oneOf[0]
          const only = options.resources.length === 1 ? options.resources[0] as ResolvedAsResource : undefined
          const scopes = scopeTokens(ctx.oidc.params.scope)
          if (only === undefined || (scopes.includes('openid') && !scopes.some((s) => only.scopes.includes(s)))) return undefined
          return only.uri
        },
        // The code's resource is used at the token endpoint, `openid` or not.
        useGrantedResource: async () => true,
        async getResourceServerInfo (_ctx: unknown, indicator: string) {
          const resource = byUri.get(indicator)
          if (resource === undefined) throw new errors.InvalidTarget(`unknown resource ${indicator}`)
          return resourceServerInfo(resource, options.signingKeys.algorithm)
        },
      },
    },
    // Documents over 5 kB are refused (the fetch itself gives up after 2.5 s).
    fetchResponseBodyLimits: { 'client_id metadata document': 5 * 1024, jwks_uri: 64 * 1024, sector_identifier_uri: 64 * 1024 },
    fetch: createOutboundFetch(options.cimd?.lookup ?? defaultLookup),
    ttl: {
      AccessToken: Math.min(...options.resources.map((r) => r.accessTokenTtl)),
      AuthorizationCode: options.ttl.authorizationCode,
      ClientCredentials: Math.min(...options.resources.map((r) => r.accessTokenTtl)),
      IdToken: 3600,
      RefreshToken: options.ttl.refreshToken,
      Interaction: options.ttl.interaction,
      Session: options.ttl.session,
      Grant: options.ttl.grant,
      PushedAuthorizationRequest: 60,
    },
    // Enterprise-managed authorization: clients discover the ID-JAG profile here (MCP SEP-990 §6).
    ...(options.idJag === undefined ? {} : { discovery: { authorization_grant_profiles_supported: [ID_JAG_PROFILE] } }),
    // CORS is the plugin's (Access-Control-Allow-Origin: * on the public endpoints, none elsewhere).
    clientBasedCORS: () => false,
    renderError: async (ctx: { type: string, body: unknown, status: number }, out: Record<string, unknown>) => {
      ctx.type = 'json'
      ctx.body = { error: out.error, error_description: out.error_description }
    },
  }
  options.configure?.(configuration)
  return configuration
}
