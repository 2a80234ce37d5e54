// Production wiring: the health route (lib/health.ts decides) and a start-up
// warning when an in-process replay store meets a multi-process deployment.
import cluster from 'node:cluster'
import type { FastifyInstance } from 'fastify'
import { monotonicNowMs } from '../lib/clock.js'
import { checkHealth } from '../lib/health.js'
import { MemoryReplayStore } from '../lib/stores/memory-replay-store.js'
import type { McpAuthState } from './state.js'

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
    const health = await checkHealth({
      keySets: state.readiness.keySets(),
      nowMs: monotonicNowMs(),
      maxAgeMs: network.maxAgeMs,
      staleIfErrorMs: network.staleIfErrorMs,
      replayStore: dpop?.replayStore,
      sessionStore: sessionBinding?.store,
      timeoutMs: network.timeoutMs,
      authorizationServer: await coHostedHealth(fastify),
    })
    return reply.code(health.statusCode).header('cache-control', 'no-store').send(health.body)
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
