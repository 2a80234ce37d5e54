// Public types of fastify-mcp-auth and the Fastify augmentation. The entry
// point re-exports these, so the augmentation reaches every user's program.
import type { FastifyRequest } from 'fastify'
import type { CryptoKey, JWK, JWTVerifyGetKey, KeyObject } from 'jose'
import type { AccessTokenClaims } from '../lib/claims.js'
import type { DpopNonceProvider } from '../lib/dpop/nonce.js'
import type { McpAuthError } from '../lib/errors.js'
import type { ReplayStore } from '../lib/stores/replay-store.js'
import type { SessionStore } from '../lib/stores/session-store.js'

export type { AccessTokenClaims, ConfirmationClaim } from '../lib/claims.js'
export type { DpopNonceProvider, NonceVerdict } from '../lib/dpop/nonce.js'
export type { McpAuthErrorCode, McpAuthRejectionCode, McpAuthRejectReason, McpAuthStatus, OAuthErrorCode, McpAuthErrorOptions } from '../lib/errors.js'
export type { ReplayStore } from '../lib/stores/replay-store.js'
export type { SessionStore } from '../lib/stores/session-store.js'

/**
 * Registry for user-chosen types. Augment it to type `request.mcp.principal`:
 * `declare module 'fastify-mcp-auth' { interface McpAuthTypes { principal: User } }`
 */
export interface McpAuthTypes {}

export type McpPrincipal = McpAuthTypes extends { principal: infer P } ? P : unknown

/** How the token was sender-constrained for this request. */
export type McpSender =
  | { readonly binding: 'bearer' }
  | { readonly binding: 'dpop', readonly jkt: string }
  | { readonly binding: 'mtls', readonly x5t: string }

/** `request.mcp`: the verified context of one request, frozen with everything it holds. */
export interface McpAuthContext<P = McpPrincipal> {
  /** The access token as sent. Non-enumerable, so serializing the context never prints it. */
  readonly token: string
  readonly claims: Readonly<AccessTokenClaims>
  readonly scopes: readonly string[]
  readonly subject: string | undefined
  /** `client_id`, else `azp`. */
  readonly clientId: string | undefined
  readonly issuer: string
  /** The canonical resource URI the request was authorized for. */
  readonly resource: string
  /** `exp` in seconds since the epoch. */
  readonly expiresAt: number | undefined
  readonly sender: McpSender
  /** What the `principal` option returned; undefined without it. */
  readonly principal: P
}

/** The MCP SDK's `AuthInfo`, set on `request.raw.auth` for SDK transports. */
export interface McpAuthInfo {
  token: string
  clientId: string
  scopes: string[]
  expiresAt?: number
  resource?: URL
  extra?: Record<string, unknown>
}

export interface ResourceOptions {
  /** Canonical resource URI (RFC 8707): absolute, https (http only for loopback), no fragment. */
  resource: string
  /** Advertised in metadata and in 401 challenges of routes that declare no scopes. */
  scopesSupported?: readonly string[]
  resourceName?: string
  resourceDocumentation?: string
  /** Extra `aud` values accepted for this resource (e.g. a trailing-slash variant, `api://…`). */
  audiences?: readonly string[]
  /** Replaces the top-level `authorizationServers` for this resource. */
  authorizationServers?: readonly string[]
  /**
   * Your own metadata URL for `resource_metadata` (e.g. served by a gateway);
   * default: this origin's `/.well-known/oauth-protected-resource` + path.
   */
  resourceMetadataUrl?: string
  /** Extra RFC 9728 fields for this resource's document, written as given (snake_case). */
  metadata?: Record<string, unknown>
}

