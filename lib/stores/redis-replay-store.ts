// A replay store shared by every instance through Redis (RFC 9449 §11.1):
// one atomic `SET key 1 PX ttl NX` per proof, so two instances racing on the
// same proof cannot both win. Fails closed: an error, an unexpected reply or
// no reply within `timeout` is a throw, which the plugin answers with 503.
import type { ReplayStore } from './replay-store.js'
import { RedisStore } from './redis-store.js'
import type { RedisStoreOptions } from './redis-store.js'

export interface RedisReplayStoreOptions extends RedisStoreOptions {
  /** Prepended to every key (default 'fastify-mcp-auth:dpop:'). */
  prefix?: string
}

export class RedisReplayStore extends RedisStore implements ReplayStore {
  constructor (options: RedisReplayStoreOptions) {
    super('RedisReplayStore', options, 'fastify-mcp-auth:dpop:')
  }

  async claim (key: string, ttlSeconds: number): Promise<boolean> {
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new TypeError(`RedisReplayStore ttl must be a positive number of seconds; got ${String(ttlSeconds)}`)
    }
    // PX takes whole milliseconds; round up so the record never expires early.
    const reply = await this.redis.send(['SET', this.prefix + key, '1', 'PX', String(Math.ceil(ttlSeconds * 1000)), 'NX'])
    // Only the two documented replies count: anything else must never read as "fresh".
    if (reply === 'OK') return true
    if (reply === null) return false
    throw this.unexpected('SET NX', reply)
  }
}
