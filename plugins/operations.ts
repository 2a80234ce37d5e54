// Production wiring: load shedding before any signature work, a health route,
// and a start-up warning when an in-process replay store meets a multi-process
// deployment.
import cluster from 'node:cluster'
import type { FastifyInstance } from 'fastify'
import { monotonicNowMs } from '../lib/clock.js'
import { reject } from '../lib/errors.js'
import { failureCause, FetchFailure } from '../lib/fetch-failure.js'
import type { FailureCause } from '../lib/fetch-failure.js'
import type { ReplayStore } from '../lib/stores/replay-store.js'
import type { SessionStore } from '../lib/stores/session-store.js'
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
  health (): Promise<{ store: { reachable: boolean, error?: string }, keys?: unknown }>
}

/**
 * A co-hosted authorization server reports its store and keys here too (read
 * without the entry's type augmentation: the root entry does not depend on it).
 * Its store's error message is left out: this body carries no error messages.
 */
async function coHostedHealth (fastify: FastifyInstance): Promise<{ store: { reachable: boolean }, keys?: unknown } | undefined> {
  if (!fastify.hasDecorator('mcpAuthorizationServer')) return undefined
  const { store, keys } = await (fastify as unknown as { mcpAuthorizationServer: CoHostedServer }).mcpAuthorizationServer.health()
  return { store: { reachable: store.reachable }, keys }
}

export function registerHealthRoute (fastify: FastifyInstance, state: McpAuthState): void {
  const url = state.options.healthRoute
  if (url === undefined) return
  const { network, dpop, sessionBinding } = state.options
  fastify.get(url, { config: { mcpAuth: false } }, async (_request, reply) => {
    const now = monotonicNowMs()
    // Cause codes only, never error messages: this route is often public.
    const jwks = state.readiness.keySets().map(({ issuer, uri, fetchedAt, cause }) => {
      const ageMs = fetchedAt === undefined ? undefined : now - fetchedAt
      return {
        issuer,
        uri,
        ageSeconds: ageMs === undefined ? undefined : Math.round(ageMs / 1000),
        fresh: ageMs !== undefined && ageMs <= network.maxAgeMs,
        // A key set never fetched is not ready: requests that need it would wait or fail.
        usable: ageMs !== undefined && ageMs <= network.maxAgeMs + network.staleIfErrorMs,
        cause,
      }
    })
    const replayStore = dpop?.replayStore === undefined ? undefined : await pingStore(dpop.replayStore, network.timeoutMs)
    const sessionStore = sessionBinding === undefined ? undefined : await pingStore(sessionBinding.store, network.timeoutMs)
    const authorizationServer = await coHostedHealth(fastify)
    const ok = jwks.every((set) => set.usable) && replayStore?.reachable !== false && sessionStore?.reachable !== false && authorizationServer?.store.reachable !== false
    return reply.code(ok ? 200 : 503).header('cache-control', 'no-store').send({ status: ok ? 'ok' : 'unavailable', jwks, replayStore, sessionStore, authorizationServer })
  })
}

/** `reachable: null` when the store has no ping() (it cannot tell); a ping gets the network timeout. */
async function pingStore (store: Pick<ReplayStore | SessionStore, 'ping'>, timeoutMs: number): Promise<{ reachable: boolean | null, cause?: FailureCause }> {
  if (typeof store.ping !== 'function') return { reachable: null }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.resolve().then(() => store.ping?.()),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new FetchFailure('timeout', 'the store did not answer PING in time')), timeoutMs)
      }),
    ])
    return { reachable: true }
  } catch (err) {
    return { reachable: false, cause: failureCause(err) }
  } finally {
    clearTimeout(timer)
  }
}

/** Node cluster workers or PM2 instances each hold their own memory store: replays across them go unseen. */
export function warnIfClusteredMemoryStore (state: McpAuthState): void {
  const store = state.options.dpop?.replayStore
  if (!(store instanceof MemoryReplayStore)) return
  if (cluster.isWorker || process.env.NODE_APP_INSTANCE !== undefined) {
    state.logger.warn({}, 'mcp-auth: DPoP replay detection uses an in-process MemoryReplayStore, but this process looks like one of several (cluster worker / PM2 instance); a proof replayed to another process is not detected. Use a shared store such as RedisReplayStore.')
  }
}
