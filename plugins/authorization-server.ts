// mcpAuthorizationServer: an MCP-ready OAuth authorization server on
// oidc-provider. Resolves the options once, builds the provider with the MCP
// defaults, mounts its endpoints and the interaction route, maps its events to
// the suite's vocabulary, and decorates `fastify.mcpAuthorizationServer` with
// the issuer and the public keys (a key function for a co-hosted mcpAuth).
import cluster from 'node:cluster'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { createLocalJWKSet } from 'jose'
import Provider from 'oidc-provider'
import { createCsrfTokens } from '../lib/authorization-server/csrf.js'
import { registerIdJagGrant } from '../lib/authorization-server/id-jag-grant.js'
import type { IdJagProvider } from '../lib/authorization-server/id-jag-grant.js'
import { answerReplayedProofs } from '../lib/authorization-server/dpop-replay.js'
import type { ReplayAnswerProvider } from '../lib/authorization-server/dpop-replay.js'
import { resolveAsOptions } from '../lib/authorization-server/options.js'
import { buildConfiguration } from '../lib/authorization-server/provider-configuration.js'
import type { AdapterFactory } from '../lib/authorization-server/provider-types.js'
import { redisOf } from '../lib/authorization-server/redis-adapter.js'
import { redisRateLimitStore } from '../lib/authorization-server/rate-limit-store.js'
import { createStore } from '../lib/authorization-server/store.js'
import { invalidRegistration } from '../lib/errors.js'
import { describeError } from '../lib/logger.js'
import { AUTHORIZATION_SERVER_WELL_KNOWN, OPENID_WELL_KNOWN } from '../lib/well-known.js'
import type { AuthorizationServerHealth, McpAuthorizationServerDecorator, McpAuthorizationServerOptions, OidcProviderInstance } from '../types/authorization-server.js'
import { subscribeEvents } from './authorization-server/events.js'
import interactionRoutes from './authorization-server/interaction-routes.js'
import providerRoutes from './authorization-server/provider-routes.js'

/** The root well-known URLs the plugin serves (RFC 8414 insertion for a path issuer). */
function wellKnownUrls (mountPath: string): string[] {
  return [AUTHORIZATION_SERVER_WELL_KNOWN + mountPath, OPENID_WELL_KNOWN + mountPath, mountPath + AUTHORIZATION_SERVER_WELL_KNOWN, mountPath + OPENID_WELL_KNOWN]
}

const plugin: FastifyPluginAsync<McpAuthorizationServerOptions> = async function mcpAuthorizationServer (fastify: FastifyInstance, opts) {
  if (fastify.prefix !== '') {
    throw invalidRegistration(`mcpAuthorizationServer must be registered without a prefix (its paths come from "issuer"); it got prefix ${JSON.stringify(fastify.prefix)}`)
  }
  const options = resolveAsOptions(opts)
  const log = fastify.log
  if (options.signingKeys.generated) log.warn({}, 'mcp-authorization-server: signing with a key generated at start (development only): tokens stop verifying at the next start; configure "signingKeys"')
  if (options.resources.every((r) => r.defaultScopes === undefined)) {
    log.warn({}, 'mcp-authorization-server: no resource has "defaultScopes": a request without a scope gets invalid_scope (MCP clients and the official conformance scenario send none)')
  }
  if (options.store === undefined && (cluster.isWorker || process.env.NODE_APP_INSTANCE !== undefined)) {
    log.warn({}, 'mcp-authorization-server: grants, codes and sessions live in this process\'s memory, but this process looks like one of several: use store: redisAdapter(client)')
  }
  // Say who owns the collision before Fastify reports a bare duplicate route.
  for (const url of wellKnownUrls(options.mountPath)) {
    if (fastify.hasRoute({ method: 'GET', url })) {
      throw invalidRegistration(`GET ${url} is already served (by mcpAuth's authorization-server metadata mirror?); the co-hosted authorization server serves it: set mcpAuth's metadata.authorizationServerMirror to false`)
    }
  }

  const store = createStore(options.store as AdapterFactory | undefined, {
    clientIdleTtl: options.registration !== undefined && options.registration.initialAccessToken === undefined ? options.registration.idleTtl : undefined,
  })
  const configuration = buildConfiguration(options, {
    adapter: store,
    findAccount: async (subject) => options.accounts.find(subject),
  })
  const provider = new Provider(options.issuer, configuration as ConstructorParameters<typeof Provider>[1])
  // Its URL-deciding headers are set from the issuer by the mount (never the client's).
  provider.proxy = true
  subscribeEvents(provider, options, log)
  if (options.idJag !== undefined) registerIdJagGrant(provider as unknown as IdJagProvider, options, options.idJag)
  answerReplayedProofs(provider as unknown as ReplayAnswerProvider)

  const keys = createLocalJWKSet({ keys: options.signingKeys.publicKeys.map((k) => ({ ...k })) })
  const redis = redisOf(options.store)
  const decorator: McpAuthorizationServerDecorator = Object.freeze({
    issuer: options.issuer,
    provider: provider as unknown as OidcProviderInstance,
    keys,
    jwks: () => ({ keys: options.signingKeys.publicKeys.map((k) => ({ ...k })) }),
    async health (): Promise<AuthorizationServerHealth> {
      let reachable = true
      let error: string | undefined
      if (redis !== undefined) {
        try {
          await redis.commands.send(['PING'])
        } catch (err) {
          reachable = false
          error = describeError(err).message
        }
      }
      return {
        store: error === undefined ? { reachable } : { reachable, error },
        keys: { count: options.signingKeys.publicKeys.length, kids: options.signingKeys.publicKeys.map((k) => String(k.kid)) },
      }
    },
  })
  fastify.decorate('mcpAuthorizationServer', decorator)

  // With redisAdapter the rate limits count on its Redis, for every instance together.
  const rateLimitStore = redis === undefined ? undefined : redisRateLimitStore(redis.commands, redis.prefix)
  const callback = provider.callback()
  await fastify.register(providerRoutes, { options, callback, rateLimitStore })
  await fastify.register(interactionRoutes, { options, provider, csrf: createCsrfTokens(options.cookieKeys[0] as string), rateLimitStore })
}

export const mcpAuthorizationServer = fp(plugin, { fastify: '5.x', name: 'fastify-mcp-auth/authorization-server' })
export default mcpAuthorizationServer
