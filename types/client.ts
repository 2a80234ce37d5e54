// Public types of fastify-mcp-auth/client: the options of createMcpOAuthClient
// and of the mcpClient plugin, the seams a caller plugs in (authorizer, grant
// assertion, store) and the Fastify augmentation for `fastify.mcpClient`.
import type { FastifyRequest } from 'fastify'
import type { JWK } from 'jose'
import type { CryptoKey, CryptoKeyPair } from 'oauth4webapi'
import type { DpopAlgorithm } from '../lib/client/dpop.js'
import type { CredentialStore } from '../lib/client/stores/credential-store.js'

export type { DpopAlgorithm } from '../lib/client/dpop.js'
export type { CredentialStore, StoreLock, StoredRecord } from '../lib/client/stores/credential-store.js'
export type { McpClientErrorCode, McpClientErrorReason, McpOAuthErrorCode } from '../lib/client/errors.js'

/** How the client authenticates at the token (and revocation) endpoint. */
export type ClientAuthentication =
  | { readonly method: 'none' }
  | { readonly method: 'client_secret_basic', readonly secret: string }
  | { readonly method: 'client_secret_post', readonly secret: string }
  | {
    readonly method: 'private_key_jwt'
    /** A PKCS#8 PEM string, a private JWK or a CryptoKey. */
    readonly key: string | JWK | CryptoKey
    /** JWS algorithm of the assertion; default: the JWK's `alg`, else ES256. */
    readonly algorithm?: string
    /** `kid` header of the assertion; default: the JWK's `kid`. */
    readonly kid?: string
  }

/** A client registered with an authorization server out of band. */
export interface PreRegisteredClient {
  readonly clientId: string
  /** Default `{ method: 'none' }` (a public client). */
  readonly auth?: ClientAuthentication
}

/**
 * Pre-registered clients keyed by the exact issuer identifier they were
 * registered with (credentials never cross authorization servers), or a
 * function answering for an issuer.
 */
export type PreRegisteredClients =
  | Readonly<Record<string, PreRegisteredClient>>
  | ((issuer: string) => PreRegisteredClient | undefined | Promise<PreRegisteredClient | undefined>)

/** RFC 7591 client metadata sent for dynamic registration (DCR). */
export interface ClientMetadata {
  client_name?: string
  /** `native` or `web` (MCP 2026-07-28 requires one); default: `native` for loopback redirect URIs, else `web`. */
  application_type?: 'native' | 'web'
  /** Default: the redirect URI the client uses. */
  redirect_uris?: readonly string[]
  /** Default: `authorization_code` and `refresh_token`. */
  grant_types?: readonly string[]
  response_types?: readonly string[]
  /** Default `none` (a public client using PKCE). */
  token_endpoint_auth_method?: string
  [name: string]: unknown
}

export interface AuthorizeContext {
  /** The `state` the callback must carry back. */
  readonly state: string
  readonly redirectUri: string
  /** The authorization server's issuer identifier. */
  readonly issuer: string
  /** The MCP server's resource identifier the token is for. */
  readonly resource: string
}

/**
 * Sends the user to the authorization URL (a browser) and resolves with the
 * whole URL the authorization server redirected back to (code, state, iss).
 * `redirectUri` tells the client where that is, when the authorizer knows.
 */
export interface Authorizer {
  (authorizationUrl: URL, context: AuthorizeContext): Promise<URL | string>
  readonly redirectUri?: string
}

export interface AssertionContext {
  /** The authorization server's issuer: the assertion's audience. */
  readonly issuer: string
  readonly tokenEndpoint: string
  readonly clientId: string
  /** The MCP server's resource identifier (RFC 8707). */
  readonly resource: string
  readonly scope: string | undefined
  /** Whose token it is: the app user's partition in `mcpClient`, '' for `createMcpOAuthClient`. */
  readonly partition: string
}

/** The enterprise identity provider of enterprise-managed authorization, and this client's registration there. */
export interface IdentityProvider {
  /** Its issuer identifier (the audience of a `private_key_jwt` client assertion). */
  readonly issuer: string
  /** Where the token exchange is sent (https; http only on loopback). */
  readonly tokenEndpoint: string
  /** This client's ID at the identity provider (the audience of the user's ID token). */
  readonly clientId: string
  /** Default `{ method: 'none' }`; MCP asks identity providers to require client authentication here. */
  readonly auth?: ClientAuthentication
}

/** Enterprise-managed authorization (MCP SEP-990): the ID token exchanged for an ID-JAG, presented with jwt-bearer. */
export interface IdJagGrantOptions {
  readonly type: 'id-jag'
  readonly idp: IdentityProvider
  /**
   * The signed-in user's ID token from the identity provider (the token
   * exchange's subject token). Asked for each exchange: return a fresh one.
   */
  readonly idToken: (context: AssertionContext) => string | Promise<string>
}

/** How tokens are obtained. Default: the authorization-code grant with `authorize`. */
export type McpOAuthGrant =
  | { readonly type: 'authorization_code' }
  | { readonly type: 'client_credentials' }
  | {
    readonly type: 'jwt-bearer'
    /** Returns the JWT to present (RFC 7523 §2.1): a workload identity token, an ID-JAG… */
    readonly assertion: (context: AssertionContext) => string | Promise<string>
  }
  | IdJagGrantOptions

