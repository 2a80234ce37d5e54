// JWT access-token verification (RFC 9068 §4, RFC 8725), cheapest checks
// first, so a junk token never costs a key lookup or a signature check:
// shape (a canonical signature) → alg allow-list → typ → crit → iss →
// exp/nbf/iat → key → signature (jose's compactVerify, which also refuses a
// key that does not fit the algorithm). The claims are read before the
// signature is checked because the issuer names the key set.
import { KeyObject } from 'node:crypto'
import { compactVerify, errors } from 'jose'
import type { CompactJWSHeaderParameters, CryptoKey, FlattenedJWSInput } from 'jose'
import { checkTimes, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import { decodeSegment, JWS_COMPACT, normalizeMediaType } from './compact-jws.js'
import { isMcpAuthError, isRejection, reject } from './errors.js'
import type { KeyResolver, KeySet } from './key-resolver.js'
import type { SigningKey } from './signing-keys.js'

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

/** Rejects with McpAuthError on every refusal. */
export type JwtVerifier = (token: string) => Promise<VerifiedToken>

/** The parts of a compact JWS the checks below need. */
interface Jws {
  readonly token: string
  /** The base64url protected header. */
  readonly protectedHeader: string
  readonly header: Record<string, unknown>
  readonly alg: string
  /** Index of the dot before the signature. */
  readonly dot2: number
}

export function createJwtVerifier (options: JwtVerifierOptions): JwtVerifier {
  const { algorithms, tokenTypes, issuers, clock, clockTolerance } = options
  // A key set hands out the same CryptoKey for every token it signs: converted once.
  const keyObjects = new WeakMap<object, KeyObject>()
  function toKeyObject (key: unknown): KeyObject | undefined {
    if (key instanceof KeyObject) return key
    if (typeof key !== 'object' || key === null || !('algorithm' in key)) return undefined
    let keyObject = keyObjects.get(key)
    if (keyObject === undefined) {
      keyObject = KeyObject.from(key as CryptoKey as Parameters<typeof KeyObject.from>[0])
      keyObjects.set(key, keyObject)
    }
    return keyObject
  }

  return async function verifyJwt (token) {
    if (!JWS_COMPACT.test(token)) {
      throw reject.invalidToken(token.split('.').length === 5 ? 'token.encrypted' : 'token.malformed')
    }
    const dot1 = token.indexOf('.')
    const dot2 = token.indexOf('.', dot1 + 1)
    const protectedHeader = token.slice(0, dot1)
    const header = decodeSegment(protectedHeader)
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
    checkTimes(claims, { now: Math.floor(clock() / 1000), clockTolerance, requireExp: true })

    const jws: Jws = { token, protectedHeader, header, alg, dot2 }
    if (alg.startsWith('HS')) {
      if (options.secret === undefined) throw reject.invalidToken('token.alg')
      await checkSignature(jws, options.secret)
      return toVerifiedToken(claims, iss)
    }
    return toVerifiedToken(claims, iss, await verifyWithKeySet(jws, await options.keys.keyFor(iss)))
  }

  /** Checks the signature with the key the set picks; answers the remote key that verified it (see SigningKey). */
  async function verifyWithKeySet (jws: Jws, keySet: KeySet): Promise<SigningKey | undefined> {
    const { token, protectedHeader, dot2 } = jws
    let key: unknown
    try {
      // A copy: the key function may write to what it is given.
      key = await keySet.getKey({ ...jws.header } as CompactJWSHeaderParameters, {
        protected: protectedHeader,
        payload: token.slice(protectedHeader.length + 1, dot2),
        signature: token.slice(dot2 + 1),
      } satisfies FlattenedJWSInput)
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw classifyKeyError(err)
      key = await verifyWithCandidates(jws, err)
      return signerOf(keySet, key)
    }
    await checkSignature(jws, key)
    return signerOf(keySet, key)
  }

  function signerOf (keySet: KeySet, key: unknown): SigningKey | undefined {
    if (keySet.signerOf === undefined) return undefined
    const keyObject = toKeyObject(key)
    return keyObject === undefined ? undefined : keySet.signerOf(keyObject)
  }

  // Several JWKS entries match the header: one of them must verify (jose ≥ 6 leaves this to the caller).
  async function verifyWithCandidates (jws: Jws, candidates: errors.JWKSMultipleMatchingKeys): Promise<unknown> {
    for await (const key of candidates as unknown as AsyncIterable<CryptoKey>) {
      try {
        await checkSignature(jws, key)
        return key
      } catch (err) {
        if (!(isMcpAuthError(err) && err.reason === 'token.signature')) throw err
      }
    }
    throw reject.invalidToken('token.signature')
  }

  async function checkSignature (jws: Jws, key: unknown): Promise<void> {
    try {
      await compactVerify(jws.token, key as CryptoKey, { algorithms: [jws.alg] })
    } catch (err) {
      if (err instanceof errors.JWSSignatureVerificationFailed) throw reject.invalidToken('token.signature')
      // A segment jose cannot decode (the header as strict UTF-8 JSON, the payload as base64url).
      if (err instanceof errors.JWSInvalid) throw reject.invalidToken('token.malformed', err)
      // A key that does not fit the algorithm (type, curve, an RSA key under 2048 bits).
      throw reject.invalidToken('token.alg', err)
    }
  }
}

/** A throw while resolving a key is an outage (503) unless it is about the token itself. */
function classifyKeyError (err: unknown): unknown {
  if (isRejection(err)) return err
  if (err instanceof errors.JWKSNoMatchingKey) return reject.invalidToken('token.unknown_key', err)
  if (err instanceof errors.JOSENotSupported) return reject.invalidToken('token.alg', err)
  return reject.unavailable('jwks.unreachable', err)
}
