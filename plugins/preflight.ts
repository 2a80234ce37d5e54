// CORS preflights (Fetch standard §3.2.2): never authenticated, since a browser
// sends them without credentials, and never answered by a route handler, which
// would then run unauthenticated. A preflight still unanswered when the route's
// handler is next gets 204 with no CORS grant of the plugin's own: granting
// origins is @fastify/cors's job (its headers, when it runs first, are kept).
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'

/** Marks a route config whose preHandlers answer preflights (see guardRoutePreflights). */
export const kPreflightGuard = Symbol.for('fastify-mcp-auth.preflight-guard')

/** OPTIONS with Origin and Access-Control-Request-Method: nothing less is a preflight. */
export function isCorsPreflight (request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' &&
    request.headers.origin !== undefined &&
    request.headers['access-control-request-method'] !== undefined
}

/** Answers a preflight: 204, nothing to cache, no Access-Control-Allow-* of our own. */
export function answerPreflight (reply: FastifyReply): FastifyReply {
  return reply.code(204).header('cache-control', 'no-store').send()
}

// A callback hook: a route that also takes GET and POST (app.all) pays no promise per request.
function mcpAuthPreflight (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (isCorsPreflight(request)) {
    answerPreflight(reply)
    return
  }
  done()
}

/**
 * For an authenticated route that takes OPTIONS: the route's first preHandler
 * answers preflights. Route-level preHandlers run after every global hook, so
 * @fastify/cors (on any of its hooks, registered before or after) has answered
 * or added its headers by then. Routes without OPTIONS never see a preflight.
 */
export function guardRoutePreflights (route: RouteOptions): Record<symbol, true> | undefined {
  const methods = [route.method].flat()
  if (!methods.includes('OPTIONS')) return undefined
  const existing = route.preHandler === undefined ? [] : [route.preHandler].flat()
  route.preHandler = [mcpAuthPreflight, ...existing] as RouteOptions['preHandler']
  return { [kPreflightGuard]: true }
}
