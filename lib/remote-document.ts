// One remote document (an issuer's metadata, a JWKS) as the plugin holds it:
// the last good copy and when it came, the last failure and its cause, and the
// one fetch in flight. Every remote document follows the same rules for when a
// request is served the copy, refreshes it in the background, waits for a
// fetch, or is refused at once (503) because the endpoint just failed.
import type { McpAuthError } from './errors.js'
import { failureCause } from './fetch-failure.js'
import type { FailureCause } from './fetch-failure.js'

export interface RemoteDocumentOptions<T> {
  /** Fetches and checks the document; throws (a FetchFailure, ideally) when it cannot. */
  readonly fetch: (signal: AbortSignal | undefined) => Promise<T>
  /** Least time between two fetches that are not forced by having nothing usable. */
  readonly cooldownMs: number
  /** Age after which the copy is refreshed in the background. */
  readonly maxAgeMs: number
  /** How long past maxAge the copy still serves while fetches fail. */
  readonly staleIfErrorMs: number
  /** Milliseconds, monotonic. */
  readonly nowMs: () => number
  /** Aborted when the app closes: the fetch in flight stops. */
  readonly signal?: AbortSignal
  /** The 503 for a request that can have no usable copy. */
  readonly unavailable: (cause: unknown) => McpAuthError
  /** A fetch failed (not called once the app is closing); `kept`: a usable copy still serves. */
  readonly failed: (cause: FailureCause, err: unknown, kept: boolean) => void
}

export interface DocumentStatus {
  /** Milliseconds (the nowMs clock) of the last successful fetch, or undefined. */
  readonly fetchedAt: number | undefined
  /** Why the last fetch failed; undefined once one succeeds. */
  readonly cause: FailureCause | undefined
  /** Milliseconds (the nowMs clock) of the last fetch attempt, successful or not, or undefined. */
  readonly attemptedAt: number | undefined
}

export interface RemoteDocument<T> {
  /**
   * The copy while it is usable (refreshed in the background once stale, at most
   * once per cooldown); else the result of a fetch. Rejects with `unavailable`.
   */
  get (): Promise<T>
  /** The copy, however old. */
  latest (): T | undefined
  /**
   * Fetches again (the copy lacks something, e.g. an unknown `kid`) unless a fetch
   * started less than a cooldown ago: then undefined. Rejects with `unavailable`.
   */
  refetch (): Promise<T | undefined>
  /** Starts (or joins) a fetch now; rejects with the fetch's own error. Its failure opens no fail-fast window. */
  warmUp (): Promise<T>
  status (): DocumentStatus
}

export function createRemoteDocument<T> (options: RemoteDocumentOptions<T>): RemoteDocument<T> {
  const { nowMs } = options
  let value: T | undefined
  let fetchedAt: number | undefined
  let attemptedAt = Number.NEGATIVE_INFINITY
  // Set while the last fetch failed: the fail-fast window is counted from here.
  let failedAt: number | undefined
  let lastError: unknown
  let cause: FailureCause | undefined
  let inflight: Promise<T> | undefined
  // A down endpoint is not asked again by every request: this long after a failure, answer 503 at once.
  const failFastMs = Math.min(options.cooldownMs, 2000)

  // Like HTTP caching: fresh while younger than maxAge, usable while younger than maxAge + staleIfError.
  const usable = (now: number): boolean => fetchedAt !== undefined && now - fetchedAt < options.maxAgeMs + options.staleIfErrorMs

  // A warm-up's failure is logged and reported, but opens no fail-fast window: it
  // was no request's, and it may precede the endpoint (an authorization server
  // hosted by this very app is not listening yet at ready()).
  function fetchNow (warmUp = false): Promise<T> {
    inflight ??= (async () => {
      attemptedAt = nowMs()
      try {
        const next = await options.fetch(options.signal)
        value = next
        fetchedAt = nowMs()
        failedAt = undefined
        lastError = undefined
        cause = undefined
        return next
      } catch (err) {
        const now = nowMs()
        if (!warmUp) failedAt = now
        lastError = err
        cause = failureCause(err)
        if (options.signal?.aborted !== true) options.failed(cause, err, usable(now))
        throw err
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  return {
    async get () {
      const now = nowMs()
      if (usable(now)) {
        if (now - (fetchedAt as number) >= options.maxAgeMs && inflight === undefined && now - attemptedAt >= options.cooldownMs) {
          // Logged through `failed`; the copy keeps serving.
          fetchNow().catch(() => {})
        }
        return value as T
      }
      // Nothing usable, and the endpoint just failed: refuse at once, also while
      // one request's retry is in flight, instead of queueing every request on it.
      if (failedAt !== undefined && (inflight !== undefined || now - failedAt < failFastMs)) throw options.unavailable(lastError)
      try {
        return await fetchNow()
      } catch (err) {
        throw options.unavailable(err)
      }
    },
    latest: () => value,
    async refetch () {
      if (nowMs() - attemptedAt < options.cooldownMs) return undefined
      try {
        return await fetchNow()
      } catch (err) {
        throw options.unavailable(err)
      }
    },
    warmUp: () => fetchNow(true),
    status: () => ({ fetchedAt, cause, attemptedAt: attemptedAt === Number.NEGATIVE_INFINITY ? undefined : attemptedAt }),
  }
}
