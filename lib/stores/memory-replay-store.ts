// A bounded single-process replay store. Entries are kept in insertion order
// with a relative expiry (a small integer, so V8 stores it unboxed); expired
// entries are swept from the front a few at a time on every claim, and fully
// when the store is full. Full with nothing expired → throw (503), never forget.
import { hash } from 'node:crypto'
import type { ReplayStore } from './replay-store.js'
import { ReplayStoreFullError } from './replay-store.js'
import { maxEntriesOption } from './store-options.js'

export interface MemoryReplayStoreOptions {
  /**
   * Most live entries held (default 1000000, about 90 MB when full). Size it as
   * DPoP requests per second × (2 × iatWindow + 1): a full store answers 503.
   */
  maxEntries?: number
  /** Seconds since the epoch; injected by tests (the default reads `Date.now`). */
  clock?: () => number
}

// The plugin passes 43-character keys (base64url of a SHA-256), stored as they
// are; any other key is hashed to that form, so distinct keys stay distinct.
const KEY_LENGTH = 43
const SWEEP_PER_CLAIM = 4
const FULL_SWEEP = 1024

export class MemoryReplayStore implements ReplayStore {
  readonly maxEntries: number
  readonly #entries = new Map<string, number>()
  readonly #clock: (() => number) | undefined
  readonly #epoch: number

  constructor (options: MemoryReplayStoreOptions = {}) {
    this.maxEntries = maxEntriesOption('MemoryReplayStore', options.maxEntries, 1_000_000)
    this.#clock = options.clock
    this.#epoch = options.clock?.() ?? Math.floor(Date.now() / 1000)
  }

  get size (): number {
    return this.#entries.size
  }

  claim (key: string, ttlSeconds: number): boolean {
    const now = (this.#clock?.() ?? Math.floor(Date.now() / 1000)) - this.#epoch
    const id = key.length === KEY_LENGTH ? key : hash('sha256', key, 'base64url')
    // A few expired entries from the oldest end, up to the first live one
    // (insertion order is nearly expiry order).
    let swept = 0
    for (const [stored, expiry] of this.#entries) {
      if (expiry > now || swept++ === SWEEP_PER_CLAIM) break
      this.#entries.delete(stored)
    }
    const expiry = this.#entries.get(id)
    if (expiry !== undefined) {
      if (expiry > now) return false
      this.#entries.delete(id)
    }
    if (this.#entries.size >= this.maxEntries) {
      // Bounded: a full store must not cost a scan of every entry per request.
      this.#sweepFull(now)
      if (this.#entries.size >= this.maxEntries) throw new ReplayStoreFullError(this.maxEntries)
    }
    this.#entries.set(id, now + Math.max(1, Math.ceil(ttlSeconds)))
    return true
  }

  close (): void {
    this.#entries.clear()
  }

  /** In-process: always reachable (the health route asks). */
  ping (): void {}

  // Full: removes every expired entry among the oldest FULL_SWEEP, past live
  // ones too, since TTLs differ a little.
  #sweepFull (now: number): void {
    let examined = 0
    for (const [id, expiry] of this.#entries) {
      if (examined++ >= FULL_SWEEP) return
      if (expiry <= now) this.#entries.delete(id)
    }
  }
}
