// A bounded single-process replay store. Entries are kept in insertion order
// with a relative expiry (a small integer, so V8 stores it unboxed); expired
// entries are swept from the front a few at a time on every claim, and fully
// when the store is full. Full with nothing expired → throw (503), never forget.
import { createHash } from 'node:crypto'
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import type { ReplayStore } from './replay-store.js'
import { ReplayStoreFullError } from './replay-store.js'

export interface MemoryReplayStoreOptions {
  /** Most live entries held (default 100000). */
  maxEntries?: number
  /** Injected for tests. */
  clock?: Clock
}

// The plugin passes 22-character keys (128 bits of a hash), stored as they are;
// any other key is hashed to that form, so distinct keys stay distinct.
const KEY_LENGTH = 22
const SWEEP_PER_CLAIM = 4

export class MemoryReplayStore implements ReplayStore {
  readonly maxEntries: number
  readonly #entries = new Map<string, number>()
  readonly #clock: Clock
  readonly #epoch: number

  constructor (options: MemoryReplayStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError(`MemoryReplayStore maxEntries must be a positive integer; got ${String(maxEntries)}`)
    }
    this.maxEntries = maxEntries
    this.#clock = options.clock ?? systemClock
    this.#epoch = this.#clock()
  }

  get size (): number {
    return this.#entries.size
  }

  claim (key: string, ttlSeconds: number): boolean {
    const now = this.#clock() - this.#epoch
    const id = key.length === KEY_LENGTH ? key : createHash('sha256').update(key).digest().subarray(0, 16).toString('base64url')
    this.#sweep(now, SWEEP_PER_CLAIM)
    const expiry = this.#entries.get(id)
    if (expiry !== undefined) {
      if (expiry > now) return false
      this.#entries.delete(id)
    }
    if (this.#entries.size >= this.maxEntries) {
      this.#sweep(now, Number.POSITIVE_INFINITY)
      if (this.#entries.size >= this.maxEntries) throw new ReplayStoreFullError(this.maxEntries)
    }
    this.#entries.set(id, now + Math.max(1, Math.ceil(ttlSeconds)))
    return true
  }

  close (): void {
    this.#entries.clear()
  }

  // Removes expired entries from the front (oldest first) until `limit` are
  // examined; with limit = ∞ it scans everything, since TTLs differ slightly.
  #sweep (now: number, limit: number): void {
    let examined = 0
    for (const [id, expiry] of this.#entries) {
      if (examined++ >= limit) return
      if (expiry <= now) this.#entries.delete(id)
      else if (limit !== Number.POSITIVE_INFINITY) return
    }
  }
}
