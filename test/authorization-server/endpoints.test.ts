// The endpoints and MCP defaults of mcpAuthorizationServer, driven by
// oauth4webapi (a client nobody here wrote) over real HTTP on 127.0.0.1:
// metadata (RFC 8414, OpenID), the authorization-code grant with PKCE S256 and
// RFC 9207 `iss`, RFC 9068 JWT access tokens bound to the resource (RFC 8707),
// default scopes, offline_access, refresh rotation and reuse detection,
// client credentials (client_secret_basic, private_key_jwt), PAR with DPoP,
// revocation, CORS, and URLs that only the issuer decides.
import { randomBytes } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { completeAuthorization } from '../../testing.js'
import { authorizationUrl, insecure, REDIRECT_URI, RESOURCE, registerPublicClient, startAs } from '../helpers/authorization-server.js'

async function codeFlow (running: Awaited<ReturnType<typeof startAs>>, client: oauth.Client, params: Record<string, string | undefined> = {}, options: { DPoP?: oauth.DPoPHandle } = {}) {
  const { url, verifier } = await authorizationUrl(running.as, client, params)
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const state = url.searchParams.get('state') ?? undefined
  const result = oauth.validateAuthResponse(running.as, client, callback, state)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, {
    additionalParameters: params.resource === undefined && !('resource' in params) ? { resource: RESOURCE } : {},
    ...insecure,
    ...options,
  })
  return { callback, tokens: await oauth.processAuthorizationCodeResponse(running.as, client, res) }
}

t.test('RFC 8414 and OpenID metadata: every URL is built from the issuer, MCP capabilities advertised', async (t) => {
  const running = await startAs(t)
  const { as, issuer, app } = running
  t.equal(as.issuer, issuer, 'issuer verbatim, no trailing slash')
  for (const name of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'pushed_authorization_request_endpoint', 'jwks_uri'] as const) {
    t.ok(String(as[name]).startsWith(issuer + '/'), `${name} is under the issuer`)
  }
  t.same(as.code_challenge_methods_supported, ['S256'])
  t.equal(as.authorization_response_iss_parameter_supported, true)
  t.equal(as.client_id_metadata_document_supported, true)
  t.ok(as.scopes_supported?.includes('offline_access'))
  t.ok(as.dpop_signing_alg_values_supported?.includes('ES256'))
  t.notOk(as.token_endpoint_auth_methods_supported?.includes('client_secret_jwt'), 'no symmetric client assertions')
  const openid = await app.inject({ url: '/.well-known/openid-configuration' })
  t.equal(openid.json().issuer, issuer)
  t.equal(openid.json().token_endpoint, as.token_endpoint)
})

t.test('Host and X-Forwarded-* never change a URL in metadata or a redirect, trustProxy or not', async (t) => {
  for (const trustProxy of [false, true]) {
    const { issuer, app, as } = await startAs(t, {}, { fastify: { trustProxy } })
    const spoofed = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example;proto=https' }
    for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await app.inject({ url, headers: spoofed })
      t.equal(res.statusCode, 200)
      t.notMatch(res.body, /evil/, `${url} (trustProxy ${trustProxy})`)
      t.equal(res.json().issuer, issuer)
    }
    const client = await registerPublicClient(as)
    const { url } = await authorizationUrl(as, client)
    const res = await app.inject({ url: url.pathname + url.search, headers: spoofed })
    t.equal(res.statusCode, 303)
    t.notMatch(String(res.headers.location), /evil/, 'the interaction redirect')
    const registration = await app.inject({ method: 'POST', url: '/register', headers: { ...spoofed, 'content-type': 'application/json' }, payload: { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' } })
    t.equal(registration.statusCode, 201)
    t.ok(registration.json().registration_client_uri.startsWith(issuer + '/register/'), 'registration_client_uri from the issuer')
  }
})

t.test('authorization code + PKCE: iss in the response, a JWT access token (typ at+jwt) whose aud is the resource', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  const { callback, tokens } = await codeFlow(running, client, { scope: 'mcp:tools:read mcp:tools:call' })
  t.equal(callback.searchParams.get('iss'), running.issuer, 'RFC 9207 iss')
  t.equal(tokens.token_type.toLowerCase(), 'bearer')
  t.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt')
  const { payload } = await jwtVerify(tokens.access_token, running.app.mcpAuthorizationServer.keys, { issuer: running.issuer, audience: RESOURCE, typ: 'at+jwt' })
  t.equal(payload.scope, 'mcp:tools:read mcp:tools:call')
  t.equal(payload.sub, 'demo-user')
  t.equal(payload.client_id, client.client_id)
  t.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access')
})

t.test('a request naming the resource but no scope gets the default scopes', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  const { tokens } = await codeFlow(running, client, { scope: undefined })
  t.equal(decodeJwt(tokens.access_token).scope, 'mcp:tools:read')
  // Without a resource parameter the only resource is implied, defaults included.
  const implied = await codeFlow(running, client, { scope: undefined, resource: undefined })
  t.equal(decodeJwt(implied.tokens.access_token).aud, RESOURCE)
  t.equal(decodeJwt(implied.tokens.access_token).scope, 'mcp:tools:read')
})

