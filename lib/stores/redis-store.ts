// What every Redis-backed store shares: the client through the suite's one client
// contract (redis-client.ts), the key prefix, the timeout, PING for the health route,
// and leaving the application's client alone on close.
import { invalidSetting } from '../errors.js'
import { redisCommands } from './redis-client.js'
import type { RedisClient, RedisCommands } from './redis-client.js'

export interface RedisStoreOptions {
  /** A connected ioredis or node-redis (v4/v5) client. The store never closes it. */
  client: RedisClient
  /** Prepended to every key. */
  prefix?: string
  /** Seconds to wait for Redis before failing the request with 503 (default 1). */
  timeout?: number
}

export abstract class RedisStore {
  readonly prefix: string
  /** Seconds. */
  readonly timeout: number
  /** Sends one raw command; rejects on an error or no answer within `timeout`. */
  protected readonly redis: RedisCommands
  readonly #owner: string

  constructor (owner: string, options: RedisStoreOptions, defaultPrefix: string) {
    if (typeof options !== 'object' || options === null) {
      throw invalidSetting(`${owner} options must be an object such as { client }`)
    }
    const { client, prefix = defaultPrefix, timeout = 1 } = options
    if (typeof prefix !== 'string') throw invalidSetting(`${owner} prefix must be a string; got ${typeof prefix}`)
    this.redis = redisCommands(client, owner, timeout)
    this.prefix = prefix
    this.timeout = timeout
    this.#owner = owner
  }

  /** Resolves when Redis answers PING within `timeout` (the health route). */
  async ping (): Promise<void> {
    const reply = await this.redis.send(['PING'])
    if (reply !== 'PONG') throw this.unexpected('PING', reply)
  }

  /**
   * Does not quit the client: the application created it, may share it with
   * other code or other Fastify instances, and closes it itself.
   */
  close (): void {}

  /**
   * Only the documented replies count: anything else (a client that maps replies
   * differently) must never read as an answer.
   */
  protected unexpected (command: string, reply: unknown): Error {
    return new Error(`${this.#owner}: unexpected reply to ${command}: ${reply === null ? 'null' : typeof reply}`)
  }
}
