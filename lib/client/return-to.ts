// Where the callback sends the user afterwards: only a path on this app's own
// origin, so the callback can never become an open redirect (RFC 9700 §4.11).

const BASE = 'http://return-to.invalid'

/** `value` when it is a same-origin path (with query), else '/'. */
export function sameOriginPath (value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) return '/'
  // Control characters never belong in a Location header.
  if (/\p{Cc}/u.test(value)) return '/'
  // Parsed as a browser parses it: "//host" and "/\\host" name another origin.
  const url = new URL(value, BASE)
  if (url.origin !== BASE) return '/'
  // Dot segments can leave a path that starts with "//" ("/.//evil.example"):
  // as a Location it would name another host.
  const path = `${url.pathname}${url.search}`
  return path.startsWith('//') ? '/' : path
}
