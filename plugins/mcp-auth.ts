// The root plugin: resolve options once, decorate, and authenticate every
// request of the registering context in onRequest (routes opt out through
// `config: { mcpAuth: false }`).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import { resolveOptions } from '../lib/options.js'
import { invalidOption } from '../lib/errors.js'
import type { McpAuthOptions } from '../types/index.js'
import { createAuthenticateHook } from './authenticate.js'
import { declaredScopes } from './require-scopes.js'
import { createState, kMcpAuth, kRouteScopes } from './state.js'

function checkRoute (route: RouteOptions): void {
  const config = route.config as Record<string | symbol, unknown> | undefined
  const flag = config?.mcpAuth
  if (flag !== undefined && flag !== false) {
    throw invalidOption(`route config "mcpAuth" must be false (to opt ${route.method} ${route.url} out) or absent; got ${JSON.stringify(flag)}`)
  }
  const scopes = declaredScopes(route.preHandler)
  if (scopes !== undefined) route.config = { ...route.config, [kRouteScopes]: scopes } as RouteOptions['config']
}

const mcpAuthPlugin: FastifyPluginAsync<McpAuthOptions> = async function mcpAuth (fastify: FastifyInstance, options) {
  const resolved = resolveOptions(options)
  const state = createState(resolved, fastify.log)
  fastify.decorate(kMcpAuth, state)
  fastify.decorateRequest('mcp', null)
  fastify.addHook('onRoute', checkRoute)
  fastify.addHook('onRequest', createAuthenticateHook(state))
  fastify.addHook('onClose', async () => { await state.close() })
}

export const mcpAuth = fp(mcpAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth' })
export default mcpAuth
