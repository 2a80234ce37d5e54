// The verified-token cache and the verification behind it (JWT, introspection
// or the user's verifier). This module is the only one that reads or writes
// cache records: a request's token is looked up first, before any syntax scan,
// and only a miss is scanned and verified. Entries are immutable, keyed by the
// token's SHA-256 (no raw token is kept), and never outlive `exp`,
// `tokenCache.maxAge`, `cacheTtl` or the remote key that verified them;
// everything request-specific (audience, issuer per resource, binding, scopes)
// is checked by the caller on every request.
import { hash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { checkTimes, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import { monotonicNowMs } from './clock.js'
import { checkTokenSyntax } from './credentials.js'
import { isRejection, reject } from './errors.js'
import type { ResolvedResource } from './options.js'
import type { SigningKey } from './signing-keys.js'

export interface VerifyContext {
  readonly resource: ResolvedResource
  /** The framework request, handed to a custom verifier untouched. */
  readonly request: unknown
}

export type CustomVerifier = (token: string, context: { resource: string, request: never }) => unknown

/** A verified token and its SHA-256 (the DPoP `ath`), as cached. */
export interface VerifiedEntry {
  readonly verified: VerifiedToken
  /** base64url(SHA-256(token)). */
  readonly tokenHash: string
}

/** Rejects with McpAuthError on every refusal. */
export type TokenVerifier = (token: string, context: VerifyContext) => Promise<VerifiedEntry>

export interface TokenVerifierOptions {
  readonly verify:
    | { readonly kind: 'jwt' | 'introspection', readonly verify: (token: string) => Promise<VerifiedToken> }
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

interface CacheEntry extends VerifiedEntry {
  /** Seconds since the epoch: exp, or sooner under cacheTtl and maxAge. */
  readonly until: number
  /** monotonicNowMs() deadline under cacheTtl (Infinity without one). */
  readonly untilMonotonic: number
  /** The remote key that verified it: once withdrawn from its JWKS, the entry is dead. */
  readonly key: SigningKey | undefined
}

/** base64url(SHA-256(token)): the cache key and the DPoP `ath` (RFC 9449 §4.2). */
export function hashToken (token: string): string {
  return hash('sha256', token, 'base64url')
}

export function createTokenVerifier (options: TokenVerifierOptions): TokenVerifier {
  const { verify, clock } = options
  if (verify.kind === 'custom') return createCustomVerifier(verify.verify, options)

  const verifyFresh = verify.verify
  const cache = options.cacheSize === 0 || options.cacheTtl === 0
    ? undefined
    // Expiry is ours (on the injectable clock), not lru-cache's TTL, which reads a
    // timer-backed clock on every access.
    : new LRUCache<string, CacheEntry>({ max: options.cacheSize })

  // `now` is the request's time, read before the verification: an entry never outlives it by more than cacheTtl.
  function entryFor (verified: VerifiedToken, tokenHash: string, now: number): CacheEntry {
    const until = Math.min(verified.expiresAt ?? Number.POSITIVE_INFINITY, now + options.cacheTtl, now + options.maxAge)
    // cacheTtl bounds how long a revoked token can still pass (introspection): also
    // on the monotonic clock, so a wall clock stepping back cannot stretch it.
    const untilMonotonic = Number.isFinite(options.cacheTtl) ? monotonicNowMs() + options.cacheTtl * 1000 : Number.POSITIVE_INFINITY
    return Object.freeze({ verified, tokenHash, until, untilMonotonic, key: verified.signingKey })
  }

  return async function verifyToken (token) {
    const now = Math.floor(clock() / 1000)
    const tokenHash = hash('sha256', token, 'base64url')
    const cached = cache?.get(tokenHash)
    if (cached !== undefined) {
      // Live: before its deadline, its key still listed, and within cacheTtl of real time.
      if (cached.until > now && cached.key?.withdrawn !== true &&
        (cached.untilMonotonic === Number.POSITIVE_INFINITY || cached.untilMonotonic > monotonicNowMs())) return cached
      cache?.delete(tokenHash)
    }
    checkTokenSyntax(token)
    const entry = entryFor(await verifyFresh(token), tokenHash, now)
    // A token without exp and no TTL cap (never a JWT, which requires exp) is not cached.
    if (entry.until > now && Number.isFinite(entry.until)) cache?.set(tokenHash, entry)
    return entry
  }
}

/** The user's verifier decides about caching (revocation may matter to it): every request asks it. */
function createCustomVerifier (verify: CustomVerifier, options: TokenVerifierOptions): TokenVerifier {
  return async (token, context) => {
    checkTokenSyntax(token)
    let claims: unknown
    try {
      claims = await verify(token, { resource: context.resource.uri, request: context.request as never })
    } catch (err) {
      if (isRejection(err)) throw err
      throw reject.invalidToken('token.rejected', err)
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw reject.invalidToken('token.rejected')
    const record = claims as Record<string, unknown>
    const iss = record.iss
    if (iss !== undefined && (typeof iss !== 'string' || !options.issuers.has(iss))) throw reject.invalidToken('token.issuer')
    checkTimes(record, { now: Math.floor(options.clock() / 1000), clockTolerance: options.clockTolerance, requireExp: false })
    let copy: Record<string, unknown>
    try {
      copy = structuredClone(record)
    } catch (err) {
      throw reject.invalidToken('token.claims', err)
    }
    return { verified: toVerifiedToken(copy, typeof iss === 'string' ? iss : undefined), tokenHash: hashToken(token) }
  }
}
