// RFC 9728 protected-resource metadata routes: one document per resource at
// /.well-known/oauth-protected-resource + resource path (inserted, never
// appended), the root document, CORS for browser clients, never authenticated.
// Registered by mcpAuth itself at the top level; on its own at the root when
// mcpAuth lives under a prefix.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import { monotonicNowMs } from '../lib/clock.js'
import type { IssuerMetadataCache } from '../lib/discovery.js'
import { createIssuerMetadataCache } from '../lib/discovery.js'
import { invalidRegistration, isMcpAuthError, isRejection, notRegistered, reject } from '../lib/errors.js'
import { describeError } from '../lib/logger.js'
import { renderErrorBody } from '../lib/rejection.js'
import { createTenancy } from '../lib/tenancy.js'
import type { Tenancy } from '../lib/tenancy.js'
import { buildProtectedResourceMetadata } from '../lib/metadata.js'
import type { ProtectedResourceMetadata } from '../types/metadata.js'
import { resolveMetadata, resolveOptions } from '../lib/options.js'
import type { ResolvedMetadata, ResolvedOptions, ResolvedResource } from '../lib/options.js'
import { AUTHORIZATION_SERVER_WELL_KNOWN, PROTECTED_RESOURCE_WELL_KNOWN } from '../lib/well-known.js'
import type { McpAuthOptions, MetadataOptions } from '../types/index.js'
import type { McpAuthState } from './state.js'
import { kMcpAuth } from './state.js'

export interface ProtectedResourceMetadataOptions extends MetadataOptions {
  /**
   * The mcpAuth options, when mcpAuth is registered in another (e.g. prefixed)
   * context whose state this root context cannot see.
   */
  auth?: McpAuthOptions
}

const ALLOWED_HEADERS = 'Authorization, DPoP, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Content-Type'
const PUBLIC = { mcpAuth: false } as const

/** The document a resource's metadata route serves. */
export function resourceDocument (options: ResolvedOptions, resource: ResolvedResource): ProtectedResourceMetadata {
  const dpop = options.dpop
  return buildProtectedResourceMetadata({
    resource: resource.uri,
    authorizationServers: resource.authorizationServers,
    scopesSupported: resource.scopesSupported,
    resourceName: resource.resourceName,
    resourceDocumentation: resource.resourceDocumentation,
    dpopSigningAlgValuesSupported: dpop?.algorithmList,
    dpopBoundAccessTokensRequired: dpop === undefined ? undefined : dpop.required,
    tlsClientCertificateBoundAccessTokens: options.mtls ? true : undefined,
    extra: resource.extraMetadata,
  })
}

function corsPreflight (_request: unknown, reply: FastifyReply): FastifyReply {
  return reply.code(204)
    .header('access-control-allow-origin', '*')
    .header('access-control-allow-methods', 'GET, HEAD, OPTIONS')
    .header('access-control-allow-headers', ALLOWED_HEADERS)
    .header('access-control-max-age', '86400')
    .send()
}

/** Registers the metadata routes on `fastify` (which must be the root context, prefix ''). */
export function registerMetadataRoutes (
  fastify: FastifyInstance,
  options: ResolvedOptions,
  metadata: ResolvedMetadata,
  discovery: IssuerMetadataCache,
  tenancy: Tenancy | undefined
): void {
  const cacheControl = metadata.cacheMaxAge === 0 ? 'no-cache' : `public, max-age=${metadata.cacheMaxAge}`
  if (tenancy !== undefined) registerTenantMetadataRoute(fastify, options, metadata, tenancy)
  const served = new Map<string, ResolvedResource>()
  for (const resource of options.resources) {
    if (!resource.externalMetadata) served.set(resource.metadataRoute, resource)
  }
  // The root document (MCP clients fall back to it), unless a bare-origin resource owns that URL.
  if (metadata.root !== undefined && !served.has(PROTECTED_RESOURCE_WELL_KNOWN)) served.set(PROTECTED_RESOURCE_WELL_KNOWN, metadata.root)

  for (const [route, resource] of served) {
    // The document is fixed at registration: serialized once, sent as is.
    const body = JSON.stringify(resourceDocument(options, resource))
    fastify.get(route, { config: PUBLIC }, async (_request, reply) => {
      return reply
        .header('cache-control', cacheControl)
        .header('access-control-allow-origin', '*')
        .type('application/json; charset=utf-8')
        .send(body)
    })
    fastify.options(route, { config: PUBLIC }, corsPreflight)
  }

  if (metadata.authorizationServerMirror) {
    // A co-hosted authorization server serves its own metadata here: say who collides.
    if (fastify.hasRoute({ method: 'GET', url: AUTHORIZATION_SERVER_WELL_KNOWN })) {
      throw invalidRegistration(`GET ${AUTHORIZATION_SERVER_WELL_KNOWN} is already served (by a co-hosted mcpAuthorizationServer?); set metadata.authorizationServerMirror to false`)
    }
    const issuer = options.resources[0]?.authorizationServers[0] as string
    const retryAfter = String(options.retryAfter)
    // The issuer's document is passed through as published (no response schema to
    // trim it); the 503 body goes through errorRenderer like every other rejection.
    fastify.get(AUTHORIZATION_SERVER_WELL_KNOWN, { config: PUBLIC }, async (request, reply) => {
      reply.header('access-control-allow-origin', '*').type('application/json; charset=utf-8')
      try {
        const document = await discovery.get(issuer)
        return reply.header('cache-control', cacheControl).send(document)
      } catch (err) {
        request.log.warn({ issuer, err: describeError(err) }, 'mcp-auth: authorization server metadata mirror unavailable')
        reply.code(503).header('retry-after', retryAfter).header('cache-control', 'no-store')
        const error = isMcpAuthError(err) ? err : reject.unavailable('discovery.failed', err)
        return reply.send(await renderErrorBody(options.errorRenderer, error, request, request.log))
      }
    })
    fastify.options(AUTHORIZATION_SERVER_WELL_KNOWN, { config: PUBLIC }, corsPreflight)
  }
}

