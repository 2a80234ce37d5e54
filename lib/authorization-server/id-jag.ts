// The checks on an Identity Assertion JWT Authorization Grant (ID-JAG), in the
// order draft-ietf-oauth-identity-assertion-authz-grant §4.4.1 and the MCP
// enterprise-managed authorization profile (§5.1, §7.4, §7.6) give them: a
// trusted issuer, its keys and an allowed algorithm, `typ`, the audience, the
// time bounds, the claims' shapes, the client, the resource and the scopes.
// Framework-free: each refusal is an IdJagRefusal naming its check.
import { decodeJwt, errors as jose, jwtVerify } from 'jose'
import type { JWTPayload } from 'jose'
import { audienceKey } from '../resource.js'
import type { IdJagClaims } from '../../types/authorization-server.js'
import type { ResolvedIdJag, ResolvedTrustedIssuer } from './id-jag-options.js'

export const ID_JAG_TYP = 'oauth-id-jag+jwt'
/** The grant profile advertised in `authorization_grant_profiles_supported` (draft §7.2). */
export const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag'

export type IdJagReason =
  | 'id_jag.malformed'
  | 'id_jag.issuer'
  | 'id_jag.typ'
  | 'id_jag.algorithm'
  | 'id_jag.signature'
  | 'id_jag.claim_missing'
  | 'id_jag.claim_invalid'
  | 'id_jag.audience'
  | 'id_jag.expired'
  | 'id_jag.not_yet_valid'
  | 'id_jag.issued_in_future'
  | 'id_jag.lifetime'
  | 'id_jag.client_id'
  | 'id_jag.resource_missing'
  | 'id_jag.resource_unknown'
  | 'id_jag.resource_not_granted'
  | 'id_jag.scope'
  | 'id_jag.replayed'
  | 'id_jag.account'
  | 'id_jag.keys_unavailable'

/** An OAuth refusal of the grant: `error` for the response, `reason` for logs and tests. */
export class IdJagRefusal extends Error {
  readonly error: 'invalid_grant' | 'invalid_scope' | 'invalid_target' | 'temporarily_unavailable'
  readonly reason: IdJagReason

  constructor (error: IdJagRefusal['error'], reason: IdJagReason, description: string, options?: { cause: unknown }) {
    super(description, options)
    this.name = 'IdJagRefusal'
    this.error = error
    this.reason = reason
  }
}

function refuse (reason: IdJagReason, description: string): IdJagRefusal {
  return new IdJagRefusal('invalid_grant', reason, description)
}

const REQUIRED = ['iss', 'sub', 'aud', 'client_id', 'jti', 'exp', 'iat']

// jose's errors name the check that failed.
function verificationRefusal (err: unknown): IdJagRefusal {
  if (err instanceof jose.JWTExpired) return refuse('id_jag.expired', 'the ID-JAG has expired')
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return refuse('id_jag.typ', `the ID-JAG's "typ" header must be ${ID_JAG_TYP}`)
    if (err.claim === 'nbf') return refuse('id_jag.not_yet_valid', 'the ID-JAG is not valid yet ("nbf")')
    if (err.reason === 'missing') return refuse('id_jag.claim_missing', `the ID-JAG lacks its "${err.claim}" claim`)
    return refuse('id_jag.claim_invalid', `the ID-JAG's "${err.claim}" claim is invalid`)
  }
  if (err instanceof jose.JOSEAlgNotAllowed || err instanceof jose.JOSENotSupported) return refuse('id_jag.algorithm', 'the ID-JAG is signed with an algorithm not accepted for its issuer')
  if (err instanceof jose.JWSSignatureVerificationFailed || err instanceof jose.JWKSNoMatchingKey) {
    return refuse('id_jag.signature', 'the ID-JAG\'s signature does not verify with its issuer\'s keys')
  }
  if (err instanceof jose.JWSInvalid || err instanceof jose.JWTInvalid) return refuse('id_jag.malformed', 'the assertion is not a well-formed signed JWT')
  // A jwks_uri that times out, fails or answers garbage: an outage (503), never a refusal.
  return new IdJagRefusal('temporarily_unavailable', 'id_jag.keys_unavailable', 'the identity provider\'s keys cannot be fetched, retry later', { cause: err })
}

