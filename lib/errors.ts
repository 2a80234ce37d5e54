// Every error the package throws: one class, McpAuthError, with a stable
// `code` per row of the error table (docs/errors.md; the request rejections are
// the rows of the wire table in DESIGN.md "Responses") and a fine `reason` per
// check, so logs, tests and `errorRenderer` can tell every check apart without
// ever seeing the token.

/** The codes of request rejections: what the plugin answers a client. */
export type McpAuthRejectionCode =
  | 'FST_MCP_AUTH_NO_CREDENTIALS'
  | 'FST_MCP_AUTH_INVALID_REQUEST'
  | 'FST_MCP_AUTH_INVALID_TOKEN'
  | 'FST_MCP_AUTH_INVALID_DPOP_PROOF'
  | 'FST_MCP_AUTH_USE_DPOP_NONCE'
  | 'FST_MCP_AUTH_INSUFFICIENT_SCOPE'
  | 'FST_MCP_AUTH_UNAVAILABLE'
  | 'FST_MCP_AUTH_INTERNAL'
  | 'FST_MCP_AUTH_SESSION_MISMATCH'

export type McpAuthErrorCode =
  | McpAuthRejectionCode
  | 'FST_MCP_AUTH_INVALID_OPTION'
  | 'FST_MCP_AUTH_NOT_REGISTERED'
  | 'FST_MCP_AUTH_INVALID_REGISTRATION'
  | 'FST_MCP_AUTH_METADATA_MISSING'
  | 'FST_MCP_AUTH_WARM_UP_FAILED'
  | 'FST_MCP_AUTH_REPLAY_STORE_FULL'
  | 'FST_MCP_AUTH_HEADER_MISMATCH'

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  | 'server_error'

/** Fine-grained reasons, one per check. User code may add its own strings. */
export type McpAuthRejectReason =
  | 'credentials.missing'
  | 'credentials.unsupported_scheme'
  | 'credentials.malformed'
  | 'credentials.duplicate'
  | 'credentials.in_query'
  | 'credentials.too_large'
  | 'token.malformed'
  | 'token.encrypted'
  | 'token.alg'
  | 'token.typ'
  | 'token.crit'
  | 'token.signature'
  | 'token.unknown_key'
  | 'token.issuer'
  | 'token.audience'
  | 'token.expired'
  | 'token.exp_missing'
  | 'token.nbf'
  | 'token.iat'
  | 'token.claims'
  | 'token.inactive'
  | 'token.rejected'
  | 'resource.unmatched'
  | 'binding.dpop_required'
  | 'binding.unbound_dpop'
  | 'binding.jkt'
  | 'binding.certificate_missing'
  | 'binding.x5t'
  | 'binding.conflict'
  | 'binding.cnf'
  | 'dpop.missing'
  | 'dpop.duplicate'
  | 'dpop.malformed'
  | 'dpop.typ'
  | 'dpop.alg'
  | 'dpop.jwk'
  | 'dpop.crit'
  | 'dpop.signature'
  | 'dpop.claims'
  | 'dpop.htm'
  | 'dpop.htu'
  | 'dpop.iat'
  | 'dpop.jti'
  | 'dpop.ath'
  | 'dpop.replay'
  | 'dpop.nonce_missing'
  | 'dpop.nonce_invalid'
  | 'scope.missing'
  | 'jwks.unreachable'
  | 'discovery.failed'
  | 'introspection.failed'
  | 'introspection.busy'
  | 'verifier.unavailable'
  | 'replay_store.failed'
  | 'replay_store.full'
  | 'nonce.failed'
  | 'overloaded'
  | 'principal.failed'
  | 'option.invalid'
  | 'plugin.not_registered'
  | 'plugin.invalid_registration'
  | 'metadata.route_missing'
  | 'keys.warm_up_failed'
  | 'mcp.header_mismatch'
  | 'session.identity_mismatch'
  | 'session.unbindable_identity'
  | 'session.conflict'
  | 'session_store.failed'
  | (string & {})

export type McpAuthStatus = 400 | 401 | 403 | 404 | 500 | 503

interface CodeRow {
  readonly statusCode: McpAuthStatus
  readonly oauthError: OAuthErrorCode | undefined
  readonly description: string
  /** A request rejection (the wire table), as opposed to an error for the developer. */
  readonly rejection: boolean
}

