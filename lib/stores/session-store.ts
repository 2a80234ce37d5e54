// Where the identity that opened each MCP session is recorded (sessionBinding).
// Keys are SHA-256 digests of session IDs and values opaque strings the plugin
// writes and reads; a store only keeps them, each with an idle expiry.

export interface SessionStore {
  /**
   * Records `value` under `key` for `ttlSeconds` unless the key already holds a
   * record. True when recorded, false when a record was there (it stays as it is).
   */
  create (key: string, value: string, ttlSeconds: number): boolean | Promise<boolean>
  /** The value under `key`, or undefined when there is none (never recorded, expired, evicted, deleted). */
  get (key: string): string | undefined | Promise<string | undefined>
  /** Replaces the value of an existing record and restarts its expiry; does nothing when there is none. */
  refresh (key: string, value: string, ttlSeconds: number): void | Promise<void>
  delete (key: string): void | Promise<void>
  /** Optional: resolves when the store is reachable, rejects otherwise (health route). */
  ping? (): void | Promise<void>
  /** Optional: called when the app closes. */
  close? (): void | Promise<void>
}
