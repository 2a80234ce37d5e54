// What the plugin answers when it refuses a request: the status, the
// WWW-Authenticate challenge (never on 500 or 503), Retry-After on 503, a fresh
// DPoP-Nonce for use_dpop_nonce, Cache-Control: no-store, CORS exposure, and
// the body (errorRenderer's, else `{ error, error_description }`). Framework-
// free: plugins/reply.ts writes the answer onto the reply.
import { buildChallenge, placeError } from './challenge.js'
import type { ChallengeSetup } from './challenge.js'
import { schemeOf } from './credentials.js'
import { issueNonce } from './dpop/nonce.js'
import { isRejection } from './errors.js'
import type { McpAuthError } from './errors.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import type { ResolvedOptions, ResolvedResource } from './options.js'
import type { ErrorRenderer } from '../types/index.js'

export interface RefusedRequest {
  /** The resource whose challenge answers the request. */
  readonly resource: ResolvedResource
  /** The scopes the route declares (its challenge asks for them), if any. */
  readonly routeScopes: readonly string[] | undefined
  /** The Authorization header, for the scheme whose challenge carries the error (RFC 9449 §7.2). */
  readonly authorization: string | undefined
  /** Whether the request has an Origin header (a browser must be allowed to read our headers). */
  readonly crossOrigin: boolean
  /** The framework request, for errorRenderer. */
  readonly request: unknown
  /** The request's logger. */
  readonly log: Logger
}

export interface Rejection {
  /** The error answered: the one given, or the 503 of a nonce provider that failed to issue one. */
  readonly error: McpAuthError
  readonly statusCode: number
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

export type Reject = (error: McpAuthError, refused: RefusedRequest) => Promise<Rejection>

const EXPOSED_HEADERS = 'WWW-Authenticate, DPoP-Nonce'

export function createRejecter (options: ResolvedOptions, logger: Logger): Reject {
  const setups = new Map<ResolvedResource, ChallengeSetup>()
  for (const resource of options.resources) {
    setups.set(resource, Object.freeze({
      resourceMetadataUrl: resource.metadataUrl,
      bearer: options.dpop?.required !== true,
      dpopAlgs: options.dpop?.algorithmList.join(' '),
    }))
  }
  // The challenge without an error (no credentials) depends on the resource and the route's scopes only.
  const noCredentials = new Map<ResolvedResource, Map<readonly string[] | undefined, string>>()

  function challengeFor (err: McpAuthError, refused: RefusedRequest): string {
    const { resource, routeScopes } = refused
    const setup = setups.get(resource) as ChallengeSetup
    if (err.oauthError === undefined) {
      let byScopes = noCredentials.get(resource)
      if (byScopes === undefined) {
        byScopes = new Map()
        noCredentials.set(resource, byScopes)
      }
      let challenge = byScopes.get(routeScopes)
      if (challenge === undefined) {
        challenge = buildChallenge(setup, routeScopes ?? resource.scopesSupported)
        byScopes.set(routeScopes, challenge)
      }
      return challenge
    }
    const placement = placeError(err.oauthError, schemeOf(refused.authorization), setup)
    const scope = err.scope ?? routeScopes ?? resource.scopesSupported
    return buildChallenge(setup, scope, { error: err.oauthError, description: err.description, ...placement })
  }

  return async function reject (error, refused) {
    let err = error
    let nonce: string | undefined
    const provider = options.dpop?.nonce
    if (err.code === 'FST_MCP_AUTH_USE_DPOP_NONCE' && provider !== undefined) {
      try {
        nonce = await issueNonce(provider)
      } catch (nonceError) {
        if (!isRejection(nonceError)) throw nonceError
        logger.error({ err: describeError(nonceError.cause) }, 'mcp-auth: issuing a DPoP nonce failed')
        err = nonceError
      }
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store' }
    if (err.statusCode === 503) headers['retry-after'] = String(options.retryAfter)
    else if (err.statusCode !== 500) headers['www-authenticate'] = challengeFor(err, refused)
    if (nonce !== undefined) headers['dpop-nonce'] = nonce
    if (refused.crossOrigin) headers['access-control-expose-headers'] = EXPOSED_HEADERS
    return { error: err, statusCode: err.statusCode, headers, body: await renderErrorBody(options.errorRenderer, err, refused.request, refused.log) }
  }
}

/** The body of a rejection: errorRenderer's, else (or if it throws) `{ error, error_description }`. */
export async function renderErrorBody (renderer: ErrorRenderer | undefined, err: McpAuthError, request: unknown, log: Logger): Promise<unknown> {
  if (renderer !== undefined) {
    try {
      return await renderer(err, request as never)
    } catch (renderError) {
      log.error({ err: describeError(renderError) }, 'mcp-auth: errorRenderer threw; sending the default body')
    }
  }
  return defaultBody(err)
}

/** `{ error, error_description }`; a request without credentials has no OAuth error code. */
export function defaultBody (err: McpAuthError): string {
  return JSON.stringify({ error: err.oauthError ?? 'unauthorized', error_description: err.description })
}
