// A static JSON Web Key Set with a synchronous answer for headers seen before.
// jose's local key set picks the key from the protected header alone (alg,
// kid), so the KeyObject found for one protected-header segment is the answer
// for every token carrying that exact segment: the per-token lookup (an async
// call that walks the set) becomes one Map lookup. A key is remembered only
// once a signature has verified with it (so junk headers cannot churn the
// memo), and ambiguous or failed lookups never are.
import { createLocalJWKSet } from 'jose'
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, JWTVerifyGetKey } from 'jose'
import type { KeyObject } from 'node:crypto'
import { toKeyObject } from './jws.js'

/**
 * A key of a remote JWKS as the tokens it verified record it: `withdrawn` turns
 * true once a refresh of that JWKS no longer lists it, and a cached token
 * verified by it is then verified again (lib/verifier.ts).
 */
export interface SigningKey {
  readonly kid: string | undefined
  /** RFC 7638 thumbprint. */
  readonly thumbprint: string
  readonly withdrawn: boolean
}

export interface KnownKeys {
  /** The key already confirmed for this base64url protected header, or undefined. */
  readonly known: (protectedHeader: string) => KeyObject | undefined
  /** A signature verified with the key this set gave for that header: remember it. */
  readonly confirm: (protectedHeader: string) => void
  /** Only remote key sets, which can withdraw keys: the record of a key they gave out. */
  readonly signerOf?: (key: KeyObject) => SigningKey
}

// Only our own key sets carry it: a user's key function is always asked.
const kKnownKeys = Symbol('fastify-mcp-auth.knownKeys')

export type WithKnownKeys<T> = T & { readonly [kKnownKeys]: KnownKeys }
export type LocalKeySet = WithKnownKeys<JWTVerifyGetKey>

const MAX_REMEMBERED = 64

export function createLocalKeySet (jwks: JSONWebKeySet): LocalKeySet {
  const getKey = createLocalJWKSet(jwks)
  const candidates = new Map<string, KeyObject>()
  const remembered = new Map<string, KeyObject>()
  const remember = (map: Map<string, KeyObject>, header: string, key: KeyObject): void => {
    if (map.size >= MAX_REMEMBERED) map.clear()
    map.set(header, key)
  }
  async function lookup (header: JWSHeaderParameters, token: FlattenedJWSInput) {
    const key = await getKey(header, token)
    const keyObject = toKeyObject(key)
    // Only a compact JWS: an unprotected header could change the choice.
    if (keyObject !== undefined && token?.header === undefined && typeof token?.protected === 'string') {
      remember(candidates, token.protected, keyObject)
    }
    return key
  }
  return withKnownKeys(lookup, {
    known: (protectedHeader) => remembered.get(protectedHeader),
    confirm (protectedHeader) {
      const key = candidates.get(protectedHeader)
      if (key !== undefined) remember(remembered, protectedHeader, key)
    },
  })
}

export function withKnownKeys<T extends object> (target: T, knownKeys: KnownKeys): WithKnownKeys<T> {
  return Object.assign(target, { [kKnownKeys]: knownKeys })
}

/** The synchronous answers of one of our key sets, or undefined for any other key source. */
export function knownKeysOf (value: unknown): KnownKeys | undefined {
  return typeof value === 'function' ? (value as Partial<WithKnownKeys<object>>)[kKnownKeys] : undefined
}