t.test('no scope and no defaultScopes: invalid_scope (with iss) before any sign-in, never access_denied', async (t) => {
  const running = await startAs(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read'] }] })
  const client = await registerPublicClient(running.as)
  const { url } = await authorizationUrl(running.as, client, { scope: undefined })
  const res = await fetch(url, { redirect: 'manual' })
  const location = new URL(String(res.headers.get('location')))
  t.equal(location.origin + location.pathname, REDIRECT_URI, 'straight back to the client: no login page')
  t.equal(location.searchParams.get('error'), 'invalid_scope')
  t.equal(location.searchParams.get('iss'), running.issuer, 'iss on error responses too')
})

t.test('PKCE is required for every client, and only S256', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  for (const params of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge_method: 'plain' }]) {
    const { url } = await authorizationUrl(running.as, client, params)
    const res = await fetch(url, { redirect: 'manual' })
    const location = new URL(String(res.headers.get('location')))
    t.equal(location.searchParams.get('error'), 'invalid_request')
    t.equal(location.searchParams.get('iss'), running.issuer)
  }
})

t.test('consent denied: access_denied with iss', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  const { url } = await authorizationUrl(running.as, client)
  const callback = await completeAuthorization(url, REDIRECT_URI, { consent: 'deny' })
  t.equal(callback.searchParams.get('error'), 'access_denied')
  t.equal(callback.searchParams.get('iss'), running.issuer)
})

t.test('offline_access: a refresh token only when requested, consented and registered for; rotation; reuse revokes the grant', async (t) => {
  const running = await startAs(t)
  const noRefresh = await registerPublicClient(running.as, { grant_types: ['authorization_code'] })
  const without = await codeFlow(running, noRefresh, { scope: 'mcp:tools:read offline_access', prompt: 'consent' })
  t.equal(without.tokens.refresh_token, undefined, 'client without the refresh_token grant')

  const client = await registerPublicClient(running.as)
  const { tokens } = await codeFlow(running, client, { scope: 'mcp:tools:read offline_access', prompt: 'consent' })
  const first = tokens.refresh_token as string
  t.type(first, 'string')
  const refresh = async (token: string) => oauth.refreshTokenGrantRequest(running.as, client, oauth.None(), token, { additionalParameters: { resource: RESOURCE }, ...insecure })
  const rotated = await oauth.processRefreshTokenResponse(running.as, client, await refresh(first))
  t.not(rotated.refresh_token, first, 'rotated')
  t.equal(decodeJwt(rotated.access_token).aud, RESOURCE)
  const reused = await refresh(first)
  t.equal(reused.status, 400)
  t.equal((await reused.json() as { error?: string }).error, 'invalid_grant', 'reuse refused')
  const after = await refresh(rotated.refresh_token as string)
  t.equal((await after.json() as { error?: string }).error, 'invalid_grant', 'the whole grant is revoked after reuse')
})

