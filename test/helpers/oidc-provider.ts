// oidc-provider as a real authorization server for the client's tests, started
// per test on 127.0.0.1: open dynamic registration, PKCE (S256), resource
// indicators with RFC 9068 JWT access tokens (aud = resource), refresh tokens
// that rotate on every use (reuse revokes the grant), DPoP (optionally with
// nonces required), client credentials, revocation, and client ID metadata
// documents fetched over https from a loopback server trusted through a test CA.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { completeAuthorization } from '../../testing.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

export interface OidcServerOptions {
  /** Read at each request: push a resource once its URL is known. */
  resources: Array<{ uri: string, scopes: readonly string[] }>
  /** Every scope any resource uses (default mcp:tools:read, mcp:tools:call). */
  scopes?: readonly string[]
  /** Require DPoP nonces at the token endpoint (RFC 9449 §8). */
  dpopNonces?: boolean
  /** Turn on client ID metadata documents; documents are fetched trusting this CA (PEM). */
  cimdCa?: string
  clients?: ReadonlyArray<Record<string, unknown>>
  /** Seconds (default 3600). */
  accessTokenTtl?: number
  /** Rewrites the RFC 8414 document (`/.well-known/oauth-authorization-server`) for negative fixtures. */
  transformMetadata?: (metadata: Record<string, unknown>) => Record<string, unknown>
  /** Its signing key (a private EC P-256 JWK); default: one generated per server. */
  signingKey?: import('node:crypto').JsonWebKey
  /** Mount in this server instead of a new one, on the same origin (an embedded authorization server). */
  listen?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Promise<string>
}

export interface TokenRequestSeen {
  readonly grantType: string
  readonly ok: boolean
  readonly error?: string
}

export interface OidcServer {
  readonly issuer: string
  readonly provider: any
  /** Every token request, in order, with its outcome. */
  readonly tokenRequests: TokenRequestSeen[]
  /** Authorization requests that reached the endpoint (query parameters). */
  readonly authorizationRequests: URLSearchParams[]
  /** 400 use_dpop_nonce answers from the token endpoint. */
  readonly nonceChallenges: { count: number }
  /** Grants revoked (refresh-token reuse detection revokes the whole grant). */
  readonly revokedGrants: string[]
  readonly registrations: Array<Record<string, unknown>>
}

const LOGIN = 'test-user'
const OIDC_PROVIDER = 'oidc-provider'

// Stand-in for the user at the login and consent pages: approve everything asked for.
async function approve (provider: any, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res)
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: LOGIN } }, { mergeWithLastSubmission: false })
    return
  }
  const grant = details.grantId === undefined
    ? new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id })
    : await provider.Grant.find(details.grantId)
  const missing = details.prompt.details as { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }
  if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '))
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true })
}

// oidc-provider announces its in-memory adapter and experimental features on the console.
function quietly<T> (create: () => T): T {
  const { warn, info } = console
  const keep = (log: (...args: unknown[]) => void) => (...args: unknown[]) => {
    if (!String(args[0]).startsWith('oidc-provider')) log(...args)
  }
  console.warn = keep(warn)
  console.info = keep(info)
  try {
    return create()
  } finally {
    console.warn = warn
    console.info = info
  }
}

/** A fetch for oidc-provider's CIMD requests that trusts the test CA (its SSRF dispatcher is for public hosts). */
function fetchTrusting (ca: string) {
  return async (url: string, options: { method?: string, headers?: Headers, signal?: AbortSignal }): Promise<Response> => {
    return await new Promise((resolve, reject) => {
      const request = httpsRequest(url, { method: options.method ?? 'GET', headers: Object.fromEntries(options.headers ?? []), ca, signal: options.signal }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers as Record<string, string> })))
        res.on('error', reject)
      })
      request.on('error', reject)
      request.end()
    })
  }
}

async function listenOwn (handler: (req: IncomingMessage, res: ServerResponse) => void, t: Test): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

