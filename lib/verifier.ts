// Picks the verification path (JWT, introspection or the user's verifier) and
// puts a bounded cache of verified tokens in front of it. Cache entries are
// immutable, keyed by the token's SHA-256, and never outlive `exp`,
// `tokenCache.maxAge` or the remote key that verified them; everything
// request-specific (audience, issuer per resource, binding, scopes) is checked
// after the cache, on every request.
//
// Hashing a token costs more than the rest of a cache hit (OpenSSL's code is cold
// between requests), so the few hundred tokens in use right now are also found
// by the token itself, without hashing. That holds no more raw tokens than a
// few hundred requests in flight would.
//
// Admission: a token enters the hashed cache on its second miss, not its first.
// Tokens in use repeat, so this costs at most one more verification per token;
// a flood of one-shot tokens then costs no hashing and no insertion, and cannot
// push the tokens in use out of the cache.
import { LRUCache } from 'lru-cache'
import { checkTimes, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import { monotonicNowMs } from './clock.js'
import { isMcpAuthError, reject } from './errors.js'
import type { ResolvedResource } from './options.js'
import { hashToken } from './token-hash.js'
import type { KeptToken } from './credentials.js'
import type { SigningKey } from './local-key-set.js'

export interface VerifyContext {
  readonly resource: ResolvedResource
  /** The framework request, handed to a custom verifier untouched. */
  readonly request: unknown
}

export type CustomVerifier = (token: string, context: { resource: string, request: never }) => unknown

/** A verified token and, when known, its SHA-256 (the DPoP `ath`), as cached. */
export interface VerifiedEntry {
  readonly verified: VerifiedToken
  /** base64url(SHA-256(token)); always present for a DPoP-bound token. */
  readonly tokenHash: string | undefined
}

/** Synchronous on a cache hit (and on a miss whose verification is); may throw or reject with McpAuthError. */
export interface TokenVerifier {
  (token: string, context: VerifyContext): VerifiedEntry | Promise<VerifiedEntry>
  /**
   * When this exact token is in the by-value tier, its record there (whose string
   * equals it); else undefined. Only tokens handed to the verifier are, so (as
   * the verifier is only handed extracted tokens) it has passed credential
   * extraction before.
   */
  readonly knows?: (token: string) => KeptToken | undefined
}

/** Tokens also found by their own value (see above). */
const RECENT_TOKENS = 256

export interface TokenVerifierOptions {
  readonly verify:
    | { readonly kind: 'jwt' | 'introspection', readonly verify: (token: string) => VerifiedToken | Promise<VerifiedToken> }
    | { readonly kind: 'custom', readonly verify: CustomVerifier }
  /** Most cached entries; 0 disables caching. */
  readonly cacheSize: number
  /** Longest an entry may live in seconds, on top of the `exp` bound (introspection: how long a revocation may go unseen). */
  readonly cacheTtl: number
  /** Longest any entry is trusted without a new verification, in seconds (`tokenCache.maxAge`). */
  readonly maxAge: number
  readonly clock: Clock
  readonly clockTolerance: number
  readonly issuers: ReadonlySet<string>
}

export function createTokenVerifier (options: TokenVerifierOptions): TokenVerifier {
  const { verify, clock } = options

  if (verify.kind === 'custom') {
    // The user's verifier decides about caching (revocation may matter to it).
    return async (token, context) => {
      let claims: unknown
      try {
        claims = await verify.verify(token, { resource: context.resource.uri, request: context.request as never })
      } catch (err) {
        if (isMcpAuthError(err)) throw err
        throw reject.invalidToken('token.rejected', err)
      }
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw reject.invalidToken('token.rejected')
      const record = claims as Record<string, unknown>
      const iss = record.iss
      if (iss !== undefined && (typeof iss !== 'string' || !options.issuers.has(iss))) throw reject.invalidToken('token.issuer')
      checkTimes(record, { now: clock(), clockTolerance: options.clockTolerance, requireExp: false })
      let copy: Record<string, unknown>
      try {
        copy = structuredClone(record)
      } catch (err) {
        throw reject.invalidToken('token.claims', err)
      }
      return { verified: toVerifiedToken(copy, typeof iss === 'string' ? iss : undefined), tokenHash: hashToken(token) }
    }
  }

  const verifyFresh = verify.verify
  if (options.cacheSize === 0 || options.cacheTtl === 0) {
    return (token) => {
      const pending = verifyFresh(token)
      const entry = (verified: VerifiedToken): VerifiedEntry => ({ verified, tokenHash: athOf(token, verified) })
      return pending instanceof Promise ? pending.then(entry) : entry(pending)
    }
  }

  // Expiry is ours (on the injectable clock), not lru-cache's TTL, which reads a
  // timer-backed clock on every access.
  const cache = new LRUCache<string, CacheEntry>({ max: options.cacheSize })
  // Keyed by fingerprint (hashing a long string key costs a pass over all of it),
  // and a hit is only a hit when the whole token is equal.
  const recent = new Map<number, HotRecord>()
  const recentMax = Math.min(RECENT_TOKENS, options.cacheSize)

  function rememberRecent (token: string, mark: number, entry: CacheEntry): void {
    if (recent.size >= recentMax && !recent.has(mark)) recent.delete(recent.keys().next().value as number)
    recent.set(mark, { token, entry })
  }

  // Fingerprints of tokens verified once (see Admission above), in two
  // generations of up to max(cache size, 256) each: when the current one fills
  // it becomes the previous one and the oldest is dropped, so the filter always
  // remembers at least as many recent tokens as the cache could hold, and a
  // flood never makes it forget the tokens in use all at once.
  // Only JWTs are filtered (introspection answers cost an HTTP call each: admitted on their first miss).
  const filtered = verify.kind === 'jwt'
  const generationMax = Math.max(options.cacheSize, RECENT_TOKENS)
  let seenNow = new Set<number>()
  let seenBefore = new Set<number>()
  const seen = (mark: number): boolean => seenNow.has(mark) || seenBefore.has(mark)
  function markSeen (mark: number): void {
    if (seenNow.size >= generationMax) {
      seenBefore = seenNow
      seenNow = new Set()
    }
    seenNow.add(mark)
  }

  // `now` is the request's time, read before the verification: an entry never outlives it by more than cacheTtl.
  function entryFor (verified: VerifiedToken, tokenHash: string | undefined, now: number): CacheEntry {
    const until = Math.min(verified.expiresAt ?? Number.POSITIVE_INFINITY, now + options.cacheTtl, now + options.maxAge)
    // cacheTtl bounds how long a revoked token can still pass (introspection): also
    // on the monotonic clock, so a wall clock stepping back cannot stretch it.
    const untilMonotonic = Number.isFinite(options.cacheTtl) ? monotonicNowMs() + options.cacheTtl * 1000 : Number.POSITIVE_INFINITY
    return Object.freeze({ verified, tokenHash, until, untilMonotonic, key: verified.signingKey })
  }

  // A token without exp and no TTL cap (never for JWTs, which require exp) is not cached.
  const cacheable = (entry: CacheEntry, now: number): boolean => entry.until > now && Number.isFinite(entry.until)

  // Synchronous when the verification is (a JWT whose key is at hand).
  function verifyFirst (token: string, mark: number, now: number): VerifiedEntry | Promise<VerifiedEntry> {
    const admit = (verified: VerifiedToken): VerifiedEntry => {
      markSeen(mark)
      const entry = entryFor(verified, athOf(token, verified), now)
      if (cacheable(entry, now)) rememberRecent(token, mark, entry)
      return entry
    }
    const pending = verifyFresh(token)
    return pending instanceof Promise ? pending.then(admit) : admit(pending)
  }

  function verifyAndRemember (token: string, tokenHash: string, mark: number, now: number): VerifiedEntry | Promise<VerifiedEntry> {
    const store = (verified: VerifiedToken): VerifiedEntry => {
      const entry = entryFor(verified, tokenHash, now)
      if (cacheable(entry, now)) {
        cache.set(tokenHash, entry)
        if (filtered) markSeen(mark)
      }
      return entry
    }
    const pending = verifyFresh(token)
    return pending instanceof Promise ? pending.then(store) : store(pending)
  }

  // knows() runs during extraction, right before the verifier is called with the
  // same token: its lookup (fingerprint and full-token comparison) is kept for
  // that call, so it runs once per request.
  let askedToken: string | undefined
  let askedRecord: HotRecord | undefined
  let askedMark = 0

  function recentRecord (token: string, mark: number): HotRecord | undefined {
    const record = recent.get(mark)
    return record !== undefined && record.token === token ? record : undefined
  }

  const knows = (token: string): KeptToken | undefined => {
    askedMark = fingerprint(token)
    askedRecord = recentRecord(token, askedMark)
    // The caller goes on with the kept string: the next call's check is then by identity.
    askedToken = askedRecord?.token ?? token
    return askedRecord
  }

  return Object.assign((token: string): VerifiedEntry | Promise<VerifiedEntry> => {
    const now = clock()
    let mark: number
    let hot: HotRecord | undefined
    if (token === askedToken) {
      mark = askedMark
      hot = askedRecord
      askedToken = undefined
      askedRecord = undefined
    } else {
      mark = fingerprint(token)
      hot = recentRecord(token, mark)
    }
    if (hot !== undefined) {
      if (isLive(hot.entry, now)) return hot.entry
      recent.delete(mark)
    }
    if (filtered && !seen(mark)) return verifyFirst(token, mark, now)
    const tokenHash = hashToken(token)
    const cached = cache.get(tokenHash)
    if (cached !== undefined) {
      if (isLive(cached, now)) {
        rememberRecent(token, mark, cached)
        // Still in use: keep it in the current generation, so a flood of one-shot
        // tokens cannot age it out of the filter while it keeps coming back
        // (forgotten there, it would be verified again though it is cached).
        if (filtered) markSeen(mark)
        return cached
      }
      cache.delete(tokenHash)
    }
    return verifyAndRemember(token, tokenHash, mark, now)
  }, { knows })
}

interface HotRecord extends KeptToken {
  readonly token: string
  readonly entry: CacheEntry
}

interface CacheEntry extends VerifiedEntry {
  /** Seconds since the epoch: exp, or sooner under cacheTtl and maxAge. */
  readonly until: number
  /** monotonicNowMs() deadline under cacheTtl (Infinity without one). */
  readonly untilMonotonic: number
  /** The remote key that verified it: once withdrawn from its JWKS, the entry is dead. */
  readonly key: SigningKey | undefined
}

function isLive (entry: CacheEntry, now: number): boolean {
  return entry.until > now &&
    (entry.key === undefined || !entry.key.withdrawn) &&
    (entry.untilMonotonic === Number.POSITIVE_INFINITY || entry.untilMonotonic > monotonicNowMs())
}

/** The DPoP `ath` is needed only for a DPoP-bound token; bearer tokens skip the hash. */
function athOf (token: string, verified: VerifiedToken): string | undefined {
  return verified.binding.jkt === undefined ? undefined : hashToken(token)
}

/**
 * 30 bits (a small integer key) of FNV-1a over the token's length, its last 16
 * characters (for a JWT, signature bytes) and 8 from its middle (so opaque
 * tokens that share a suffix still spread). A collision only admits a token to
 * the cache one miss early or shares a by-value slot; by-value lookups compare
 * the whole token, hashed ones use the full SHA-256.
 */
export function fingerprint (token: string): number {
  const length = token.length
  let h = Math.imul(0x811c9dc5 ^ length, 0x01000193)
  for (let i = Math.max(0, length - 16); i < length; i++) {
    h = Math.imul(h ^ token.charCodeAt(i), 0x01000193)
  }
  const middle = Math.max(0, (length >> 1) - 4)
  for (let i = middle; i < Math.min(length, middle + 8); i++) {
    h = Math.imul(h ^ token.charCodeAt(i), 0x01000193)
  }
  return h >>> 2
}