export const CODE_TABLE: Readonly<Record<McpAuthErrorCode, CodeRow>> = Object.freeze({
  FST_MCP_AUTH_NO_CREDENTIALS: { statusCode: 401, oauthError: undefined, description: 'An access token is required', rejection: true },
  FST_MCP_AUTH_INVALID_REQUEST: { statusCode: 400, oauthError: 'invalid_request', description: 'The request is malformed', rejection: true },
  FST_MCP_AUTH_INVALID_TOKEN: { statusCode: 401, oauthError: 'invalid_token', description: 'The access token is invalid', rejection: true },
  FST_MCP_AUTH_INVALID_DPOP_PROOF: { statusCode: 401, oauthError: 'invalid_dpop_proof', description: 'The DPoP proof is invalid', rejection: true },
  FST_MCP_AUTH_USE_DPOP_NONCE: { statusCode: 401, oauthError: 'use_dpop_nonce', description: 'A DPoP nonce from the server is required', rejection: true },
  FST_MCP_AUTH_INSUFFICIENT_SCOPE: { statusCode: 403, oauthError: 'insufficient_scope', description: 'The access token does not grant the required scope', rejection: true },
  FST_MCP_AUTH_UNAVAILABLE: { statusCode: 503, oauthError: 'temporarily_unavailable', description: 'Authorization is temporarily unavailable, retry later', rejection: true },
  // A user callback failed (a bug or an outage behind it): the client learns nothing more.
  FST_MCP_AUTH_INTERNAL: { statusCode: 500, oauthError: 'server_error', description: 'Internal error', rejection: true },
  // Not an OAuth error: the MCP transport's answer for an unknown session (sessionBinding).
  FST_MCP_AUTH_SESSION_MISMATCH: { statusCode: 404, oauthError: undefined, description: 'Session not found', rejection: true },
  // For the developer, at registration, ready() or in a handler; their messages say what to fix.
  FST_MCP_AUTH_INVALID_OPTION: { statusCode: 500, oauthError: undefined, description: 'Invalid configuration', rejection: false },
  FST_MCP_AUTH_NOT_REGISTERED: { statusCode: 500, oauthError: undefined, description: 'fastify-mcp-auth is not registered here', rejection: false },
  FST_MCP_AUTH_INVALID_REGISTRATION: { statusCode: 500, oauthError: undefined, description: 'Invalid plugin registration', rejection: false },
  FST_MCP_AUTH_METADATA_MISSING: { statusCode: 500, oauthError: undefined, description: 'No route serves the protected resource metadata', rejection: false },
  FST_MCP_AUTH_WARM_UP_FAILED: { statusCode: 503, oauthError: undefined, description: 'The authorization server\'s keys are unavailable', rejection: false },
  FST_MCP_AUTH_REPLAY_STORE_FULL: { statusCode: 503, oauthError: undefined, description: 'The replay store is full', rejection: false },
  FST_MCP_AUTH_HEADER_MISMATCH: { statusCode: 400, oauthError: undefined, description: 'The MCP headers do not match the request body', rejection: false },
})

const KEYS_UNAVAILABLE = 'The authorization server\'s keys are unavailable, retry later'

