// @fastify/rate-limit's counters on Redis through the suite's one Redis client
// contract, for an authorization server whose store is redisAdapter: every
// instance on that Redis counts failed sign-ins, token requests, interaction
// requests and registrations together, so a limit holds for the whole cluster
// and not once per process. @fastify/rate-limit's own Redis store needs an
// ioredis client (defineCommand); this one takes whatever redisAdapter took.
import type { RedisCommands } from '../stores/redis-client.js'

// KEYS: counter. ARGV: window in ms. The window starts with the first hit.
const HIT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {current, ttl}`

const READ = `
local current = redis.call('GET', KEYS[1])
if not current then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(current), ttl}`

type Callback = (err: Error | null, result?: { current: number, ttl: number }) => void

/** A counter Redis could not give: the route answers 503, never a pass and never a 500. */
export class RateLimitStoreUnavailable extends Error {
  readonly statusCode = 503
  constructor (cause: unknown) {
    super('the rate-limit counters are unavailable', { cause })
    this.name = 'RateLimitStoreUnavailable'
  }
}

/** The constructor @fastify/rate-limit takes as `store` (it calls `new Store(globalParams)`). */
export type RateLimitStoreClass = new (globalParams?: unknown) => unknown

// Both scripts answer {count, ms left}.
function counted (reply: unknown): { current: number, ttl: number } {
  const [current, ttl] = reply as [unknown, unknown]
  return { current: Number(current), ttl: Number(ttl) }
}

export function redisRateLimitStore (redis: RedisCommands, prefix: string): RateLimitStoreClass {
  const send = (command: string[], callback: Callback): void => {
    redis.send(command).then(
      (reply) => { callback(null, counted(reply)) },
      (err: unknown) => { callback(new RateLimitStoreUnavailable(err)) }
    )
  }
  return class RedisRateLimitStore {
    readonly #key: string

    constructor (_globalParams?: unknown, key = `${prefix}rate-limit:`) {
      this.#key = key
    }

    incr (key: string, callback: Callback, timeWindow: number): void {
      send(['EVAL', HIT, '1', this.#key + key, String(Math.max(1, Math.trunc(timeWindow)))], callback)
    }

    read (key: string, callback: Callback): void {
      send(['EVAL', READ, '1', this.#key + key], callback)
    }

    /** One namespace per route (method and URL), as @fastify/rate-limit's own stores keep them. */
    child (routeOptions: { routeInfo: { method?: unknown, url?: unknown } }): RedisRateLimitStore {
      const { method = '', url = '' } = routeOptions.routeInfo
      return new RedisRateLimitStore(undefined, `${this.#key}${String(method)}${String(url)}-`)
    }
  }
}
