// A session store shared by every instance through Redis, so a session opened on
// one instance is checked on any other. One command per operation (SET NX to
// open, GET to check, SET XX to refresh, DEL to end). Fails closed: an error, an
// unexpected reply or no reply within `timeout` is a throw, which the plugin
// answers with 503.
import { invalidSetting } from '../errors.js'
import { redisCommands } from './redis-client.js'
import type { RedisClient, RedisCommands } from './redis-client.js'
import type { SessionStore } from './session-store.js'

export interface RedisSessionStoreOptions {
  /** A connected ioredis or node-redis (v4/v5) client. The store never closes it. */
  client: RedisClient
  /** Prepended to every key (default 'fastify-mcp-auth:session:'). */
  prefix?: string
  /** Seconds to wait for Redis before failing the request with 503 (default 1). */
  timeout?: number
}

export class RedisSessionStore implements SessionStore {
  readonly prefix: string
  /** Seconds. */
  readonly timeout: number
  readonly #redis: RedisCommands

  constructor (options: RedisSessionStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidSetting('RedisSessionStore options must be an object such as { client }')
    }
    const { client, prefix = 'fastify-mcp-auth:session:', timeout = 1 } = options
    if (typeof prefix !== 'string') throw invalidSetting(`RedisSessionStore prefix must be a string; got ${typeof prefix}`)
    this.#redis = redisCommands(client, 'RedisSessionStore', timeout)
    this.prefix = prefix
    this.timeout = timeout
  }

  async create (key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const reply = await this.#redis.send(['SET', this.prefix + key, value, 'EX', expiry(ttlSeconds), 'NX'])
    if (reply === 'OK') return true
    if (reply === null) return false
    throw unexpected('SET NX', reply)
  }

  async get (key: string): Promise<string | undefined> {
    const reply = await this.#redis.send(['GET', this.prefix + key])
    if (typeof reply === 'string') return reply
    if (reply === null) return undefined
    throw unexpected('GET', reply)
  }

  async refresh (key: string, value: string, ttlSeconds: number): Promise<void> {
    // XX: a session ended meanwhile (DEL on another instance) stays ended.
    const reply = await this.#redis.send(['SET', this.prefix + key, value, 'EX', expiry(ttlSeconds), 'XX'])
    if (reply !== 'OK' && reply !== null) throw unexpected('SET XX', reply)
  }

  async delete (key: string): Promise<void> {
    const reply = await this.#redis.send(['DEL', this.prefix + key])
    if (typeof reply !== 'number') throw unexpected('DEL', reply)
  }

  /** Resolves when Redis answers PING within `timeout` (the health route). */
  async ping (): Promise<void> {
    const reply = await this.#redis.send(['PING'])
    if (reply !== 'PONG') throw unexpected('PING', reply)
  }

  /**
   * Does not quit the client: the application created it, may share it with
   * other code or other Fastify instances, and closes it itself.
   */
  close (): void {}
}

// EX takes whole seconds; round up so a record never expires early.
function expiry (ttlSeconds: number): string {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError(`RedisSessionStore ttl must be a positive number of seconds; got ${String(ttlSeconds)}`)
  }
  return String(Math.ceil(ttlSeconds))
}

// Only the documented replies count: anything else (a client that maps replies
// differently) must never read as a record or as its absence.
function unexpected (command: string, reply: unknown): Error {
  return new Error(`RedisSessionStore: unexpected reply to ${command}: ${reply === null ? 'null' : typeof reply}`)
}
