// Credentials in process memory: for a CLI or a single-process app. Records are
// copied in and out, so no caller holds a reference into the store; expired
// entries vanish on read and are swept as the store grows.
import { randomUUID } from 'node:crypto'
import type { CredentialStore, StoreLock, StoredRecord } from './credential-store.js'

interface Entry {
  readonly record: StoredRecord
  readonly expiresAt: number
}

const SWEEP_EVERY = 256

function copy (record: StoredRecord): StoredRecord {
  return Object.freeze(structuredClone(record) as StoredRecord)
}

/** A CredentialStore in this process's memory (lost on exit; not shared between processes). */
export function memoryCredentialStore (): CredentialStore {
  const entries = new Map<string, Entry>()
  const locks = new Map<string, { token: string, expiresAt: number }>()
  let writes = 0

  function live (key: string, now = Date.now()): Entry | undefined {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  function sweep (): void {
    const now = Date.now()
    for (const key of entries.keys()) live(key, now)
    for (const [key, lock] of locks) if (lock.expiresAt <= now) locks.delete(key)
  }

  return {
    async get (key) {
      const entry = live(key)
      return entry === undefined ? undefined : copy(entry.record)
    },
    async set (key, record, ttlSeconds) {
      if (++writes % SWEEP_EVERY === 0) sweep()
      const expiresAt = ttlSeconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + ttlSeconds * 1000
      entries.set(key, { record: copy(record), expiresAt })
    },
    async delete (key) {
      entries.delete(key)
    },
    async take (key) {
      const entry = live(key)
      entries.delete(key)
      return entry === undefined ? undefined : copy(entry.record)
    },
    async lock (key, ttlSeconds) {
      const now = Date.now()
      const held = locks.get(key)
      if (held !== undefined && held.expiresAt > now) return undefined
      const token = randomUUID()
      locks.set(key, { token, expiresAt: now + ttlSeconds * 1000 })
      const lock: StoreLock = {
        async release () {
          if (locks.get(key)?.token === token) locks.delete(key)
        },
      }
      return lock
    },
    async keys (prefix) {
      const now = Date.now()
      return [...entries.keys()].filter((key) => key.startsWith(prefix) && live(key, now) !== undefined)
    },
  }
}
