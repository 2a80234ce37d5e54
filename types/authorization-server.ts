// Public types of the `fastify-mcp-auth/authorization-server` entry: the plugin's
// options, the interaction details handed to the host's login and consent
// callbacks, and the `fastify.mcpAuthorizationServer` decoration.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { JWK, JWTVerifyGetKey } from 'jose'

/** One MCP server (protected resource) this authorization server issues tokens for. */
export interface AuthorizationServerResource {
  /** Canonical resource URI (RFC 8707): the `aud` of its access tokens. */
  uri: string
  /** Every scope this resource accepts; a token's `scope` is limited to these. */
  scopes: readonly string[]
  /**
   * Scopes granted to a request that names this resource but no scope. Without
   * them such a request gets `invalid_scope` (MCP clients omit `scope` when
   * nothing is advertised, and the official conformance scenario sends none).
   */
  defaultScopes?: readonly string[]
  /** Access-token lifetime in seconds (default 300). */
  accessTokenTtl?: number
}

/** What `accounts.find` returns: the account and its claims for ID tokens and userinfo. */
export interface AuthorizationServerAccount {
  accountId: string
  claims (use: 'id_token' | 'userinfo', scope: string): Record<string, unknown> | Promise<Record<string, unknown>>
}

export interface AccountsOptions {
  /** Looks an account up by subject; undefined when it does not exist (the login fails closed). */
  find (subject: string): AuthorizationServerAccount | undefined | Promise<AuthorizationServerAccount | undefined>
}

/** The client as shown to the user on the consent page. */
export interface InteractionClient {
  clientId: string
  /** `client_name`, or the client ID when the client has none. */
  name: string
  /** The redirect URI this authorization will return to. */
  redirectUri: string
  /** Its host, which consent must display (MCP, for Client ID Metadata Documents). */
  redirectHost: string
  /** True for a client identified by a Client ID Metadata Document URL. */
  metadataDocument: boolean
}

interface InteractionDetailsBase {
  /** The interaction's identifier (also in the page URL). */
  uid: string
  client: InteractionClient
  /** The scopes the request asks for (default scopes applied). */
  scopes: readonly string[]
  /** The resource indicators the request names. */
  resources: readonly string[]
  /**
   * A token bound to this interaction: put it in a hidden `csrf` field of every
   * form that posts back to this page; the plugin checks it before your callback runs.
   */
  csrfToken: string
  /** Ends the interaction with `access_denied` and redirects to the client. */
  deny (description?: string): Promise<void>
}

export interface LoginDetails extends InteractionDetailsBase {
  prompt: 'login'
  /** Signs `accountId` in and continues the authorization (a 303 redirect). */
  complete (result: { accountId: string }): Promise<void>
  /** Counts a failed sign-in for `accountId` against the failed-login rate limit. */
  failed (accountId: string): Promise<void>
}

export interface ConsentDetails extends InteractionDetailsBase {
  prompt: 'consent'
  /** The signed-in account. */
  accountId: string
  /** Grants `scopes` (default: everything requested) and continues the authorization. */
  grant (result?: { scopes?: readonly string[] }): Promise<void>
}

/** Renders a page for GET and handles the form POST of the interaction route. */
export type InteractionHandler<D> = (request: FastifyRequest, reply: FastifyReply, details: D) => unknown

export interface InteractionsOptions {
  login: InteractionHandler<LoginDetails>
  consent: InteractionHandler<ConsentDetails>
}

/** A static client, in RFC 7591 metadata (snake_case). */
export interface StaticClientMetadata {
  client_id: string
  client_secret?: string
  client_name?: string
  redirect_uris?: readonly string[]
  grant_types?: readonly string[]
  response_types?: readonly string[]
  token_endpoint_auth_method?: string
  jwks?: { keys: readonly JWK[] }
  scope?: string
  [metadata: string]: unknown
}

