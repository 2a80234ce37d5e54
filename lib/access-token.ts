// JWT access-token verification (RFC 9068 §4, RFC 8725), cheapest checks
// first, so a junk token never costs a signature verification:
// shape → alg allow-list → typ → crit → iss → exp/nbf/iat → key → signature.
// Keys come from jose key sets (discovery, JWKS); the signature is checked with
// node:crypto (lib/jws.ts).
import { errors } from 'jose'
import type { CompactJWSHeaderParameters, CryptoKey, FlattenedJWSInput, JWTVerifyGetKey, KeyObject } from 'jose'
import { checkTimes, deepFreeze, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import { isMcpAuthError, reject } from './errors.js'
import { toKeyObject, verifyJws } from './jws.js'
import type { KeyResolver } from './key-resolver.js'
import { knownKeysOf } from './local-key-set.js'
import type { SigningKey } from './local-key-set.js'
import { memoize } from './memo.js'

export interface JwtVerifierOptions {
  readonly algorithms: ReadonlySet<string>
  /** Accepted `typ` values in comparison form (see normalizeMediaType). */
  readonly tokenTypes: ReadonlySet<string>
  readonly clockTolerance: number
  readonly clock: Clock
  /** Every issuer any resource trusts. */
  readonly issuers: ReadonlySet<string>
  readonly keys: KeyResolver
  /** Key for HS* algorithms, only when the user configured a secret. */
  readonly secret: CryptoKey | KeyObject | Uint8Array | undefined
}

/** Synchronous when the key is at hand (a known protected header); throws or rejects with McpAuthError. */
export type JwtVerifier = (token: string) => VerifiedToken | Promise<VerifiedToken>

/** Three non-empty base64url segments (JWS compact serialization). */
export const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

// Credential extraction tests a presented token for this form first (a compact
// JWS is a b64token), and the JWT verifier asks about the same string right
// after: the last answer is kept, so a token of a few hundred characters is
// scanned once, not twice.
let lastTested: string | undefined
let lastAnswer = false

/** JWS_COMPACT.test(value), remembering the answer for the last value. */
export function isCompactJws (value: string): boolean {
  if (value !== lastTested) {
    lastAnswer = JWS_COMPACT.test(value)
    lastTested = value
  }
  return lastAnswer
}

/** `typ` compares case-insensitively with the `application/` prefix optional (RFC 7515 §4.1.9). */
export function normalizeMediaType (value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

export function decodeSegment (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

// An issuer signs every token with one of a few headers: decode each once.
// Shared between tokens, so frozen.
const decodeHeader = memoize((segment: string) => {
  const header = decodeSegment(segment)
  return header === undefined ? undefined : deepFreeze(header)
})

const BASE64URL_VALUE = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) BASE64URL_VALUE[c.charCodeAt(0)] = i

/**
 * True when `encoded` (already known to be base64url characters) is the one
 * canonical encoding of its bytes: a length that encodes whole bytes, and no
 * stray bits in the last character. Same answer as re-encoding and comparing.
 */
export function isCanonicalBase64url (encoded: string): boolean {
  const rest = encoded.length % 4
  if (rest === 1) return false
  if (rest === 0) return true
  const last = BASE64URL_VALUE[encoded.charCodeAt(encoded.length - 1)] ?? -1
  if (last < 0) return false
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}

export function createJwtVerifier (options: JwtVerifierOptions): JwtVerifier {
  const { algorithms, tokenTypes, issuers, clock, clockTolerance } = options

  return function verifyJwt (token) {
    if (!isCompactJws(token)) {
      throw reject.invalidToken(token.split('.').length === 5 ? 'token.encrypted' : 'token.malformed')
    }
    const dot1 = token.indexOf('.')
    const dot2 = token.indexOf('.', dot1 + 1)
    // One string for both lookups keyed by it (its hash is computed once).
    const protectedHeader = token.slice(0, dot1)
    const header = decodeHeader(protectedHeader)
    if (header === undefined) throw reject.invalidToken('token.malformed')
    const alg = header.alg
    if (typeof alg !== 'string' || !algorithms.has(alg)) throw reject.invalidToken('token.alg')
    if (typeof header.typ !== 'string' || !tokenTypes.has(normalizeMediaType(header.typ))) throw reject.invalidToken('token.typ')
    // We implement no JWS extensions; an unencoded payload (b64) is never a JWT.
    if (header.crit !== undefined) throw reject.invalidToken('token.crit')
    if (header.b64 !== undefined) throw reject.invalidToken('token.malformed')

    const claims = decodeSegment(token.slice(dot1 + 1, dot2))
    if (claims === undefined) throw reject.invalidToken('token.malformed')
    const iss = claims.iss
    // Exact code-point comparison (RFC 9068 §4, RFC 7519 §2).
    if (typeof iss !== 'string' || !issuers.has(iss)) throw reject.invalidToken('token.issuer')
    checkTimes(claims, { now: clock(), clockTolerance, requireExp: true })

    const found = alg.startsWith('HS') ? options.secret : options.keys.keyFor(iss)
    if (found instanceof Promise) return found.then((key) => finish(token, protectedHeader, dot2, alg, header, key, claims, iss))
    return finish(token, protectedHeader, dot2, alg, header, found, claims, iss)
  }
}

// No promise when the signature can be checked at once: a miss then costs no microtask hops.
function finish (token: string, protectedHeader: string, dot2: number, alg: string, header: Record<string, unknown>, key: KeySource | undefined, claims: Record<string, unknown>, iss: string): VerifiedToken | Promise<VerifiedToken> {
  if (key === undefined) throw reject.invalidToken('token.alg')
  const signer = verifySignature(token, protectedHeader, dot2, alg, header, key)
  if (signer instanceof Promise) return signer.then((signingKey) => toVerifiedToken(claims, iss, signingKey))
  return toVerifiedToken(claims, iss, signer)
}

type KeySource = CryptoKey | KeyObject | Uint8Array | JWTVerifyGetKey

/**
 * Synchronous when the key is at hand; a promise when a key function must be
 * asked. Answers the remote key that verified the signature (see SigningKey).
 */
function verifySignature (token: string, protectedHeader: string, dot2: number, alg: string, header: Record<string, unknown>, source: KeySource): SigningKey | undefined | Promise<SigningKey | undefined> {
  if (typeof source !== 'function') return checkSignature(token, dot2, alg, source)
  const knownKeys = knownKeysOf(source)
  const known = knownKeys?.known(protectedHeader)
  if (known === undefined) return verifyWithKeyFunction(token, protectedHeader, dot2, alg, header, source)
  checkSignature(token, dot2, alg, known)
  return knownKeys?.signerOf?.(known)
}

async function verifyWithKeyFunction (token: string, protectedHeader: string, dot2: number, alg: string, header: Record<string, unknown>, source: JWTVerifyGetKey): Promise<SigningKey | undefined> {
  const dot1 = protectedHeader.length
  let key: unknown
  try {
    // A copy: the decoded header is shared by every token that carries it.
    key = await source({ ...header } as CompactJWSHeaderParameters, {
      protected: protectedHeader,
      payload: token.slice(dot1 + 1, dot2),
      signature: token.slice(dot2 + 1),
    } satisfies FlattenedJWSInput)
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) key = await verifyWithCandidates(token, dot2, alg, err)
    else throw classifyKeyError(err)
    return signerOf(source, key)
  }
  checkSignature(token, dot2, alg, key)
  // Verified: from now on this header's key is found without asking.
  knownKeysOf(source)?.confirm(protectedHeader)
  return signerOf(source, key)
}

function signerOf (source: JWTVerifyGetKey, key: unknown): SigningKey | undefined {
  const lookup = knownKeysOf(source)?.signerOf
  if (lookup === undefined) return undefined
  const keyObject = toKeyObject(key)
  return keyObject === undefined ? undefined : lookup(keyObject)
}

// Several JWKS entries match the header: one of them must verify (jose ≥ 6 leaves this to the caller).
async function verifyWithCandidates (token: string, dot2: number, alg: string, candidates: errors.JWKSMultipleMatchingKeys): Promise<unknown> {
  for await (const key of candidates as unknown as AsyncIterable<CryptoKey>) {
    try {
      checkSignature(token, dot2, alg, key)
      return key
    } catch (err) {
      if (!(isMcpAuthError(err) && err.reason === 'token.signature')) throw err
    }
  }
  throw reject.invalidToken('token.signature')
}

// node:crypto, synchronously (every configurable algorithm is covered by verifyJws).
function checkSignature (token: string, dot2: number, alg: string, key: unknown): undefined {
  const encoded = token.slice(dot2 + 1)
  // Only the canonical encoding (no stray bits): one token, one signature.
  if (!isCanonicalBase64url(encoded)) throw reject.invalidToken('token.malformed')
  const signature = Buffer.from(encoded, 'base64url')
  const keyObject = key instanceof Uint8Array ? key : toKeyObject(key)
  const verdict = keyObject === undefined ? 'key-mismatch' : verifyJws(alg, keyObject, token.slice(0, dot2), signature)
  if (verdict === 'valid') return undefined
  if (verdict === 'invalid') throw reject.invalidToken('token.signature')
  throw reject.invalidToken('token.alg')
}

/** A throw while resolving a key is an outage (503) unless it is about the token itself. */
function classifyKeyError (err: unknown): unknown {
  if (isMcpAuthError(err)) return err
  if (err instanceof errors.JWKSNoMatchingKey) return reject.invalidToken('token.unknown_key', err)
  if (err instanceof errors.JOSENotSupported) return reject.invalidToken('token.alg', err)
  return reject.unavailable('jwks.unreachable', err)
}
