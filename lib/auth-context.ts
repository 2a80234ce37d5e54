// Builds request.mcp and the MCP SDK AuthInfo from a successful authentication.
// request.mcp is frozen (as is everything it holds), so cached token data is never
// shared as something a handler could mutate for other requests. The SDK's
// AuthInfo is mutable by its type: a fresh one per request.
import type { VerifiedToken } from './claims.js'
import type { ResolvedResource } from './options.js'
import type { McpAuthContext, McpAuthInfo, McpSender } from '../types/index.js'

class AuthContext implements McpAuthContext<unknown> {
  readonly #token: string
  readonly claims: VerifiedToken['claims']
  readonly scopes: readonly string[]
  readonly subject: string | undefined
  readonly clientId: string | undefined
  readonly issuer: string
  readonly resource: string
  readonly expiresAt: number | undefined
  readonly sender: McpSender
  readonly principal: unknown

  constructor (token: string, verified: VerifiedToken, resource: ResolvedResource, sender: McpSender, principal: unknown) {
    this.#token = token
    this.claims = verified.claims
    this.scopes = verified.scopes
    this.subject = verified.subject
    this.clientId = verified.clientId
    this.issuer = verified.issuer ?? (resource.authorizationServers[0] as string)
    this.resource = resource.uri
    this.expiresAt = verified.expiresAt
    this.sender = sender
    this.principal = principal
    Object.freeze(this)
  }

  // A prototype getter over a private field: never enumerated, so JSON.stringify,
  // pino and util.inspect of request.mcp do not print the token.
  get token (): string {
    return this.#token
  }
}

export function createAuthContext (token: string, verified: VerifiedToken, resource: ResolvedResource, sender: McpSender, principal: unknown): McpAuthContext {
  return new AuthContext(token, verified, resource, sender, principal) as McpAuthContext
}

/**
 * The MCP SDK's AuthInfo shape, read by its transports from `req.auth`.
 * `resourceUrl` is the resource's shared read-only URL (see readonly-url.ts).
 */
export function createAuthInfo (context: McpAuthContext, resourceUrl: URL): McpAuthInfo {
  return {
    token: context.token,
    clientId: context.clientId ?? '',
    scopes: [...context.scopes],
    expiresAt: context.expiresAt,
    resource: resourceUrl,
    extra: {
      subject: context.subject,
      issuer: context.issuer,
      sender: context.sender,
      claims: context.claims,
      principal: context.principal,
    },
  }
}
