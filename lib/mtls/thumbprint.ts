// RFC 8705 §3.1: x5t#S256 = base64url(SHA-256(DER of the client certificate)).
import { createHash, X509Certificate } from 'node:crypto'

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/

/**
 * Thumbprint of a certificate given as DER bytes or PEM text. Returns undefined
 * when the input is not a parseable X.509 certificate (hashing garbage would
 * only ever produce a mismatch, but a clear "no certificate" is more honest).
 */
export function certificateThumbprint (input: string | Uint8Array): string | undefined {
  let der: Buffer
  if (typeof input === 'string') {
    const match = PEM_BLOCK.exec(input)
    if (match === null) return undefined
    der = Buffer.from((match[1] as string).replace(/\s+/g, ''), 'base64')
  } else {
    der = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  }
  try {
    // eslint-disable-next-line no-new
    new X509Certificate(der)
  } catch {
    return undefined
  }
  return createHash('sha256').update(der).digest('base64url')
}

/**
 * Constant-time comparison of two thumbprints (the length is not secret: every
 * SHA-256 thumbprint has 43 characters). A loop over the characters, not
 * timingSafeEqual: that needs two Buffers per request.
 */
export function thumbprintsEqual (a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return difference === 0
}
