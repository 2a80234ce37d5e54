// Spelling of URI paths in RFC 3986 form: UTF-8, percent-encoded with upper-case
// hex, and only where a path segment needs it (RFC 3986 §3.3, §6.2.2). Resource
// paths are configured, advertised and compared in this form; a route's path,
// which Fastify's router holds decoded, is brought into it before comparison.

// encodeURIComponent leaves A–Z a–z 0–9 - _ . ! ~ * ' ( ) alone; a path segment
// may also hold these sub-delimiters and ":" / "@" unencoded (pchar).
const ALSO_PCHAR = /%(?:24|26|2B|2C|3B|3D|3A|40)/g

/**
 * A decoded segment value in RFC 3986 form ("/" and "%" in it are encoded).
 * Undefined for a string that is not well-formed UTF-16 (no URI can carry it).
 */
export function encodeSegment (value: string): string | undefined {
  let encoded: string
  try {
    encoded = encodeURIComponent(value)
  } catch {
    return undefined
  }
  return encoded.includes('%') ? encoded.replace(ALSO_PCHAR, decodeURIComponent) : encoded
}

/** A decoded path (each "/" a separator) in RFC 3986 form; undefined as for encodeSegment. */
export function encodePath (value: string): string | undefined {
  const segments = value.split('/')
  for (let i = 0; i < segments.length; i++) {
    const encoded = encodeSegment(segments[i] as string)
    if (encoded === undefined) return undefined
    segments[i] = encoded
  }
  return segments.join('/')
}

/**
 * An encoded path in RFC 3986 form: each segment decoded and encoded again, so
 * `/caf%c3%a9` and `/café` become `/caf%C3%A9`, and `%7E` becomes `~`; an
 * encoded "/" stays encoded (it belongs to its segment). Undefined when an
 * escape is malformed or is not UTF-8.
 */
export function canonicalPath (path: string): string | undefined {
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    let decoded = segments[i] as string
    if (decoded.includes('%')) {
      try {
        decoded = decodeURIComponent(decoded)
      } catch {
        return undefined
      }
    }
    const encoded = encodeSegment(decoded)
    if (encoded === undefined) return undefined
    segments[i] = encoded
  }
  return segments.join('/')
}

/**
 * The route pattern Fastify's router matches for requests to an RFC 3986 path
 * (it decodes the request path; a "%" or ":" in a pattern is literal, the colon
 * written twice): `/tenants/caf%C3%A9/mcp` → `/tenants/café/mcp`. Undefined when
 * the path encodes "/", "?" or "#", which the router keeps encoded and no
 * static route can match.
 */
export function routerPattern (canonical: string): string | undefined {
  if (/%(?:2F|3F|23)/.test(canonical)) return undefined
  return decodeURIComponent(canonical).replaceAll(':', '::')
}
