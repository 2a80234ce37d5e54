// Refresh exactly once. In one process, concurrent callers share one refresh
// per credential. Across processes sharing a store, the refresher holds a
// store lock (SET NX PX) for the token request's timeout plus 5 s, reads the
// record again under it (someone may have refreshed already) and writes the
// result; the others poll the store for the newer record and take over the
// lock if its holder died. A refresh token is never sent twice by live processes.
import { setTimeout as sleep } from 'node:timers/promises'
import { fail } from './errors.js'
import { readCredential, refreshLockKey, toStored } from './records.js'
import type { CredentialRecord } from './records.js'
import type { CredentialStore } from './stores/credential-store.js'

export interface RefreshOptions {
  readonly store: CredentialStore
  /** Seconds the lock lives: the token request's timeout plus 5 s. */
  readonly lockTtl: number
  /** Milliseconds between two looks at the store while another process refreshes (default 100). */
  readonly pollMs?: number
}

/**
 * Runs the refresh of a credential (the token request, mapped to the new
 * record, or to undefined when the refresh token is dead) under the lock.
 */
export type RefreshRun = (latest: CredentialRecord) => Promise<CredentialRecord | undefined>

export type Refresher = (key: string, seen: CredentialRecord, run: RefreshRun) => Promise<CredentialRecord | undefined>

export function createRefresher (options: RefreshOptions): Refresher {
  const { store, lockTtl, pollMs = 100 } = options
  const inFlight = new Map<string, Promise<CredentialRecord | undefined>>()

  async function underLock (key: string, seen: CredentialRecord, run: RefreshRun): Promise<CredentialRecord | undefined> {
    // A waiter gives the holder its whole lock lifetime, then one more look.
    const deadline = Date.now() + lockTtl * 1000 + 2 * pollMs
    for (;;) {
      const lock = await store.lock(refreshLockKey(key), lockTtl)
      if (lock !== undefined) {
        try {
          const latest = readCredential(await store.get(key))
          // Refreshed (or replaced, or deleted) by someone else since this caller read it.
          if (latest === undefined || latest.rev !== seen.rev) return latest
          const next = await run(latest)
          if (next === undefined) await store.delete(key)
          else await store.set(key, toStored(next))
          return next
        } finally {
          await lock.release().catch(() => {})
        }
      }
      const latest = readCredential(await store.get(key))
      if (latest === undefined || latest.rev !== seen.rev) return latest
      if (Date.now() >= deadline) {
        throw fail.token('token.refresh_lock_timeout', `another process holds the refresh lock of this credential and wrote no new token within ${lockTtl} s`)
      }
      await sleep(pollMs)
    }
  }

  return async (key, seen, run) => {
    let pending = inFlight.get(key)
    if (pending === undefined) {
      pending = underLock(key, seen, run).finally(() => inFlight.delete(key))
      inFlight.set(key, pending)
    }
    return await pending
  }
}
