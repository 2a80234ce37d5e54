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
  /** Loopback only: '127.0.0.1' (default), '::1' or 'localhost'. */
  host?: string
  resources?: DevResource[]
  /** The user every login signs in. Default { sub: 'demo-user', name: 'Demo User' }. */
  demoUser?: DemoUser
  /** Pre-registered clients. */
  clients?: DevClient[]
  /** Require DPoP nonces at the token endpoint (RFC 9449 §8). */
  nonces?: boolean
  /** No development warning, no oidc-provider start-up notices (for tests). */
  quiet?: boolean
}

export interface DevAuthorizationServer {
  /** The issuer identifier (no trailing slash), e.g. http://127.0.0.1:43123 */
  issuer: string
  /** The base URL (same as issuer). */
  url: string
  provider: OidcProvider
  close (): Promise<void>
}

export function startAuthorizationServer (options?: AuthorizationServerOptions): Promise<DevAuthorizationServer>

/**
 * Drives an authorization request through the auto-approved login and consent
 * (following redirects, carrying cookies) to the redirect URI carrying the code.
 */
export function completeDevAuthorization (authorizationUrl: URL | string, redirectUri: string): Promise<URL>
