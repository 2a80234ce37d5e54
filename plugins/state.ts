// Everything the hooks need, built once at registration and shared by the
// root plugin, requireScopes and the metadata plugin through kMcpAuth.
import type { FastifyBaseLogger } from 'fastify'
import { createJwtVerifier } from '../lib/access-token.js'
import { createAuthenticator } from '../lib/authenticate.js'
import { createCertificateReader } from './certificate.js'
import type { Authenticate } from '../lib/authenticate.js'
import { monotonicNowMs } from '../lib/clock.js'
import { createIssuerMetadataCache } from '../lib/discovery.js'
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
import { createTokenVerifier } from '../lib/verifier.js'
import type { TokenVerifierOptions } from '../lib/verifier.js'

export const kMcpAuth = Symbol.for('fastify-mcp-auth.state')
/** Route config key holding the scopes a route declares through requireScopes. */
export const kRouteScopes = Symbol.for('fastify-mcp-auth.route-scopes')
/** Route config key holding the resource a route belongs to, when its pattern decides it. */
export const kRouteResource = Symbol.for('fastify-mcp-auth.route-resource')
/** Route config key holding a parametric route's binding, when its parameters decide the resource. */
export const kRouteBinding = Symbol.for('fastify-mcp-auth.route-binding')

export interface McpAuthState {
  readonly options: ResolvedOptions
  readonly logger: Logger
  readonly keys: KeyResolver
  readonly discovery: IssuerMetadataCache
  /** What requests depend on fetching: warmed up at ready(), reported by the health route. */
  readonly readiness: Readiness
  readonly authenticate: Authenticate
  /** Which resource each route's requests are checked against. */
  readonly routes: RouteResources<ResolvedResource>
  /** The configured resource with this canonical URI. */
  resourceByUri (uri: string): ResolvedResource | undefined
  /** Decides the answer to a refused request. */
  readonly reject: Reject
  close (): Promise<void>
}

export function createState (options: ResolvedOptions, log: FastifyBaseLogger): McpAuthState {
  const logger: Logger = log
  const clock = Date.now
  const nowMs = monotonicNowMs
  // Closing the app aborts every fetch in flight (discovery, JWKS).
  const closing = new AbortController()
  const network = { ...options.network, nowMs, logger, signal: closing.signal }
  const discovery = createIssuerMetadataCache(network)
  const keys = createKeyResolver({ source: options.keySource, remote: network, discovery, issuers: options.issuers })

  let verify: TokenVerifierOptions['verify']
  let cacheTtl = Number.POSITIVE_INFINITY
  const v = options.verification
  if (v.kind === 'custom') {
    verify = { kind: 'custom', verify: v.verifyToken as never }
  } else if (v.kind === 'introspection') {
    cacheTtl = v.cacheTtl
    const introspect = createIntrospector({ ...v, clockTolerance: options.clockTolerance, clock, issuers: options.issuers, discovery, logger })
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
  const verifyToken = createTokenVerifier({
    verify,
    cacheSize: options.tokenCacheSize,
    cacheTtl,
    maxAge: options.tokenCacheMaxAge,
    clock,
    clockTolerance: options.clockTolerance,
    issuers: options.issuers,
  })

  return {
    options,
    logger,
    keys,
    discovery,
    readiness: createReadiness(options.verification, keys, discovery, options.issuers),
    authenticate: createAuthenticator({ options, verifyToken, clock, logger, certificateThumbprint: createCertificateReader(options.certificate) }),
    routes: createRouteResources(options.resources),
    resourceByUri: (uri) => options.resources.find((r) => r.uri === uri),
    reject: createRejecter(options, logger),
    async close () {
      closing.abort()
      const dpop = options.dpop
      if (dpop?.ownsReplayStore === true) await dpop.replayStore?.close?.()
    },
  }
}
