// DPoP keys and proof handles (RFC 9449). oauth4webapi signs every proof and
// keeps server nonces per origin inside a handle; this module gives each key
// two handles, one per server role, so an authorization server and an MCP
// server sharing an origin never overwrite each other's nonce.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose'
import type { JWK } from 'jose'
import { LRUCache } from 'lru-cache'
import * as oauth from 'oauth4webapi'
import type { CryptoKey, CryptoKeyPair } from 'oauth4webapi'

export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'Ed25519'] as const
export type DpopAlgorithm = typeof DPOP_ALGORITHMS[number]

export interface DpopKey {
  /** RFC 7638 thumbprint of the public key: the token's `cnf.jkt`. */
  readonly jkt: string
  readonly algorithm: DpopAlgorithm
  readonly keyPair: CryptoKeyPair
  /**
   * The private JWK of a key the client generated, stored (encrypted) with the
   * credential it is bound to so a restart keeps the binding. Undefined for a
   * caller-supplied key, which the caller keeps.
   */
  readonly privateJwk: JWK | undefined
}

export interface DpopRoleHandles {
  readonly authorizationServer: oauth.DPoPHandle
  readonly resourceServer: oauth.DPoPHandle
}

function publicPart (jwk: JWK): JWK {
  const { d, p, q, dp, dq, qi, ...rest } = jwk
  return rest
}

/** A fresh key pair whose private half can be stored with the credential. */
export async function generateDpopKey (algorithm: DpopAlgorithm): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true })
  const privateJwk = { ...await exportJWK(privateKey), alg: algorithm }
  // Re-import the private half as non-extractable for signing: the stored JWK is the only copy out.
  return await importDpopKey(privateJwk, publicKey)
}

/** The key stored with a credential. */
export async function importDpopKey (privateJwk: JWK, publicKey?: CryptoKey): Promise<DpopKey> {
  const algorithm = privateJwk.alg as DpopAlgorithm
  if (!DPOP_ALGORITHMS.includes(algorithm)) throw new TypeError(`unsupported DPoP key algorithm ${String(privateJwk.alg)}`)
  const privateKey = await importJWK(privateJwk, algorithm, { extractable: false }) as CryptoKey
  // oauth4webapi embeds the public key in each proof, so it must be extractable.
  const pub = publicKey ?? await importJWK(publicPart(privateJwk), algorithm, { extractable: true }) as CryptoKey
  const jkt = await calculateJwkThumbprint(publicPart(privateJwk), 'sha256')
  return Object.freeze({ jkt, algorithm, keyPair: { privateKey, publicKey: pub }, privateJwk: Object.freeze({ ...privateJwk }) })
}

/** A caller-supplied key pair (its public key must be extractable). */
export async function dpopKeyFromPair (keyPair: CryptoKeyPair): Promise<DpopKey> {
  const publicJwk = await exportJWK(keyPair.publicKey)
  const algorithm = algorithmOf(keyPair.privateKey)
  return Object.freeze({ jkt: await calculateJwkThumbprint(publicJwk, 'sha256'), algorithm, keyPair, privateJwk: undefined })
}

function algorithmOf (key: CryptoKey): DpopAlgorithm {
  const algorithm = key.algorithm as { name: string, namedCurve?: string, hash?: { name: string } }
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ES256'
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-384') return 'ES384'
  if (algorithm.name === 'RSA-PSS' && algorithm.hash?.name === 'SHA-256') return 'PS256'
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.hash?.name === 'SHA-256') return 'RS256'
  if (algorithm.name === 'Ed25519') return 'Ed25519'
  throw new TypeError(`unsupported DPoP key (${algorithm.name}); use one of ${DPOP_ALGORITHMS.join(', ')}`)
}

/**
 * Proof handles per key, one per server role. Nonces live in the handles
 * (oauth4webapi keys them by origin inside each), so a role never reads the
 * other's nonce and an extra use_dpop_nonce round trip per switch cannot happen.
 */
export function createDpopHandles (maxKeys = 1000): (key: DpopKey) => DpopRoleHandles {
  const handles = new LRUCache<string, DpopRoleHandles>({ max: maxKeys })
  return (key) => {
    let pair = handles.get(key.jkt)
    if (pair === undefined) {
      pair = Object.freeze({
        authorizationServer: oauth.DPoP({}, key.keyPair),
        resourceServer: oauth.DPoP({}, key.keyPair),
      })
      handles.set(key.jkt, pair)
    }
    return pair
  }
}
