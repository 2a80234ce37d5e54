// The client's errors: one class with a stable `code` per kind of failure and a
// `reason` per check, so callers and tests tell every refusal apart without the
// message ever carrying a token, a secret or a code.

export type McpClientErrorCode =
  /** An outbound request was refused before it left (scheme, `allowUrl`, address) or failed on the way (timeout, size, redirect). */
  | 'FST_MCP_CLIENT_OUTBOUND'
  /** Resource or authorization-server metadata is missing, malformed or does not match what was asked for. */
  | 'FST_MCP_CLIENT_DISCOVERY'
  /** No client ID could be obtained for the authorization server (no pre-registration, CIMD or DCR applies, or DCR failed). */
  | 'FST_MCP_CLIENT_REGISTRATION'
  /** The authorization request or its response failed (state, `iss`, an `error` from the server, the authorizer). */
  | 'FST_MCP_CLIENT_AUTHORIZATION'
  /** The user must authorize in a browser first; `authorizationUrl` is where to send them. */
  | 'FST_MCP_CLIENT_AUTHORIZATION_REQUIRED'
  /** A token request failed (the authorization server's or identity provider's `error`, a lost refresh race, a refresh lock that never cleared). */
  | 'FST_MCP_CLIENT_TOKEN'
  /** The credential store failed (unreachable, or a record it cannot hold). */
  | 'FST_MCP_CLIENT_STORE'

export type McpClientErrorReason =
  | 'outbound.scheme'
  | 'outbound.url_refused'
  | 'outbound.private_address'
  | 'outbound.redirect'
  | 'outbound.too_large'
  | 'outbound.timeout'
  | 'outbound.failed'
  | 'resource_metadata.missing'
  | 'resource_metadata.invalid'
  | 'resource_metadata.resource_mismatch'
  | 'resource_metadata.no_authorization_server'
  | 'as_metadata.missing'
  | 'as_metadata.invalid'
  | 'as_metadata.issuer_mismatch'
  | 'as_metadata.pkce_unsupported'
  | 'as_metadata.endpoint_missing'
  | 'registration.unavailable'
  | 'registration.failed'
  | 'authorization.no_authorizer'
  | 'authorization.authorizer_failed'
  | 'authorization.state'
  | 'authorization.issuer'
  | 'authorization.error'
  | 'authorization.invalid_response'
  | 'authorization.timeout'
  | 'authorization.required'
  | 'authorization.partition'
  | 'token.error'
  | 'token.invalid_response'
  | 'token.refresh_lock_timeout'
  | 'token.assertion_failed'
  | 'token.id_token_failed'
  | 'token.exchange_error'
  | 'token.exchange_invalid_response'
  | 'token.insecure_resource'
  | 'store.failed'
  | (string & {})

/** OAuth `error` codes a token or authorization request can answer with (RFC 6749 §5.2, RFC 8707, RFC 9449); others pass as strings. */
export type McpOAuthErrorCode =
  | 'invalid_grant'
  | 'invalid_scope'
  | 'unauthorized_client'
  | 'invalid_client'
  | 'invalid_request'
  | 'invalid_target'
  | 'unsupported_grant_type'
  | 'access_denied'
  | 'invalid_dpop_proof'
  | 'temporarily_unavailable'
  | (string & {})

export interface McpClientErrorOptions {
  /** The underlying error (kept for logs, never shown to a remote party). */
  cause?: unknown
  /** The OAuth `error` code an authorization server answered with, when there is one. */
  oauthError?: McpOAuthErrorCode
}

export class McpClientError extends Error {
  readonly code: McpClientErrorCode
  readonly reason: McpClientErrorReason
  /** The OAuth `error` an authorization server answered with (`invalid_grant`, `access_denied`…). */
  readonly oauthError: McpOAuthErrorCode | undefined

  constructor (code: McpClientErrorCode, reason: McpClientErrorReason, message: string, options: McpClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'McpClientError'
    this.code = code
    this.reason = reason
    this.oauthError = options.oauthError
  }
}

/**
 * Thrown by `fastify.mcpClient.for(request).fetch` (and by any client whose
 * authorizer throws it) when the user has to authorize first: redirect the
 * user's browser to `authorizationUrl`.
 */
export class McpAuthorizationRequiredError extends McpClientError {
  readonly authorizationUrl: string

  constructor (authorizationUrl: string) {
    super('FST_MCP_CLIENT_AUTHORIZATION_REQUIRED', 'authorization.required', 'The user must authorize this application at the authorization server first')
    this.name = 'McpAuthorizationRequiredError'
    this.authorizationUrl = authorizationUrl
  }
}

/**
 * A library error reduced to its name, message and code. oauth4webapi keeps the
 * response body or the callback parameters in `cause`, which can hold tokens, a
 * client secret or an authorization code: none of that may reach a log.
 */
export function scrubbed (err: unknown): Error {
  if (!(err instanceof Error)) return new Error('non-error thrown')
  const copy = new Error(err.message)
  copy.name = err.name
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') Object.assign(copy, { code })
  copy.stack = `${err.name}: ${err.message}`
  return copy
}

export function isMcpClientError (value: unknown): value is McpClientError {
  return value instanceof McpClientError
}

/** Shorthands that read like the failure table in docs/client.md. */
export const fail = {
  outbound: (reason: McpClientErrorReason, message: string, cause?: unknown) =>
    new McpClientError('FST_MCP_CLIENT_OUTBOUND', reason, message, { cause }),
  discovery: (reason: McpClientErrorReason, message: string, cause?: unknown) =>
    new McpClientError('FST_MCP_CLIENT_DISCOVERY', reason, message, { cause }),
  registration: (reason: McpClientErrorReason, message: string, cause?: unknown) =>
    new McpClientError('FST_MCP_CLIENT_REGISTRATION', reason, message, { cause }),
  authorization: (reason: McpClientErrorReason, message: string, options?: McpClientErrorOptions) =>
    new McpClientError('FST_MCP_CLIENT_AUTHORIZATION', reason, message, options),
  token: (reason: McpClientErrorReason, message: string, options?: McpClientErrorOptions) =>
    new McpClientError('FST_MCP_CLIENT_TOKEN', reason, message, options),
  store: (message: string, cause?: unknown) =>
    new McpClientError('FST_MCP_CLIENT_STORE', 'store.failed', message, { cause }),
}
