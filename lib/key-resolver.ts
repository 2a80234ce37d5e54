// Where access-token verification keys come from: a static JWKS, one remote
// JWKS, a user key function, or (default) the jwks_uri discovered per issuer.
// With discovery, keys are looked up per issuer, so one issuer's key never
// verifies another issuer's token; a configured `jwks` is one key set shared by
// every configured issuer (e.g. Entra's v1 and v2 issuers share keys).
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose'
import type { IssuerMetadataCache } from './discovery.js'
import { reject } from './errors.js'
import type { KeySetStatus, RemoteJwks, RemoteJwksOptions } from './jwks.js'
import { createRemoteJwks } from './jwks.js'
import { createLocalKeySet } from './local-key-set.js'

export type KeySource =
  | { readonly kind: 'keys', readonly keys: JSONWebKeySet }
  | { readonly kind: 'uri', readonly uri: string }
  | { readonly kind: 'function', readonly getKey: JWTVerifyGetKey }
  | { readonly kind: 'discovery' }

export interface KeyResolver {
  /** The key function for tokens from `issuer` (already checked to be trusted). */
  keyFor (issuer: string): JWTVerifyGetKey | Promise<JWTVerifyGetKey>
  /** Freshness of every remote key set, for health reporting. */
  status (): KeySetStatus[]
}

export interface KeyResolverOptions {
  readonly source: KeySource
  readonly remote: RemoteJwksOptions
  readonly discovery: IssuerMetadataCache
}

export function createKeyResolver (options: KeyResolverOptions): KeyResolver {
  const { source } = options
  switch (source.kind) {
    case 'keys': {
      const getKey = createLocalKeySet(source.keys)
      return { keyFor: () => getKey, status: () => [] }
    }
    case 'function':
      return { keyFor: () => source.getKey, status: () => [] }
    case 'uri': {
      const remote = createRemoteJwks(source.uri, options.remote)
      return { keyFor: () => remote.getKey, status: () => [remote.status()] }
    }
    case 'discovery': {
      const byUri = new Map<string, RemoteJwks>()
      return {
        async keyFor (issuer) {
          const metadata = await options.discovery.get(issuer)
          const uri = metadata.jwks_uri
          if (uri === undefined) throw reject.unavailable('discovery.failed', new Error(`issuer ${issuer} publishes no jwks_uri`))
          let remote = byUri.get(uri)
          if (remote === undefined) {
            remote = createRemoteJwks(uri, options.remote)
            byUri.set(uri, remote)
          }
          return remote.getKey
        },
        status: () => [...byUri.values()].map((r) => r.status()),
      }
    }
  }
}
