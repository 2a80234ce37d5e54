// The resolver's answers per tenant, as the plugin holds them: a bounded LRU of
// known tenants (kept `cacheTtl`) and of unknown ones (kept `negativeCacheTtl`),
// one resolver call per tenant at a time, shared by every request that waits
// for it. Only this module reads or writes those records; a failure is never
// remembered (the next request asks again).
import { LRUCache } from 'lru-cache'

export interface TenantCacheOptions<R> {
  /**
   * Asks the resolver for one tenant and builds its record: undefined for an
   * unknown tenant; rejects (an McpAuthError 503) when there is no answer.
   */
  readonly load: (key: string, params: Readonly<Record<string, string>>, request: unknown) => Promise<R | undefined>
  /** Milliseconds a known tenant's record is used. */
  readonly cacheTtlMs: number
  /** Milliseconds an unknown tenant stays unknown. */
  readonly negativeCacheTtlMs: number
  /** Most tenants held, known and unknown together; the least recently used go first. */
  readonly maxEntries: number
  /** Milliseconds, monotonic. */
  readonly nowMs: () => number
}

export interface TenantCache<R> {
  /** The tenant's record, or undefined when the resolver does not know it. */
  lookup (key: string, params: Readonly<Record<string, string>>, request: unknown): Promise<R | undefined>
  /** The live record held for the tenant, without asking the resolver. */
  peek (key: string): R | undefined
  /** Forgets the tenant, known or unknown; a lookup in flight is not remembered either. */
  invalidate (key: string): void
}

interface Entry<R> {
  /** undefined: the resolver does not know the tenant. */
  readonly record: R | undefined
  /** nowMs deadline. */
  readonly until: number
}

export function createTenantCache<R> (options: TenantCacheOptions<R>): TenantCache<R> {
  const { nowMs } = options
  // Expiry is ours (monotonic, read once per lookup), not lru-cache's TTL.
  const entries = new LRUCache<string, Entry<R>>({ max: options.maxEntries })
  const inflight = new Map<string, Promise<R | undefined>>()

  function live (key: string): Entry<R> | undefined {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until > nowMs()) return entry
    entries.delete(key)
    return undefined
  }

  function load (key: string, params: Readonly<Record<string, string>>, request: unknown): Promise<R | undefined> {
    // The callbacks run after `pending` is assigned (a promise settles asynchronously).
    const pending: Promise<R | undefined> = options.load(key, params, request).then((record) => {
      // Invalidated meanwhile: the answer may predate the change it was invalidated for.
      if (inflight.get(key) === pending) {
        entries.set(key, { record, until: nowMs() + (record === undefined ? options.negativeCacheTtlMs : options.cacheTtlMs) })
      }
      return record
    }).finally(() => {
      if (inflight.get(key) === pending) inflight.delete(key)
    })
    inflight.set(key, pending)
    return pending
  }

  return {
    async lookup (key, params, request) {
      const entry = live(key)
      if (entry !== undefined) return entry.record
      return inflight.get(key) ?? load(key, params, request)
    },
    peek: (key) => live(key)?.record,
    invalidate (key) {
      entries.delete(key)
      inflight.delete(key)
    },
  }
}
