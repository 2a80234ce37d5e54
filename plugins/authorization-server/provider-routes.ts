// Mounts oidc-provider natively: an encapsulated context whose body parser
// leaves the stream unread, one route per provider endpoint (each with
// `config: { mcpAuth: false }`), and a handler that hands the raw request over
// with every URL-deciding header set from the issuer, so neither `Host` nor
// `X-Forwarded-*` can change a URL in metadata or a redirect. CORS
// (`Access-Control-Allow-Origin: *`, no credentials) is answered here for the
// public endpoints and nowhere else.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { ResolvedAsOptions } from '../../lib/authorization-server/options.js'
import { ROUTES } from '../../lib/authorization-server/provider-configuration.js'
import { AUTHORIZATION_SERVER_WELL_KNOWN, OPENID_WELL_KNOWN } from '../../lib/well-known.js'
import type { RateLimitStoreClass } from '../../lib/authorization-server/rate-limit-store.js'
import { isRateLimitStoreFailure, rateLimitOptions, rateLimitStoreUnavailable } from './rate-limit.js'

export interface ProviderRoutesOptions {
  options: ResolvedAsOptions
  callback: (req: FastifyRequest['raw'], res: FastifyReply['raw']) => unknown
  /** Counters on redisAdapter's Redis; undefined: in this process. */
  rateLimitStore: RateLimitStoreClass | undefined
}

export const PUBLIC_ROUTE = Object.freeze({ mcpAuth: false })

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, DPoP, MCP-Protocol-Version'
const CORS_EXPOSE_HEADERS = 'DPoP-Nonce, WWW-Authenticate'

/** Provider paths (below the issuer path) that browsers on any origin may call. */
const CORS_PATHS = new Set([
  AUTHORIZATION_SERVER_WELL_KNOWN, OPENID_WELL_KNOWN, ROUTES.jwks, ROUTES.token,
  ROUTES.revocation, ROUTES.registration, ROUTES.pushed_authorization_request,
])

function handOver (options: ResolvedAsOptions, callback: ProviderRoutesOptions['callback'], providerPath: (request: FastifyRequest) => string, cors: boolean) {
  const host = options.issuerUrl.host
  const proto = options.issuerUrl.protocol.slice(0, -1)
  return async function toProvider (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const raw = request.raw
    if (cors) {
      if (request.method === 'OPTIONS') {
        return reply.code(204)
          .header('access-control-allow-origin', '*')
          .header('access-control-allow-methods', 'GET, POST, OPTIONS')
          .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
          .header('access-control-max-age', '3600')
          .send()
      }
      // Set before the provider runs: its own (origin-echoing) CORS then stays out.
      reply.raw.setHeader('access-control-allow-origin', '*')
      reply.raw.setHeader('access-control-expose-headers', CORS_EXPOSE_HEADERS)
    }
    // URLs come from the issuer alone; the client address is Fastify's (trustProxy decides).
    raw.headers.host = host
    raw.headers['x-forwarded-host'] = host
    raw.headers['x-forwarded-proto'] = proto
    raw.headers['x-forwarded-for'] = request.ip
    delete raw.headers.forwarded
    raw.url = providerPath(request)
    // oidc-provider prefixes the URLs it builds with the mount path it reads here.
    ;(raw as typeof raw & { baseUrl: string }).baseUrl = options.mountPath
    reply.hijack()
    callback(raw, reply.raw)
    return undefined
  }
}

/** The part of the URL below the issuer path: what oidc-provider routes on. */
function belowMount (mountPath: string) {
  return (request: FastifyRequest): string => request.raw.url?.slice(mountPath.length) || '/'
}

const providerRoutes: FastifyPluginAsync<ProviderRoutesOptions> = async function providerRoutes (fastify: FastifyInstance, { options, callback, rateLimitStore }) {
  // oidc-provider parses its own bodies: leave the stream unread.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  if (options.rateLimit !== undefined || options.registration !== undefined) {
    await fastify.register(rateLimit, rateLimitOptions(rateLimitStore))
    // Errors before the hand-over are the limits' own; the rest is the app's to answer.
    fastify.setErrorHandler(async (error, request, reply) => {
      if (isRateLimitStoreFailure(error)) return rateLimitStoreUnavailable(request, reply, error)
      throw error
    })
  }

  const mount = options.mountPath
  const below = belowMount(mount)
  const paths = [
    ...Object.values(ROUTES),
    `${ROUTES.authorization}/:uid`,
    `${ROUTES.registration}/:clientId`,
    `${ROUTES.end_session}/confirm`,
    `${ROUTES.end_session}/success`,
    AUTHORIZATION_SERVER_WELL_KNOWN,
    OPENID_WELL_KNOWN,
  ]
  for (const path of paths) {
    const config: Record<string, unknown> = { ...PUBLIC_ROUTE }
    if (path === ROUTES.token && options.rateLimit !== undefined) {
      config.rateLimit = { max: options.rateLimit.tokenPerMinute, timeWindow: 60_000 }
    }
    if (path === ROUTES.registration && options.registration !== undefined) {
      config.rateLimit = { max: options.registration.perIpPerHour, timeWindow: 3_600_000, groupId: 'registration' }
    }
    fastify.all(mount + path, { config }, handOver(options, callback, below, CORS_PATHS.has(path)))
  }

  // RFC 8414 §3.1 and OpenID insertion for an issuer with a path: the root
  // well-known URLs with the issuer path appended serve the same document.
  if (mount !== '') {
    for (const wellKnown of [AUTHORIZATION_SERVER_WELL_KNOWN, OPENID_WELL_KNOWN]) {
      fastify.all(wellKnown + mount, { config: { ...PUBLIC_ROUTE } }, handOver(options, callback, () => wellKnown, true))
    }
  }
}

export default providerRoutes
