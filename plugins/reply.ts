// Renders every rejection the plugin sends: status, WWW-Authenticate (never on
// 500 or 503), DPoP-Nonce, Cache-Control: no-store, Retry-After, CORS exposure, and
// the JSON body or whatever errorRenderer returns. The plugin answers the
// client itself, so a user's setErrorHandler cannot turn a 401 into a 500.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { issueNonce } from '../lib/authenticate.js'
import { buildChallenge, placeError } from '../lib/challenge.js'
import { schemeOf } from '../lib/credentials.js'
import type { McpAuthError } from '../lib/errors.js'
import { isMcpAuthError } from '../lib/errors.js'
import { describeError } from '../lib/logger.js'
import type { ResolvedResource } from '../lib/options.js'
import { emitDenied } from './events.js'
import type { McpAuthState } from './state.js'
import type { ErrorRenderer } from '../types/index.js'

const EXPOSED_HEADERS = 'WWW-Authenticate, DPoP-Nonce'

export async function sendOAuthError (
  state: McpAuthState,
  request: FastifyRequest,
  reply: FastifyReply,
  error: McpAuthError,
  resource: ResolvedResource,
  routeScopes: readonly string[] | undefined
): Promise<FastifyReply> {
  let err = error
  let nonce: string | undefined
  if (err.code === 'FST_MCP_AUTH_USE_DPOP_NONCE' && state.options.dpop !== undefined) {
    try {
      nonce = await issueNonce(state.options.dpop)
    } catch (nonceError) {
      if (!isMcpAuthError(nonceError)) throw nonceError
      state.logger.error({ err: describeError(nonceError.cause) }, 'mcp-auth: issuing a DPoP nonce failed')
      err = nonceError
    }
  }
  request.log.debug({ code: err.code, reason: err.reason }, 'mcp-auth: request rejected')
  emitDenied(state, request, err, resource)

  reply.code(err.statusCode)
  reply.header('cache-control', 'no-store')
  if (err.statusCode === 503) {
    reply.header('retry-after', String(state.options.retryAfter))
  } else if (err.statusCode !== 500) {
    reply.header('www-authenticate', challengeFor(state, request, err, resource, routeScopes))
  }
  if (nonce !== undefined) reply.header('dpop-nonce', nonce)
  if (request.headers.origin !== undefined) reply.header('access-control-expose-headers', EXPOSED_HEADERS)
  reply.type('application/json; charset=utf-8')
  return reply.send(await renderErrorBody(state.options.errorRenderer, err, request))
}

export function challengeFor (
  state: McpAuthState,
  request: FastifyRequest,
  err: McpAuthError,
  resource: ResolvedResource,
  routeScopes: readonly string[] | undefined
): string {
  if (err.oauthError === undefined) return state.noCredentialsChallenge(resource, routeScopes)
  const setup = state.challengeSetup(resource)
  const placement = placeError(err.oauthError, schemeOf(request.headers.authorization), setup)
  const scope = err.scope ?? routeScopes ?? resource.scopesSupported
  return buildChallenge(setup, scope, { error: err.oauthError, description: err.description, ...placement })
}

/** The body of a rejection: errorRenderer's, else (or if it throws) `{ error, error_description }`. */
export async function renderErrorBody (renderer: ErrorRenderer | undefined, err: McpAuthError, request: FastifyRequest): Promise<unknown> {
  if (renderer !== undefined) {
    try {
      return await renderer(err, request)
    } catch (renderError) {
      request.log.error({ err: describeError(renderError) }, 'mcp-auth: errorRenderer threw; sending the default body')
    }
  }
  return defaultBody(err)
}

/** `{ error, error_description }`; a request without credentials has no OAuth error code. */
export function defaultBody (err: McpAuthError): string {
  return JSON.stringify({ error: err.oauthError ?? 'unauthorized', error_description: err.description })
}
