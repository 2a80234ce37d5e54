// The MCP request itself, sent by oauth4webapi's protectedResourceRequest: the
// token under the scheme its type names (`DPoP` with a fresh proof from the
// resource-server handle, else `Bearer`), never over plain http off loopback,
// and resent once when the server asks for a DPoP nonce (RFC 9449 §9).
import * as oauth from 'oauth4webapi'
import type { DpopRoleHandles } from './dpop.js'
import { fail } from './errors.js'
import type { Outbound } from './outbound.js'
import { isSecureUrl } from './outbound.js'
import type { McpRequest } from './request.js'

export interface PresentedToken {
  readonly accessToken: string
  /** The key's handles when the token is DPoP-bound. */
  readonly dpop: DpopRoleHandles | undefined
}

/** Sends the request; a challenge (401, 403…) is returned, not thrown. */
export async function sendToResource (request: McpRequest, token: PresentedToken | undefined, outbound: Outbound): Promise<Response> {
  const init = { method: request.method, headers: request.headers, body: request.body, signal: request.signal }
  if (token === undefined) return await outbound.resource(request.url.href, init)
  if (!isSecureUrl(request.url)) {
    throw fail.token('token.insecure_resource', `refused to send an access token to ${request.url.origin} over plain http (https is required off loopback)`)
  }
  const send = async (): Promise<Response> => await oauth.protectedResourceRequest(token.accessToken, request.method, request.url, new Headers(request.headers), request.body, {
    DPoP: token.dpop?.resourceServer,
    signal: request.signal,
    [oauth.customFetch]: (url, options) => outbound.resource(url, options as RequestInit),
    [oauth.allowInsecureRequests]: true,
  })
  try {
    return await send()
  } catch (err) {
    if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err
    if (token.dpop === undefined || !oauth.isDPoPNonceError(err)) return err.response
    // The handle cached the DPoP-Nonce of this answer: one retry carries it.
    await err.response.body?.cancel()
  }
  try {
    return await send()
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) return err.response
    throw err
  }
}