export interface DpopClientOptions {
  /** `'generate'`: a key per credential, stored with it (encrypted by the store); or one key pair for everything. */
  readonly key: 'generate' | CryptoKeyPair
  /** For generated keys (default ES256). */
  readonly algorithm?: DpopAlgorithm
}

export interface McpOAuthClientOptions {
  /** Client IDs registered beforehand, per authorization server: used first (MCP registration priority). */
  preRegistered?: PreRegisteredClients
  /** An https URL with a path serving this client's metadata document (CIMD): used when the authorization server supports it. */
  clientMetadataUrl?: string
  /** Metadata for dynamic registration, the last resort. */
  clientMetadata?: ClientMetadata
  /** Runs the browser step of the authorization-code grant (e.g. loopbackAuthorizer()). */
  authorize?: Authorizer
  /** The redirect URI; default: `authorize.redirectUri`, else the first of `clientMetadata.redirect_uris`. */
  redirectUri?: string
  grant?: McpOAuthGrant
  /** Default: memoryCredentialStore(). */
  store?: CredentialStore
  /** Sender-constrained tokens (RFC 9449); default off. */
  dpop?: DpopClientOptions | false
  scopes?: {
    /** Authorizations per resource and operation before the client gives up and returns the server's answer (default 3). */
    maxAttempts?: number
    /** Add `offline_access` when the authorization server lists it (SEP-2207; default true). */
    offlineAccess?: boolean
  }
  pkce?: {
    /** Issuers known to support S256 without publishing `code_challenge_methods_supported`. */
    allowMissingMetadata?: readonly string[]
  }
  /** Sends every request (default: the global fetch). */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
  /** Seconds an OAuth or discovery request may take (default 5). */
  timeout?: number
  /** Bytes an OAuth or discovery response may have (default 1 MiB). */
  maxResponseBytes?: number
  /** Asked before every request; false refuses it. */
  allowUrl?: (url: URL) => boolean | Promise<boolean>
  /** Allow loopback, private and link-local addresses (default true; false needs the built-in fetch). */
  allowPrivateNetworks?: boolean
  /** Also talk to MCP 2025-03-26 servers: no resource metadata, authorization server at the MCP origin, default endpoints. */
  legacyDiscovery?: boolean
}

export interface SignOutOptions {
  /** Only the credentials for this MCP server's resource identifier. */
  resource?: string
}

export interface SignOutResult {
  /** Credentials deleted from the store. */
  readonly deleted: number
  /** Tokens the authorization servers confirmed revoked (RFC 7009). */
  readonly revoked: number
  /** Revocations that failed (the credential is deleted all the same). */
  readonly failures: ReadonlyArray<{ readonly issuer: string, readonly resource: string, readonly error: Error }>
}

export interface McpOAuthClient {
  /** `fetch` with OAuth: pass it to the MCP SDK's StreamableHTTPClientTransport, or call it directly. */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
  /** Revokes (RFC 7009) and deletes the stored credentials. */
  signOut (options?: SignOutOptions): Promise<SignOutResult>
}

export interface LoopbackAuthorizerOptions {
  /** Port on 127.0.0.1 (0: any free port, fixed when the authorizer is created). */
  port: number
  /** Callback path (default '/callback'). */
  path?: string
  /** Shows the authorization URL to the user (open a browser, print it): the authorizer never opens one itself. */
  open: (url: URL) => void | Promise<void>
  /** Seconds to wait for the callback (default 300). */
  timeout?: number
}

export interface ClientMetadataDocumentOptions {
  /** Route path on this app (the document's URL is `baseUrl` + path). */
  path: string
  /** The document: `client_id` must equal its public URL; `client_name` and `redirect_uris` are required; no secrets. */
  document: ClientMetadata & { client_id: string, client_name: string, redirect_uris: readonly string[] }
  /** Cache-Control max-age in seconds (default 3600). */
  cacheMaxAge?: number
}

export interface McpClientPluginOptions extends Omit<McpOAuthClientOptions, 'authorize' | 'redirectUri' | 'clientMetadataUrl'> {
  /** This app's public origin, e.g. https://app.example.com: the callback and CIMD URLs are built on it. */
  baseUrl: string
  /** GET route receiving the authorization response (default '/oauth/mcp/callback'). */
  callbackPath?: string
  /** Host this client's metadata document (CIMD) and use its URL as client ID. */
  clientMetadataDocument?: ClientMetadataDocumentOptions
  /** The credential space of a request: one per app user. */
  partition: (request: FastifyRequest) => string | Promise<string>
  /** Refuse loopback, private and link-local addresses (default false: refused). */
  allowPrivateNetworks?: boolean
}

export interface McpClientForOptions {
  /** Same-origin path to return to after the callback (default: this request's URL for GET, else '/'). */
  returnTo?: string
}

export interface McpClientDecorator {
  /** The MCP client acting for the user of `request`. */
  for (request: FastifyRequest, options?: McpClientForOptions): McpOAuthClient
  /** The redirect URI registered with authorization servers. */
  readonly redirectUri: string
  /** The client metadata document URL, when hosted. */
  readonly clientMetadataUrl: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    mcpClient: McpClientDecorator
  }
  interface FastifyContextConfig {
    /** `false` opts the route out of mcpAuth's authentication (the mcpClient routes carry it). */
    mcpAuth?: false
  }
}
