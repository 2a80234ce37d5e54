// The storage seam of the client: a small key-value contract that holds
// credentials, dynamic registrations and pending authorizations as JSON
// records, with expiry, an atomic take (single use) and a lock (refresh once).
// The client owns the keys and record shapes; a store only keeps them.

/** A JSON object: what the client stores (never mutated after it is handed over). */
export type StoredRecord = { readonly [key: string]: unknown }

export interface StoreLock {
  /** Releases the lock if this holder still owns it (it may have expired). */
  release (): Promise<void>
}

export interface CredentialStore {
  /** The record under `key`, or undefined when absent, expired or unreadable. */
  get (key: string): Promise<StoredRecord | undefined>
  /** Stores `record` under `key`, replacing any; `ttlSeconds` bounds its life. */
  set (key: string, record: StoredRecord, ttlSeconds?: number): Promise<void>
  delete (key: string): Promise<void>
  /** Reads and deletes in one atomic step: of two concurrent takers, one gets the record. */
  take (key: string): Promise<StoredRecord | undefined>
  /**
   * Acquires the lock named `key` for `ttlSeconds` unless someone holds it:
   * resolves with the lock, or undefined when it is held. Processes sharing
   * the store must share the lock (Redis: SET NX PX).
   */
  lock (key: string, ttlSeconds: number): Promise<StoreLock | undefined>
  /** Every key starting with `prefix` (for sign-out). */
  keys (prefix: string): Promise<string[]>
}

export function isCredentialStore (value: unknown): value is CredentialStore {
  if (typeof value !== 'object' || value === null) return false
  const store = value as Record<string, unknown>
  return ['get', 'set', 'delete', 'take', 'lock', 'keys'].every((name) => typeof store[name] === 'function')
}
