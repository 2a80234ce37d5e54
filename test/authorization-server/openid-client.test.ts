// openid-client (panva's certified relying-party library, a client nobody here
// wrote) against mcpAuthorizationServer: PAR with DPoP, private_key_jwt client
// credentials, refresh rotation with reuse detection, and revocation.
import { exportJWK, generateKeyPair } from 'jose'
import * as client from 'openid-client'
import t from 'tap'
import { completeAuthorization } from '../../testing.js'
import { REDIRECT_URI, RESOURCE, startAs } from '../helpers/authorization-server.js'

const PUBLIC = { client_id: 'oidc-app', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }

async function configuration (issuer: string, clientId: string, auth: client.ClientAuth = client.None(), metadata: Partial<client.ClientMetadata> = {}): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, metadata, auth, { execute: [client.allowInsecureRequests], algorithm: 'oauth2' })
}

/** The OAuth `error` a rejected call carries (undefined when it resolved). */
async function oauthError (call: Promise<unknown>): Promise<unknown> {
  const err: unknown = await call.then(() => undefined, (error: unknown) => error)
  return (err as { error?: unknown } | undefined)?.error
}

t.test('openid-client: PAR with DPoP, a DPoP-bound token, refresh rotation and reuse detection, revocation', async (t) => {
  const running = await startAs(t, { clients: { static: [PUBLIC] } })
  const config = await configuration(running.issuer, PUBLIC.client_id)
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'mcp:tools:read offline_access',
    prompt: 'consent',
    resource: RESOURCE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  }, { DPoP })
  t.ok(url.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'), 'pushed')
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, { resource: RESOURCE }, { DPoP })
  t.equal(tokens.token_type.toLowerCase(), 'dpop')
  const first = tokens.refresh_token as string
  t.type(first, 'string')

  const rotated = await client.refreshTokenGrant(config, first, { resource: RESOURCE }, { DPoP })
  t.not(rotated.refresh_token, first, 'rotated on use')
  t.equal(await oauthError(client.refreshTokenGrant(config, first, {}, { DPoP })), 'invalid_grant', 'reuse detected')
  t.equal(await oauthError(client.refreshTokenGrant(config, rotated.refresh_token as string, {}, { DPoP })), 'invalid_grant', 'the grant is revoked after reuse')

  // A fresh grant, then revocation of its refresh token.
  const again = await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT_URI, scope: 'mcp:tools:read offline_access', prompt: 'consent', resource: RESOURCE, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state }, { DPoP })
  const more = await client.authorizationCodeGrant(config, await completeAuthorization(again, REDIRECT_URI), { pkceCodeVerifier: verifier, expectedState: state }, {}, { DPoP })
  await client.tokenRevocation(config, more.refresh_token as string)
  t.equal(await oauthError(client.refreshTokenGrant(config, more.refresh_token as string, {}, { DPoP })), 'invalid_grant', 'revoked')
})

t.test('openid-client: client credentials with private_key_jwt (the assertion\'s aud is the issuer)', async (t) => {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = { ...await exportJWK(publicKey), kid: 'svc-1', alg: 'ES256' }
  const running = await startAs(t, { clients: { static: [{ client_id: 'svc', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }] } })
  const config = await configuration(running.issuer, 'svc', client.PrivateKeyJwt({ key: privateKey, kid: 'svc-1' }))
  const tokens = await client.clientCredentialsGrant(config, { resource: RESOURCE, scope: 'mcp:tools:call' })
  t.equal(tokens.token_type.toLowerCase(), 'bearer')
  t.equal(tokens.scope, 'mcp:tools:call')
  const other = await generateKeyPair('ES256')
  const impostor = await configuration(running.issuer, 'svc', client.PrivateKeyJwt({ key: other.privateKey, kid: 'svc-1' }))
  t.equal(await oauthError(client.clientCredentialsGrant(impostor, { resource: RESOURCE })), 'invalid_client', 'a key the client did not register')
})
