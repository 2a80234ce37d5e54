// The health decision: ready (200) only when every key set requests depend on
// is usable, the replay and session stores answer, and a co-hosted
// authorization server's store is reachable; otherwise 503. The body names each key set's age and
// cause code, never an error message (the route is often public).
import type { FailureCause } from './fetch-failure.js'
import { failureCause, FetchFailure } from './fetch-failure.js'
import type { KeySetReport } from './key-resolver.js'
import type { ReplayStore } from './stores/replay-store.js'
import type { SessionStore } from './stores/session-store.js'

export interface HealthInput {
  /** The remote key sets requests depend on (lib/readiness.ts). */
  readonly keySets: readonly KeySetReport[]
  /** Milliseconds on the clock the key sets' fetchedAt uses. */
  readonly nowMs: number
  /** Keys younger than this are fresh. */
  readonly maxAgeMs: number
  /** Keys serve this long past maxAge while their endpoint fails. */
  readonly staleIfErrorMs: number
  readonly replayStore: ReplayStore | undefined
  /** The session binding's store (`sessionBinding`), if any. */
  readonly sessionStore: SessionStore | undefined
  /** How long a store's ping may take. */
  readonly timeoutMs: number
  /** A co-hosted authorization server's own report, if there is one. */
  readonly authorizationServer: { readonly store: { readonly reachable: boolean }, readonly keys?: unknown } | undefined
}

export interface KeySetHealth {
  readonly issuer: string | undefined
  readonly uri: string | undefined
  readonly ageSeconds: number | undefined
  readonly fresh: boolean
  readonly usable: boolean
  readonly cause: FailureCause | undefined
}

export interface StoreHealth {
  readonly reachable: boolean | null
  readonly cause?: FailureCause
}

export interface Health {
  readonly statusCode: 200 | 503
  readonly body: {
    readonly status: 'ok' | 'unavailable'
    readonly jwks: readonly KeySetHealth[]
    readonly replayStore: StoreHealth | undefined
    readonly sessionStore: StoreHealth | undefined
    readonly authorizationServer: HealthInput['authorizationServer']
  }
}

export async function checkHealth (input: HealthInput): Promise<Health> {
  const jwks = input.keySets.map(({ issuer, uri, fetchedAt, cause }) => {
    const ageMs = fetchedAt === undefined ? undefined : input.nowMs - fetchedAt
    return {
      issuer,
      uri,
      ageSeconds: ageMs === undefined ? undefined : Math.round(ageMs / 1000),
      fresh: ageMs !== undefined && ageMs <= input.maxAgeMs,
      // A key set never fetched is not ready: requests that need it would wait or fail.
      usable: ageMs !== undefined && ageMs <= input.maxAgeMs + input.staleIfErrorMs,
      cause,
    }
  })
  const replayStore = input.replayStore === undefined ? undefined : await pingStore(input.replayStore, input.timeoutMs)
  const sessionStore = input.sessionStore === undefined ? undefined : await pingStore(input.sessionStore, input.timeoutMs)
  const { authorizationServer } = input
  const ok = jwks.every((set) => set.usable) && replayStore?.reachable !== false && sessionStore?.reachable !== false && authorizationServer?.store.reachable !== false
  return { statusCode: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unavailable', jwks, replayStore, sessionStore, authorizationServer } }
}

/** `reachable: null` when the store has no ping() (it cannot tell); a ping gets `timeoutMs`. */
export async function pingStore (store: Pick<ReplayStore | SessionStore, 'ping'>, timeoutMs: number): Promise<StoreHealth> {
  if (typeof store.ping !== 'function') return { reachable: null }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.resolve().then(() => store.ping?.()),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new FetchFailure('timeout', 'the store did not answer PING in time')), timeoutMs)
      }),
    ])
    return { reachable: true }
  } catch (err) {
    return { reachable: false, cause: failureCause(err) }
  } finally {
    clearTimeout(timer)
  }
}
