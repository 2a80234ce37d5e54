// The authorization-code grant's two halves. Starting: PKCE S256 (refused when
// the server does not list it), a fresh `state`, `resource` (RFC 8707) and the
// chosen scope, all recorded in a pending authorization with the issuer it was
// sent to. Completing: oauth4webapi's response check (`state`, RFC 9207 `iss`
// compared as a plain string, `error`), then the code exchange with the same
// `resource`, `redirect_uri` and verifier.
import type { JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import { assertPkceSupported } from './as-discovery.js'
import type { Binding } from './binding.js'
import type { DpopKey } from './dpop.js'
import { fail, scrubbed } from './errors.js'
import { exchangeCode } from './grants.js'
import type { TokenRequestContext } from './grants.js'
import { isSecureUrl } from './outbound.js'
import type { PendingRecord } from './records.js'

export interface AuthorizationRequest {
  readonly url: URL
  readonly pending: PendingRecord
}

export interface StartOptions {
  readonly scope: string | undefined
  readonly redirectUri: string
  readonly partition: string
  readonly returnTo: string
  readonly allowMissingPkceMetadata: readonly string[]
  /** The key the tokens will be bound to: its thumbprint goes out as `dpop_jkt` (RFC 9449 §10). */
  readonly dpopKey: DpopKey | undefined
}

export async function startAuthorization (binding: Binding, options: StartOptions): Promise<AuthorizationRequest> {
  const { as, client } = binding
  assertPkceSupported(as, options.allowMissingPkceMetadata)
  let endpoint: URL
  try {
    endpoint = new URL(String(as.authorization_endpoint))
  } catch (err) {
    throw fail.discovery('as_metadata.endpoint_missing', `${as.issuer} publishes no valid authorization_endpoint`, err)
  }
  if (!isSecureUrl(endpoint)) throw fail.discovery('as_metadata.invalid', `${as.issuer}'s authorization endpoint is not https`)

  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const params = endpoint.searchParams
  params.set('response_type', 'code')
  params.set('client_id', client.clientId)
  params.set('redirect_uri', options.redirectUri)
  params.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier))
  params.set('code_challenge_method', 'S256')
  params.set('state', state)
  params.set('resource', binding.resource)
  if (options.scope !== undefined) params.set('scope', options.scope)
  if (options.dpopKey !== undefined) params.set('dpop_jkt', options.dpopKey.jkt)

  const pending: PendingRecord = Object.freeze({
    kind: 'pending',
    state,
    codeVerifier,
    issuer: as.issuer,
    clientId: client.clientId,
    resource: binding.resource,
    serverUrl: binding.serverUrl,
    scope: options.scope,
    redirectUri: options.redirectUri,
    partition: options.partition,
    returnTo: options.returnTo,
    dpopKey: options.dpopKey?.privateJwk as JWK | undefined,
    authorizationServer: as,
    createdAt: Math.floor(Date.now() / 1000),
  })
  return { url: endpoint, pending }
}

function callbackUrl (value: URL | string): URL {
  try {
    return new URL(String(value))
  } catch (err) {
    throw fail.authorization('authorization.invalid_response', 'the authorizer did not return the callback URL', { cause: err })
  }
}

// oauth4webapi decides; this only names which of its checks failed, for the caller and the logs.
function responseFailure (as: oauth.AuthorizationServer, pending: PendingRecord, url: URL, err: unknown): Error {
  if (err instanceof oauth.AuthorizationResponseError) {
    // Thrown only once `iss` and `state` matched, so the error is the real server's.
    return fail.authorization('authorization.error', `the authorization server answered ${err.error}`, { oauthError: err.error, cause: scrubbed(err) })
  }
  const iss = url.searchParams.get('iss')
  if ((iss === null && as.authorization_response_iss_parameter_supported === true) || (iss !== null && iss !== as.issuer)) {
    return fail.authorization('authorization.issuer', 'the authorization response came from another issuer, or without the iss it must carry (RFC 9207)', { cause: scrubbed(err) })
  }
  if (url.searchParams.get('state') !== pending.state) {
    return fail.authorization('authorization.state', 'the authorization response does not carry the state of this request', { cause: scrubbed(err) })
  }
  return fail.authorization('authorization.invalid_response', 'the authorization response is invalid', { cause: scrubbed(err) })
}

/**
 * Checks the authorization response and redeems the code. `context.as` must be
 * the metadata the request was sent with and `context.client` the client it
 * named (the callers take both from the pending authorization).
 */
export async function completeAuthorization (context: TokenRequestContext, pending: PendingRecord, callback: URL | string): Promise<oauth.TokenEndpointResponse> {
  const url = callbackUrl(callback)
  let params: URLSearchParams
  try {
    params = oauth.validateAuthResponse(context.as, { client_id: pending.clientId }, url, pending.state)
  } catch (err) {
    throw responseFailure(context.as, pending, url, err)
  }
  return await exchangeCode(context, params, pending.redirectUri, pending.codeVerifier, pending.resource)
}