export async function startOidcServer (t: Test, options: OidcServerOptions): Promise<OidcServer> {
  // oidc-provider ships no type declarations.
  const { default: Provider, errors } = await import(OIDC_PROVIDER) as { default: any, errors: any }
  const tokenRequests: TokenRequestSeen[] = []
  const authorizationRequests: URLSearchParams[] = []
  const revokedGrants: string[] = []
  const registrations: Array<Record<string, unknown>> = []
  const nonceChallenges = { count: 0 }
  // Filled once the provider exists (its issuer URL needs the listener first).
  const mounted: { provider?: any, callback?: (req: IncomingMessage, res: ServerResponse) => void } = {}

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname.startsWith('/interaction/')) {
      approve(mounted.provider, req, res).catch((err: Error) => {
        res.writeHead(500).end(err.message)
      })
      return
    }
    if (url.pathname === '/auth') authorizationRequests.push(url.searchParams)
    if (url.pathname === '/token') {
      res.on('finish', () => {
        if (res.statusCode === 400 && res.hasHeader('dpop-nonce')) nonceChallenges.count++
      })
    }
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      // RFC 8414's location, served from oidc-provider's own document (optionally rewritten).
      fetch(`${issuer}/.well-known/openid-configuration`).then(async (r) => {
        let metadata = await r.json() as Record<string, unknown>
        if (options.transformMetadata !== undefined) metadata = options.transformMetadata(metadata)
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata))
      }, (err: Error) => res.writeHead(500).end(err.message))
      return
    }
    mounted.callback?.(req, res)
  }
  const issuer = options.listen === undefined ? await listenOwn(handler, t) : await options.listen(handler)

  const signingKey = options.signingKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  const cimd = options.cimdCa !== undefined
  const provider = quietly(() => new Provider(issuer, {
    jwks: { keys: [{ ...signingKey, kid: 'as-key', alg: 'ES256', use: 'sig' }] },
    clients: options.clients as any[] ?? [],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', ...(options.scopes ?? ['mcp:tools:read', 'mcp:tools:call'])],
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    responseTypes: ['code'],
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx: unknown, client: any) => client.grantTypeAllowed('refresh_token'),
    // Every refresh rotates, so a refresh token sent twice trips reuse detection.
    rotateRefreshToken: () => true,
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ...(cimd ? { fetch: fetchTrusting(options.cimdCa as string) } : {}),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      dPoP: { enabled: true, nonceSecret: options.dpopNonces === true ? randomBytes(32) : undefined, requireNonce: () => options.dpopNonces === true },
      ...(cimd ? { clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } } : {}),
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf ?? (options.resources.length === 1 ? options.resources[0]?.uri : undefined),
        useGrantedResource: async () => true,
        async getResourceServerInfo (_ctx: unknown, indicator: string) {
          const resource = options.resources.find((r) => r.uri === indicator)
          if (resource === undefined) throw new errors.InvalidTarget(`unknown resource ${indicator}`)
          return { audience: resource.uri, scope: resource.scopes.join(' '), accessTokenFormat: 'jwt', accessTokenTTL: options.accessTokenTtl ?? 3600, jwt: { sign: { alg: 'ES256' } } }
        },
      },
    },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, ClientCredentials: 3600, IdToken: 3600, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
    renderError: async (ctx: any, out: unknown) => {
      ctx.type = 'json'
      ctx.body = out
    },
  }))
  provider.on('grant.success', (ctx: any) => tokenRequests.push({ grantType: ctx.oidc.params.grant_type, ok: true }))
  provider.on('grant.error', (ctx: any, err: { error?: string }) => tokenRequests.push({ grantType: ctx.oidc.params?.grant_type, ok: false, error: err.error }))
  provider.on('grant.revoked', (_ctx: unknown, grantId: string) => revokedGrants.push(grantId))
  provider.on('registration_create.success', (_ctx: unknown, client: { metadata (): Record<string, unknown> }) => registrations.push(client.metadata()))
  mounted.provider = provider
  mounted.callback = provider.callback()
  return { issuer, provider, tokenRequests, authorizationRequests, nonceChallenges, revokedGrants, registrations }
}

/** The user's browser: follows the authorization URL through login and consent to the redirect URI. */
export async function browse (authorizationUrl: URL, redirectUri: string): Promise<URL> {
  return await completeAuthorization(authorizationUrl, redirectUri)
}

export { LOGIN }
