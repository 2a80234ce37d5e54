// Credential extraction (RFC 6750 §2.1, RFC 9449 §7.1). Pure: the caller hands
// in header values and counts, so duplicate field lines (which Node's
// `req.headers` silently drops or joins) are visible here.
import { isCompactJws } from './access-token.js'
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
  /** The verifier keeps this exact token (see knownToken): it came before, and likely comes again. */
  readonly kept: KeptToken | undefined
}

/**
 * A token the verifier keeps by value. `derived` is a slot for facts built from
 * it for later requests (request.mcp): it lives exactly as long as the verifier
 * keeps the token, so it never holds a raw token longer than the verifier does.
 */
export interface KeptToken {
  readonly token: string
  derived?: unknown
}

export interface ExtractOptions {
  readonly dpopEnabled: boolean
  readonly maxTokenLength: number
  /**
   * For a token that, as this exact string, already passed extraction (the
   * verified-token cache's by-value tier): what is kept there, whose string then
   * stands for the token (equal strings, and identity makes later comparisons
   * cheap); its syntax is not scanned again. Undefined for any other token.
   */
  readonly knownToken?: (token: string) => KeptToken | undefined
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
 */
export function extractCredentials (input: CredentialInput, options: ExtractOptions): Credentials {
  // Refused even beside a header (RFC 6750 §2: one method only; OAuth 2.1 §5.1).
  if (input.queryToken) throw reject.invalidRequest('credentials.in_query')
  if (input.authorizationLines > 1) throw reject.invalidRequest('credentials.duplicate')
  const header = input.authorization
  if (header === undefined || header === '') throw reject.noCredentials()

  const end = schemeEnd(header)
  const scheme = parseScheme(header.slice(0, end), options.dpopEnabled)
  if (scheme === undefined) throw reject.noCredentials('credentials.unsupported_scheme')
  // credentials = auth-scheme 1*SP token68: a tab or nothing after the scheme is malformed.
  if (header.charCodeAt(end) !== 32) throw reject.invalidRequest('credentials.malformed')

  let start = end + 1
  while (header.charCodeAt(start) === 32) start++
  const presented = header.slice(start)
  if (presented.length === 0) throw reject.invalidRequest('credentials.malformed')
  if (presented.length > options.maxTokenLength) throw reject.invalidRequest('credentials.too_large')
  const known = options.knownToken?.(presented)
  // A compact JWS (the usual token) is a b64token; that answer is reused by the JWT verifier.
  if (known === undefined && !isCompactJws(presented) && !B64TOKEN.test(presented)) throw reject.invalidRequest('credentials.malformed')

  return { scheme, token: known?.token ?? presented, proof: input.dpop, proofLines: input.dpopLines, kept: known }
}

// The scheme is a token: it ends at the first whitespace (what /\s/ matches;
// a loop, because this runs on every request and the scheme is a few characters).
function schemeEnd (header: string): number {
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i)
    if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || (c > 0xff && /\s/.test(header.charAt(i)))) return i
  }
  return header.length
}

function parseScheme (text: string, dpopEnabled: boolean): CredentialScheme | undefined {
  if (text === 'Bearer' || (text.length === 6 && text.toLowerCase() === 'bearer')) return 'bearer'
  if (dpopEnabled && (text === 'DPoP' || (text.length === 4 && text.toLowerCase() === 'dpop'))) return 'dpop'
  return undefined
}

/** The scheme a request attempted, for placing errors in the right challenge. */
export function schemeOf (authorization: string | undefined): CredentialScheme | undefined {
  if (authorization === undefined) return undefined
  return parseScheme(authorization.slice(0, schemeEnd(authorization)), true)
}
