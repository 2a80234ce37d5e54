// JWS signature verification with node:crypto, synchronously, for the
// algorithms MCP deployments use. The key must fit the algorithm exactly
// (type, curve, RSA size), or the answer is 'key-mismatch' — never a pass.
// Other algorithms return 'unsupported' and the caller falls back to jose.
import { constants, createHmac, createPublicKey, KeyObject, timingSafeEqual, verify } from 'node:crypto'
import type { CryptoKey } from 'jose'

export type JwsVerdict = 'valid' | 'invalid' | 'key-mismatch' | 'unsupported'

const MIN_RSA_BITS = 2048 // RFC 7518 §3.3 / §3.5
const EC = {
  ES256: { digest: 'sha256', curve: 'prime256v1', bytes: 64 },
  ES384: { digest: 'sha384', curve: 'secp384r1', bytes: 96 },
  ES512: { digest: 'sha512', curve: 'secp521r1', bytes: 132 },
} as const
const RSA = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' } as const
const PSS = { PS256: ['sha256', 32], PS384: ['sha384', 48], PS512: ['sha512', 64] } as const
const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

function own<T extends object> (table: T, alg: string): alg is Extract<keyof T, string> {
  return Object.hasOwn(table, alg)
}

function rsaBits (key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0
}

/**
 * Verifies `signature` over `signingInput` (the ASCII `header.payload`) with
 * `key` for `alg`. `key` is a public KeyObject, or secret bytes / a secret
 * KeyObject for HS*.
 */
export function verifyJws (alg: string, key: KeyObject | Uint8Array, signingInput: string, signature: Uint8Array): JwsVerdict {
  const data = Buffer.from(signingInput, 'latin1')
  if (own(HMAC, alg)) {
    const secret = key instanceof KeyObject ? (key.type === 'secret' ? key.export() : undefined) : key
    if (secret === undefined) return 'key-mismatch'
    const expected = createHmac(HMAC[alg], secret).update(data).digest()
    return expected.length === signature.length && timingSafeEqual(expected, signature) ? 'valid' : 'invalid'
  }
  if (!(key instanceof KeyObject) || key.type !== 'public') return 'key-mismatch'
  const type = key.asymmetricKeyType
  if (own(EC, alg)) {
    const spec = EC[alg]
    if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== spec.curve) return 'key-mismatch'
    if (signature.length !== spec.bytes) return 'invalid'
    return verify(spec.digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature) ? 'valid' : 'invalid'
  }
  if (own(RSA, alg)) {
    if (type !== 'rsa' || rsaBits(key) < MIN_RSA_BITS) return 'key-mismatch'
    return verify(RSA[alg], data, { key, padding: constants.RSA_PKCS1_PADDING }, signature) ? 'valid' : 'invalid'
  }
  if (own(PSS, alg)) {
    if ((type !== 'rsa' && type !== 'rsa-pss') || rsaBits(key) < MIN_RSA_BITS) return 'key-mismatch'
    const [digest, saltLength] = PSS[alg]
    return verify(digest, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature) ? 'valid' : 'invalid'
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    if (type !== 'ed25519' && (alg === 'Ed25519' || type !== 'ed448')) return 'key-mismatch'
    return verify(null, data, key, signature) ? 'valid' : 'invalid'
  }
  return 'unsupported'
}

// jose key sets hand out WebCrypto CryptoKeys; node:crypto wants KeyObjects.
const converted = new WeakMap<object, KeyObject>()

/** A KeyObject for a key from a jose key function (CryptoKey, KeyObject or public JWK), or undefined. */
export function toKeyObject (key: unknown): KeyObject | undefined {
  if (key instanceof KeyObject) return key
  if (typeof key !== 'object' || key === null || key instanceof Uint8Array) return undefined
  let keyObject = converted.get(key)
  if (keyObject === undefined) {
    try {
      if ('algorithm' in key && 'type' in key) {
        keyObject = KeyObject.from(key as CryptoKey as Parameters<typeof KeyObject.from>[0])
      } else if (typeof (key as { kty?: unknown }).kty === 'string' && (key as { d?: unknown }).d === undefined) {
        keyObject = createPublicKey({ key: key as Parameters<typeof createPublicKey>[0] & object as never, format: 'jwk' })
      }
    } catch {
      keyObject = undefined
    }
    if (keyObject === undefined) return undefined
    converted.set(key, keyObject)
  }
  return keyObject
}
