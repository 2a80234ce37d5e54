// Writes a rejection (lib/rejection.ts decides it) onto the reply, after the
// debug log line and the audit event. The plugin answers the client itself, so
// a user's setErrorHandler cannot turn a 401 into a 500.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { McpAuthError } from '../lib/errors.js'
import type { ChallengeResource } from '../lib/rejection.js'
import { emitDenied } from './events.js'
import type { McpAuthState } from './state.js'

export async function sendOAuthError (
  state: McpAuthState,
  request: FastifyRequest,
  reply: FastifyReply,
  error: McpAuthError,
  resource: ChallengeResource,
  routeScopes: readonly string[] | undefined
): Promise<FastifyReply> {
  const rejection = await state.reject(error, {
    resource,
    routeScopes,
    authorization: request.headers.authorization,
    crossOrigin: request.headers.origin !== undefined,
    request,
    log: request.log,
  })
  const { error: err } = rejection
  request.log.debug({ code: err.code, reason: err.reason }, 'mcp-auth: request rejected')
  emitDenied(state, request, err, resource)
  return reply.code(rejection.statusCode).headers(rejection.headers).type('application/json; charset=utf-8').send(rejection.body)
}
