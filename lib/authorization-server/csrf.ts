// CSRF tokens for the interaction forms: an HMAC of the interaction's uid under
// a key derived from the cookie keys, so every instance sharing those keys
// issues and accepts the same token, and a token for one interaction is
// worthless for another.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

export interface CsrfTokens {
  issue (uid: string): string
  check (uid: string, token: unknown): boolean
}

export function createCsrfTokens (cookieKey: string): CsrfTokens {
  const key = Buffer.from(hkdfSync('sha256', cookieKey, '', 'fastify-mcp-auth interaction csrf', 32))
  const issue = (uid: string): string => createHmac('sha256', key).update(uid).digest('base64url')
  return {
    issue,
    check (uid, token) {
      if (typeof token !== 'string') return false
      const expected = Buffer.from(issue(uid))
      const given = Buffer.from(token)
      return given.length === expected.length && timingSafeEqual(given, expected)
    },
  }
}
