// Where DPoP proof identifiers are recorded (RFC 9449 §11.1).

export interface ReplayStore {
  /**
   * Records `key` for `ttlSeconds`. Returns true the first time a key is seen,
   * false when it is already recorded (a replay). Throwing or rejecting means
   * the store cannot answer: the request gets 503, never a pass.
   */
  claim (key: string, ttlSeconds: number): boolean | Promise<boolean>
  /** Optional: called when the app closes. */
  close? (): void | Promise<void>
  /** Optional: resolves when the store is reachable, rejects otherwise (health route). */
  ping? (): void | Promise<void>
}

export class ReplayStoreFullError extends Error {
  readonly code = 'FST_MCP_AUTH_REPLAY_STORE_FULL'
  constructor (maxEntries: number) {
    super(`replay store holds ${maxEntries} live entries and cannot record more`)
    this.name = 'ReplayStoreFullError'
  }
}
