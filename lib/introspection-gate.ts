// What stands between requests and the introspection endpoint, so a flood of
// tokens cannot turn the resource server into an amplifier: inactive answers
// are remembered for a while in their own bounded cache (junk never evicts the
// verified-token cache), concurrent lookups of one token share one call, and
// at most `maxConcurrent` calls are in flight; beyond that a request gets 503
// at once (never a queue, never a pass). Answers are remembered per endpoint:
// without a configured endpoint, each issuer's own (a tenant's) answers for it.
import { LRUCache } from 'lru-cache'
import type { VerifiedToken } from './claims.js'
import { isMcpAuthError, reject } from './errors.js'
import type { McpAuthError } from './errors.js'
import { hashToken } from './verifier.js'

export interface IntrospectionGateOptions {
  /** Seconds an inactive (401) answer is remembered; 0 remembers none. */
  readonly negativeCacheTtl: number
  readonly negativeCacheMaxEntries: number
  /** Most calls in flight to the endpoint. */
  readonly maxConcurrent: number
  /** Milliseconds, monotonic (a wall clock stepping back must not stretch the TTL). */
  readonly nowMs: () => number
  /** The configured endpoint; without one, each issuer's discovered endpoint answers for its tokens. */
  readonly endpoint?: string | undefined
}

interface Refusal { readonly error: McpAuthError, readonly until: number }

export type Introspect = (token: string, issuers: ReadonlySet<string>) => Promise<VerifiedToken>

export function createIntrospectionGate (introspect: Introspect, options: IntrospectionGateOptions): Introspect {
  const ttlMs = options.negativeCacheTtl * 1000
  // Keyed by the token's SHA-256: no raw token is kept.
  const refused = ttlMs === 0 ? undefined : new LRUCache<string, Refusal>({ max: options.negativeCacheMaxEntries })
  const inflight = new Map<string, Promise<VerifiedToken>>()

  function remember (key: string, err: unknown): void {
    // Only the endpoint's verdict on the token (401); an outage is never remembered.
    if (refused !== undefined && isMcpAuthError(err) && err.statusCode === 401) {
      refused.set(key, { error: err, until: options.nowMs() + ttlMs })
    }
  }

  return async function introspectThroughGate (token, issuers) {
    // One issuer's endpoint calling a token inactive says nothing about another's.
    const key = options.endpoint === undefined ? `${[...issuers].join(' ')} ${hashToken(token)}` : hashToken(token)
    const known = refused?.get(key)
    if (known !== undefined) {
      if (known.until > options.nowMs()) throw known.error
      refused?.delete(key)
    }
    const shared = inflight.get(key)
    if (shared !== undefined) return shared
    if (inflight.size >= options.maxConcurrent) throw reject.unavailable('introspection.busy')
    const call = introspect(token, issuers)
    inflight.set(key, call)
    try {
      return await call
    } catch (err) {
      remember(key, err)
      throw err
    } finally {
      inflight.delete(key)
    }
  }
}
