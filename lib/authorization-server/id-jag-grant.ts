// The RFC 7523 jwt-bearer grant for Identity Assertion JWT Authorization Grants
// (MCP enterprise-managed authorization), registered through oidc-provider's
// grant-type extension point. oidc-provider has authenticated the client when
// the handler runs; the handler runs the ID-JAG checks (id-jag.ts), finds the
// account, applies DPoP as the built-in grants do, claims the ID-JAG's `jti`
// once through the store, and issues an access token whose `aud` is the
// ID-JAG's resource. No refresh token: a client exchanges again at its IdP.
import { errors } from 'oidc-provider'
import { applyDpopBinding } from 'oidc-provider/lib/helpers/grant_common.js'
import { buildTokenResponse, checkDpopRequired, validateDpop } from 'oidc-provider/lib/helpers/grants.js'
import type { IdJagClaims } from '../../types/authorization-server.js'
import { grantScopes, IdJagRefusal, selectResource, verifyIdJag } from './id-jag.js'
import type { ResolvedIdJag, ResolvedTrustedIssuer } from './id-jag-options.js'
import type { ResolvedAsOptions, ResolvedAsResource } from './options.js'
import { resourceServerInfo } from './provider-configuration.js'
import { unavailable } from './redis-adapter.js'

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

interface GrantClient {
  readonly clientId: string
  readonly clientAuthMethod: string
  readonly scope?: string
}

interface GrantContext {
  oidc: {
    readonly client: GrantClient
    readonly params: Record<string, unknown>
    entity (name: string, value: unknown): void
  }
  body?: unknown
}

interface IssuedToken {
  scope?: string
  readonly expiration: number
  readonly tokenType: string
  resourceServer: unknown
  save (): Promise<string>
}

/** The slice of oidc-provider's Provider this grant uses. */
export interface IdJagProvider {
  registerGrantType (name: string, handler: (ctx: GrantContext) => Promise<void>, params: readonly string[]): void
  readonly AccessToken: new (fields: { accountId: string, client: GrantClient, scope: string, expiresIn: number }) => IssuedToken
  readonly ResourceServer: new (identifier: string, info: Record<string, unknown>) => unknown
  readonly ReplayDetection: { unique (iss: string, jti: string, exp: number): Promise<boolean> }
}

function epoch (): number {
  return Math.floor(Date.now() / 1000)
}

// The provider's errors carry the refusal: error code, a description that names
// the failed check (never a claim value), and the reason as its detail.
function providerError (refusal: IdJagRefusal): Error {
  if (refusal.error === 'temporarily_unavailable') return unavailable(refusal.cause)
  const error = refusal.error === 'invalid_scope'
    ? new errors.InvalidScope(refusal.message, '')
    : refusal.error === 'invalid_target'
      ? new errors.InvalidTarget(refusal.message)
      : new errors.InvalidGrant(refusal.reason)
  return Object.assign(error, { error_description: refusal.message, error_detail: refusal.reason })
}

// The account the token is issued to. The user's callbacks failing is this
// server's failure, not the client's: 503, never a token and never a 400.
async function accountFor (options: ResolvedAsOptions, trusted: ResolvedTrustedIssuer, claims: IdJagClaims): Promise<string> {
  let account: Awaited<ReturnType<ResolvedAsOptions['accounts']['find']>>
  try {
    // A mapping that answers undefined refuses the user; without one the subject is the account ID.
    const id = trusted.accountId === undefined ? claims.sub : await trusted.accountId(claims)
    account = id === undefined ? undefined : await options.accounts.find(id)
  } catch (err) {
    throw new IdJagRefusal('temporarily_unavailable', 'id_jag.account', 'the account lookup failed', { cause: err })
  }
  if (account === undefined) throw new IdJagRefusal('invalid_grant', 'id_jag.account', 'the ID-JAG\'s user has no account at this authorization server')
  return account.accountId
}

export function registerIdJagGrant (provider: IdJagProvider, options: ResolvedAsOptions, idJag: ResolvedIdJag): void {
  const byUri = new Map<string, ResolvedAsResource>(options.resources.map((r) => [r.uri, r]))
  const uris = [...byUri.keys()]

  async function handler (ctx: GrantContext): Promise<void> {
    const { client, params } = ctx.oidc
    // The ID-JAG names a client; only an authenticated client can be that client (draft §4.4.1).
    if (client.clientAuthMethod === 'none') throw new errors.UnauthorizedClient('the ID-JAG grant needs a client that authenticates (not token_endpoint_auth_method none)')
    const assertion = params.assertion
    if (typeof assertion !== 'string' || assertion === '') throw new errors.InvalidRequest('missing required parameter \'assertion\'')
    const requestedResource = typeof params.resource === 'string' ? params.resource : undefined
    const dPoP = await validateDpop(provider, ctx)
    let token: IssuedToken
    try {
      const now = epoch()
      const { claims, trusted } = await verifyIdJag(assertion, idJag, { issuer: options.issuer, clientId: client.clientId, now })
      const resource = byUri.get(selectResource(claims, requestedResource, uris)) as ResolvedAsResource
      const scopes = grantScopes(claims, { requested: typeof params.scope === 'string' ? params.scope : undefined, resource, client: client.scope })
      const accountId = await accountFor(options, trusted, claims)
      token = new provider.AccessToken({ accountId, client, scope: scopes.join(' '), expiresIn: resource.accessTokenTtl })
      // MCP §5.1: the access token is audience-restricted to the ID-JAG's resource.
      token.resourceServer = new provider.ResourceServer(resource.uri, resourceServerInfo(resource, options.signingKeys.algorithm))
      await applyDpopBinding(provider, ctx, dPoP, token)
      checkDpopRequired(provider, ctx, dPoP)
      // Single use (MCP §7.4.2), claimed last so a refused request does not spend
      // the ID-JAG; kept until it expires. The namespace keeps these apart from DPoP proofs.
      const unique = await provider.ReplayDetection.unique(`id-jag\n${claims.iss}\n`, claims.jti, claims.exp + idJag.clockTolerance)
      if (!unique) throw new IdJagRefusal('invalid_grant', 'id_jag.replayed', 'the ID-JAG has been used before')
    } catch (err) {
      throw err instanceof IdJagRefusal ? providerError(err) : err
    }
    ctx.oidc.entity('AccessToken', token)
    const value = await token.save()
    ctx.body = buildTokenResponse(provider, { accessToken: value, expiresIn: token.expiration, scope: token.scope, tokenType: token.tokenType })
  }

  provider.registerGrantType(JWT_BEARER, handler, ['assertion', 'scope', 'resource'])
}
