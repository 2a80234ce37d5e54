// mcpContext(request): the verified context for a handler behind the plugin, typed
// non-null, so handlers need no `!`. On a route the plugin does not authenticate it
// throws (a 500), so a handler never runs as if a request had been authorized.
import type { FastifyRequest } from 'fastify'
import { notRegistered } from '../lib/errors.js'
import type { McpAuthContext } from '../types/index.js'

export function mcpContext (request: FastifyRequest): McpAuthContext {
  const context = request.mcp
  if (context === null) {
    throw notRegistered('mcpContext(request) on a route that is not authenticated (config: { mcpAuth: false }, a CORS preflight, a metadata route, or no mcpAuth in this context)')
  }
  return context
}
