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

/** Returns the comparison form, or undefined when `value` is not an absolute http(s) URI. */
export function normalizeHttpUri (value: string): string | undefined {
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
 * normalizeHttpUri with its answers remembered (bounded): a client sends the
 * same `htu` with every proof, and a route is requested at the same few URLs.
 * Owned by the proof verifier that creates it.
 */
export function createHtuNormalizer (maxEntries = 1000): (value: string) => string | undefined {
  return memoize(normalizeHttpUri, { maxEntries, maxKeyLength: 2048 })
}

/**
 * The `htu` a proof must carry for a request (in comparison form): the
 * configured public origin plus the request path, never the Host header.
 */
export function expectedHtu (normalize: (value: string) => string | undefined, origin: string, url: string): string | undefined {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return path.startsWith('/') ? normalize(origin + path) : undefined
}
