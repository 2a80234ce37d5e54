// A replay store shared by every instance through Redis (RFC 9449 §11.1):
// one atomic `SET key 1 PX ttl NX` per proof, so two instances racing on the
// same proof cannot both win. Fails closed: an error, an unexpected reply or
// no reply within `timeout` is a throw, which the plugin answers with 503.
import type { ReplayStore } from './replay-store.js'

/**
 * The one command the store needs, typed structurally so any ioredis-compatible
 * client fits (ioredis itself, or the client `@fastify/redis` decorates)
 * without depending on ioredis at runtime.
 */
export interface RedisSetClient {
  set (key: string, value: string, mode: 'PX', milliseconds: number, condition: 'NX'): PromiseLike<unknown>
}

export interface RedisReplayStoreOptions {
  /** A connected ioredis-compatible client. The store never closes it. */
  client: RedisSetClient
  /** Prepended to every key (default 'fastify-mcp-auth:dpop:'). */
  prefix?: string
  /** Seconds to wait for Redis before failing the request with 503 (default 1). */
  timeout?: number
}

export class RedisReplayStore implements ReplayStore {
  readonly prefix: string
  /** Seconds. */
  readonly timeout: number
  readonly #client: RedisSetClient

  constructor (options: RedisReplayStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('RedisReplayStore options must be an object such as { client }')
    }
    const { client, prefix = 'fastify-mcp-auth:dpop:', timeout = 1 } = options
    if (typeof client !== 'object' || client === null || typeof (client as Partial<RedisSetClient>).set !== 'function') {
      throw new TypeError('RedisReplayStore client must be an ioredis-compatible client with a set() method (e.g. new Redis() or fastify.redis)')
    }
    if (typeof prefix !== 'string') throw new TypeError(`RedisReplayStore prefix must be a string; got ${typeof prefix}`)
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new TypeError(`RedisReplayStore timeout must be a positive number of seconds; got ${String(timeout)}`)
    }
    this.#client = client
    this.prefix = prefix
    this.timeout = timeout
  }

  async claim (key: string, ttlSeconds: number): Promise<boolean> {
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new TypeError(`RedisReplayStore ttl must be a positive number of seconds; got ${String(ttlSeconds)}`)
    }
    // PX takes whole milliseconds; round up so the record never expires early.
    const reply = await this.#withTimeout(() => this.#client.set(this.prefix + key, '1', 'PX', Math.ceil(ttlSeconds * 1000), 'NX'))
    if (reply === 'OK') return true
    if (reply === null) return false
    throw new Error(`RedisReplayStore: unexpected reply to SET NX: ${typeof reply}`)
  }

  /**
   * Does not quit the client: the application created it, may share it with
   * other code or other Fastify instances, and closes it itself.
   */
  close (): void {}

  // A client that neither answers nor rejects (a paused or blocked server, an
  // offline queue) must not hold the request: give up after `timeout`.
  #withTimeout (send: () => PromiseLike<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`RedisReplayStore: no answer from Redis within ${this.timeout} s`))
      }, this.timeout * 1000)
      // Never keep the process alive just for this timer.
      timer.unref()
      const settle = (fn: () => void): void => {
        clearTimeout(timer)
        fn()
      }
      let pending: PromiseLike<unknown>
      try {
        pending = send()
      } catch (err) {
        settle(() => reject(err))
        return
      }
      // A late answer after the timeout settles nothing (and rejects nothing unhandled).
      Promise.resolve(pending).then((value) => settle(() => resolve(value)), (err: unknown) => settle(() => reject(err)))
    })
  }
}
