// Credential extraction (RFC 6750 §2.1, RFC 9449 §7.1). Pure: the caller hands
// in header values and counts, so duplicate field lines (which Node's
// `req.headers` silently drops or joins) are visible here.
import { reject } from './errors.js'

export type CredentialScheme = 'bearer' | 'dpop'

export interface CredentialInput {
  /** The first Authorization field value, as Node parsed it. */
  readonly authorization: string | undefined
  /** How many Authorization field lines arrived. */
  readonly authorizationLines: number
  /** The DPoP field value (Node joins repeated lines with ", "). */
  readonly dpop: string | undefined
  /** How many DPoP field lines arrived. */
  readonly dpopLines: number
  /** True when the URI query carries `access_token`. */
  readonly queryToken: boolean
}

export interface Credentials {
  readonly scheme: CredentialScheme
  readonly token: string
  /** The DPoP header value when exactly one arrived; see `proofLines`. */
  readonly proof: string | undefined
  readonly proofLines: number
}

export interface ExtractOptions {
  readonly dpopEnabled: boolean
  readonly maxTokenLength: number
}

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

/** Counts Authorization and DPoP field lines in Node's `rawHeaders` (name, value, name, value…). */
export function countCredentialLines (rawHeaders: readonly string[]): { authorization: number, dpop: number } {
  let authorization = 0
  let dpop = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    // The usual spellings first: toLowerCase() would allocate on every request.
    if (name.length === 13) {
      if (name === 'Authorization' || name === 'authorization' || name.toLowerCase() === 'authorization') authorization++
    } else if (name.length === 4) {
      if (name === 'DPoP' || name === 'dpop' || name.toLowerCase() === 'dpop') dpop++
    }
  }
  return { authorization, dpop }
}

/**
 * Returns the presented credentials or throws an McpAuthError:
 * no credentials or an unsupported scheme → 401 without `error`;
 * a malformed header, two Authorization lines or a query token → 400.
 * The token's own syntax is checked by checkTokenSyntax, which the verifier
 * runs for tokens it does not hold already.
 */
export function extractCredentials (input: CredentialInput, options: ExtractOptions): Credentials {
  // Refused even beside a header (RFC 6750 §2: one method only; OAuth 2.1 §5.1).
  if (input.queryToken) throw reject.invalidRequest('credentials.in_query')
  if (input.authorizationLines > 1) throw reject.invalidRequest('credentials.duplicate')
  const header = input.authorization
  if (header === undefined || header === '') throw reject.noCredentials()

  const scheme = schemeAt(header, options.dpopEnabled)
  if (scheme === undefined) throw reject.noCredentials('credentials.unsupported_scheme')
  const end = scheme === 'bearer' ? 6 : 4
  // credentials = auth-scheme 1*SP token68: a tab or nothing after the scheme is malformed.
  if (header.charCodeAt(end) !== 32) throw reject.invalidRequest('credentials.malformed')

  let start = end + 1
  while (header.charCodeAt(start) === 32) start++
  const presented = header.slice(start)
  if (presented.length === 0) throw reject.invalidRequest('credentials.malformed')
  if (presented.length > options.maxTokenLength) throw reject.invalidRequest('credentials.too_large')
  return { scheme, token: presented, proof: input.dpop, proofLines: input.dpopLines }
}

/** RFC 6750 §2.1: the token is a b64token (a 400 otherwise). */
export function checkTokenSyntax (token: string): void {
  if (!B64TOKEN.test(token)) throw reject.invalidRequest('credentials.malformed')
}

/**
 * The scheme a header starts with, compared case-insensitively. The scheme is a
 * token: it ends at the first whitespace (what /\s/ matches; a loop, because the
 * scheme is a few characters).
 */
function schemeAt (header: string, dpopEnabled: boolean): CredentialScheme | undefined {
  let end = header.length
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i)
    if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || (c > 0xff && /\s/.test(header.charAt(i)))) {
      end = i
      break
    }
  }
  // The usual spellings first: toLowerCase() would allocate.
  if (end === 6 && (header.startsWith('Bearer') || header.slice(0, 6).toLowerCase() === 'bearer')) return 'bearer'
  if (dpopEnabled && end === 4 && (header.startsWith('DPoP') || header.slice(0, 4).toLowerCase() === 'dpop')) return 'dpop'
  return undefined
}

/** The scheme a request attempted, for placing errors in the right challenge. */
export function schemeOf (authorization: string | undefined): CredentialScheme | undefined {
  if (authorization === undefined) return undefined
  return schemeAt(authorization, true)
}
