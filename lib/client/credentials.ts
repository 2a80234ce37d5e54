// A token response becomes the credential record kept for one (issuer, client
// ID, resource): what it grants, when it expires, the refresh token (kept when
// the server does not rotate it), the step-up scope union and the DPoP key.
import type { JWK } from 'jose'
import type * as oauth from 'oauth4webapi'
import { newRevision } from './records.js'
import type { CredentialRecord } from './records.js'
import { unionScope } from './scope.js'

export interface CredentialSource {
  readonly issuer: string
  readonly clientId: string
  readonly resource: string
  /** The scope this token request asked for. */
  readonly requestedScope: string | undefined
  readonly dpopKey: JWK | undefined
  /** The record this response replaces (a refresh, a step-up). */
  readonly previous: CredentialRecord | undefined
}

/** Seconds before expiry at which a token counts as expired: it must survive the trip. */
export const EXPIRY_MARGIN = 30

export function credentialFromTokens (tokens: oauth.TokenEndpointResponse, source: CredentialSource, now = Math.floor(Date.now() / 1000)): CredentialRecord {
  const { previous } = source
  return Object.freeze({
    kind: 'credential',
    rev: newRevision(),
    issuer: source.issuer,
    clientId: source.clientId,
    resource: source.resource,
    accessToken: tokens.access_token,
    tokenType: tokens.token_type.toLowerCase(),
    expiresAt: typeof tokens.expires_in === 'number' ? now + tokens.expires_in : undefined,
    // RFC 6749 §6: a refresh response without refresh_token leaves the old one valid.
    refreshToken: tokens.refresh_token ?? previous?.refreshToken,
    scope: tokens.scope ?? source.requestedScope ?? previous?.scope,
    requestedScope: unionScope(previous?.requestedScope, source.requestedScope),
    dpopKey: source.dpopKey ?? previous?.dpopKey,
    updatedAt: now,
  })
}

export function isExpired (credential: CredentialRecord, now = Math.floor(Date.now() / 1000)): boolean {
  return credential.expiresAt !== undefined && credential.expiresAt - EXPIRY_MARGIN <= now
}