export interface CimdOptions {
  /**
   * Whether a Client ID Metadata Document URL may be fetched at all (an allow-list
   * of hosts, typically). Loopback, private, link-local and unique-local addresses
   * are refused whatever this answers. Default: every public https URL.
   */
  allowFetch? (url: URL): boolean | Promise<boolean>
  /**
   * The resolver of the address check made before connecting (default
   * `dns.promises.lookup` with `all: true`). The connection resolves the name through
   * the system again, and oidc-provider's guard refuses a non-public address there too.
   */
  lookup? (hostname: string): Promise<ReadonlyArray<{ address: string, family: number }>>
}

export interface RegistrationOptions {
  /** Open dynamic client registration (RFC 7591/7592). Default true. */
  enabled?: boolean
  /** Require this initial access token (`Authorization: Bearer …`) to register. */
  initialAccessToken?: string
  /** Seconds an unauthenticated registration lives unused (default 30 days). */
  idleTtl?: number
  /** Registrations per client IP per hour (default 20). */
  perIpPerHour?: number
  /**
   * Bind a registered client to the `scope` it registers with (default false: MCP
   * clients register with the scope of their first request and later step up).
   */
  bindScope?: boolean
}

export interface ClientsOptions {
  static?: readonly StaticClientMetadata[]
  /** Client ID Metadata Documents (on by default); false turns them off. */
  cimd?: false | CimdOptions
  /** Dynamic registration (on by default, limited); false turns it off. */
  registration?: false | RegistrationOptions
}

export interface RateLimitOptions {
  /** Failed sign-ins per account per minute (default 10). */
  failedLoginsPerMinute?: number
  /** Token-endpoint requests per client IP per minute (default 300). */
  tokenPerMinute?: number
  /** Interaction-page requests per client IP per minute (default 60). */
  interactionsPerMinute?: number
}

/** An event of the authorization server, in the suite's vocabulary. */
export interface AuthorizationServerEvent {
  type:
    | 'token.issued'
    | 'token.refused'
    | 'authorization.granted'
    | 'authorization.denied'
    | 'client.registered'
    | 'grant.revoked'
    | 'refresh_token.reused'
    | 'server_error'
  /** The client involved, when known. */
  clientId?: string
  /** The account involved, when known. */
  subject?: string
  /** The OAuth error code of a refusal. */
  error?: string
  /** The grant type of a token request. */
  grantType?: string
}

/** The verified claims of an Identity Assertion JWT Authorization Grant (ID-JAG). */
export interface IdJagClaims {
  /** The identity provider's issuer identifier. */
  iss: string
  /** The user at the identity provider. */
  sub: string
  /** This authorization server's issuer. */
  aud: string | string[]
  /** The client at this authorization server that acts for the user. */
  client_id: string
  jti: string
  exp: number
  iat: number
  /** The MCP server(s) the grant is for (RFC 8707 resource identifiers). */
  resource?: string | string[]
  /** The scopes the identity provider granted, space-separated. */
  scope?: string
  [claim: string]: unknown
}

/** An enterprise identity provider whose ID-JAGs this authorization server honours. */
export interface IdJagTrustedIssuer {
  /** Its issuer identifier, compared exactly with the ID-JAG's `iss`. */
  issuer: string
  /** Its public signing keys: `{ keys: [public JWK] }`, or its https `jwks_uri` (fetched, cached, refetched for an unknown `kid`). */
  jwks: { keys: readonly JWK[] } | string
  /** Accepted JWS algorithms (default: every asymmetric one; never `none` or HMAC). */
  algorithms?: readonly string[]
  /**
   * The account ID at this authorization server for the ID-JAG's user (default:
   * its `sub`); `accounts.find` must know it. Map here when several identity
   * providers are trusted, so one's subjects cannot name another's users.
   */
  accountId? (claims: IdJagClaims): string | undefined | Promise<string | undefined>
}

