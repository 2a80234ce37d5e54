// Where the callback sends the user afterwards: only a path on this app's own
// origin, so the callback can never become an open redirect (RFC 9700 §4.11).

const BASE = 'http://return-to.invalid'

/** `value` when it is a same-origin path (with query), else '/'. */
export function sameOriginPath (value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/'
  // Control characters and backslashes are how browsers get talked into another origin.
  if (/[\p{Cc}\\]/u.test(value)) return '/'
  // A path starting with a single "/" always parses against a base.
  const url = new URL(value, BASE)
  if (url.origin !== BASE) return '/'
  return `${url.pathname}${url.search}`
}
