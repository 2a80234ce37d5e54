// What requests depend on fetching: the verification keys (JWT verification
// with discovered or `{ uri }` keys) or the introspection endpoint found in the
// issuer's metadata. Fetched at start-up (`jwks.warmUp`) and reported by the
// health route; static keys, key functions and custom verifiers need nothing.
import type { IssuerMetadataCache } from './discovery.js'
import { failureCause } from './fetch-failure.js'
import type { KeyResolver, KeySetReport, WarmUpFailure } from './key-resolver.js'
import type { Verification } from './options.js'

export interface Readiness {
  /** Fetches everything requests depend on; resolves with what failed. */
  warmUp (): Promise<WarmUpFailure[]>
  /** The remote key sets requests depend on, and how their fetches went. */
  keySets (): KeySetReport[]
}

export function createReadiness (verification: Verification, keys: KeyResolver, discovery: IssuerMetadataCache, issuers: ReadonlySet<string>): Readiness {
  if (verification.kind === 'jwt') return { warmUp: () => keys.warmUp(), keySets: () => keys.status() }
  const [onlyIssuer] = issuers
  if (verification.kind === 'introspection' && verification.endpoint === undefined && onlyIssuer !== undefined) {
    return {
      async warmUp () {
        try {
          await discovery.warmUp(onlyIssuer)
          return []
        } catch (error) {
          return [{ source: onlyIssuer, cause: failureCause(error), error }]
        }
      },
      keySets: () => [],
    }
  }
  return { warmUp: async () => [], keySets: () => [] }
}
