// Claim checks shared by every verification path (JWT, introspection, custom
// verifier) and the immutable VerifiedToken they produce. A VerifiedToken is
// independent of the request: audience, issuer-per-resource, binding and
// scopes are checked per request, so a cached entry is safe to reuse.
import { reject } from './errors.js'
import type { SigningKey } from './signing-keys.js'
import { audienceKeys } from './resource.js'

export interface ConfirmationClaim {
  readonly jkt?: string
  readonly 'x5t#S256'?: string
  readonly [member: string]: unknown
}

/** JWT access-token claims (RFC 9068 §2.2), plus what introspection returns (RFC 7662 §2.2). */
export interface AccessTokenClaims {
  readonly iss?: string
  readonly sub?: string
  readonly aud?: string | readonly string[]
  readonly exp?: number
  readonly nbf?: number
  readonly iat?: number
  readonly jti?: string
  readonly client_id?: string
  readonly azp?: string
  readonly scope?: string
  readonly scp?: string | readonly string[]
  readonly cnf?: ConfirmationClaim
  readonly [claim: string]: unknown
}

export interface Binding {
  readonly jkt: string | undefined
  readonly x5t: string | undefined
}

export interface VerifiedToken {
  readonly claims: Readonly<AccessTokenClaims>
  /**
   * The checked `iss`; undefined when a verifier vouched for a token that names
   * no issuer (introspection, custom verifier): the resource's first
   * authorization server is then reported.
   */
  readonly issuer: string | undefined
  /** `aud` values in comparison form (see audienceKey). */
  readonly audiences: readonly string[]
  readonly expiresAt: number | undefined
  readonly scopes: readonly string[]
  readonly subject: string | undefined
  readonly clientId: string | undefined
  readonly binding: Binding
  /** The remote JWKS key that verified the signature (JWTs from discovered or `{ uri }` keys only). */
  readonly signingKey: SigningKey | undefined
}

export interface TimeCheckOptions {
  readonly now: number
  readonly clockTolerance: number
  readonly requireExp: boolean
}

/** exp / nbf / iat per RFC 7519 §4.1.4-6 (RFC 9068 §4: exp is required for JWTs). */
export function checkTimes (claims: Record<string, unknown>, options: TimeCheckOptions): void {
  const { now, clockTolerance } = options
  const { exp, nbf, iat } = claims
  if (exp === undefined) {
    if (options.requireExp) throw reject.invalidToken('token.exp_missing')
  } else if (!isNumericDate(exp)) {
    throw reject.invalidToken('token.exp_missing')
  } else if (exp <= now - clockTolerance) {
    throw reject.invalidToken('token.expired')
  }
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > now + clockTolerance)) throw reject.invalidToken('token.nbf')
  if (iat !== undefined && (!isNumericDate(iat) || iat > now + clockTolerance)) throw reject.invalidToken('token.iat')
}

function isNumericDate (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

const optionalString = (value: unknown): boolean => value === undefined || typeof value === 'string'

/**
 * Validates claim types and builds the immutable VerifiedToken. `issuer` is
 * the already-checked `iss`, if the token has one.
 */
export function toVerifiedToken (claims: Record<string, unknown>, issuer: string | undefined, signingKey?: SigningKey): VerifiedToken {
  // Named reads, not a loop over names: this runs on every cache miss.
  if (!optionalString(claims.sub) || !optionalString(claims.jti) || !optionalString(claims.client_id) ||
    !optionalString(claims.azp) || !optionalString(claims.scope)) throw reject.invalidToken('token.claims')
  const audiences = claims.aud === undefined ? [] : audienceKeys(claims.aud)
  if (audiences === undefined) throw reject.invalidToken('token.claims')
  const scopes = readScopes(claims.scope, claims.scp)
  if (scopes === undefined) throw reject.invalidToken('token.claims')
  const binding = readBinding(claims.cnf)
  const frozen = deepFreeze(claims) as AccessTokenClaims
  return Object.freeze({
    claims: frozen,
    issuer,
    audiences: Object.freeze(audiences),
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    scopes: Object.freeze(scopes),
    subject: frozen.sub,
    clientId: frozen.client_id ?? frozen.azp,
    binding,
    signingKey,
  })
}

/** `scope` (space-delimited string, RFC 9068 §2.2.3) and `scp` (array or string), merged. */
export function readScopes (scope: unknown, scp: unknown): string[] | undefined {
  // The usual token: a `scope` string of a few distinct scopes, one space apart.
  if (scp === undefined && typeof scope === 'string') {
    const parts = scope.split(' ')
    if (parts.length <= 16 && distinctAndNonEmpty(parts)) return parts
  }
  const out = new Set<string>()
  if (scope !== undefined) {
    if (typeof scope !== 'string') return undefined
    for (const s of scope.split(' ')) if (s !== '') out.add(s)
  }
  if (scp !== undefined) {
    if (typeof scp === 'string') {
      for (const s of scp.split(' ')) if (s !== '') out.add(s)
    } else if (Array.isArray(scp)) {
      for (const s of scp) {
        if (typeof s !== 'string') return undefined
        if (s !== '') out.add(s)
      }
    } else {
      return undefined
    }
  }
  return [...out]
}

function distinctAndNonEmpty (parts: readonly string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '') return false
    for (let j = 0; j < i; j++) if (parts[i] === parts[j]) return false
  }
  return true
}

const NO_BINDING: Binding = Object.freeze({ jkt: undefined, x5t: undefined })

function readBinding (cnf: unknown): Binding {
  if (cnf === undefined) return NO_BINDING
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw reject.invalidToken('binding.cnf')
  const { jkt, 'x5t#S256': x5t, ...others } = cnf as Record<string, unknown>
  if (jkt !== undefined && (typeof jkt !== 'string' || jkt === '')) throw reject.invalidToken('binding.cnf')
  if (x5t !== undefined && (typeof x5t !== 'string' || x5t === '')) throw reject.invalidToken('binding.cnf')
  // A confirmation method we cannot check must not turn into a bearer token.
  if (jkt === undefined && x5t === undefined && Object.keys(others).length > 0) throw reject.invalidToken('binding.cnf')
  if (jkt === undefined && x5t === undefined) return NO_BINDING
  return Object.freeze({ jkt, x5t })
}

/** Freezes a parsed JSON value in place, iteratively (deep nesting must not overflow the stack). */
export function deepFreeze<T> (value: T): T {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null || Object.isFrozen(item)) continue
    Object.freeze(item)
    for (const child of Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push(child)
    }
  }
  return value
}
