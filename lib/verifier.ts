// Picks the verification path (JWT, introspection or the user's verifier) and
// puts a bounded cache of verified tokens in front of it. Cache entries are
// immutable, keyed by the token's SHA-256, and never outlive `exp`; everything
// request-specific (audience, issuer per resource, binding, scopes) is checked
// after the cache, on every request.
import { LRUCache } from 'lru-cache'
import { checkTimes, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import { isMcpAuthError, reject } from './errors.js'
import type { ResolvedResource } from './options.js'

export interface VerifyContext {
  readonly resource: ResolvedResource
  /** The framework request, handed to a custom verifier untouched. */
  readonly request: unknown
}

export type CustomVerifier = (token: string, context: { resource: string, request: never }) => unknown

export type TokenVerifier = (token: string, tokenHash: string, context: VerifyContext) => Promise<VerifiedToken>

export interface TokenVerifierOptions {
  readonly verify:
    | { readonly kind: 'jwt' | 'introspection', readonly verify: (token: string) => Promise<VerifiedToken> }
    | { readonly kind: 'custom', readonly verify: CustomVerifier }
  /** Most cached entries; 0 disables caching. */
  readonly cacheSize: number
  /** Longest an entry may live in seconds, on top of the `exp` bound. */
  readonly cacheTtl: number
  readonly clock: Clock
  readonly clockTolerance: number
  readonly issuers: ReadonlySet<string>
}

export function createTokenVerifier (options: TokenVerifierOptions): TokenVerifier {
  const { verify, clock } = options

  if (verify.kind === 'custom') {
    // The user's verifier decides about caching (revocation may matter to it).
    return async (token, _hash, context) => {
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
      return toVerifiedToken(copy, typeof iss === 'string' ? iss : undefined)
    }
  }

  if (options.cacheSize === 0 || options.cacheTtl === 0) return (token) => verify.verify(token)

  const cache = new LRUCache<string, VerifiedToken>({ max: options.cacheSize })
  const maxTtlMs = Number.isFinite(options.cacheTtl) ? options.cacheTtl * 1000 : 0
  return async (token, tokenHash) => {
    const cached = cache.get(tokenHash)
    if (cached !== undefined) {
      if (cached.expiresAt === undefined || cached.expiresAt > clock()) return cached
      cache.delete(tokenHash)
    }
    const verified = await verify.verify(token)
    const untilExpiry = verified.expiresAt === undefined ? Number.POSITIVE_INFINITY : (verified.expiresAt - clock()) * 1000
    const ttl = Math.min(untilExpiry, maxTtlMs === 0 ? Number.POSITIVE_INFINITY : maxTtlMs)
    // A token without exp and no TTL cap (never for JWTs, which require exp) is not cached.
    if (ttl > 0 && Number.isFinite(ttl)) cache.set(tokenHash, verified, { ttl })
    return verified
  }
}
