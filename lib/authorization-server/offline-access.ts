// `offline_access` for plain OAuth authorization requests. oidc-provider applies
// OpenID Connect Core §11 to every request and drops `offline_access` unless the
// request carries `prompt=consent`. MCP clients speak OAuth 2.1 (no `openid`
// scope), ask for `offline_access` when the server lists it (SEP-2207) and
// seldom send `prompt=consent`, so they would never get a refresh token. For a
// request without `openid` the scope is put back when the client registered the
// `refresh_token` grant: the consent step still asks the user for it, and
// issueRefreshToken still decides at the token endpoint. OpenID requests keep
// OpenID Connect's rule.
import { decodeJwt } from 'jose'
import { errors } from 'oidc-provider'

export const OFFLINE_ACCESS = 'offline_access'

/** The slice of oidc-provider's request context this module reads (authorization and PAR endpoints). */
export interface AuthorizationContext {
  readonly method: string
  readonly query: Record<string, unknown>
  readonly oidc: {
    readonly params: Record<string, unknown>
    readonly body?: Record<string, unknown> | undefined
    readonly entities: { readonly PushedAuthorizationRequest?: { readonly request: string } }
    readonly client: { readonly scope?: string | undefined, grantTypeAllowed (type: string): boolean }
  }
}

export function scopeTokens (scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : []
}

/**
 * The `scope` the client sent, before the provider's checks rewrote it: the
 * pushed request's for a `request_uri`, else the form body's (PAR, POST) or the query's.
 */
function requestedScope (ctx: AuthorizationContext): unknown {
  const pushed = ctx.oidc.entities.PushedAuthorizationRequest
  if (pushed !== undefined) return decodeJwt(pushed.request).scope
  return ctx.method === 'POST' ? ctx.oidc.body?.scope : ctx.query.scope
}

/** Puts `offline_access` back on an OAuth (non-OpenID) request that asked for it. */
export function keepOfflineAccess (ctx: AuthorizationContext): void {
  const scopes = scopeTokens(ctx.oidc.params.scope)
  if (scopes.includes(OFFLINE_ACCESS)) return
  const requested = scopeTokens(requestedScope(ctx))
  if (!requested.includes(OFFLINE_ACCESS) || requested.includes('openid')) return
  const client = ctx.oidc.client
  if (!client.grantTypeAllowed('refresh_token')) return
  // A client bound to its registered scopes gets what oidc-provider gives such a
  // client asking with prompt=consent: invalid_scope.
  if (client.scope !== undefined && !scopeTokens(client.scope).includes(OFFLINE_ACCESS)) {
    throw new errors.InvalidScope('requested scope is not allowed', OFFLINE_ACCESS)
  }
  ctx.oidc.params.scope = [...scopes, OFFLINE_ACCESS].join(' ')
}
