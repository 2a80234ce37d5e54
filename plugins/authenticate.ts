// The onRequest hook: skip rules from route config (never URL prefixes), then
// the framework-free pipeline (lib/authenticate.ts), then request.mcp and
// request.raw.auth. It runs before the body is read, so unauthenticated
// requests cost no body parsing.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { countCredentialLines } from '../lib/credentials.js'
import { isRejection } from '../lib/errors.js'
import type { RouteResource } from '../lib/route-resource.js'
import type { ResolvedResource } from '../lib/options.js'
import type { McpAuthInfo } from '../types/index.js'
import { decisionChannel, emitAuthenticated } from './events.js'
import { answerPreflight, isCorsPreflight, kPreflightGuard } from './preflight.js'
import { sendOAuthError } from './reply.js'
import type { McpAuthState } from './state.js'
import { kRouteBinding, kRouteResource, kRouteScopes } from './state.js'

export type RouteConfig = {
  mcpAuth?: false
  [kPreflightGuard]?: true
  [kRouteScopes]?: readonly string[]
  [kRouteResource]?: ResolvedResource
  [kRouteBinding]?: RouteResource<ResolvedResource>
}

function hasQueryToken (request: FastifyRequest): boolean {
  const query = request.query
  return typeof query === 'object' && query !== null && Object.hasOwn(query, 'access_token')
}

/**
 * The resource this request is checked against, from the route that answers it
 * (lib/route-resource.ts), or undefined when the route's parameters fill a path
 * that names none. A route registered before the plugin is bound on its first
 * request; an unknown path (the 404 handler) gets the first resource.
 */
export function resourceOf (state: McpAuthState, request: FastifyRequest, config: RouteConfig): ResolvedResource | undefined {
  const fixed = config[kRouteResource]
  if (fixed !== undefined) return fixed
  const binding = bindingOf(state, request, config)
  if (binding === undefined) return state.options.resources[0]
  return binding.fixed ?? binding.select?.(request.params)
}

function bindingOf (state: McpAuthState, request: FastifyRequest, config: RouteConfig): RouteResource<ResolvedResource> | undefined {
  const binding = config[kRouteBinding]
  if (binding !== undefined) return binding
  const pattern = request.routeOptions.url
  return pattern === undefined ? undefined : state.routes.forRoute(pattern)
}

/** The resource whose challenge answers this request: its own, else the nearest one (see resourceOf). */
export function challengeResourceOf (state: McpAuthState, request: FastifyRequest, config: RouteConfig, resource: ResolvedResource | undefined): ResolvedResource {
  return resource ?? (bindingOf(state, request, config) as RouteResource<ResolvedResource>).nearest
}

export function createAuthenticateHook (state: McpAuthState) {
  return async function mcpAuthenticate (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const config = request.routeOptions.config as RouteConfig
    if (config.mcpAuth === false) return undefined
    // A CORS preflight is never authenticated (it cannot carry credentials), and
    // never reaches the handler (plugins/preflight.ts); any other OPTIONS request
    // is an ordinary request.
    if (request.method === 'OPTIONS' && isCorsPreflight(request)) {
      // A route registered before the plugin has no guard of its own: answer now.
      return config[kPreflightGuard] === true || request.is404 ? undefined : answerPreflight(reply)
    }
    // Unknown well-known paths answer 404, so clients probing discovery locations move on.
    if (request.is404 && request.url.startsWith('/.well-known/')) return undefined

    // A route whose pattern decides its resource has it in its config: no call.
    const resource = config[kRouteResource] ?? resourceOf(state, request, config)
    const lines = countCredentialLines(request.raw.rawHeaders)
    const dpopHeader = request.headers.dpop
    try {
      const { token, context, nonce, proofIgnored } = await state.authenticate({
        method: request.method,
        // What the client requested, before rewriteUrl: the DPoP htu names it (RFC 9449 §4.3).
        // Fastify keeps it on the raw request only when it rewrites (request.originalUrl
        // would store a copy on every request).
        url: (request.raw as { originalUrl?: string }).originalUrl ?? request.raw.url as string,
        authorization: request.headers.authorization,
        authorizationLines: lines.authorization,
        dpop: typeof dpopHeader === 'string' ? dpopHeader : dpopHeader?.join(', '),
        dpopLines: lines.dpop,
        queryToken: request.url.includes('?') && hasQueryToken(request),
        request,
        log: request.log,
      }, resource)
      request.mcp = context
      // The MCP SDK's AuthInfo, which its transports read from req.auth: mutable by its
      // type, so one per request. `resource` is the resource's shared read-only URL.
      const auth: McpAuthInfo = {
        token,
        clientId: context.clientId ?? '',
        scopes: [...context.scopes],
        expiresAt: context.expiresAt,
        resource: (resource as ResolvedResource).url,
        extra: { subject: context.subject, issuer: context.issuer, sender: context.sender, claims: context.claims, principal: context.principal },
      }
      ;(request.raw as typeof request.raw & { auth?: McpAuthInfo }).auth = auth
      // Only when someone listens: the event costs an object per request.
      if (state.options.onEvent !== undefined || decisionChannel.hasSubscribers) emitAuthenticated(state, request, context)
      if (proofIgnored) request.log.debug('mcp-auth: DPoP header beside the Bearer scheme with an unbound token: accepted as a bearer request, the proof is not trusted')
      if (nonce !== undefined) {
        // On the raw response: it survives SDK transports hijacking the reply (RFC 9449 §8.2 rotation).
        reply.raw.setHeader('DPoP-Nonce', nonce)
        reply.raw.setHeader('Cache-Control', 'no-store')
        // Browser clients must be able to read the new nonce.
        if (request.headers.origin !== undefined) reply.raw.setHeader('Access-Control-Expose-Headers', 'DPoP-Nonce')
      }
      return undefined
    } catch (err) {
      // Anything else is a bug: Fastify's error handler answers it.
      if (!isRejection(err)) throw err
      return sendOAuthError(state, request, reply, err, challengeResourceOf(state, request, config, resource), config[kRouteScopes])
    }
  }
}
