// A session store shared by every instance through Redis, so a session opened on
// one instance is checked on any other. One command per operation (SET NX to
// open, GET to check, SET XX to refresh, DEL to end). Fails closed: an error, an
// unexpected reply or no reply within `timeout` is a throw, which the plugin
// answers with 503.
import { RedisStore } from './redis-store.js'
import type { RedisStoreOptions } from './redis-store.js'
import type { SessionStore } from './session-store.js'

export interface RedisSessionStoreOptions extends RedisStoreOptions {
  /** Prepended to every key (default 'fastify-mcp-auth:session:'). */
  prefix?: string
}

export class RedisSessionStore extends RedisStore implements SessionStore {
  constructor (options: RedisSessionStoreOptions) {
    super('RedisSessionStore', options, 'fastify-mcp-auth:session:')
  }

  async create (key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const reply = await this.redis.send(['SET', this.prefix + key, value, 'EX', expiry(ttlSeconds), 'NX'])
    if (reply === 'OK') return true
    if (reply === null) return false
    throw this.unexpected('SET NX', reply)
  }

  async get (key: string): Promise<string | undefined> {
    const reply = await this.redis.send(['GET', this.prefix + key])
    if (typeof reply === 'string') return reply
    if (reply === null) return undefined
    throw this.unexpected('GET', reply)
  }

  async refresh (key: string, value: string, ttlSeconds: number): Promise<void> {
    // XX: a session ended meanwhile (DEL on another instance) stays ended.
    const reply = await this.redis.send(['SET', this.prefix + key, value, 'EX', expiry(ttlSeconds), 'XX'])
    if (reply !== 'OK' && reply !== null) throw this.unexpected('SET XX', reply)
  }

  async delete (key: string): Promise<void> {
    const reply = await this.redis.send(['DEL', this.prefix + key])
    if (typeof reply !== 'number') throw this.unexpected('DEL', reply)
  }
}

// EX takes whole seconds; round up so a record never expires early.
function expiry (ttlSeconds: number): string {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError(`RedisSessionStore ttl must be a positive number of seconds; got ${String(ttlSeconds)}`)
  }
  return String(Math.ceil(ttlSeconds))
}
