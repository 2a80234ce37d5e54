// The token requests: authorization code, refresh, client credentials and the
// RFC 7523 jwt-bearer grant. oauth4webapi builds each request and checks each
// response; here every one gets `resource` (RFC 8707), a DPoP proof from the
// authorization-server handle when DPoP is on, one retry on use_dpop_nonce
// (RFC 9449 §8), and an error that names the server's answer but no secret.
import * as oauth from 'oauth4webapi'
import type { AssertionContext } from '../../types/client.js'
import { clientAuthentication } from './client-auth.js'
import type { DpopRoleHandles } from './dpop.js'
import { fail, isMcpClientError } from './errors.js'
import type { Outbound } from './outbound.js'
import type { RegisteredClient } from './registration.js'
import { describeFailure } from './token-failure.js'

export interface TokenRequestContext {
  readonly as: oauth.AuthorizationServer
  readonly client: RegisteredClient
  readonly outbound: Outbound
  /** The key's handles when DPoP is on: the authorization-server one signs here. */
  readonly dpop: DpopRoleHandles | undefined
}

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

function requestOptions (context: TokenRequestContext, extra: Record<string, string | undefined>): oauth.TokenEndpointRequestOptions {
  const additionalParameters = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)) as Record<string, string>
  return {
    additionalParameters,
    DPoP: context.dpop?.authorizationServer,
    [oauth.customFetch]: context.outbound.oauth,
    // outbound.oauth enforces https (http only on loopback) itself.
    [oauth.allowInsecureRequests]: true,
  }
}

// One retry when the server asks for a nonce: the handle kept the one it sent.
async function withNonceRetry<T> (context: TokenRequestContext, grant: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send()
  } catch (err) {
    if (context.dpop === undefined || !oauth.isDPoPNonceError(err)) throw describeFailure(context.as.issuer, grant, err)
  }
  try {
    return await send()
  } catch (err) {
    throw describeFailure(context.as.issuer, grant, err)
  }
}

function oauthClient (context: TokenRequestContext): oauth.Client {
  return { client_id: context.client.clientId }
}

export async function exchangeCode (context: TokenRequestContext, callback: URLSearchParams, redirectUri: string, codeVerifier: string, resource: string): Promise<oauth.TokenEndpointResponse> {
  const auth = await clientAuthentication(context.client.auth)
  const client = oauthClient(context)
  return await withNonceRetry(context, 'authorization_code', async () => oauth.processAuthorizationCodeResponse(context.as, client,
    await oauth.authorizationCodeGrantRequest(context.as, client, auth, callback, redirectUri, codeVerifier, requestOptions(context, { resource }))))
}

export async function refreshTokens (context: TokenRequestContext, refreshToken: string, resource: string): Promise<oauth.TokenEndpointResponse> {
  const auth = await clientAuthentication(context.client.auth)
  const client = oauthClient(context)
  return await withNonceRetry(context, 'refresh_token', async () => oauth.processRefreshTokenResponse(context.as, client,
    await oauth.refreshTokenGrantRequest(context.as, client, auth, refreshToken, requestOptions(context, { resource }))))
}

export async function clientCredentials (context: TokenRequestContext, resource: string, scope: string | undefined): Promise<oauth.TokenEndpointResponse> {
  const auth = await clientAuthentication(context.client.auth)
  const client = oauthClient(context)
  const parameters = Object.fromEntries(Object.entries({ resource, scope }).filter(([, v]) => v !== undefined)) as Record<string, string>
  return await withNonceRetry(context, 'client_credentials', async () => oauth.processClientCredentialsResponse(context.as, client,
    await oauth.clientCredentialsGrantRequest(context.as, client, auth, parameters, {
      DPoP: context.dpop?.authorizationServer,
      [oauth.customFetch]: context.outbound.oauth,
      [oauth.allowInsecureRequests]: true,
    })))
}

/**
 * The RFC 7523 §2.1 grant with a caller-supplied assertion (a workload identity
 * token, SEP-1933; an Identity Assertion JWT obtained by token exchange, SEP-990).
 * One attempt: a rejected assertion is surfaced, never retried or replaced by another grant.
 */
export async function jwtBearer (context: TokenRequestContext, assertion: (context: AssertionContext) => string | Promise<string>, request: { readonly resource: string, readonly scope: string | undefined, readonly partition: string }): Promise<oauth.TokenEndpointResponse> {
  const { resource, scope, partition } = request
  const tokenEndpoint = context.as.token_endpoint
  if (typeof tokenEndpoint !== 'string') throw fail.discovery('as_metadata.endpoint_missing', `${context.as.issuer} has no token endpoint`)
  let jwt: string
  try {
    jwt = await assertion(Object.freeze({ issuer: context.as.issuer, tokenEndpoint, clientId: context.client.clientId, resource, scope, partition }))
  } catch (err) {
    // A typed failure from the assertion's own source (the ID-JAG exchange) is kept as it is.
    if (isMcpClientError(err)) throw err
    throw fail.token('token.assertion_failed', 'the jwt-bearer assertion callback failed', { cause: err })
  }
  if (typeof jwt !== 'string' || jwt === '') throw fail.token('token.assertion_failed', 'the jwt-bearer assertion callback returned no JWT')
  const auth = await clientAuthentication(context.client.auth)
  const client = oauthClient(context)
  const parameters = Object.fromEntries(Object.entries({ assertion: jwt, resource, scope }).filter(([, v]) => v !== undefined)) as Record<string, string>
  return await withNonceRetry(context, 'jwt-bearer', async () => oauth.processGenericTokenEndpointResponse(context.as, client,
    await oauth.genericTokenEndpointRequest(context.as, client, auth, JWT_BEARER, parameters, {
      DPoP: context.dpop?.authorizationServer,
      [oauth.customFetch]: context.outbound.oauth,
      [oauth.allowInsecureRequests]: true,
    })))
}
