// Enterprise-managed authorization on the client side (MCP SEP-990): the
// assertion source of the jwt-bearer grant that exchanges the user's ID token
// at the enterprise identity provider (RFC 8693 token exchange through
// oauth4webapi, draft-ietf-oauth-identity-assertion-authz-grant §4.3) for an
// Identity Assertion JWT Authorization Grant for the MCP authorization server.
// One attempt: an identity provider's refusal is surfaced, typed, never retried.
import * as oauth from 'oauth4webapi'
import type { AssertionContext, IdJagGrantOptions } from '../../types/client.js'
import { clientAuthentication } from './client-auth.js'
import { fail, isMcpClientError } from './errors.js'
import { describeFailure } from './token-failure.js'
import type { Outbound } from './outbound.js'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag'
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

const AT_IDENTITY_PROVIDER = { error: 'token.exchange_error', invalid: 'token.exchange_invalid_response' } as const

async function subjectToken (grant: IdJagGrantOptions, context: AssertionContext): Promise<string> {
  let idToken: unknown
  try {
    idToken = await grant.idToken(context)
  } catch (err) {
    if (isMcpClientError(err)) throw err
    throw fail.token('token.id_token_failed', 'the idToken callback failed', { cause: err })
  }
  if (typeof idToken !== 'string' || idToken === '') throw fail.token('token.id_token_failed', 'the idToken callback returned no ID token')
  return idToken
}

/** The jwt-bearer assertion callback for `grant: { type: 'id-jag', … }`. */
export function idJagAssertion (grant: IdJagGrantOptions, outbound: Outbound): (context: AssertionContext) => Promise<string> {
  const { idp } = grant
  const as: oauth.AuthorizationServer = { issuer: idp.issuer, token_endpoint: idp.tokenEndpoint }
  const client: oauth.Client = { client_id: idp.clientId }
  return async function exchange (context) {
    const idToken = await subjectToken(grant, context)
    const parameters: Record<string, string> = {
      requested_token_type: ID_JAG_TOKEN_TYPE,
      // MCP §4: the audience is the MCP authorization server's issuer; the resource is the MCP server.
      audience: context.issuer,
      resource: context.resource,
      subject_token: idToken,
      subject_token_type: ID_TOKEN_TYPE,
    }
    if (context.scope !== undefined) parameters.scope = context.scope
    let answer: oauth.TokenEndpointResponse
    try {
      const response = await oauth.genericTokenEndpointRequest(as, client, await clientAuthentication(idp.auth ?? { method: 'none' }), TOKEN_EXCHANGE, parameters, {
        [oauth.customFetch]: outbound.oauth,
        // outbound.oauth enforces https (http only on loopback) itself.
        [oauth.allowInsecureRequests]: true,
      })
      // An ID-JAG is not an access token: its token_type is N_A (draft §4.3.3).
      answer = await oauth.processGenericTokenEndpointResponse(as, client, response, { recognizedTokenTypes: { n_a: () => {} } })
    } catch (err) {
      throw describeFailure(idp.issuer, 'token exchange', err, AT_IDENTITY_PROVIDER)
    }
    if (answer.issued_token_type !== ID_JAG_TOKEN_TYPE) {
      throw fail.token('token.exchange_invalid_response', `the token exchange at ${idp.issuer} did not issue an ID-JAG (issued_token_type ${JSON.stringify(answer.issued_token_type ?? null)})`)
    }
    return answer.access_token
  }
}
