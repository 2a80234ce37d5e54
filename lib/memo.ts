// A small memo for pure functions of a string, for values that repeat across
// requests (a JWT header, an audience). Bounded: when full it forgets everything
// at once, so junk inputs cost a recomputation, never memory, and a hit costs
// one Map lookup with no eviction bookkeeping.
export interface MemoOptions {
  /** Most remembered inputs (default 256). */
  readonly maxEntries?: number
  /** Longer inputs are computed every time, never remembered (default 1024). */
  readonly maxKeyLength?: number
}

export function memoize<T> (compute: (input: string) => T, options: MemoOptions = {}): (input: string) => T {
  const { maxEntries = 256, maxKeyLength = 1024 } = options
  const remembered = new Map<string, T>()
  return function memoized (input: string): T {
    const hit = remembered.get(input)
    if (hit !== undefined || remembered.has(input)) return hit as T
    const value = compute(input)
    if (input.length <= maxKeyLength) {
      if (remembered.size >= maxEntries) remembered.clear()
      remembered.set(input, value)
    }
    return value
  }
}
