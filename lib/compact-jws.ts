// Compact JWS (RFC 7515 §7.1) as access tokens and DPoP proofs arrive: the
// shape and the segment decoding the cheap checks need before any key lookup
// (jose verifies the signature).

/**
 * Three non-empty base64url segments (JWS compact serialization), the
 * signature in its one canonical spelling: a length that encodes whole bytes
 * (never 1 more than a multiple of 4) and no stray bits in its last character
 * (one of AQgw after 2 characters of a group, a multiple of 4 after 3). jose
 * decodes stray bits away, so without this a token could be varied without a
 * new signature.
 */
export const JWS_COMPACT = /^[\w-]+\.[\w-]+\.(?:[\w-]{4})*(?:[\w-]{4}|[\w-]{2}[AEIMQUYcgkosw048]|[\w-][AQgw])$/

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
