// Remote JWKS: fetched with a timeout, cached, refreshed in the background when
// stale, refetched once (after a cooldown) when a token names an unknown `kid`.
// Keys already held keep serving while the endpoint is down, for a bounded time.
import { errors } from 'jose'
import type { JWTVerifyGetKey } from 'jose'
import { reject } from './errors.js'
import { createLocalKeySet, knownKeysOf, withKnownKeys } from './local-key-set.js'
import type { LocalKeySet, WithKnownKeys } from './local-key-set.js'
import { fetchJson, isJsonObject } from './http.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'

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
}

export interface KeySetStatus {
  readonly uri: string
  /** Epoch milliseconds of the last successful fetch, or undefined. */
  readonly fetchedAt: number | undefined
  readonly lastError: string | undefined
}

export interface RemoteJwks {
  readonly getKey: WithKnownKeys<JWTVerifyGetKey>
  status (): KeySetStatus
}

export function createRemoteJwks (uri: string, options: RemoteJwksOptions): RemoteJwks {
  let local: LocalKeySet | undefined
  let fetchedAt: number | undefined
  let attemptedAt = Number.NEGATIVE_INFINITY
  let lastError: string | undefined
  let inflight: Promise<void> | undefined
  const failureBackoff = Math.min(options.cooldownMs, 2000)

  function reload (): Promise<void> {
    inflight ??= (async () => {
      attemptedAt = options.nowMs()
      try {
        const { status, json } = await fetchJson(uri, { timeoutMs: options.timeoutMs })
        if (status !== 200) throw new Error(`unexpected status ${status}`)
        if (!isJsonObject(json) || !Array.isArray(json.keys)) throw new Error('response is not a JSON Web Key Set')
        local = createLocalKeySet(json as never)
        fetchedAt = options.nowMs()
        lastError = undefined
      } catch (err) {
        lastError = describeError(err).message
        throw err
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  async function load (): Promise<void> {
    // Just failed: fail fast instead of sending every request's fetch to a down endpoint.
    if (inflight === undefined && lastError !== undefined && options.nowMs() - attemptedAt < failureBackoff) {
      throw reject.unavailable('jwks.unreachable', new Error(lastError))
    }
    try {
      await reload()
    } catch (err) {
      options.logger.error({ jwksUri: uri, err: describeError(err) }, 'mcp-auth: JWKS fetch failed')
      throw reject.unavailable('jwks.unreachable', err)
    }
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const now = options.nowMs()
    if (local === undefined || fetchedAt === undefined || now - fetchedAt > options.maxAgeMs + options.staleIfErrorMs) {
      // Nothing usable held: the request waits for the (shared) fetch.
      await load()
    } else if (now - fetchedAt > options.maxAgeMs && inflight === undefined && now - attemptedAt >= options.cooldownMs) {
      // Stale: serve what we have, refresh in the background (at most once per cooldown).
      reload().catch((err) => {
        options.logger.warn({ jwksUri: uri, err: describeError(err) }, 'mcp-auth: JWKS background refresh failed, keeping cached keys')
      })
    }
    try {
      return await (local as LocalKeySet)(header, token)
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err
      // Unknown kid: the issuer may have rotated. Refetch at most once per cooldown.
      if (options.nowMs() - attemptedAt < options.cooldownMs) throw err
      await load()
      return (local as LocalKeySet)(header, token)
    }
  }

  // The synchronous answer only while the keys are fresh: anything older takes
  // the path above, which refreshes or drops them.
  const known = (protectedHeader: string) => {
    if (local === undefined || fetchedAt === undefined || options.nowMs() - fetchedAt > options.maxAgeMs) return undefined
    return knownKeysOf(local)?.known(protectedHeader)
  }
  // Into the current set: a key found in a set replaced since is not among its candidates.
  const confirm = (protectedHeader: string) => knownKeysOf(local)?.confirm(protectedHeader)

  return {
    getKey: withKnownKeys(getKey, { known, confirm }),
    status: () => ({ uri, fetchedAt, lastError }),
  }
}
