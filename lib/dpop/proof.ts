// DPoP proof verification (RFC 9449 §4.3): shape, typ, alg, jwk, the key the
// token is bound to, the signature (jose's compactVerify), then the claims it
// signed: jti, htm, htu, iat, ath. The key is known before the payload is read,
// so the claims are read from what jose verified. The nonce and the replay
// record are the caller's, after the binding check, so a junk proof can
// neither fill the replay store nor cost more than one signature check.
import { createPublicKey, hash } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { compactVerify, errors } from 'jose'
import { LRUCache } from 'lru-cache'
import { decodeSegment, JWS_COMPACT, normalizeMediaType } from '../compact-jws.js'
import { reject } from '../errors.js'
import { hasPrivateMembers, jwkThumbprint } from '../jwk-thumbprint.js'

export interface ProofOptions {
  readonly algorithms: ReadonlySet<string>
  /** Seconds `iat` may lie in the past or the future. */
  readonly iatWindow: number
  readonly maxJtiLength: number
  readonly maxProofLength: number
}

export interface ProofRequest {
  readonly method: string
  /** The resource's configured public origin: the expected `htu` is it plus the request path. */
  readonly origin: string
  /** The request target as the client sent it (path and query). */
  readonly url: string
  /** base64url(SHA-256(access token)). */
  readonly ath: string
  /** The token's cnf.jkt: a proof by any other key is refused before its signature is checked. */
  readonly jkt: string
  /** Current time in seconds. */
  readonly now: number
}

export interface VerifiedProof {
  readonly jkt: string
  readonly jti: string
  readonly iat: number
  readonly nonce: string | undefined
}

const PERCENT = /%([0-9A-Fa-f]{2})/g
const UNRESERVED = /[A-Za-z0-9\-._~]/

function normalizePercent (_match: string, hex: string): string {
  const char = String.fromCharCode(Number.parseInt(hex, 16))
  return UNRESERVED.test(char) ? char : '%' + hex.toUpperCase()
}

/**
 * The comparison form of an HTTP URI for `htu` (RFC 9449 §4.3 step 9):
 * syntax- and scheme-based normalization (RFC 3986 §6.2.2, §6.2.3): scheme
 * and host lowercased, default port dropped, dot segments removed, percent-
 * encodings uppercased and unreserved ones decoded, without query or fragment.
 * Undefined when `value` is not an absolute http(s) URI.
 */
export function normalizeHttpUri (value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return `${url.protocol}//${url.host}${url.pathname.replace(PERCENT, normalizePercent)}`
}

// base64url lengths: a modulus of at most 8192 bits, an exponent of at most 32 bits.
const MAX_RSA_N_CHARS = 1366
const MAX_RSA_E_CHARS = 6

/** An RSA public exponent in base64url: odd, at least 3, without leading zero octets. */
function isUsableRsaExponent (e: string): boolean {
  const octets = Buffer.from(e, 'base64url')
  if (octets.length === 0 || octets[0] === 0) return false
  const last = octets[octets.length - 1] as number
  return (last & 1) === 1 && (octets.length > 1 || last >= 3)
}
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
}

interface CheckedHeader {
  readonly alg: string
  readonly jkt: string
  /** The imported public key of the header's jwk. */
  readonly key: KeyObject
}

/** Rejects with McpAuthError on every refusal. */
export type ProofVerifier = (proof: string | undefined, proofLines: number, request: ProofRequest) => Promise<VerifiedProof>

/** Most `htu` comparison forms remembered, and the longest value remembered. */
const HTU_FORMS = 1000
const HTU_MAX_LENGTH = 2048

const utf8 = new TextDecoder()

