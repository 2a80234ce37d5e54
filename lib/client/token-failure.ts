// A failed token request as an McpClientError, for the token endpoint of the MCP
// authorization server and of an enterprise identity provider alike.
import * as oauth from 'oauth4webapi'
import { fail, isMcpClientError, scrubbed } from './errors.js'
import type { McpClientErrorReason } from './errors.js'

/** Which reasons a failed token request reports: at the MCP authorization server, or at an identity provider. */
export interface FailureReasons {
  readonly error: McpClientErrorReason
  readonly invalid: McpClientErrorReason
}

export const AT_AUTHORIZATION_SERVER: FailureReasons = { error: 'token.error', invalid: 'token.invalid_response' }

/** A token request's failure as an McpClientError: the server's OAuth `error` in `oauthError`, no secret in the message. */
export function describeFailure (issuer: string, grant: string, err: unknown, reasons: FailureReasons = AT_AUTHORIZATION_SERVER): Error {
  if (isMcpClientError(err)) return err
  if (err instanceof oauth.ResponseBodyError) {
    return fail.token(reasons.error, `the ${grant} request at ${issuer} failed: ${err.error}`, { oauthError: err.error, cause: scrubbed(err) })
  }
  // A 401 invalid_client may come as a challenge (RFC 6749 §5.2) rather than a body.
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const error = err.cause.find((c) => c.parameters.error !== undefined)?.parameters.error ?? 'invalid_client'
    return fail.token(reasons.error, `the ${grant} request at ${issuer} failed: ${error}`, { oauthError: error, cause: scrubbed(err) })
  }
  return fail.token(reasons.invalid, `the ${grant} request at ${issuer} got an invalid response`, { cause: scrubbed(err) })
}
