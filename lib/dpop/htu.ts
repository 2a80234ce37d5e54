// The comparison form of an HTTP URI for DPoP `htu` (RFC 9449 §4.3 step 9):
// syntax- and scheme-based normalization (RFC 3986 §6.2.2, §6.2.3) — scheme
// and host lowercased, default port dropped, dot segments removed, percent-
// encodings uppercased and unreserved ones decoded — without query or fragment.

import { memoize } from '../memo.js'

const PERCENT = /%([0-9A-Fa-f]{2})/g
const UNRESERVED = /[A-Za-z0-9\-._~]/

function normalizePercent (_match: string, hex: string): string {
  const char = String.fromCharCode(Number.parseInt(hex, 16))
  return UNRESERVED.test(char) ? char : '%' + hex.toUpperCase()
}

/**
 * Returns the comparison form, or undefined when `value` is not an absolute
 * http(s) URI. Memoized: a client sends the same `htu` with every proof.
 */
export const normalizeHttpUri: (value: string) => string | undefined = memoize(normalize, { maxKeyLength: 2048 })

function normalize (value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return `${url.protocol}//${url.host}${url.pathname.replace(PERCENT, normalizePercent)}`
}

/**
 * The `htu` a proof must carry for a request: the configured public origin
 * plus the request path — never the Host header. Memoized per origin (the
 * configured resources' few) and path (bounded), so a lookup builds no string.
 */
export function createExpectedHtu (maxEntries = 1000): (origin: string, path: string) => string | undefined {
  const byOrigin = new Map<string, Map<string, string | undefined>>()
  return (origin, path) => {
    let memo = byOrigin.get(origin)
    if (memo === undefined) {
      memo = new Map()
      byOrigin.set(origin, memo)
    }
    let value = memo.get(path)
    if (value === undefined && !memo.has(path)) {
      value = path.startsWith('/') ? normalizeHttpUri(origin + path) : undefined
      if (memo.size >= maxEntries) memo.clear()
      memo.set(path, value)
    }
    return value
  }
}
