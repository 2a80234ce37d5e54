// A replay store shared by every instance through Redis (RFC 9449 §11.1):
// one atomic `SET key 1 PX ttl NX` per proof, so two instances racing on the
// same proof cannot both win. Fails closed: an error, an unexpected reply or
// no reply within `timeout` is a throw, which the plugin answers with 503.
import { invalidSetting } from '../errors.js'
import { redisCommands } from './redis-client.js'
import type { RedisClient, RedisCommands } from './redis-client.js'
import type { ReplayStore } from './replay-store.js'

export interface RedisReplayStoreOptions {
  /** A connected ioredis or node-redis (v4/v5) client. The store never closes it. */
  client: RedisClient
  /** Prepended to every key (default 'fastify-mcp-auth:dpop:'). */
  prefix?: string
  /** Seconds to wait for Redis before failing the request with 503 (default 1). */
  timeout?: number
}

export class RedisReplayStore implements ReplayStore {
  readonly prefix: string
  /** Seconds. */
  readonly timeout: number
  readonly #redis: RedisCommands

  constructor (options: RedisReplayStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidSetting('RedisReplayStore options must be an object such as { client }')
    }
    const { client, prefix = 'fastify-mcp-auth:dpop:', timeout = 1 } = options
    if (typeof prefix !== 'string') throw invalidSetting(`RedisReplayStore prefix must be a string; got ${typeof prefix}`)
    this.#redis = redisCommands(client, 'RedisReplayStore', timeout)
    this.prefix = prefix
    this.timeout = timeout
  }

  async claim (key: string, ttlSeconds: number): Promise<boolean> {
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new TypeError(`RedisReplayStore ttl must be a positive number of seconds; got ${String(ttlSeconds)}`)
    }
    // PX takes whole milliseconds; round up so the record never expires early.
    const reply = await this.#redis.send(['SET', this.prefix + key, '1', 'PX', String(Math.ceil(ttlSeconds * 1000)), 'NX'])
    // Only the two documented replies count: anything else (a client that maps
    // replies differently) must never read as "fresh".
    if (reply === 'OK') return true
    if (reply === null) return false
    throw new Error(`RedisReplayStore: unexpected reply to SET NX: ${typeof reply}`)
  }

  /** Resolves when Redis answers PING within `timeout` (the health route). */
  async ping (): Promise<void> {
    const reply = await this.#redis.send(['PING'])
    if (reply !== 'PONG') throw new Error(`RedisReplayStore: unexpected reply to PING: ${typeof reply}`)
  }

  /**
   * Does not quit the client: the application created it, may share it with
   * other code or other Fastify instances, and closes it itself.
   */
  close (): void {}
}
