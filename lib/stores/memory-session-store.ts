// A bounded single-process session store: the least recently used record goes
// when it is full (its session then answers 404 and the client opens a new one).
// Expiry is checked when a record is read, in seconds of `Date.now` (or a test's clock).
import { LRUCache } from 'lru-cache'
import type { SessionStore } from './session-store.js'
import { maxEntriesOption } from './store-options.js'

export interface MemorySessionStoreOptions {
  /** Most records held (default 100000; a record takes about 320 bytes of heap). */
  maxEntries?: number
  /** Seconds since the epoch; injected by tests (the default reads `Date.now`). */
  clock?: () => number
}

interface Entry {
  readonly value: string
  /** Seconds since the epoch. */
  readonly expiresAt: number
}

export class MemorySessionStore implements SessionStore {
  readonly maxEntries: number
  readonly #records: LRUCache<string, Entry>
  readonly #clock: (() => number) | undefined

  constructor (options: MemorySessionStoreOptions = {}) {
    this.maxEntries = maxEntriesOption('MemorySessionStore', options.maxEntries, 100_000)
    this.#clock = options.clock
    this.#records = new LRUCache({ max: this.maxEntries })
  }

  get size (): number {
    return this.#records.size
  }

  create (key: string, value: string, ttlSeconds: number): boolean {
    if (this.#live(this.#records.peek(key), key) !== undefined) return false
    this.#records.set(key, { value, expiresAt: this.#now() + ttlSeconds })
    return true
  }

  get (key: string): string | undefined {
    // A read makes the record the most recently used: sessions in use are the last to go.
    return this.#live(this.#records.get(key), key)?.value
  }

  refresh (key: string, value: string, ttlSeconds: number): void {
    if (this.#live(this.#records.peek(key), key) === undefined) return
    this.#records.set(key, { value, expiresAt: this.#now() + ttlSeconds })
  }

  delete (key: string): void {
    this.#records.delete(key)
  }

  close (): void {
    this.#records.clear()
  }

  #now (): number {
    return this.#clock?.() ?? Math.floor(Date.now() / 1000)
  }

  #live (entry: Entry | undefined, key: string): Entry | undefined {
    if (entry === undefined) return undefined
    if (entry.expiresAt > this.#now()) return entry
    this.#records.delete(key)
    return undefined
  }
}
