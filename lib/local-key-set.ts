// A static JSON Web Key Set with a synchronous answer for headers seen before.
// jose's local key set picks the key from the protected header alone (alg,
// kid), so the KeyObject found for one protected-header segment is the answer
// for every token carrying that exact segment: the per-token lookup (an async
// call that walks the set) becomes one Map lookup. Ambiguous or failed lookups
// are never remembered.
import { createLocalJWKSet } from 'jose'
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import type { KeyObject } from 'node:crypto'
import { toKeyObject } from './jws.js'

export interface KnownKeys {
  /** The key already found for this base64url protected header, or undefined. */
  readonly known: (protectedHeader: string) => KeyObject | undefined
}

export type LocalKeySet = JWTVerifyGetKey & KnownKeys

const MAX_REMEMBERED = 64

export function createLocalKeySet (jwks: JSONWebKeySet): LocalKeySet {
  const getKey = createLocalJWKSet(jwks)
  const remembered = new Map<string, KeyObject>()
  async function lookup (header: JWSHeaderParameters, token: FlattenedJWSInput) {
    const key = await getKey(header, token)
    const keyObject = toKeyObject(key)
    // Only a compact JWS: an unprotected header could change the choice.
    if (keyObject !== undefined && token?.header === undefined && typeof token?.protected === 'string') {
      if (remembered.size >= MAX_REMEMBERED) remembered.clear()
      remembered.set(token.protected, keyObject)
    }
    return key
  }
  return Object.assign(lookup, { known: (protectedHeader: string) => remembered.get(protectedHeader) })
}

export function hasKnownKeys (value: unknown): value is KnownKeys {
  return typeof (value as Partial<KnownKeys> | undefined)?.known === 'function'
}