t.test('client credentials: client_secret_basic and private_key_jwt (asymmetric, single use), aud = resource', async (t) => {
  const secret = randomBytes(24).toString('base64url')
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid: 'k1', alg: 'ES256' }
  const running = await startAs(t, {
    clients: {
      static: [
        { client_id: 'service', client_secret: secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
        { client_id: 'jwt-service', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } },
      ],
    },
  })
  const params = new URLSearchParams({ resource: RESOURCE, scope: 'mcp:tools:call' })
  const basic = await oauth.clientCredentialsGrantRequest(running.as, { client_id: 'service' }, oauth.ClientSecretBasic(secret), params, insecure)
  const basicTokens = await oauth.processClientCredentialsResponse(running.as, { client_id: 'service' }, basic)
  t.equal(decodeJwt(basicTokens.access_token).aud, RESOURCE)
  t.equal(decodeJwt(basicTokens.access_token).scope, 'mcp:tools:call')

  const wrong = await oauth.clientCredentialsGrantRequest(running.as, { client_id: 'service' }, oauth.ClientSecretBasic('wrong'), params, insecure)
  t.equal(wrong.status, 401)

  const jwtClient = { client_id: 'jwt-service' }
  const res = await oauth.clientCredentialsGrantRequest(running.as, jwtClient, oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' }), params, insecure)
  const jwtTokens = await oauth.processClientCredentialsResponse(running.as, jwtClient, res)
  t.equal(decodeJwt(jwtTokens.access_token).client_id, 'jwt-service')

  // The same assertion twice: replay refused (RFC 7523 §3 jti).
  let assertion = ''
  await oauth.clientCredentialsGrantRequest(running.as, jwtClient, oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' }, {
    [oauth.modifyAssertion]: (_header: unknown, payload: Record<string, unknown>) => { payload.jti = 'fixed-jti' },
  }), params, {
    ...insecure,
    [oauth.customFetch]: async (url: string, init: RequestInit) => {
      assertion = new URLSearchParams(String(init.body)).get('client_assertion') ?? ''
      return fetch(url, init)
    },
  })
  const replay = await fetch(running.as.token_endpoint as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'jwt-service', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, resource: RESOURCE }),
  })
  t.equal(replay.status, 401)
  t.equal((await replay.json() as { error?: string }).error, 'invalid_client')
})

t.test('PAR with DPoP (dpop_jkt): the token is DPoP-bound (cnf.jkt), and nonces are required when configured', async (t) => {
  const running = await startAs(t, { dpop: { nonce: { secret: randomBytes(32) } } })
  const client = await registerPublicClient(running.as)
  const keyPair = await oauth.generateKeyPair('ES256')
  const DPoP = oauth.DPoP(client, keyPair)
  const verifier = oauth.generateRandomCodeVerifier()
  const parameters = new URLSearchParams({
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: RESOURCE,
    scope: 'mcp:tools:read',
  })
  const par = async () => oauth.pushedAuthorizationRequest(running.as, client, oauth.None(), parameters, { DPoP, ...insecure })
  let res = await par()
  let pushed: oauth.PushedAuthorizationResponse
  try {
    pushed = await oauth.processPushedAuthorizationResponse(running.as, client, res)
  } catch (err) {
    t.ok(oauth.isDPoPNonceError(err), 'the first request learns the nonce (use_dpop_nonce)')
    res = await par()
    pushed = await oauth.processPushedAuthorizationResponse(running.as, client, res)
  }
  const url = new URL(running.as.authorization_endpoint as string)
  url.searchParams.set('client_id', client.client_id)
  url.searchParams.set('request_uri', pushed.request_uri)
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback)
  const token = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, { DPoP, additionalParameters: { resource: RESOURCE }, ...insecure })
  const tokens = await oauth.processAuthorizationCodeResponse(running.as, client, token)
  t.equal(tokens.token_type.toLowerCase(), 'dpop')
  const claims = decodeJwt(tokens.access_token) as { cnf?: { jkt?: string } }
  t.type(claims.cnf?.jkt, 'string', 'bound to the DPoP key')

  // A request_uri is single use.
  const again = await fetch(url, { redirect: 'manual' })
  t.match(String(again.headers.get('location')), /error=invalid_request_uri/)
})

