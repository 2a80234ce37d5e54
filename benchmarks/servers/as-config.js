// The authorization server both token-endpoint benchmark servers run: one resource,
// a confidential client_secret_basic client, a private_key_jwt client and a public
// client with refresh tokens, rate limits off; and the refresh tokens the parent asks
// for, minted in the server's own store.
export const REFRESH_CLIENT = 'refresh'

export function asBenchOptions (config) {
  return {
    issuer: config.issuer,
    resources: [{ uri: config.resource, scopes: ['mcp:tools:read', 'mcp:tools:call'], defaultScopes: ['mcp:tools:read'] }],
    signingKeys: { keys: [config.signingKey] },
    accounts: { find: async (sub) => sub === 'demo-user' ? { accountId: sub, claims: async () => ({ sub }) } : undefined },
    clients: {
      static: [
        { client_id: 'basic', client_secret: config.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
        { client_id: 'jwt', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [config.clientJwk] } },
        { client_id: REFRESH_CLIENT, grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/callback'], response_types: ['code'], token_endpoint_auth_method: 'none' },
      ],
      cimd: false,
      registration: false,
    },
    rateLimit: false,
  }
}

/**
 * Refresh tokens as the authorization-code grant issues them after a consent to
 * `mcp:tools:read offline_access` (a grant, then a token bound to it), without
 * the browser round trips: the benchmark measures the refresh, not the sign-in.
 */
async function mintRefreshTokens (provider, resource, count) {
  const client = await provider.Client.find(REFRESH_CLIENT)
  const tokens = []
  for (let i = 0; i < count; i++) {
    const grant = new provider.Grant({ accountId: 'demo-user', clientId: REFRESH_CLIENT })
    grant.addOIDCScope('offline_access')
    grant.addResourceScope(resource, 'mcp:tools:read')
    const grantId = await grant.save()
    const token = new provider.RefreshToken({ accountId: 'demo-user', client, grantId, gty: 'authorization_code', resource, rotations: 0, scope: 'mcp:tools:read offline_access', expiresWithSession: false })
    tokens.push(await token.save())
  }
  return tokens
}

/** Answers the parent's { type: 'mint', count } with { type: 'mint-ok', tokens }. */
export function answerMintRequests (provider, resource) {
  process.on('message', (message) => {
    if (message?.type !== 'mint') return
    mintRefreshTokens(provider, resource, message.count).then(
      (tokens) => process.send({ type: 'mint-ok', tokens }),
      (err) => process.send({ type: 'mint-ok', error: String(err) })
    )
  })
}
