// Remote JWKS: fetched with a timeout, cached, refreshed in the background when
// stale, refetched once (after a cooldown) when a token names an unknown `kid`.
// Keys already held keep serving while the endpoint is down, for a bounded time.
import type { KeyObject } from 'node:crypto'
import { errors } from 'jose'
import type { JWTVerifyGetKey } from 'jose'
import { reject } from './errors.js'
import { jwkThumbprint } from './jwk-thumbprint.js'
import { createLocalKeySet, knownKeysOf, withKnownKeys } from './local-key-set.js'
import type { LocalKeySet, SigningKey, WithKnownKeys } from './local-key-set.js'
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
  const signingKeys = createSigningKeys()

  function reload (): Promise<void> {
    inflight ??= (async () => {
      attemptedAt = options.nowMs()
      try {
        const { status, json } = await fetchJson(uri, { timeoutMs: options.timeoutMs })
        if (status !== 200) throw new Error(`unexpected status ${status}`)
        if (!isJsonObject(json) || !Array.isArray(json.keys)) throw new Error('response is not a JSON Web Key Set')
        local = createLocalKeySet(json as never)
        signingKeys.replace(json.keys)
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
    getKey: withKnownKeys(getKey, { known, confirm, signerOf: signingKeys.signerOf }),
    status: () => ({ uri, fetchedAt, lastError }),
  }
}

interface SigningKeyRecord { readonly kid: string | undefined, readonly thumbprint: string, withdrawn: boolean }

// A key given out by a set replaced since and absent from the current one.
const GONE: SigningKey = Object.freeze({ kid: undefined, thumbprint: '', withdrawn: true })

/**
 * The keys of the current set by thumbprint. A refresh marks every key it no
 * longer lists withdrawn (the tokens that recorded it are verified again), and
 * keeps the record of every key it still lists (its tokens stay cached).
 */
function createSigningKeys (): { replace (keys: unknown[]): void, signerOf (key: KeyObject): SigningKey } {
  const current = new Map<string, SigningKeyRecord>()
  // Exporting and hashing a key costs: once per KeyObject (a set's keys are imported once).
  const byKeyObject = new WeakMap<KeyObject, SigningKey>()
  return {
    replace (keys) {
      const listed = new Map<string, string | undefined>()
      for (const jwk of keys) {
        if (!isJsonObject(jwk)) continue
        const thumbprint = jwkThumbprint(jwk)
        if (thumbprint !== undefined) listed.set(thumbprint, typeof jwk.kid === 'string' ? jwk.kid : undefined)
      }
      for (const [thumbprint, record] of current) {
        if (listed.has(thumbprint)) continue
        record.withdrawn = true
        current.delete(thumbprint)
      }
      for (const [thumbprint, kid] of listed) {
        if (!current.has(thumbprint)) current.set(thumbprint, { kid, thumbprint, withdrawn: false })
      }
    },
    signerOf (key) {
      let signer = byKeyObject.get(key)
      if (signer === undefined) {
        let thumbprint: string | undefined
        try {
          thumbprint = jwkThumbprint(key.export({ format: 'jwk' }) as Record<string, unknown>)
        } catch {}
        signer = (thumbprint === undefined ? undefined : current.get(thumbprint)) ?? GONE
        byKeyObject.set(key, signer)
      }
      return signer
    },
  }
}
