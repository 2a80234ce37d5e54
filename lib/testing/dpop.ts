// DPoP client side for tests: a key, valid proofs, and deliberately flawed
// proofs named after the check they should trip (RFC 9449 §4.3).
import { createHash, createHmac, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint'
import { exportJWK } from 'jose/key/export'
import { generateKeyPair } from 'jose/key/generate/keypair'
import { SignJWT } from 'jose/jwt/sign'
import type { CryptoKey, JWK } from 'jose'

export type DpopAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256'

export interface DpopKey {
  readonly alg: DpopAlgorithm
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
  /** RFC 7638 thumbprint: what a bound token carries in `cnf.jkt`. */
  readonly jkt: string
}

export async function createDpopKey (alg: DpopAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') }
}

/** Named defects, each aimed at one check. */
export type DpopProofFlaw =
  | 'wrong-htm'
  | 'wrong-htu'
  | 'missing-ath'
  | 'wrong-ath'
  | 'stale-iat'
  | 'future-iat'
  | 'missing-jti'
  | 'missing-htm'
  | 'missing-htu'
  | 'missing-iat'
  | 'private-key-in-jwk'
  | 'alg-none'
  | 'hs256'
  | 'bad-signature'
  | 'wrong-typ'
  | 'missing-jwk'

export interface DpopProofOptions {
  method: string
  /** The request URL; query and fragment are dropped as RFC 9449 §4.2 requires. */
  url: string
  /** The access token the proof is bound to (`ath`). */
  accessToken?: string
  nonce?: string
  /** Seconds since the epoch (default now). */
  iat?: number
  jti?: string
  flaw?: DpopProofFlaw
  /** Extra claims or header members, for anything not covered by a named flaw. */
  claims?: Record<string, unknown>
  header?: Record<string, unknown>
}

export function accessTokenHash (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

function stripQuery (url: string): string {
  const u = new URL(url)
  return u.origin + u.pathname
}

function encode (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export async function createDpopProof (key: DpopKey, options: DpopProofOptions): Promise<string> {
  const { flaw } = options
  const now = Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = {
    jti: options.jti ?? randomUUID(),
    htm: flaw === 'wrong-htm' ? (options.method === 'GET' ? 'POST' : 'GET') : options.method,
    htu: flaw === 'wrong-htu' ? stripQuery(options.url) + '/other' : stripQuery(options.url),
    iat: flaw === 'stale-iat' ? now - 3600 : flaw === 'future-iat' ? now + 3600 : options.iat ?? now,
  }
  if (options.accessToken !== undefined && flaw !== 'missing-ath') {
    payload.ath = flaw === 'wrong-ath' ? accessTokenHash(options.accessToken + 'x') : accessTokenHash(options.accessToken)
  }
  if (options.nonce !== undefined) payload.nonce = options.nonce
  if (flaw === 'missing-jti') delete payload.jti
  if (flaw === 'missing-htm') delete payload.htm
  if (flaw === 'missing-htu') delete payload.htu
  if (flaw === 'missing-iat') delete payload.iat
  Object.assign(payload, options.claims)

  let jwk: JWK | undefined = key.publicJwk
  if (flaw === 'private-key-in-jwk') jwk = await exportJWK(key.privateKey)
  if (flaw === 'missing-jwk') jwk = undefined
  const header: Record<string, unknown> = { typ: flaw === 'wrong-typ' ? 'JWT' : 'dpop+jwt', alg: key.alg, jwk, ...options.header }

  if (flaw === 'alg-none') return `${encode({ ...header, alg: 'none' })}.${encode(payload)}.`
  if (flaw === 'hs256') {
    const input = `${encode({ ...header, alg: 'HS256' })}.${encode(payload)}`
    return `${input}.${createHmac('sha256', JSON.stringify(key.publicJwk)).update(input).digest('base64url')}`
  }
  const proof = await new SignJWT(payload).setProtectedHeader(header as never).sign(key.privateKey)
  if (flaw !== 'bad-signature') return proof
  // Flip one character of the signature.
  const last = proof.at(-2) === 'A' ? 'B' : 'A'
  return proof.slice(0, -2) + last + proof.slice(-1)
}