t.test('revocation: a revoked refresh token no longer refreshes', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  const { tokens } = await codeFlow(running, client, { scope: 'mcp:tools:read offline_access', prompt: 'consent' })
  const revoked = await oauth.revocationRequest(running.as, client, oauth.None(), tokens.refresh_token as string, insecure)
  await oauth.processRevocationResponse(revoked)
  const res = await oauth.refreshTokenGrantRequest(running.as, client, oauth.None(), tokens.refresh_token as string, insecure)
  t.equal((await res.json() as { error?: string }).error, 'invalid_grant')
})

t.test('CORS: * without credentials on metadata, JWKS, token, revocation, registration and PAR; none on authorization and interaction', async (t) => {
  const { app, as } = await startAs(t)
  const origin = { origin: 'https://app.example' }
  for (const [method, url] of [['GET', '/.well-known/oauth-authorization-server'], ['GET', '/jwks'], ['POST', '/token'], ['POST', '/revoke'], ['POST', '/register'], ['POST', '/par']] as const) {
    const res = await app.inject({ method, url, headers: { ...origin, 'content-type': 'application/x-www-form-urlencoded' }, payload: method === 'POST' ? '' : undefined })
    t.equal(res.headers['access-control-allow-origin'], '*', `${method} ${url}`)
    t.equal(res.headers['access-control-allow-credentials'], undefined)
    const preflight = await app.inject({ method: 'OPTIONS', url, headers: { ...origin, 'access-control-request-method': method } })
    t.equal(preflight.statusCode, 204)
    t.equal(preflight.headers['access-control-allow-origin'], '*')
    t.match(String(preflight.headers['access-control-allow-headers']), /DPoP/)
  }
  const client = await registerPublicClient(as)
  const { url } = await authorizationUrl(as, client)
  const authorize = await app.inject({ url: url.pathname + url.search, headers: origin })
  t.equal(authorize.headers['access-control-allow-origin'], undefined, 'authorization endpoint')
  const interaction = await app.inject({ url: String(authorize.headers.location), headers: origin })
  t.equal(interaction.headers['access-control-allow-origin'], undefined, 'interaction page')
  const preflight = await app.inject({ method: 'OPTIONS', url: url.pathname, headers: { ...origin, 'access-control-request-method': 'GET' } })
  t.equal(preflight.headers['access-control-allow-origin'], undefined, 'no preflight answer for the authorization endpoint')
})

t.test('a path issuer: RFC 8414 and OpenID well-knowns by insertion, endpoints under the path, the whole flow', async (t) => {
  const running = await startAs(t, {}, { path: '/oauth' })
  const { app, issuer } = running
  t.ok(issuer.endsWith('/oauth'))
  for (const url of ['/.well-known/oauth-authorization-server/oauth', '/.well-known/openid-configuration/oauth', '/oauth/.well-known/openid-configuration', '/oauth/.well-known/oauth-authorization-server']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.equal(res.json().issuer, issuer)
    t.equal(res.json().token_endpoint, issuer + '/token')
  }
  t.equal((await app.inject({ url: '/.well-known/oauth-authorization-server' })).statusCode, 404, 'nothing at the root without the path')
  const client = await registerPublicClient(running.as)
  const { tokens } = await codeFlow(running, client)
  t.equal(decodeJwt(tokens.access_token).iss, issuer)
})

t.test('the token endpoint is rate-limited per client IP (an OAuth-style 429)', async (t) => {
  const { app } = await startAs(t, { rateLimit: { tokenPerMinute: 2 } })
  const statuses: number[] = []
  let last
  for (let i = 0; i < 3; i++) {
    last = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })
    statuses.push(last.statusCode)
  }
  t.same(statuses.slice(0, 2).map((s) => s !== 429), [true, true])
  t.equal(statuses[2], 429)
  t.equal(last?.json().error, 'temporarily_unavailable')
  t.ok(last?.headers['retry-after'])
})
