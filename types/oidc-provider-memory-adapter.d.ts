// oidc-provider's memory adapter module (no declarations of its own).
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  export function createMemoryAdapter (clockTolerance?: number): (model: string) => any
}
