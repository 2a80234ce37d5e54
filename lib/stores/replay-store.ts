// Where DPoP proof identifiers are recorded (RFC 9449 §11.1).
import { McpAuthError } from '../errors.js'

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

/** MemoryReplayStore at capacity with nothing expired: it refuses rather than forgets (→ 503). */
export class ReplayStoreFullError extends McpAuthError {
  constructor (maxEntries: number) {
    super('FST_MCP_AUTH_REPLAY_STORE_FULL', 'replay_store.full', { message: `replay store holds ${maxEntries} live entries and cannot record more` })
  }
}
