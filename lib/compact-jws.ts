// Compact JWS (RFC 7515 §7.1) as access tokens and DPoP proofs arrive: the
// shape and the segment decoding the cheap checks need before any key lookup
// (jose verifies the signature).

/** Three non-empty base64url segments (JWS compact serialization). */
export const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/** `typ` compares case-insensitively with the `application/` prefix optional (RFC 7515 §4.1.9). */
export function normalizeMediaType (value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

/** A base64url segment holding a JSON object, decoded; undefined for anything else. */
export function decodeSegment (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

const BASE64URL_VALUE = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) BASE64URL_VALUE[c.charCodeAt(0)] = i

/**
 * True when `encoded` (already known to be base64url characters) is the one
 * canonical encoding of its bytes: a length that encodes whole bytes, and no
 * stray bits in the last character. One signature, one spelling: a token
 * cannot be varied without a new signature.
 */
export function isCanonicalBase64url (encoded: string): boolean {
  const rest = encoded.length % 4
  if (rest === 1) return false
  if (rest === 0) return true
  const last = BASE64URL_VALUE[encoded.charCodeAt(encoded.length - 1)] ?? -1
  if (last < 0) return false
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}
