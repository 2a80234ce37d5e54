// Where access-token verification keys come from: a static JWKS, one remote
// JWKS, a user key function, or (default) the jwks_uri discovered per issuer.
// With discovery, keys are looked up per issuer, so one issuer's key never
// verifies another issuer's token; a configured `jwks` is one key set shared by
// every configured issuer (e.g. Entra's v1 and v2 issuers share keys). The key
// sets of tenants' issuers share a bounded LRU, like their metadata.
import { LRUCache } from 'lru-cache'
import { createLocalJWKSet } from 'jose/jwks/local'
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose'
import type { KeyObject } from 'node:crypto'
import type { IssuerMetadataCache } from './discovery.js'
import { isMcpAuthError, reject } from './errors.js'
import { failureCause, FetchFailure } from './fetch-failure.js'
import type { FailureCause } from './fetch-failure.js'
import type { RemoteJwks, RemoteJwksOptions } from './jwks.js'
import { createRemoteJwks } from './jwks.js'
import type { SigningKey } from './signing-keys.js'

export type KeySource =
  | { readonly kind: 'keys', readonly keys: JSONWebKeySet }
  | { readonly kind: 'uri', readonly uri: string }
  | { readonly kind: 'function', readonly getKey: JWTVerifyGetKey }
  | { readonly kind: 'discovery' }

/** One remote key set the configured issuers' tokens need (health reporting). */
export interface KeySetReport {
  /** With discovery, the issuer whose jwks_uri it is. */
  readonly issuer: string | undefined
  /** The JWKS URL, once known. */
  readonly uri: string | undefined
  /** Milliseconds (nowMs) of its last successful fetch, or undefined. */
  readonly fetchedAt: number | undefined
  /** Why the last fetch of the keys (or of the issuer's metadata) failed. */
  readonly cause: FailureCause | undefined
  /** A tenant's issuer (from a resolver), reported while it was fetched recently; else configured. */
  readonly tenant: boolean
}

export interface WarmUpFailure {
  /** The issuer or JWKS URL that could not be fetched. */
  readonly source: string
  readonly cause: FailureCause
  readonly error: unknown
}

/** Where a token's verification key comes from, as an explicit object (never a function with extra properties). */
export interface KeySet {
  /** Picks the key for a token's protected header (jose's key function contract). */
  readonly getKey: JWTVerifyGetKey
  /** Remote key sets only, which can withdraw keys: the record of a key this set gave out. */
  readonly signerOf?: (key: KeyObject) => SigningKey
}

export interface KeyResolver {
  /** The key set for tokens from `issuer` (already checked to be trusted). */
  keyFor (issuer: string): Promise<KeySet>
  /** Every remote key set: one per issuer with discovery, the one `{ uri }`, none for static keys. */
  status (): KeySetReport[]
  /** Fetches every remote key set (and the metadata leading to it) now; resolves with what failed. */
  warmUp (): Promise<WarmUpFailure[]>
}

export interface KeyResolverOptions {
  readonly source: KeySource
  readonly remote: RemoteJwksOptions
  readonly discovery: IssuerMetadataCache
  /** Every configured issuer. */
  readonly issuers: ReadonlySet<string>
  /** Most key sets of tenants' issuers held (default 1000). */
  readonly maxIssuers?: number
  /** Tenants' issuers fetched within this many milliseconds are reported by status() (default none). */
  readonly recentMs?: number
}

/** A metadata failure on the way to the keys: the client is told the keys are unavailable. */
function keysUnavailable (err: unknown): unknown {
  return isMcpAuthError(err) && err.statusCode === 503 ? reject.keysUnavailable(err.reason, err.cause) : err
}

export function createKeyResolver (options: KeyResolverOptions): KeyResolver {
  const { source } = options
  switch (source.kind) {
    case 'keys': {
      const keySet: KeySet = { getKey: createLocalJWKSet(source.keys) }
      return { keyFor: async () => keySet, status: () => [], warmUp: async () => [] }
    }
    case 'function': {
      const keySet: KeySet = { getKey: source.getKey }
      return { keyFor: async () => keySet, status: () => [], warmUp: async () => [] }
    }
    case 'uri': {
      const remote = createRemoteJwks(source.uri, options.remote)
      return {
        keyFor: async () => remote.keySet,
        status: () => [{ issuer: undefined, ...remote.status(), tenant: false }],
        async warmUp () {
          try {
            await remote.warmUp()
            return []
          } catch (error) {
            return [{ source: source.uri, cause: failureCause(error), error }]
          }
        },
      }
    }
    case 'discovery':
      return createDiscoveredKeys(options)
  }
}

function createDiscoveredKeys (options: KeyResolverOptions): KeyResolver {
  const { discovery } = options
  // Keyed by jwks_uri: tenants' issuers often share one (Entra's common keys).
  const configured = new Map<string, RemoteJwks>()
  const tenants = new LRUCache<string, RemoteJwks>({ max: options.maxIssuers ?? 1000 })

  function remoteFor (issuer: string, uri: string | undefined): RemoteJwks {
    if (uri === undefined) throw new FetchFailure('no_jwks_uri', `issuer ${issuer} publishes no jwks_uri`)
    const byUri = options.issuers.has(issuer) ? configured : tenants
    let remote = byUri.get(uri)
    if (remote === undefined) {
      remote = createRemoteJwks(uri, options.remote)
      byUri.set(uri, remote)
    }
    return remote
  }

  function report (issuer: string, tenant: boolean): KeySetReport {
    const metadata = discovery.status(issuer)
    const uri = metadata.metadata?.jwks_uri
    const keys = uri === undefined ? undefined : (configured.get(uri) ?? tenants.peek(uri))?.status()
    const missing = metadata.metadata !== undefined && uri === undefined ? 'no_jwks_uri' : undefined
    return { issuer, uri, fetchedAt: keys?.fetchedAt, cause: keys?.cause ?? metadata.cause ?? missing, tenant }
  }

  /** Tenants' issuers whose metadata or keys were fetched (or tried) within recentMs. */
  function recentTenantIssuers (): string[] {
    if (options.recentMs === undefined) return []
    const since = options.remote.nowMs() - options.recentMs
    return discovery.tenantIssuers().filter((issuer) => {
      const metadata = discovery.status(issuer)
      const uri = metadata.metadata?.jwks_uri
      const keys = uri === undefined ? undefined : tenants.peek(uri)?.status()
      return Math.max(metadata.attemptedAt ?? -Infinity, keys?.attemptedAt ?? -Infinity) >= since
    })
  }

  return {
    async keyFor (issuer) {
      try {
        const metadata = await discovery.get(issuer)
        return remoteFor(issuer, metadata.jwks_uri).keySet
      } catch (err) {
        if (err instanceof FetchFailure) throw reject.keysUnavailable('discovery.failed', err)
        throw keysUnavailable(err)
      }
    },
    status () {
      return [
        ...[...options.issuers].map((issuer) => report(issuer, false)),
        ...recentTenantIssuers().map((issuer) => report(issuer, true)),
      ]
    },
    async warmUp () {
      const failures: WarmUpFailure[] = []
      await Promise.all([...options.issuers].map(async (issuer) => {
        try {
          const metadata = await discovery.warmUp(issuer)
          await remoteFor(issuer, metadata.jwks_uri).warmUp()
        } catch (error) {
          failures.push({ source: issuer, cause: failureCause(error), error })
        }
      }))
      return failures
    },
  }
}