// Fixed descriptions per reason: the client learns which check failed, never any token content.
const REASON_TEXT: Readonly<Record<string, string>> = Object.freeze({
  'credentials.missing': 'An access token is required',
  'credentials.unsupported_scheme': 'An access token is required (unsupported authorization scheme)',
  'credentials.malformed': 'The Authorization header is malformed',
  'credentials.duplicate': 'The request carries more than one credential',
  'credentials.in_query': 'Access tokens in the URI query are refused; send the token in the Authorization header',
  'credentials.too_large': 'The access token exceeds the size limit',
  'token.malformed': 'The access token is malformed',
  'token.encrypted': 'Encrypted access tokens are not supported',
  'token.alg': 'The access token algorithm is not allowed',
  'token.typ': 'The access token type is not accepted',
  'token.crit': 'The access token has an unsupported critical header',
  'token.signature': 'The access token signature is invalid',
  'token.unknown_key': 'The access token is signed with an unknown key',
  'token.issuer': 'The access token issuer is not trusted',
  'token.audience': 'The access token was not issued for this resource',
  'token.expired': 'The access token expired',
  'token.exp_missing': 'The access token has no valid expiry',
  'token.nbf': 'The access token is not valid yet',
  'token.iat': 'The access token is issued in the future',
  'token.claims': 'The access token claims are malformed',
  'token.inactive': 'The access token is not active',
  'token.rejected': 'The access token was rejected',
  'resource.unmatched': 'The request path names no protected resource',
  'binding.dpop_required': 'A DPoP-bound access token and a DPoP proof are required',
  'binding.unbound_dpop': 'The DPoP scheme requires a DPoP-bound access token',
  'binding.jkt': 'The DPoP proof key does not match the access token binding',
  'binding.certificate_missing': 'The access token is bound to a client certificate that was not presented',
  'binding.x5t': 'The client certificate does not match the access token binding',
  'binding.conflict': 'The access token carries conflicting confirmation methods',
  'binding.cnf': 'The access token confirmation claim is malformed',
  'dpop.missing': 'A DPoP proof is required',
  'dpop.duplicate': 'More than one DPoP proof was sent',
  'dpop.malformed': 'The DPoP proof is malformed',
  'dpop.typ': 'The DPoP proof type is invalid',
  'dpop.alg': 'The DPoP proof algorithm is not allowed',
  'dpop.jwk': 'The DPoP proof key is invalid',
  'dpop.crit': 'The DPoP proof has an unsupported critical header',
  'dpop.signature': 'The DPoP proof signature is invalid',
  'dpop.claims': 'The DPoP proof claims are malformed',
  'dpop.htm': 'The DPoP proof method does not match the request',
  'dpop.htu': 'The DPoP proof URI does not match the request',
  'dpop.iat': 'The DPoP proof is outside the accepted time window',
  'dpop.jti': 'The DPoP proof identifier is invalid',
  'dpop.ath': 'The DPoP proof is not bound to this access token',
  'dpop.replay': 'The DPoP proof was already used',
  'dpop.nonce_missing': 'A DPoP nonce from the server is required',
  'dpop.nonce_invalid': 'The DPoP nonce is invalid or expired',
  'scope.missing': 'The access token does not grant the required scope',
  'jwks.unreachable': KEYS_UNAVAILABLE,
  'discovery.failed': 'The authorization server metadata could not be retrieved, retry later',
  'introspection.failed': 'The token could not be introspected, retry later',
  'introspection.busy': 'Token introspection is at capacity, retry later',
  'verifier.unavailable': 'The token could not be verified, retry later',
  'replay_store.failed': 'DPoP replay protection is unavailable, retry later',
  'replay_store.full': 'DPoP replay protection is at capacity, retry later',
  'nonce.failed': 'DPoP nonces are unavailable, retry later',
  overloaded: 'The server is overloaded, retry later',
  'principal.failed': 'Internal error',
  'session.identity_mismatch': 'Session not found',
  'session.unbindable_identity': 'The access token names neither a subject nor a client, so it cannot open a session',
  'session.conflict': 'The session could not be opened, retry later',
  'session_store.failed': 'Session binding is unavailable, retry later',
})

export interface McpAuthErrorOptions {
  /** Client-facing text; defaults to a fixed text for the reason. Never put token content here. */
  description?: string
  /** Developer-facing text (defaults to the description); a rejection's message is its description. */
  message?: string
  /** insufficient_scope only: every scope the operation needs. */
  scope?: readonly string[]
  /** The underlying jose, network or store error (kept for logs; never sent). */
  cause?: unknown
}

/** The one base class of every error fastify-mcp-auth throws. */
export class McpAuthError extends Error {
  readonly code: McpAuthErrorCode
  readonly reason: McpAuthRejectReason
  readonly statusCode: McpAuthStatus
  readonly oauthError: OAuthErrorCode | undefined
  readonly description: string
  readonly scope: readonly string[] | undefined

