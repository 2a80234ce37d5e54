// Everything the hooks need, built once at registration and shared by the
// root plugin, requireScopes and the metadata plugin through kMcpAuth.
import type { FastifyBaseLogger } from 'fastify'
import { createJwtVerifier } from '../lib/access-token.js'
import { createAuthenticator } from '../lib/authenticate.js'
import { createCertificateReader } from './certificate.js'
import type { Authenticate } from '../lib/authenticate.js'
import { monotonicNowMs } from '../lib/clock.js'
import { createIssuerMetadataCache } from '../lib/discovery.js'
import { invalidOption } from '../lib/errors.js'
import { createFetchLimit } from '../lib/fetch-limit.js'
import type { IssuerMetadataCache } from '../lib/discovery.js'
import { createIntrospector } from '../lib/introspection.js'
import { createIntrospectionGate } from '../lib/introspection-gate.js'
import { createKeyResolver } from '../lib/key-resolver.js'
import type { KeyResolver } from '../lib/key-resolver.js'
import type { Logger } from '../lib/logger.js'
import type { ResolvedOptions, ResolvedResource } from '../lib/options.js'
import { createReadiness } from '../lib/readiness.js'
import type { Readiness } from '../lib/readiness.js'
import { createRejecter } from '../lib/rejection.js'
import type { Reject } from '../lib/rejection.js'
import { createRouteResources } from '../lib/route-resource.js'
import type { RouteResources } from '../lib/route-resource.js'
import { createTenancy } from '../lib/tenancy.js'
import type { ChallengeResource } from '../lib/rejection.js'
import type { Tenancy } from '../lib/tenancy.js'
import { createTokenCache, createTokenVerifier } from '../lib/verifier.js'
import type { TokenVerifierOptions } from '../lib/verifier.js'

export const kMcpAuth = Symbol.for('fastify-mcp-auth.state')
/** Route config key holding the scopes a route declares through requireScopes. */
export const kRouteScopes = Symbol.for('fastify-mcp-auth.route-scopes')
/** Route config key holding the resource a route belongs to, when its pattern decides it. */
export const kRouteResource = Symbol.for('fastify-mcp-auth.route-resource')
/** Route config key holding a parametric route's binding, when its parameters decide the resource. */
export const kRouteBinding = Symbol.for('fastify-mcp-auth.route-binding')
/** Route config key marking a route under the resolver's path: its parameters name the tenant. */
export const kRouteTenant = Symbol.for('fastify-mcp-auth.route-tenant')

export interface McpAuthState {
  readonly options: ResolvedOptions
  readonly logger: Logger
  readonly keys: KeyResolver
  readonly discovery: IssuerMetadataCache
  /** What requests depend on fetching: warmed up at ready(), reported by the health route. */
  readonly readiness: Readiness
  readonly authenticate: Authenticate
  /** Which configured resource each route's requests are checked against; undefined with a resolver. */
  readonly routes: RouteResources<ResolvedResource> | undefined
  /** With a resolver: each tenant's resource, looked up per request. */
  readonly tenancy: Tenancy | undefined
  /** The resource with this canonical URI (for a tenant: held, or the challenge its path names). */
  resourceByUri (uri: string): ChallengeResource
  /** Decides the answer to a refused request. */
  readonly reject: Reject
  close (): Promise<void>
}

/** Introspection without an endpoint asks the issuer's own: a tenant names exactly one. */
function oneIssuer (resource: ResolvedResource): void {
  if (resource.issuers.size !== 1) {
    throw invalidOption('"descriptor.authorizationServers" must name exactly one issuer: introspection has no endpoint, so the issuer\'s own is used')
  }
}

export function createState (options: ResolvedOptions, log: FastifyBaseLogger): McpAuthState {
  const logger: Logger = log
  const clock = Date.now
  const nowMs = monotonicNowMs
  // Closing the app aborts every fetch in flight (discovery, JWKS).
  const closing = new AbortController()
  const tenants = options.tenancy
  const limit = createFetchLimit(tenants?.maxConcurrentDiscovery ?? 8, options.network.timeoutMs)
  const network = { ...options.network, nowMs, logger, signal: closing.signal, limit }
  const maxIssuers = tenants?.maxIssuers
  const discovery = createIssuerMetadataCache({ ...network, pinned: options.issuers, maxIssuers })
  // Health reports the tenants' issuers fetched within the last cacheTtl.
  const recentMs = tenants === undefined ? undefined : tenants.cacheTtl * 1000
  const keys = createKeyResolver({ source: options.keySource, remote: network, discovery, issuers: options.issuers, maxIssuers, recentMs })

  let verify: TokenVerifierOptions['verify']
  let cacheTtl = Number.POSITIVE_INFINITY
  const v = options.verification
  if (v.kind === 'custom') {
    verify = { kind: 'custom', verify: v.verifyToken as never }
  } else if (v.kind === 'introspection') {
    cacheTtl = v.cacheTtl
    const introspect = createIntrospector({ ...v, clockTolerance: options.clockTolerance, clock, discovery, logger })
    verify = { kind: 'introspection', verify: createIntrospectionGate(introspect, { ...v, nowMs }) }
  } else {
    verify = {
      kind: 'jwt',
      verify: createJwtVerifier({
        algorithms: options.algorithms,
        tokenTypes: options.tokenTypes,
        clockTolerance: options.clockTolerance,
        clock,
        issuers: options.issuers,
        keys,
        secret: options.secret,
      }),
    }
  }
  const tokens = options.tokenCacheSize === 0 ? undefined : createTokenCache(options.tokenCacheSize)
  const verifyToken = createTokenVerifier({
    verify,
    cache: tokens,
    cacheSize: options.tokenCacheSize,
    cacheTtl,
    maxAge: options.tokenCacheMaxAge,
    clock,
    clockTolerance: options.clockTolerance,
  })

  const tenancy = tenants === undefined
    ? undefined
    : createTenancy(tenants, { logger, nowMs, tokens, checkResource: v.kind === 'introspection' && v.endpoint === undefined ? oneIssuer : undefined })
  const byUri = new Map(options.resources.map((r) => [r.uri, r]))

  return {
    options,
    logger,
    keys,
    discovery,
    readiness: createReadiness(options.verification, keys, discovery, options.issuers),
    authenticate: createAuthenticator({ options, verifyToken, clock, logger, certificateThumbprint: createCertificateReader(options.certificate) }),
    routes: tenancy === undefined ? createRouteResources(options.resources) : undefined,
    tenancy,
    resourceByUri: (uri) => byUri.get(uri) ?? (tenancy as Tenancy).byUri(uri),
    reject: createRejecter(options, logger),
    async close () {
      closing.abort()
      const dpop = options.dpop
      if (dpop?.ownsReplayStore === true) await dpop.replayStore?.close?.()
    },
  }
}
