// The authorization server both token-endpoint benchmark servers run: one resource,
// a confidential client_secret_basic client and a private_key_jwt client, rate limits off.
export function asBenchOptions (config) {
  return {
    issuer: config.issuer,
    resources: [{ uri: config.resource, scopes: ['mcp:tools:read', 'mcp:tools:call'], defaultScopes: ['mcp:tools:read'] }],
    signingKeys: { keys: [config.signingKey] },
    accounts: { find: async () => undefined },
    clients: {
      static: [
        { client_id: 'basic', client_secret: config.secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
        { client_id: 'jwt', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [config.clientJwk] } },
      ],
      cimd: false,
      registration: false,
    },
    rateLimit: false,
  }
}
