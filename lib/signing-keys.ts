// The keys of one remote JWKS as the tokens they verify record them (see
// SigningKey): a refresh marks every key it no longer lists withdrawn, so the
// cached tokens it verified are verified again, and keeps the record of every
// key it still lists, so their tokens stay cached.
import type { KeyObject } from 'node:crypto'
import { isJsonObject } from './http.js'
import { jwkThumbprint } from './jwk-thumbprint.js'

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

interface SigningKeyRecord { readonly kid: string | undefined, readonly thumbprint: string, withdrawn: boolean }

export interface SigningKeys {
  /** A fetched JWKS replaces the listed keys. */
  replace (keys: readonly unknown[]): void
  /** The record of a key this JWKS gave out; a withdrawn one if it lists it no more. */
  signerOf (key: KeyObject): SigningKey
}

// A key given out by a set replaced since, and absent from the current one.
const GONE: SigningKey = Object.freeze({ kid: undefined, thumbprint: '', withdrawn: true })

export function createSigningKeys (): SigningKeys {
  const listed = new Map<string, SigningKeyRecord>()
  // Exporting and hashing a key costs: once per KeyObject (a fetched set's keys are imported once).
  const byKeyObject = new WeakMap<KeyObject, SigningKey>()
  return {
    replace (keys) {
      const next = new Map<string, string | undefined>()
      for (const jwk of keys) {
        if (!isJsonObject(jwk)) continue
        const thumbprint = jwkThumbprint(jwk)
        if (thumbprint !== undefined) next.set(thumbprint, typeof jwk.kid === 'string' ? jwk.kid : undefined)
      }
      for (const [thumbprint, record] of listed) {
        if (next.has(thumbprint)) continue
        record.withdrawn = true
        listed.delete(thumbprint)
      }
      for (const [thumbprint, kid] of next) {
        if (!listed.has(thumbprint)) listed.set(thumbprint, { kid, thumbprint, withdrawn: false })
      }
    },
    signerOf (key) {
      let signer = byKeyObject.get(key)
      if (signer === undefined) {
        let thumbprint: string | undefined
        try {
          thumbprint = jwkThumbprint(key.export({ format: 'jwk' }) as Record<string, unknown>)
        } catch {}
        signer = (thumbprint === undefined ? undefined : listed.get(thumbprint)) ?? GONE
        byKeyObject.set(key, signer)
      }
      return signer
    },
  }
}
