// The one way every Redis-backed store of the suite talks to Redis: raw commands
// through an ioredis client (`call`) or a node-redis v4/v5 client (`sendCommand`),
// each bounded by a timeout, so no store depends on one client's method signatures.
import { invalidSetting } from '../errors.js'

/** An ioredis client (`Redis` or `Cluster`, or the one `@fastify/redis` decorates). */
export interface IoredisLikeClient {
  call (command: string, ...args: Array<string | number>): PromiseLike<unknown>
}

/** A node-redis v4 or v5 client (`createClient()`). */
export interface NodeRedisLikeClient {
  sendCommand (args: string[]): PromiseLike<unknown>
}

/** What a Redis-backed store accepts: a connected ioredis or node-redis client. */
export type RedisClient = IoredisLikeClient | NodeRedisLikeClient

export interface RedisCommands {
  /**
   * Sends one command (`['SET', key, value, 'PX', '1000', 'NX']`) and resolves with
   * the raw reply. Rejects when the client rejects or throws, or when no answer
   * comes within the timeout: a store turns that into 503, never into an answer.
   */
  send (command: readonly string[]): Promise<unknown>
}

/**
 * Wraps a client. `owner` names the store in errors ("RedisReplayStore");
 * the client is checked here, at construction, so a wrong object fails at start-up
 * with FST_MCP_AUTH_INVALID_OPTION instead of at the first request.
 */
export function redisCommands (client: unknown, owner: string, timeoutSeconds: number): RedisCommands {
  const send = commandSender(client)
  if (send === undefined) {
    throw invalidSetting(`${owner} client must be a connected ioredis client (new Redis(), fastify.redis) or node-redis v4/v5 client (createClient()): an object with call() or sendCommand(); got ${describe(client)}`)
  }
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw invalidSetting(`${owner} timeout must be a positive number of seconds; got ${String(timeoutSeconds)}`)
  }
  const timeoutMs = timeoutSeconds * 1000
  return {
    send (command) {
      return withTimeout(() => send(command), timeoutMs, `${owner}: no answer from Redis within ${timeoutSeconds} s`)
    },
  }
}

function commandSender (client: unknown): ((command: readonly string[]) => PromiseLike<unknown>) | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  // ioredis also has a sendCommand (taking a Command object), so `call` decides first.
  const { call, sendCommand } = client as { call?: unknown, sendCommand?: unknown }
  if (typeof call === 'function') {
    return (command) => call.apply(client, command as string[]) as PromiseLike<unknown>
  }
  if (typeof sendCommand === 'function') {
    return (command) => sendCommand.call(client, [...command]) as PromiseLike<unknown>
  }
  return undefined
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  return `an object without either method (${value.constructor?.name ?? 'Object'})`
}

// A client that neither answers nor rejects (a paused server, an offline queue)
// must not hold a request: give up after the timeout. A late answer settles nothing.
function withTimeout (send: () => PromiseLike<unknown>, timeoutMs: number, message: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // ETIMEDOUT: the health route reports the cause as `timeout`.
    const timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ETIMEDOUT' })), timeoutMs)
    // Never keep the process alive just for this timer.
    timer.unref()
    let pending: PromiseLike<unknown>
    try {
      pending = send()
    } catch (err) {
      clearTimeout(timer)
      reject(err)
      return
    }
    Promise.resolve(pending).then(
      (value) => { clearTimeout(timer); resolve(value) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}