/**
 * One route serves every tenant's document: 404 (the app's own not-found
 * answer) for parameters that name no tenant, 503 when the resolver fails.
 * Tenant existence is observable here, by design (docs/multi-tenant.md).
 */
function registerTenantMetadataRoute (fastify: FastifyInstance, options: ResolvedOptions, metadata: ResolvedMetadata, tenancy: Tenancy): void {
  // A document outlives its tenant by no more than the resolver's cacheTtl, in any cache.
  const maxAge = Math.min(metadata.cacheMaxAge, Math.floor(tenancy.options.cacheTtl))
  const cacheControl = maxAge === 0 ? 'no-cache' : `public, max-age=${maxAge}`
  const retryAfter = String(options.retryAfter)
  const route = tenancy.options.metadataRoute
  fastify.get(route, { config: PUBLIC }, async (request, reply) => {
    let resource
    try {
      resource = await tenancy.resourceFor(request.params, request)
    } catch (err) {
      reply.code(503).header('retry-after', retryAfter).header('cache-control', 'no-store').type('application/json; charset=utf-8')
      const error = isRejection(err) ? err : reject.unavailable('resolver.failed', err)
      return reply.send(await renderErrorBody(options.errorRenderer, error, request, request.log))
    }
    if (resource === undefined) return reply.callNotFound()
    return reply
      .header('cache-control', cacheControl)
      .header('access-control-allow-origin', '*')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(resourceDocument(options, resource)))
  })
  fastify.options(route, { config: PUBLIC }, corsPreflight)
}

const protectedResourceMetadataPlugin: FastifyPluginAsync<ProtectedResourceMetadataOptions> = async function protectedResourceMetadata (fastify, opts) {
  if (fastify.prefix !== '') {
    throw invalidRegistration(`protectedResourceMetadata must be registered without a prefix (well-known URLs live at the origin root); it got prefix ${JSON.stringify(fastify.prefix)}`)
  }
  const { auth, ...metadataOptions } = opts ?? {}
  const state = (fastify as unknown as Record<symbol, McpAuthState | undefined>)[kMcpAuth]
  let resolved: ResolvedOptions
  let discovery: IssuerMetadataCache
  let tenancy: Tenancy | undefined
  if (auth !== undefined) {
    resolved = resolveOptions(auth)
    discovery = createIssuerMetadataCache({ ...resolved.network, nowMs: monotonicNowMs, logger: fastify.log })
    // Its own tenant cache: mcpAuth's invalidate() does not reach it (it expires after cacheTtl).
    tenancy = resolved.tenancy === undefined ? undefined : createTenancy(resolved.tenancy, { logger: fastify.log, nowMs: monotonicNowMs, tokens: undefined })
  } else if (state !== undefined) {
    resolved = state.options
    discovery = state.discovery
    tenancy = state.tenancy
  } else {
    throw notRegistered('protectedResourceMetadata needs the mcpAuth options: register it after mcpAuth in the same context, or pass { auth: <the mcpAuth options> }')
  }
  const metadata = resolveMetadata(metadataOptions, resolved.resources, tenancy !== undefined) as ResolvedMetadata
  registerMetadataRoutes(fastify, resolved, metadata, discovery, tenancy)
}

export const protectedResourceMetadata = fp(protectedResourceMetadataPlugin, {
  fastify: '5.x',
  name: 'fastify-mcp-auth/protected-resource-metadata',
})
