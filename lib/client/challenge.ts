// Reads what a 401 or 403 from an MCP server asks for: the Bearer and DPoP
// challenges (RFC 6750 §3, RFC 9449 §7.1) and the MCP parameters they carry,
// `resource_metadata` (RFC 9728 §5.1) and `scope`, whichever scheme carries them.
import { parseWwwAuthenticate } from '../www-authenticate.js'
import type { Challenge } from '../www-authenticate.js'

export interface ServerChallenge {
  /** RFC 9728 §5.1: where the resource's metadata is, from the first challenge naming one. */
  readonly resourceMetadata: string | undefined
  /** The scopes the operation needs, from the challenge carrying the error (else the first naming any). */
  readonly scope: readonly string[] | undefined
  /** `invalid_token`, `insufficient_scope`, `use_dpop_nonce`… from the first challenge with one. */
  readonly error: string | undefined
}

const NONE: ServerChallenge = Object.freeze({ resourceMetadata: undefined, scope: undefined, error: undefined })

function isOAuthScheme (challenge: Challenge): boolean {
  const scheme = challenge.scheme.toLowerCase()
  return scheme === 'bearer' || scheme === 'dpop'
}

function scopeList (value: string | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined
  const scopes = value.split(' ').filter((s) => s !== '')
  return scopes.length === 0 ? undefined : Object.freeze([...new Set(scopes)])
}

/**
 * The MCP-relevant facts of a response's WWW-Authenticate header. A header
 * that does not parse yields no facts (discovery then falls back to the
 * well-known locations) rather than a half-read guess.
 */
export function readChallenge (response: Response): ServerChallenge {
  const header = response.headers.get('www-authenticate')
  if (header === null) return NONE
  let challenges: Challenge[]
  try {
    challenges = parseWwwAuthenticate(header).filter(isOAuthScheme)
  } catch {
    return NONE
  }
  const withError = challenges.find((c) => c.params.error !== undefined)
  const withScope = withError?.params.scope !== undefined ? withError : challenges.find((c) => c.params.scope !== undefined)
  return Object.freeze({
    resourceMetadata: challenges.find((c) => c.params.resource_metadata !== undefined)?.params.resource_metadata,
    scope: scopeList(withScope?.params.scope),
    error: withError?.params.error,
  })
}
