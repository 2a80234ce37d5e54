// The root plugin: resolve options once, decorate, and authenticate every
// request of the registering context in onRequest (routes opt out through
// `config: { mcpAuth: false }`).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import { resolveOptions } from '../lib/options.js'
import { invalidOption, invalidRegistration, metadataMissing, warmUpFailed } from '../lib/errors.js'
import type { WarmUpFailure } from '../lib/key-resolver.js'
import type { ResolvedOptions } from '../lib/options.js'
import type { McpAuthOptions } from '../types/index.js'
import { createAuthenticateHook } from './authenticate.js'
import { declaredScopes } from './require-scopes.js'
import { registerLoadShedding } from './load-shedding.js'
import { registerHealthRoute, warnIfClusteredMemoryStore } from './operations.js'
import { guardRoutePreflights } from './preflight.js'
import { registerMetadataRoutes } from './protected-resource-metadata.js'
import { createState, kMcpAuth, kRouteBinding, kRouteResource, kRouteScopes } from './state.js'
import type { McpAuthState } from './state.js'

function createRouteChecker (state: McpAuthState, outside: string[]) {
  return function checkRoute (route: RouteOptions): void {
    const config = route.config as Record<string | symbol, unknown> | undefined
    const flag = config?.mcpAuth
    if (flag !== undefined && flag !== false) {
      throw invalidOption(`route config "mcpAuth" must be false (to opt ${route.method} ${route.url} out) or absent; got ${JSON.stringify(flag)}`)
    }
    const extra: Record<symbol, unknown> = {}
    const scopes = declaredScopes(route.preHandler)
    if (scopes !== undefined) extra[kRouteScopes] = scopes
    // The route, not the raw URL, decides the resource (see lib/route-resource.ts).
    const binding = state.routes.forRoute(route.url)
    if (binding.fixed !== undefined) extra[kRouteResource] = binding.fixed
    else extra[kRouteBinding] = binding
    if (binding.outside && flag !== false) outside.push(`${[route.method].flat().join(',')} ${route.url}`)
    if (flag !== false) Object.assign(extra, guardRoutePreflights(route))
    route.config = { ...route.config, ...extra } as RouteOptions['config']
  }
}

const mcpAuthPlugin: FastifyPluginAsync<McpAuthOptions> = async function mcpAuth (fastify: FastifyInstance, options) {
  const resolved = resolveOptions(options)
  const state = createState(resolved, fastify.log)
  fastify.decorate(kMcpAuth, state)
  fastify.decorateRequest('mcp', null)
  const outside: string[] = []
  fastify.addHook('onRoute', createRouteChecker(state, outside))
  // Load shedding first: an overloaded server must not spend signature work.
  await registerLoadShedding(fastify, state)
  fastify.addHook('onRequest', createAuthenticateHook(state))
  // Right after authentication (its onRequest hook reads request.mcp); imported only
  // when on, so the root entry stays light without it.
  if (resolved.sessionBinding !== undefined) (await import('./session-binding.js')).registerSessionBinding(fastify, state)
  registerHealthRoute(fastify, state)
  warnIfClusteredMemoryStore(state)
  fastify.addHook('onClose', async () => { await state.close() })

  // Well-known URLs live at the origin root: serve them only when registered without a prefix.
  if (resolved.metadata !== undefined && fastify.prefix === '') {
    registerMetadataRoutes(fastify, resolved, resolved.metadata, state.discovery)
  }
  fastify.addHook('onReady', async function checkRoutes () {
    checkRoutesInsideResources(outside, resolved)
    checkMetadataServed(this, resolved)
  })
  if (resolved.warmUp !== false) {
    const required = resolved.warmUp === 'required'
    fastify.addHook('onReady', async function warmUp () {
      // Failures are logged where they happen; in the background they only prime the fail-fast window.
      const pending = state.readiness.warmUp()
      if (required) throwWarmUpFailures(await pending)
    })
  }
}

// With several resources, a route outside all of them has no resource to check: no fallback.
function checkRoutesInsideResources (outside: readonly string[], options: ResolvedOptions): void {
  if (outside.length === 0) return
  throw invalidRegistration(
    `${outside.join(', ')} ${outside.length === 1 ? 'lies' : 'lie'} outside every configured resource ` +
    `(${options.resources.map((r) => r.parsed.path || '/').join(', ')}), so no resource's tokens can be checked there. ` +
    'Move the route under a resource, add a resource for it, or set config: { mcpAuth: false } on it.'
  )
}

function throwWarmUpFailures (failures: readonly WarmUpFailure[]): void {
  if (failures.length === 0) return
  const list = failures.map((f) => `${f.source} (${f.cause})`).join(', ')
  throw warmUpFailed(
    `the authorization server's keys are unavailable: ${list}. With jwks.warmUp: 'required', ready() needs every key set; ` +
    'check the issuer URL and the network, or use warmUp: \'background\' to start without them.',
    failures[0]?.error
  )
}

// Every challenge points at resource_metadata: a URL nobody serves breaks client discovery.
function checkMetadataServed (fastify: FastifyInstance, options: ResolvedOptions): void {
  for (const resource of options.resources) {
    if (resource.externalMetadata || fastify.hasRoute({ method: 'GET', url: resource.metadataRoute })) continue
    throw metadataMissing(
      `no route serves GET ${resource.metadataPath}, the metadata URL in ${resource.uri}'s challenges. ` +
      'Register protectedResourceMetadata at the root (app.register(protectedResourceMetadata, { auth: <mcpAuth options> })) ' +
      'or set the resource\'s resourceMetadataUrl.'
    )
  }
}

export const mcpAuth = fp(mcpAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth' })
export default mcpAuth
