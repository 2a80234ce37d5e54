// One audit event per decision, to the `onEvent` option and to the
// `fastify-mcp-auth:decision` diagnostics channel. Events carry who, how and
// why — never the token, the proof, or the query string.
import { channel } from 'node:diagnostics_channel'
import type { FastifyRequest } from 'fastify'
import type { McpAuthError } from '../lib/errors.js'
import { describeError } from '../lib/logger.js'
import type { ChallengeResource } from '../lib/rejection.js'
import { requestPath } from '../lib/resource.js'
import type { McpAuthContext, McpAuthEvent } from '../types/index.js'
import type { McpAuthState } from './state.js'

export const decisionChannel = channel('fastify-mcp-auth:decision')

function dispatch (state: McpAuthState, request: FastifyRequest, event: McpAuthEvent): void {
  if (decisionChannel.hasSubscribers) decisionChannel.publish(event)
  const onEvent = state.options.onEvent
  if (onEvent === undefined) return
  const failed = (err: unknown): void => {
    // Auditing must never change the decision (nor crash the process).
    request.log.error({ err: describeError(err) }, 'mcp-auth: onEvent threw')
  }
  try {
    const result: unknown = onEvent(event, request)
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, failed)
  } catch (err) {
    failed(err)
  }
}

/** Called only when an `onEvent` callback or a channel subscriber listens. */
export function emitAuthenticated (state: McpAuthState, request: FastifyRequest, context: McpAuthContext): void {
  dispatch(state, request, {
    type: 'authenticated',
    requestId: String(request.id),
    method: request.method,
    path: requestPath(request.url),
    resource: context.resource,
    issuer: context.issuer,
    subject: context.subject,
    clientId: context.clientId,
    binding: context.sender.binding,
    scopes: context.scopes,
  })
}

export function emitDenied (state: McpAuthState, request: FastifyRequest, error: McpAuthError, resource: ChallengeResource): void {
  if (state.options.onEvent === undefined && !decisionChannel.hasSubscribers) return
  dispatch(state, request, {
    type: 'denied',
    requestId: String(request.id),
    method: request.method,
    path: requestPath(request.url),
    resource: resource.uri,
    status: error.statusCode,
    code: error.code,
    reason: error.reason,
    oauthError: error.oauthError,
    subject: request.mcp?.subject,
    clientId: request.mcp?.clientId,
  })
}
