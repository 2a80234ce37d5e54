// Production wiring: load shedding before any signature work, a health route,
// and a start-up warning when an in-process replay store meets a multi-process
// deployment.
import cluster from 'node:cluster'
import type { FastifyInstance } from 'fastify'
import { monotonicNowMs } from '../lib/clock.js'
import { reject } from '../lib/errors.js'
import { describeError } from '../lib/logger.js'
import { MemoryReplayStore } from '../lib/stores/memory-replay-store.js'
import { challengeResourceOf, resourceOf } from './authenticate.js'
import type { RouteConfig } from './authenticate.js'
import { sendOAuthError } from './reply.js'
import type { McpAuthState } from './state.js'

/** Registers @fastify/under-pressure so its onRequest hook runs before authentication. */
export async function registerLoadShedding (fastify: FastifyInstance, state: McpAuthState): Promise<void> {
  const options = state.options.underPressure
  if (options === undefined) return
  // Imported only when load shedding is on: the root entry stays light without it.
  const { default: underPressure } = await import('@fastify/under-pressure')
  await fastify.register(underPressure, {
    ...options,
    retryAfter: state.options.retryAfter,
    // The same OAuth-style 503 as every other outage (errorRenderer applies).
    pressureHandler: (request, reply, type) => {
      request.log.warn({ type }, 'mcp-auth: shedding load')
      const config = request.routeOptions.config as RouteConfig
      const resource = challengeResourceOf(state, request, config, resourceOf(state, request, config))
      return sendOAuthError(state, request, reply, reject.unavailable('overloaded'), resource, undefined)
        .then(() => undefined)
    },
  })
}

interface CoHostedServer {
  health (): Promise<{ store: { reachable: boolean } }>
}

export function registerHealthRoute (fastify: FastifyInstance, state: McpAuthState): void {
  const url = state.options.healthRoute
  if (url === undefined) return
  const { network, dpop } = state.options
  fastify.get(url, { config: { mcpAuth: false } }, async (_request, reply) => {
    const now = monotonicNowMs()
    const jwks = state.keys.status().map((set) => {
      const age = set.fetchedAt === undefined ? undefined : Math.round((now - set.fetchedAt) / 1000)
      const usable = age !== undefined && age * 1000 <= network.maxAgeMs + network.staleIfErrorMs
      return { uri: set.uri, ageSeconds: age, fresh: age !== undefined && age * 1000 <= network.maxAgeMs, usable, lastError: set.lastError }
    })
    let replayStore: { reachable: boolean, error?: string } | undefined
    if (dpop?.replayStore !== undefined) {
      try {
        await dpop.replayStore.ping?.()
        replayStore = { reachable: true }
      } catch (err) {
        replayStore = { reachable: false, error: describeError(err).message }
      }
    }
    // A co-hosted authorization server reports its store and keys here too.
    // (Read without the entry's type augmentation: the root entry does not depend on it.)
    const coHosted = fastify.hasDecorator('mcpAuthorizationServer') ? (fastify as unknown as Record<string, CoHostedServer>).mcpAuthorizationServer : undefined
    const authorizationServer = coHosted === undefined ? undefined : await coHosted.health()
    const ok = jwks.every((set) => set.usable || set.ageSeconds === undefined) && replayStore?.reachable !== false && authorizationServer?.store.reachable !== false
    return reply.code(ok ? 200 : 503).header('cache-control', 'no-store').send({ status: ok ? 'ok' : 'unavailable', jwks, replayStore, authorizationServer })
  })
}

/** Node cluster workers or PM2 instances each hold their own memory store: replays across them go unseen. */
export function warnIfClusteredMemoryStore (state: McpAuthState): void {
  const store = state.options.dpop?.replayStore
  if (!(store instanceof MemoryReplayStore)) return
  if (cluster.isWorker || process.env.NODE_APP_INSTANCE !== undefined) {
    state.logger.warn({}, 'mcp-auth: DPoP replay detection uses an in-process MemoryReplayStore, but this process looks like one of several (cluster worker / PM2 instance); a proof replayed to another process is not detected. Use a shared store such as RedisReplayStore.')
  }
}
