// Compact JWS (RFC 7515 §7.1) for access tokens and DPoP proofs: the shape,
// segment decoding, and signature verification with node:crypto for the
// algorithms MCP deployments use. The key must fit the algorithm exactly
// (type, curve, RSA size), or the answer is 'key-mismatch', never a pass.
import { constants, createHmac, createPublicKey, KeyObject, timingSafeEqual, verify } from 'node:crypto'
import type { CryptoKey } from 'jose'

export type JwsVerdict = 'valid' | 'invalid' | 'key-mismatch' | 'unsupported'

/** Three non-empty base64url segments (JWS compact serialization). */
export const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/** `typ` compares case-insensitively with the `application/` prefix optional (RFC 7515 §4.1.9). */
export function normalizeMediaType (value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

/** A base64url segment holding a JSON object, decoded; undefined for anything else. */
export function decodeSegment (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

const BASE64URL_VALUE = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) BASE64URL_VALUE[c.charCodeAt(0)] = i

/**
 * True when `encoded` (already known to be base64url characters) is the one
 * canonical encoding of its bytes: a length that encodes whole bytes, and no
 * stray bits in the last character. One signature, one spelling: a token
 * cannot be varied without a new signature.
 */
export function isCanonicalBase64url (encoded: string): boolean {
  const rest = encoded.length % 4
  if (rest === 1) return false
  if (rest === 0) return true
  const last = BASE64URL_VALUE[encoded.charCodeAt(encoded.length - 1)] ?? -1
  if (last < 0) return false
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}

const MIN_RSA_BITS = 2048 // RFC 7518 §3.3 / §3.5
const EC = {
  ES256: { digest: 'sha256', curve: 'prime256v1', bytes: 64 },
  ES384: { digest: 'sha384', curve: 'secp384r1', bytes: 96 },
  ES512: { digest: 'sha512', curve: 'secp521r1', bytes: 132 },
} as const
const RSA = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' } as const
const PSS = { PS256: ['sha256', 32], PS384: ['sha384', 48], PS512: ['sha512', 64] } as const
const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

function rsaBits (key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0
}

/**
 * Verifies `signature` over `signingInput` (the ASCII `header.payload`) with
 * `key` for `alg`. `key` is a public KeyObject, or secret bytes / a secret
 * KeyObject for HS*. ECDSA signatures are the JWS form (R || S, RFC 7518 §3.4),
 * never DER; RSASSA-PSS uses the salt length of its digest (RFC 7518 §3.5).
 */
export function verifyJws (alg: string, key: KeyObject | Uint8Array, signingInput: string, signature: Uint8Array): JwsVerdict {
  const data = Buffer.from(signingInput, 'latin1')
  if (Object.hasOwn(HMAC, alg)) {
    const secret = key instanceof KeyObject ? (key.type === 'secret' ? key.export() : undefined) : key
    if (secret === undefined) return 'key-mismatch'
    const expected = createHmac(HMAC[alg as keyof typeof HMAC], secret).update(data).digest()
    return expected.length === signature.length && timingSafeEqual(expected, signature) ? 'valid' : 'invalid'
  }
  if (!(key instanceof KeyObject) || key.type !== 'public') return 'key-mismatch'
  const type = key.asymmetricKeyType
  if (Object.hasOwn(EC, alg)) {
    const spec = EC[alg as keyof typeof EC]
    if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== spec.curve) return 'key-mismatch'
    if (signature.length !== spec.bytes) return 'invalid'
    return verify(spec.digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature) ? 'valid' : 'invalid'
  }
  if (Object.hasOwn(RSA, alg)) {
    if (type !== 'rsa' || rsaBits(key) < MIN_RSA_BITS) return 'key-mismatch'
    return verify(RSA[alg as keyof typeof RSA], data, { key, padding: constants.RSA_PKCS1_PADDING }, signature) ? 'valid' : 'invalid'
  }
  if (Object.hasOwn(PSS, alg)) {
    if ((type !== 'rsa' && type !== 'rsa-pss') || rsaBits(key) < MIN_RSA_BITS) return 'key-mismatch'
    const [digest, saltLength] = PSS[alg as keyof typeof PSS]
    return verify(digest, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature) ? 'valid' : 'invalid'
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    if (type !== 'ed25519' && (alg === 'Ed25519' || type !== 'ed448')) return 'key-mismatch'
    return verify(null, data, key, signature) ? 'valid' : 'invalid'
  }
  return 'unsupported'
}

/** A KeyObject for a key a jose key function returns (CryptoKey, KeyObject or public JWK), or undefined. */
export function toKeyObject (key: unknown): KeyObject | undefined {
  if (key instanceof KeyObject) return key
  if (typeof key !== 'object' || key === null || key instanceof Uint8Array) return undefined
  try {
    if ('algorithm' in key && 'type' in key) return KeyObject.from(key as CryptoKey as Parameters<typeof KeyObject.from>[0])
    if (typeof (key as { kty?: unknown }).kty === 'string' && (key as { d?: unknown }).d === undefined) {
      return createPublicKey({ key: key as Parameters<typeof createPublicKey>[0] & object as never, format: 'jwk' })
    }
  } catch {}
  return undefined
}

/**
 * toKeyObject, converting each key object once: a key set hands out the same
 * CryptoKey for every token it signs. Owned by the verifier that creates it.
 */
export function createKeyConverter (): (key: unknown) => KeyObject | undefined {
  const converted = new WeakMap<object, KeyObject>()
  return (key) => {
    if (key instanceof KeyObject || typeof key !== 'object' || key === null) return toKeyObject(key)
    let keyObject = converted.get(key)
    if (keyObject === undefined) {
      keyObject = toKeyObject(key)
      if (keyObject !== undefined) converted.set(key, keyObject)
    }
    return keyObject
  }
}
