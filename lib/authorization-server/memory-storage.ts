// The records of the in-memory store: a Map whose entries expire when their
// lifetime ends. oidc-provider's memory adapter keeps its records in an LRU of
// 1000 to 2000 entries, so under load it forgets grants, refresh tokens and
// sessions, and the DPoP and client-assertion `jti`s it must refuse a second
// time (a replay is accepted once enough newer records pushed its out). Here a
// record lives exactly as long as oidc-provider asked; memory grows with the
// live records, as it would in Redis.

interface Entry {
  readonly value: unknown
  readonly expiresAt: number
}

export class ExpiringStorage {
  readonly #entries = new Map<string, Entry>()
  #writesSinceSweep = 0

  get (key: string): unknown {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  /** `maxAge` in milliseconds (oidc-provider's storage options); none: until deleted. */
  set (key: string, value: unknown, options?: { maxAge?: number }): void {
    // Expired entries nobody reads again are dropped in a sweep every `size`
    // writes: linear in the size, so constant per write on average.
    if (++this.#writesSinceSweep >= Math.max(1000, this.#entries.size)) this.#sweep()
    const maxAge = options?.maxAge
    this.#entries.set(key, { value, expiresAt: maxAge === undefined ? Infinity : Date.now() + maxAge })
  }

  delete (key: string): void {
    this.#entries.delete(key)
  }

  /** Live and not yet swept entries (for tests and health). */
  get size (): number {
    return this.#entries.size
  }

  #sweep (): void {
    this.#writesSinceSweep = 0
    const now = Date.now()
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key)
    }
  }
}
