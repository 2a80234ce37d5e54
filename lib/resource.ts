// Resource URIs (RFC 8707 / MCP "canonical server URI"): validation at boot
// (RFC 3986 form only) and the audience comparison form.
import { canonicalPath } from './uri-path.js'

export interface ParsedResource {
  /** Canonical form: scheme and host lowercased, default port dropped, path and query verbatim. */
  readonly uri: string
  /** `https://host[:port]`, the public origin (used for `htu` and metadata URLs). */
  readonly origin: string
  /** Path exactly as configured, in RFC 3986 form ('' for a bare origin). */
  readonly path: string
  /** Query exactly as configured ('' when none). */
  readonly query: string
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]'])

export function isLoopbackHost (hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname)
}

// scheme "://" authority rest: the authority ends at the first "/", "?", "#" or "\\".
const HTTP_URI = /^(https?):\/\/([^/?#\\]*)(.*)$/i

// host [":" port]: a registered name, IPv4 or bracketed IPv6 — no user info, no whitespace.
const AUTHORITY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

/**
 * Splits an http(s) URI into its canonical origin and the verbatim path+query.
 * Anything WHATWG URL would silently repair in the authority (user info, tabs,
 * newlines) makes it undefined, so such a value can never match a resource.
 */
function splitHttpUri (value: string): { url: URL, origin: string, rest: string } | undefined {
  const match = HTTP_URI.exec(value)
  if (match === null) return undefined
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string]
  if (!AUTHORITY.test(authority)) return undefined
  let url: URL
  try {
    url = new URL(`${scheme}://${authority}/`)
  } catch {
    return undefined
  }
  return { url, origin: `${url.protocol}//${url.host}`, rest }
}

/**
 * Parses a configured resource URI. Returns an error message (for the option
 * error) instead of throwing, so the caller can name the option.
 */
export function parseResource (value: unknown): ParsedResource | string {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string'
  // User info may hold a password: never echo it.
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value)) return 'must not contain user information (user:password@)'
  if (value.includes('#')) return `must not contain a fragment (RFC 8707 §2); got ${JSON.stringify(value)}`
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  // Raw non-ASCII or spaces inside: show the one spelling every party compares
  // (not for controls or surrounding spaces, which WHATWG URL would silently drop).
  if (url !== undefined && /[^\x21-\x7E]/.test(value) && !hasControl(value) && value.trim() === value) return notRfc3986(value, url)
  const parts = splitHttpUri(value)
  if (parts === undefined || url === undefined) return `must be an absolute https URI such as "https://mcp.example.com/mcp"; got ${JSON.stringify(value)}`
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return `must use https (http is allowed only for loopback hosts); got ${JSON.stringify(value)}`
  }
  // Path and query stay exactly as written (clients compare `resource` verbatim),
  // so they must already be in the form every URL parser agrees on.
  const q = parts.rest.indexOf('?')
  const path = q === -1 ? parts.rest : parts.rest.slice(0, q)
  const query = q === -1 ? '' : parts.rest.slice(q)
  if (path.includes('*')) return `must not contain "*" in its path; got ${JSON.stringify(value)}`
  if ((path !== '' && path !== url.pathname) || query !== url.search || parts.rest.includes('\\')) {
    return `must be written in normalized form (no dot segments or backslashes; percent-encode other characters); got ${JSON.stringify(value)}`
  }
  const canonical = canonicalPath(path)
  if (canonical === undefined) return `has a malformed percent-encoding (UTF-8 escapes such as %C3%A9 only); got ${JSON.stringify(value)}`
  if (canonical !== path) return notRfc3986(value, url)
  // The router keeps these escapes encoded: no route could serve the path or its metadata.
  if (/%(?:2F|3F|23)/.test(path)) return `must not percent-encode "/", "?" or "#" in its path; got ${JSON.stringify(value)}`
  return Object.freeze({ uri: parts.origin + path + query, origin: parts.origin, path, query })
}

function hasControl (value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x7F) return true
  }
  return false
}

/** The refusal naming the RFC 3986 spelling (UTF-8, upper-case hex, unreserved characters plain). */
function notRfc3986 (value: string, url: URL): string {
  const path = url.pathname === '/' && !/^[a-z]+:\/\/[^/?#]*\//i.test(value) ? '' : canonicalPath(url.pathname) ?? url.pathname
  const spelling = `${url.protocol}//${url.host}${path}${url.search}`
  return `must be written in RFC 3986 form (UTF-8 percent-encoded, upper-case hex): write ${JSON.stringify(spelling)}; got ${JSON.stringify(value)}`
}

/**
 * The form used to compare an audience with a resource: scheme and host
 * case-insensitive, default port dropped, empty path ≡ "/", path and query
 * compared exactly. Values that are not http(s) URIs compare verbatim. A value
 * with a fragment never matches anything (RFC 8707 §2).
 */
export function audienceKey (value: string): string | undefined {
  if (value.includes('#')) return undefined
  const parts = splitHttpUri(value)
  if (parts === undefined || parts.rest.includes('\\')) return value
  const rest = parts.rest === '' || parts.rest.startsWith('?') ? '/' + parts.rest : parts.rest
  return parts.origin + rest
}

/** Normalizes a JWT `aud` (string or array) to its comparison keys. */
export function audienceKeys (aud: unknown): readonly string[] | undefined {
  if (typeof aud === 'string') {
    const key = audienceKey(aud)
    return key === undefined ? [] : [key]
  }
  if (Array.isArray(aud)) {
    const keys: string[] = []
    for (const item of aud) {
      if (typeof item !== 'string') return undefined
      const key = audienceKey(item)
      if (key !== undefined) keys.push(key)
    }
    return keys
  }
  return undefined
}

/** The request path without its query. */
export function requestPath (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
