// base64url(SHA-256(token)): the DPoP `ath` value (RFC 9449 §4.2) and the
// verified-token cache key.
import { hash } from 'node:crypto'

export function hashToken (token: string): string {
  // One-shot hash: no Hash object per request (about half the cost of createHash).
  return hash('sha256', token, 'base64url')
}