  constructor (code: McpAuthErrorCode, reason: McpAuthRejectReason, options?: McpAuthErrorOptions) {
    const row = Object.hasOwn(CODE_TABLE, code) ? CODE_TABLE[code] : undefined
    if (row === undefined) throw new TypeError(`unknown McpAuthError code ${String(code)}`)
    const description = options?.description ?? (Object.hasOwn(REASON_TEXT, reason) ? REASON_TEXT[reason] : undefined) ?? row.description
    // Rejections are the hot path under attack: no stack capture. Other errors keep theirs.
    const limit = Error.stackTraceLimit
    if (row.rejection) Error.stackTraceLimit = 0
    super(row.rejection ? description : options?.message ?? description, options?.cause === undefined ? undefined : { cause: options.cause })
    Error.stackTraceLimit = limit
    this.name = new.target.name
    this.code = code
    this.reason = reason
    this.statusCode = row.statusCode
    this.oauthError = row.oauthError
    this.description = description
    this.scope = options?.scope === undefined ? undefined : Object.freeze([...options.scope])
  }
}

export function isMcpAuthError (value: unknown): value is McpAuthError {
  return value instanceof McpAuthError
}

/**
 * A request rejection (a row of the wire table), as opposed to an error for the
 * developer. A user callback's rejection is its answer; a developer error it
 * throws (e.g. mcpContext() inside principal) is a failure like any other.
 */
export function isRejection (value: unknown): value is McpAuthError {
  return value instanceof McpAuthError && CODE_TABLE[value.code].rejection
}

/** Shorthands used across lib/: they read like the wire table. */
export const reject = {
  noCredentials: (reason: McpAuthRejectReason = 'credentials.missing') =>
    new McpAuthError('FST_MCP_AUTH_NO_CREDENTIALS', reason),
  invalidRequest: (reason: McpAuthRejectReason) =>
    new McpAuthError('FST_MCP_AUTH_INVALID_REQUEST', reason),
  invalidToken: (reason: McpAuthRejectReason, cause?: unknown) =>
    new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', reason, { cause }),
  invalidProof: (reason: McpAuthRejectReason, cause?: unknown) =>
    new McpAuthError('FST_MCP_AUTH_INVALID_DPOP_PROOF', reason, { cause }),
  useNonce: (reason: McpAuthRejectReason) =>
    new McpAuthError('FST_MCP_AUTH_USE_DPOP_NONCE', reason),
  insufficientScope: (scope: readonly string[]) =>
    new McpAuthError('FST_MCP_AUTH_INSUFFICIENT_SCOPE', 'scope.missing', { scope }),
  unavailable: (reason: McpAuthRejectReason, cause?: unknown) =>
    new McpAuthError('FST_MCP_AUTH_UNAVAILABLE', reason, { cause }),
  /** An outage on the way to the verification keys (the JWKS, or the metadata naming it). */
  keysUnavailable: (reason: McpAuthRejectReason, cause?: unknown) =>
    new McpAuthError('FST_MCP_AUTH_UNAVAILABLE', reason, { cause, description: KEYS_UNAVAILABLE }),
  internal: (reason: McpAuthRejectReason, cause?: unknown) =>
    new McpAuthError('FST_MCP_AUTH_INTERNAL', reason, { cause }),
  sessionMismatch: () =>
    new McpAuthError('FST_MCP_AUTH_SESSION_MISMATCH', 'session.identity_mismatch'),
}

/** A configuration error: thrown while `register` runs, so `ready()` rejects. */
export function invalidOption (message: string): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_INVALID_OPTION', 'option.invalid', { message: `mcpAuth option ${message}` })
}

/**
 * The same code for what is configured outside `mcpAuth`'s options (a store's
 * constructor, the other entry points): the message names its owner itself.
 */
export function invalidSetting (message: string): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_INVALID_OPTION', 'option.invalid', { message })
}

/** `requireScopes`, `mcpContext` or the metadata plugin used where mcpAuth does not authenticate: fail closed (a 500). */
export function notRegistered (message: string): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_NOT_REGISTERED', 'plugin.not_registered', { message })
}

/** A plugin registered where it cannot work (e.g. the metadata plugin under a prefix). */
export function invalidRegistration (message: string): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_INVALID_REGISTRATION', 'plugin.invalid_registration', { message })
}

/** At ready(): a resource's challenge points at a metadata URL no route serves. */
export function metadataMissing (message: string): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_METADATA_MISSING', 'metadata.route_missing', { message })
}

/** At ready(), with `jwks.warmUp: 'required'`: a key set (or the metadata naming it) could not be fetched. */
export function warmUpFailed (message: string, cause: unknown): McpAuthError {
  return new McpAuthError('FST_MCP_AUTH_WARM_UP_FAILED', 'keys.warm_up_failed', { message, cause })
}