/** How the protected-resource metadata routes are served. */
export interface MetadataOptions {
  /**
   * What `/.well-known/oauth-protected-resource` (the root document) serves:
   * 'first' resource (default), a resource URI, or false for nothing.
   */
  root?: 'first' | false | string
  /** `Cache-Control: max-age` in seconds (default 3600). */
  cacheMaxAge?: number
  /**
   * Serve the issuer's metadata at this origin's `/.well-known/oauth-authorization-server`
   * for MCP 2025-03-26 clients (default false).
   */
  authorizationServerMirror?: boolean
}

/** Network tuning shared by discovery and remote JWKS. All durations in seconds. */
export interface JwksTuning {
  /** Per-request timeout (default 5). */
  timeout?: number
  /** Minimum time between refetches triggered by an unknown `kid` (default 30). */
  cooldown?: number
  /** Age after which keys and metadata are refreshed in the background (default 600). */
  cacheMaxAge?: number
  /** How long past `cacheMaxAge` cached keys keep serving while the endpoint fails (default 86400). */
  staleIfError?: number
  /**
   * When discovery and JWKS fetches start: `'background'` (default) at `ready()` without
   * waiting; `'required'`: `ready()` waits and rejects (FST_MCP_AUTH_WARM_UP_FAILED) when
   * the keys cannot be fetched; `false`: at the first request that needs them.
   */
  warmUp?: 'background' | 'required' | false
}

export type JwksOption =
  | (JwksTuning & { uri: string })
  | (JwksTuning & { keys: readonly JWK[] })
  | JwksTuning
  | JWTVerifyGetKey

export interface VerifyTokenContext {
  /** The canonical resource URI selected for the request. */
  readonly resource: string
  readonly request: FastifyRequest
}

export type VerifyTokenFunction = (token: string, context: VerifyTokenContext) => AccessTokenClaims | Promise<AccessTokenClaims>

export interface IntrospectionOptions {
  /** RFC 7662 endpoint; default: `introspection_endpoint` from the (single) issuer's metadata. */
  endpoint?: string
  clientId: string
  clientSecret: string
  /** Upper bound in seconds for caching an active result (default 60; never beyond `exp`). 0 disables. */
  cacheTtl?: number
  /** Request timeout in seconds (default 5). */
  timeout?: number
  /**
   * Seconds an inactive answer is remembered (default 10; 0 disables), in a cache of its
   * own, so a repeated junk token costs one call and never evicts verified tokens.
   */
  negativeCacheTtl?: number
  /** Most inactive answers remembered (default 10000). */
  negativeCacheMaxEntries?: number
  /**
   * Most introspection calls in flight (default 32); a request beyond that gets 503 with
   * `Retry-After` at once. Concurrent requests with one token always share one call.
   */
  maxConcurrent?: number
}

export type DpopNonceOptions =
  | { secret: string | Uint8Array, step?: number }
  | DpopNonceProvider

export interface DpopOptions {
  /** Refuse unbound tokens: only DPoP-bound tokens with a proof are accepted. */
  required?: boolean
  /** Accepted proof algorithms (default ES256, ES384, PS256, RS256, EdDSA). */
  algorithms?: readonly string[]
  /** Seconds a proof's `iat` may lie in the past or the future (default 300). */
  iatWindow?: number
  /** Where used `jti`s are recorded (default a MemoryReplayStore); `false` turns replay detection off. */
  replayStore?: ReplayStore | false
  /** Server nonces (RFC 9449 §8): a shared secret (stateless HMAC time steps) or a provider. */
  nonce?: DpopNonceOptions
}

export type CertificateInput = string | Uint8Array

export interface MtlsOptions {
  /** Supplies the client certificate (DER or PEM); default: the TLS socket's peer certificate. */
  certificate?: (request: FastifyRequest) => CertificateInput | null | undefined | Promise<CertificateInput | null | undefined>
}

export type PrincipalFunction<P = McpPrincipal> = (claims: Readonly<AccessTokenClaims>, sender: McpSender, request: FastifyRequest) => P | Promise<P>

export type ErrorRenderer = (error: McpAuthError, request: FastifyRequest) => unknown