function isNonEmptyString (value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

function checkShapes (claims: JWTPayload): void {
  for (const name of ['sub', 'jti', 'client_id']) {
    if (!isNonEmptyString(claims[name])) throw refuse('id_jag.claim_invalid', `the ID-JAG's "${name}" claim must be a non-empty string`)
  }
  if (claims.scope !== undefined && typeof claims.scope !== 'string') throw refuse('id_jag.claim_invalid', 'the ID-JAG\'s "scope" claim must be a string')
  const { resource } = claims
  const list = Array.isArray(resource) ? resource : [resource]
  if (resource !== undefined && (list.length === 0 || !list.every(isNonEmptyString))) {
    throw refuse('id_jag.claim_invalid', 'the ID-JAG\'s "resource" claim must be a URI or a non-empty array of URIs')
  }
}

// draft §4.4.1: `aud` is our issuer, or an array holding exactly that one element.
function checkAudience (aud: unknown, issuer: string): void {
  const only = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud
  if (only !== issuer) throw refuse('id_jag.audience', 'the ID-JAG\'s audience is not this authorization server\'s issuer')
}

function checkTimes (claims: JWTPayload, options: ResolvedIdJag, now: number): void {
  const { iat, exp } = claims as { iat: number, exp: number }
  if (iat > now + options.clockTolerance) throw refuse('id_jag.issued_in_future', 'the ID-JAG is issued in the future ("iat")')
  // Short-lived (MCP §7.4.2): a long lifetime widens the replay window and the single-use records.
  if (exp <= iat || exp - iat > options.maxLifetime) throw refuse('id_jag.lifetime', `the ID-JAG lives longer than ${options.maxLifetime} seconds, or ends before it is issued`)
}

export interface VerifiedIdJag {
  readonly claims: IdJagClaims
  readonly trusted: ResolvedTrustedIssuer
}

/**
 * Verifies an ID-JAG's signature and claims for this authorization server
 * (`issuer`) and the authenticated client; `now` in seconds.
 */
export async function verifyIdJag (assertion: string, options: ResolvedIdJag, expected: { issuer: string, clientId: string, now: number }): Promise<VerifiedIdJag> {
  let unverified: JWTPayload
  try {
    unverified = decodeJwt(assertion)
  } catch {
    throw refuse('id_jag.malformed', 'the assertion is not a well-formed signed JWT')
  }
  const trusted = typeof unverified.iss === 'string' ? options.issuers.get(unverified.iss) : undefined
  if (trusted === undefined) throw refuse('id_jag.issuer', 'the ID-JAG is not from a trusted identity provider')
  let claims: JWTPayload
  try {
    // The key set was chosen by the exact `iss`: it is that issuer's.
    ({ payload: claims } = await jwtVerify(assertion, trusted.keys, {
      typ: ID_JAG_TYP,
      algorithms: [...trusted.algorithms],
      requiredClaims: REQUIRED,
      clockTolerance: options.clockTolerance,
      currentDate: new Date(expected.now * 1000),
    }))
  } catch (err) {
    throw verificationRefusal(err)
  }
  checkAudience(claims.aud, expected.issuer)
  checkTimes(claims, options, expected.now)
  checkShapes(claims)
  // draft §4.4.1: the client the grant names is the client that authenticated.
  if (claims.client_id !== expected.clientId) throw refuse('id_jag.client_id', 'the ID-JAG was issued for another client')
  return { claims: claims as IdJagClaims, trusted }
}

/**
 * The resource the access token is for (MCP §5.1: the ID-JAG's `resource`): the
 * one the request names, which the ID-JAG must list, or the ID-JAG's only one.
 * It must be a resource of this server (MCP §7.6.2).
 */
export function selectResource (claims: IdJagClaims, requested: string | undefined, configured: readonly string[]): string {
  if (claims.resource === undefined) throw refuse('id_jag.resource_missing', 'the ID-JAG names no resource')
  const granted = (Array.isArray(claims.resource) ? claims.resource : [claims.resource]).map(audienceKey)
  const ours = (key: string | undefined): string | undefined => configured.find((uri) => key !== undefined && audienceKey(uri) === key)
  if (requested !== undefined) {
    const key = audienceKey(requested)
    if (key === undefined || !granted.includes(key)) {
      throw new IdJagRefusal('invalid_target', 'id_jag.resource_not_granted', 'the requested resource is not one the ID-JAG grants')
    }
    const uri = ours(key)
    if (uri === undefined) throw refuse('id_jag.resource_unknown', 'the ID-JAG\'s resource is not served by this authorization server')
    return uri
  }
  if (granted.length !== 1) throw new IdJagRefusal('invalid_target', 'id_jag.resource_not_granted', 'the ID-JAG grants several resources: name one with "resource"')
  const uri = ours(granted[0])
  if (uri === undefined) throw refuse('id_jag.resource_unknown', 'the ID-JAG\'s resource is not served by this authorization server')
  return uri
}

function tokens (scope: string | undefined): string[] {
  return scope === undefined ? [] : scope.split(' ').filter((s) => s !== '')
}

export interface ScopeSources {
  /** The request's `scope` parameter. */
  readonly requested: string | undefined
  /** The resource's scopes and default scopes. */
  readonly resource: { readonly scopes: readonly string[], readonly defaultScopes: readonly string[] | undefined }
  /** The scopes a client is held to (its registered `scope`), undefined when none. */
  readonly client: string | undefined
}

/**
 * Granted = requested ∩ the resource's scopes ∩ the scope policy: the ID-JAG's
 * `scope` (what the identity provider allowed; without it, the resource's
 * default scopes) and the client's registered scope (MCP §7.2.1). A request
 * without `scope` asks for everything the policy allows.
 */
export function grantScopes (claims: IdJagClaims, sources: ScopeSources): string[] {
  const policy = claims.scope === undefined ? [...sources.resource.defaultScopes ?? []] : tokens(claims.scope)
  const clientScopes = sources.client === undefined ? undefined : tokens(sources.client)
  const requested = tokens(sources.requested)
  const wanted = requested.length > 0 ? requested : policy
  const granted = [...new Set(wanted)].filter((s) => sources.resource.scopes.includes(s) && policy.includes(s) && (clientScopes === undefined || clientScopes.includes(s)))
  if (granted.length === 0) {
    throw new IdJagRefusal('invalid_scope', 'id_jag.scope', requested.length > 0
      ? 'none of the requested scopes is granted by the ID-JAG for this resource'
      : 'the ID-JAG grants no scope of this resource')
  }
  return granted
}
