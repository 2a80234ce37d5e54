// oidc-provider's memory adapter module (no declarations of its own).
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  /** The storage it keeps records in: get, set (maxAge in ms) and delete. */
  export interface MemoryAdapterStorage {
    get (key: string): unknown
    set (key: string, value: unknown, options?: { maxAge?: number }): void
    delete (key: string): void
  }
  export default class MemoryAdapter {
    constructor (model: string, store?: MemoryAdapterStorage, clockTolerance?: number)
  }
  export function createMemoryAdapter (clockTolerance?: number): (model: string) => any
}
