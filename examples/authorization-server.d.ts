// Types for authorization-server.js (a plain ESM example, run with node).

/** The oidc-provider instance (oidc-provider ships no types; this is the part tests use). */
export interface OidcProvider {
  readonly issuer: string
  /** Events such as 'server_error', 'grant.success', 'registration_create.success'. */
  on (event: string, listener: (...args: any[]) => void): this
  [member: string]: unknown
}

export interface DevResource {
  /** The MCP server's canonical resource URI (RFC 8707): the `aud` of its access tokens. */
  uri: string
  /** Scopes this resource accepts; a token's `scope` is limited to these. */
  scopes: string[]
  /**
   * What an authorization request naming this resource but no scope gets (MCP clients
   * send no scope when none is advertised). Default: every scope in `scopes`.
   */
  defaultScopes?: string[]
}

export interface DemoUser {
  sub: string
  name?: string
  [claim: string]: unknown
}

/** oidc-provider client metadata (snake_case), e.g. a confidential client_credentials client. */
export interface DevClient {
  client_id: string
  client_secret?: string
  grant_types?: string[]
  redirect_uris?: string[]
  response_types?: string[]
  token_endpoint_auth_method?: string
  [metadata: string]: unknown
}

export interface AuthorizationServerOptions {
  /** Default 0 (any free port). */
  port?: number
  /** The issuer's path, e.g. '/oauth' (default none). */
  path?: string
  /** Loopback only: '127.0.0.1' (default), '::1' or 'localhost'. */
  host?: string
  /** At least one. */
  resources?: DevResource[]
  /** The one account (password "demo"). Default { sub: 'demo-user', name: 'Demo User' }. */
  demoUser?: DemoUser
  /** Pre-registered clients. */
  clients?: DevClient[]
  /** Require DPoP nonces at the token endpoint (RFC 9449 §8). */
  nonces?: boolean
  /** No development warning and no log (for tests). */
  quiet?: boolean
  /**
   * TESTS ONLY. Replaces the fetch oidc-provider uses for Client ID Metadata Documents,
   * whose default refuses loopback, private and other special-use addresses (an SSRF
   * guard). A test serving CIMD documents over HTTPS on 127.0.0.1 passes its own fetch
   * here; `init.dispatcher` then holds the guard, which the replacement must not use.
   */
  unsafeFetch?: (url: URL | string, init: RequestInit & { dispatcher?: unknown }) => Promise<Response>
}

export interface DevAuthorizationServer {
  /** The issuer identifier (no trailing slash), e.g. http://127.0.0.1:43123 */
  issuer: string
  /** The base URL (same as issuer). */
  url: string
  provider: OidcProvider
  /** The Fastify app serving it. */
  app: import('fastify').FastifyInstance
  close (): Promise<void>
}

/** The demo user's password on the development login page. */
export const DEMO_PASSWORD: string

export function startAuthorizationServer (options?: AuthorizationServerOptions): Promise<DevAuthorizationServer>

/**
 * Drives an authorization request through the development login (as the demo user) and
 * consent (following redirects, carrying cookies) to the redirect URI carrying the code.
 */
export function completeDevAuthorization (authorizationUrl: URL | string, redirectUri: string): Promise<URL>
