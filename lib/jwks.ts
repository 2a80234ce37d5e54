// A remote JSON Web Key Set (a configured `jwks.uri` or a discovered jwks_uri),
// held as a remote document (lib/remote-document.ts): fetched once, refreshed in
// the background past cacheMaxAge, refetched for an unknown `kid` at most once
// per cooldown, and served stale while the endpoint is down, for a bounded time.
// Keys a refresh no longer lists are withdrawn (lib/signing-keys.ts).
import { createLocalJWKSet } from 'jose/jwks/local'
import { JWKSNoMatchingKey } from 'jose/errors'
import type { JWTVerifyGetKey } from 'jose'
import type { KeyObject } from 'node:crypto'
import { reject } from './errors.js'
import { FetchFailure } from './fetch-failure.js'
import type { FailureCause } from './fetch-failure.js'
import type { FetchLimit } from './fetch-limit.js'
import { fetchJson, isJsonObject } from './http.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import { createRemoteDocument } from './remote-document.js'
import { createSigningKeys } from './signing-keys.js'
import type { SigningKey } from './signing-keys.js'

export interface RemoteJwksOptions {
  readonly timeoutMs: number
  /** Minimum time between two refetches triggered by an unknown `kid`. */
  readonly cooldownMs: number
  /** Age after which keys are refreshed in the background. */
  readonly maxAgeMs: number
  /** How long past maxAge keys may serve while the endpoint fails. */
  readonly staleIfErrorMs: number
  readonly nowMs: () => number
  readonly logger: Logger
  /** Aborted when the app closes. */
  readonly signal?: AbortSignal
  /** Shared with issuer metadata fetches: how many run at once. */
  readonly limit?: FetchLimit
}

export interface KeySetStatus {
  readonly uri: string
  /** Milliseconds (nowMs) of the last successful fetch, or undefined. */
  readonly fetchedAt: number | undefined
  /** Why the last fetch failed; undefined once one succeeds. */
  readonly cause: FailureCause | undefined
  /** Milliseconds (nowMs) of the last fetch attempt, or undefined. */
  readonly attemptedAt: number | undefined
}

export interface RemoteJwks {
  /** jose's key function over the current keys, and the record of each key it gave out (a KeySet). */
  readonly keySet: { readonly getKey: JWTVerifyGetKey, readonly signerOf: (key: KeyObject) => SigningKey }
  /** Fetches now (start-up); rejects with the fetch's own error. */
  warmUp (): Promise<void>
  status (): KeySetStatus
}

export function createRemoteJwks (uri: string, options: RemoteJwksOptions): RemoteJwks {
  const signingKeys = createSigningKeys()
  const document = createRemoteDocument<JWTVerifyGetKey>({
    ...options,
    async fetch (signal) {
      const fetchKeys = (): ReturnType<typeof fetchJson> => fetchJson(uri, { timeoutMs: options.timeoutMs, signal })
      const { status, json } = await (options.limit === undefined ? fetchKeys() : options.limit.run(fetchKeys, signal))
      if (status !== 200) throw new FetchFailure(`http_${status}`, `unexpected status ${status} from ${uri}`)
      if (!isJsonObject(json) || !Array.isArray(json.keys)) throw new FetchFailure('invalid_response', `the response from ${uri} is not a JSON Web Key Set`)
      const keySet = createLocalJWKSet(json as never)
      signingKeys.replace(json.keys)
      return keySet
    },
    unavailable: (cause) => reject.unavailable('jwks.unreachable', cause),
    failed (cause, err, kept) {
      if (kept) options.logger.warn({ jwksUri: uri, cause, err: describeError(err) }, 'mcp-auth: JWKS background refresh failed, keeping cached keys')
      else options.logger.error({ jwksUri: uri, cause, err: describeError(err) }, 'mcp-auth: JWKS fetch failed')
    },
  })

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const keys = await document.get()
    try {
      return await keys(header, token)
    } catch (err) {
      if (!(err instanceof JWKSNoMatchingKey)) throw err
      // Unknown kid: the issuer may have rotated. Refetch at most once per cooldown.
      const refetched = await document.refetch()
      if (refetched === undefined) throw err
      return refetched(header, token)
    }
  }

  return {
    keySet: { getKey, signerOf: signingKeys.signerOf },
    warmUp: async () => { await document.warmUp() },
    status: () => ({ uri, ...document.status() }),
  }
}