/** One event per decision (the `onEvent` option, and the `fastify-mcp-auth:decision` diagnostics channel). */
export type McpAuthEvent =
  | {
    readonly type: 'authenticated'
    readonly requestId: string
    readonly method: string
    /** The request path, without the query. */
    readonly path: string
    readonly resource: string
    readonly issuer: string
    readonly subject: string | undefined
    readonly clientId: string | undefined
    readonly binding: McpSender['binding']
    readonly scopes: readonly string[]
  }
  | {
    readonly type: 'denied'
    readonly requestId: string
    readonly method: string
    readonly path: string
    readonly resource: string
    readonly status: number
    readonly code: string
    /** The check that failed, e.g. 'token.audience', 'dpop.replay', 'scope.missing'. */
    readonly reason: string
    readonly oauthError: string | undefined
    /** Set when the token was valid but the scope was not (403). */
    readonly subject: string | undefined
    readonly clientId: string | undefined
  }

export type OnEventFunction = (event: McpAuthEvent, request: FastifyRequest) => void

export interface TokenCacheOptions {
  /** Most verified tokens held (default 10000). */
  maxEntries?: number
  /**
   * Seconds a verified token is trusted without being verified again (default 300),
   * whatever its `exp`. A token whose key is withdrawn from a discovered or `{ uri }`
   * JWKS is verified again at its next use in any case.
   */
  maxAge?: number
}

/** Binds each MCP session (Mcp-Session-Id) to the identity that opened it. */
export interface SessionBindingOptions {
  /** Where bindings are recorded (default a MemorySessionStore); share one (RedisSessionStore) between instances. */
  store?: SessionStore
  /** Seconds a session's record lives without use (default 3600). */
  idleTtl?: number
}

export interface McpAuthOptions {
  resource: string | ResourceOptions | ReadonlyArray<string | ResourceOptions>
  authorizationServers?: readonly string[]
  jwks?: JwksOption
  algorithms?: readonly string[]
  tokenTypes?: readonly string[]
  clockTolerance?: number
  /** Key for HS* access tokens; required when `algorithms` lists an HS* algorithm. */
  secret?: string | Uint8Array | KeyObject | CryptoKey
  verifyToken?: VerifyTokenFunction
  introspection?: IntrospectionOptions
  dpop?: false | DpopOptions
  mtls?: MtlsOptions
  principal?: PrincipalFunction
  errorRenderer?: ErrorRenderer
  scopeMatching?: 'hierarchical' | 'exact'
  /** Honour `*` and `prefix:*` in granted scopes (default false). */
  scopeWildcards?: boolean
  tokenCache?: false | TokenCacheOptions
  /** Longest accepted access token in characters (default 8192). */
  maxTokenLength?: number
  /** `Retry-After` seconds on 503 (default 5). */
  retryAfter?: number
  /** Called once per decision, synchronously; a throw is logged and ignored. */
  onEvent?: OnEventFunction
  /**
   * Load shedding with @fastify/under-pressure, before any signature work:
   * true for the defaults, or its options. Overload → 503 with Retry-After.
   */
  underPressure?: boolean | Record<string, unknown>
  /** A GET route reporting JWKS freshness and replay-store reachability (e.g. '/health'); default none. */
  healthRoute?: string | false
  /**
   * Bind each MCP session to the identity that opened it: a request naming a session
   * opened by another identity (or unknown) gets the transport's 404. `true` for a
   * MemorySessionStore; `{ store }` to share the bindings between instances.
   */
  sessionBinding?: boolean | SessionBindingOptions
  /**
   * Metadata routes the plugin registers itself when it is registered without a
   * prefix; false registers none (use `protectedResourceMetadata` or your own).
   */
  metadata?: false | MetadataOptions
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified authorization context; null on routes that are not authenticated. */
    mcp: McpAuthContext | null
  }
  interface FastifyContextConfig {
    /** `false` opts the route out of authentication. */
    mcpAuth?: false
  }
}
