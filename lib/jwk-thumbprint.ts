// RFC 7638 JWK thumbprints (SHA-256, base64url): only the required members,
// in lexicographic order, no whitespace. Synchronous, for the request path.
import { createHash } from 'node:crypto'

const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
  AKP: ['alg', 'kty', 'pub'],
}

// Members that only private or symmetric keys have (RFC 7518 §6).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const

/** True when the JWK carries private or symmetric key material. */
export function hasPrivateMembers (jwk: Readonly<Record<string, unknown>>): boolean {
  return PRIVATE_MEMBERS.some((member) => jwk[member] !== undefined)
}

/** Returns the thumbprint, or undefined when the JWK lacks a required member. */
export function jwkThumbprint (jwk: Record<string, unknown>): string | undefined {
  const kty = jwk.kty
  if (typeof kty !== 'string') return undefined
  // Own properties only: a kty such as '__proto__' must not reach Object.prototype.
  const members = Object.hasOwn(REQUIRED_MEMBERS, kty) ? REQUIRED_MEMBERS[kty] : undefined
  if (members === undefined) return undefined
  let json = '{'
  for (let i = 0; i < members.length; i++) {
    const name = members[i] as string
    const value = jwk[name]
    if (typeof value !== 'string') return undefined
    json += (i === 0 ? '' : ',') + JSON.stringify(name) + ':' + JSON.stringify(value)
  }
  json += '}'
  return createHash('sha256').update(json).digest('base64url')
}
