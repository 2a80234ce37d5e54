// WWW-Authenticate challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1).
// Bearer comes first when offered (MCP SDK clients read only the first
// challenge); every challenge carries resource_metadata; parameter values are
// quoted strings restricted to the RFC 6750 §3 character set.
import type { OAuthErrorCode } from './errors.js'

export interface ChallengeSetup {
  readonly resourceMetadataUrl: string
  /** False when only DPoP-bound tokens are accepted. */
  readonly bearer: boolean
  /** Space-separated DPoP algorithms, or undefined when DPoP is off. */
  readonly dpopAlgs: string | undefined
}

export interface ChallengeError {
  readonly error: OAuthErrorCode
  readonly description: string
  /** Which challenges carry the error parameters. */
  readonly inBearer: boolean
  readonly inDpop: boolean
}

// error / error_description: %x20-21 / %x23-5B / %x5D-7E — no '"', no '\', ASCII only.
const OUTSIDE_DESCRIPTION_SET = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g

/** Makes library text safe for a quoted challenge value (the JSON body may keep the original). */
export function sanitizeChallengeValue (value: string): string {
  return value.replace(OUTSIDE_DESCRIPTION_SET, (char) => (char === '"' ? "'" : char === '\\' ? '/' : '?'))
}

function params (error: ChallengeError | undefined, withError: boolean, scope: string, rest: string): string {
  const errorParams = error !== undefined && withError
    ? `error="${error.error}", error_description="${sanitizeChallengeValue(error.description)}", `
    : ''
  return errorParams + rest + scope
}

/**
 * Builds the header value. `scope` is the list the client should ask for
 * (route scopes, else the resource's scopes_supported); omitted when empty.
 */
export function buildChallenge (setup: ChallengeSetup, scope: readonly string[] | undefined, error?: ChallengeError): string {
  const scopeParam = scope !== undefined && scope.length > 0
    ? `, scope="${sanitizeChallengeValue(scope.join(' '))}"`
    : ''
  const metadata = `resource_metadata="${setup.resourceMetadataUrl}"`
  const challenges: string[] = []
  if (setup.bearer) {
    challenges.push('Bearer ' + params(error, error?.inBearer === true, scopeParam, metadata))
  }
  if (setup.dpopAlgs !== undefined) {
    challenges.push('DPoP ' + params(error, error?.inDpop === true, scopeParam, `algs="${setup.dpopAlgs}", ${metadata}`))
  }
  return challenges.join(', ')
}

/**
 * Where the error parameters go: in the challenge of the scheme the client
 * used (RFC 9449 §7.2); request-level errors and insufficient_scope in every
 * challenge (today's SDK clients read only a leading Bearer challenge).
 */
export function placeError (
  oauthError: OAuthErrorCode,
  scheme: 'bearer' | 'dpop' | undefined,
  setup: ChallengeSetup
): { inBearer: boolean, inDpop: boolean } {
  const dpop = setup.dpopAlgs !== undefined
  switch (oauthError) {
    case 'invalid_dpop_proof':
    case 'use_dpop_nonce':
      return { inBearer: false, inDpop: true }
    case 'invalid_token': {
      const inDpop = dpop && (scheme === 'dpop' || !setup.bearer)
      return { inBearer: !inDpop, inDpop }
    }
    default:
      return { inBearer: true, inDpop: dpop }
  }
}