export function createProofVerifier (options: ProofOptions): ProofVerifier {
  // A client sends the same `htu` with every proof, and a route is requested at
  // the same few URLs: their comparison forms (a URL parse each) are kept,
  // forgotten all at once when full, so junk values cost a parse, never memory.
  const htuForms = new Map<string, string | undefined>()
  function htuForm (value: string): string | undefined {
    let form = htuForms.get(value)
    if (form === undefined && !htuForms.has(value)) {
      form = normalizeHttpUri(value)
      if (value.length <= HTU_MAX_LENGTH) {
        if (htuForms.size >= HTU_FORMS) htuForms.clear()
        htuForms.set(value, form)
      }
    }
    return form
  }

  // Imported public keys by thumbprint, for the header cache's misses: the same key
  // sent in a header spelled differently (member order, extra members) is not
  // imported again.
  const keys = new LRUCache<string, KeyObject>({ max: 1000 })

  function importKey (jwk: Readonly<Record<string, unknown>>, jkt: string): KeyObject {
    let key = keys.get(jkt)
    if (key === undefined) {
      // Only the members the thumbprint covers: what is verified is what is bound.
      const publicJwk: Record<string, unknown> = {}
      for (const name of PUBLIC_MEMBERS[jwk.kty as string] as readonly string[]) publicJwk[name] = jwk[name]
      try {
        key = createPublicKey({ key: publicJwk as never, format: 'jwk' })
      } catch (err) {
        throw reject.invalidProof('dpop.jwk', err)
      }
      keys.set(jkt, key)
    }
    return key
  }

  // A client sends the same header (typ, alg, its public jwk) with every proof:
  // the checked outcome, with the imported key, is kept by the exact header
  // segment, so the parse, the thumbprint and the import happen once per client
  // key and a proof costs one lookup. Only successes are kept.
  const headers = new LRUCache<string, CheckedHeader>({ max: 1000 })

  /** A header not seen before (the cache answers for the others). */
  function checkHeader (segment: string): CheckedHeader {
    const header = decodeSegment(segment)
    if (header === undefined) throw reject.invalidProof('dpop.malformed')
    if (typeof header.typ !== 'string' || normalizeMediaType(header.typ) !== 'dpop+jwt') throw reject.invalidProof('dpop.typ')
    const alg = header.alg
    if (typeof alg !== 'string' || !options.algorithms.has(alg)) throw reject.invalidProof('dpop.alg')
    if (header.crit !== undefined) throw reject.invalidProof('dpop.crit')
    if (header.b64 !== undefined) throw reject.invalidProof('dpop.malformed')
    const jwk = header.jwk
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw reject.invalidProof('dpop.jwk')
    const jwkObject = jwk as Record<string, unknown>
    if (hasPrivateMembers(jwkObject)) throw reject.invalidProof('dpop.jwk')
    if (jwkObject.use !== undefined && jwkObject.use !== 'sig') throw reject.invalidProof('dpop.jwk')
    if (jwkObject.alg !== undefined && jwkObject.alg !== alg) throw reject.invalidProof('dpop.jwk')
    if (jwkObject.key_ops !== undefined && !(Array.isArray(jwkObject.key_ops) && jwkObject.key_ops.includes('verify'))) {
      throw reject.invalidProof('dpop.jwk')
    }
    const jkt = jwkThumbprint(jwkObject)
    if (jkt === undefined || !Object.hasOwn(PUBLIC_MEMBERS, jwkObject.kty as string)) throw reject.invalidProof('dpop.jwk')
    // An RSA key that makes verification expensive (huge modulus or exponent) is refused.
    if (jwkObject.kty === 'RSA' && ((jwkObject.n as string).length > MAX_RSA_N_CHARS || (jwkObject.e as string).length > MAX_RSA_E_CHARS)) {
      throw reject.invalidProof('dpop.jwk')
    }
    // With e = 1 (or any even e) a "signature" needs no private key: e = 1 makes the
    // padded message its own signature (RFC 8017 §3.1: e is odd and at least 3).
    if (jwkObject.kty === 'RSA' && !isUsableRsaExponent(jwkObject.e as string)) throw reject.invalidProof('dpop.jwk')
    // A key that is not a usable public key is a bad proof (imported once per key).
    const checked: CheckedHeader = Object.freeze({ alg, jkt, key: importKey(jwkObject, jkt) })
    headers.set(segment, checked)
    return checked
  }

  return async function verifyDpopProof (proof, proofLines, request) {
    if (proof === undefined || proof === '') throw reject.invalidProof('dpop.missing')
    if (proofLines > 1) throw reject.invalidProof('dpop.duplicate')
    if (proof.length > options.maxProofLength || !JWS_COMPACT.test(proof)) {
      // Node joins repeated DPoP lines with ", " (a JWS has no comma): say so.
      throw reject.invalidProof(proof.includes(',') ? 'dpop.duplicate' : 'dpop.malformed')
    }

    const segment = proof.slice(0, proof.indexOf('.'))
    const { alg, jkt, key } = headers.get(segment) ?? checkHeader(segment)
    // RFC 9449 §6.1: the key must be the one the token is bound to, checked before the
    // signature, so a stranger's key costs no verification. Both thumbprints are public
    // (one is in the token, the other is of the key the client sent): a plain comparison.
    if (jkt !== request.jkt) throw reject.invalidToken('binding.jkt')

    let payload: Uint8Array
    try {
      ({ payload } = await compactVerify(proof, key, { algorithms: [alg] }))
    } catch (err) {
      throw proofRefusal(err)
    }
    let claims: Record<string, unknown> | null
    try {
      claims = JSON.parse(utf8.decode(payload)) as Record<string, unknown> | null
    } catch (err) {
      throw reject.invalidProof('dpop.malformed', err)
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw reject.invalidProof('dpop.malformed')
    const { jti, htm, htu, iat, ath, nonce } = claims
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > options.maxJtiLength) throw reject.invalidProof('dpop.jti')
    if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) {
      throw reject.invalidProof('dpop.claims')
    }
    if (nonce !== undefined && typeof nonce !== 'string') throw reject.invalidProof('dpop.claims')
    // Methods are case-sensitive (RFC 9110 §9.1).
    if (htm !== request.method) throw reject.invalidProof('dpop.htm')
    const q = request.url.indexOf('?')
    const path = q === -1 ? request.url : request.url.slice(0, q)
    // The configured public origin plus the request path, never the Host header.
    const target = request.origin + path
    // Known forms without a call; an invalid value (remembered as undefined) is computed again.
    const expected = path.startsWith('/') ? htuForms.get(target) ?? htuForm(target) : undefined
    if (expected === undefined || (htuForms.get(htu) ?? htuForm(htu)) !== expected) throw reject.invalidProof('dpop.htu')
    if (Math.abs(request.now - iat) > options.iatWindow) throw reject.invalidProof('dpop.iat')
    if (ath !== request.ath) throw reject.invalidProof('dpop.ath')
    return { jkt, jti, iat, nonce }
  }
}

/** What jose's refusal of a proof means for the client. */
function proofRefusal (err: unknown): Error {
  if (err instanceof errors.JWSSignatureVerificationFailed) return reject.invalidProof('dpop.signature')
  // A segment jose cannot decode (the header as strict UTF-8 JSON, the payload as base64url).
  if (err instanceof errors.JWSInvalid) return reject.invalidProof('dpop.malformed', err)
  // A key that does not fit the algorithm (e.g. an RSA key below 2048 bits).
  return reject.invalidProof('dpop.jwk', err)
}

/**
 * The replay-store key for a proof: one client's jti never blocks another's.
 * base64url(SHA-256), 43 characters, keeps stores small and collisions out of
 * reach. Encoded by the hash call itself, and whole: a Buffer result would cost
 * an unpooled allocation per proof, and a slice of the string would keep the
 * whole string alive beside it in the store.
 */
export function replayKey (jkt: string, jti: string): string {
  return hash('sha256', jkt + '.' + jti, 'base64url')
}
