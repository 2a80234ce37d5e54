// `maxEntries` of the in-process stores, checked in one place so the same mistake
// gets the same message from each store.

/** A positive integer, else a TypeError naming the store. */
export function maxEntriesOption (owner: string, value: number | undefined, fallback: number): number {
  const maxEntries = value ?? fallback
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`${owner} maxEntries must be a positive integer; got ${String(maxEntries)}`)
  }
  return maxEntries
}