/** Enterprise-managed authorization (MCP SEP-990): the RFC 7523 jwt-bearer grant for ID-JAGs. */
export interface IdJagOptions {
  trustedIssuers: readonly IdJagTrustedIssuer[]
  /** Longest accepted ID-JAG lifetime, `exp - iat`, in seconds (default 600, at most 3600). */
  maxLifetime?: number
  /** Seconds of clock difference tolerated on `exp` and `iat` (default 30). */
  clockTolerance?: number
}

/** An `oidc-provider` storage adapter factory (`redisAdapter(client)` makes one). */
export type AuthorizationServerStore = (name: string) => unknown

export interface McpAuthorizationServerOptions {
  /** Issuer identifier, used verbatim (no trailing slash is added): every URL is built from it. */
  issuer: string
  resources: readonly AuthorizationServerResource[]
  /** Private signing JWKs (the first signs). Without it a key is generated: development only. */
  signingKeys?: { keys: readonly JWK[] }
  accounts: AccountsOptions
  /** Claims released per scope, e.g. `{ profile: ['name'] }` (`openid` always releases `sub`). */
  claims?: Readonly<Record<string, readonly string[]>>
  /** Login and consent: the host's pages, or `developmentInteractions(...)`. */
  interactions: InteractionsOptions
  clients?: ClientsOptions
  /** DPoP (on by default); `nonce.secret` (≥ 32 bytes, the same on every instance) requires nonces. */
  dpop?: { nonce?: { secret: string | Uint8Array } }
  /** Cookie signing keys (required outside development; the first signs). */
  cookies?: { keys: readonly string[] }
  /** Storage for grants, codes and sessions (default: in memory, one process). */
  store?: AuthorizationServerStore
  rateLimit?: false | RateLimitOptions
  /** Lifetimes in seconds. */
  ttl?: { authorizationCode?: number, refreshToken?: number, session?: number, interaction?: number, grant?: number }
  /** Enterprise-managed authorization: accept ID-JAGs from these identity providers (docs/enterprise.md). */
  idJag?: IdJagOptions
  onEvent? (event: AuthorizationServerEvent): void | Promise<void>
  /**
   * Last-resort access to the `oidc-provider` configuration the plugin built, called
   * once at `register` before the provider is created (e.g. a test-only `fetch` that
   * trusts a test CA). Outside the plugin's guarantees: a change here can turn off any
   * MCP default or check, and no test covers the result.
   */
  configure? (configuration: Record<string, unknown>): void
}

export interface AuthorizationServerHealth {
  store: { reachable: boolean, error?: string }
  keys: { count: number, kids: readonly string[] }
}

/** The part of oidc-provider's Provider the decoration exposes (events, and more at your own risk). */
export interface OidcProviderInstance {
  readonly issuer: string
  /** oidc-provider events such as 'server_error', 'grant.success', 'authorization.error'. */
  on (event: string, listener: (...args: any[]) => void): this
  [member: string]: unknown
}

export interface McpAuthorizationServerDecorator {
  /** The issuer identifier, exactly as configured. */
  readonly issuer: string
  /** The public signing keys as a key function for `mcpAuth({ jwks })`: no JWKS request needed. */
  readonly keys: JWTVerifyGetKey
  /** The public JWKS document as served at jwks_uri, a fresh copy (for a resource server elsewhere). */
  jwks (): { keys: JWK[] }
  /** The store's reachability (a PING for redisAdapter) and the signing keys, for a readiness probe. */
  health (): Promise<AuthorizationServerHealth>
  /**
   * The oidc-provider instance underneath: an escape hatch (its events,
   * registerGrantType). Outside the plugin's guarantees: what you change through it
   * can turn off any MCP default or check.
   */
  readonly provider: OidcProviderInstance
}

declare module 'fastify' {
  interface FastifyInstance {
    mcpAuthorizationServer: McpAuthorizationServerDecorator
  }
}
