// Userinfo (OpenID Connect Core §5.3) and introspection (RFC 7662) end to end
// through oauth4webapi: an OpenID request that names no resource gets an access
// token for userinfo with the claims its scopes release; introspection tells a
// client about its own tokens only, and refuses the JWT access tokens (resource
// servers verify those with the public keys).
import { randomBytes } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import t from 'tap'
import { codeFlowTokens, insecure, RESOURCE, registerPublicClient, startAs } from '../helpers/authorization-server.js'
import type { RunningAs } from '../helpers/authorization-server.js'

const SECRET = randomBytes(24).toString('base64url')
const RESOURCE_SERVER = { client_id: 'resource-server', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }

async function userinfo (running: RunningAs, client: oauth.Client, accessToken: string) {
  return oauth.userInfoRequest(running.as, client, accessToken, insecure)
}

async function introspect (running: RunningAs, token: string, as: 'resource-server' | oauth.Client): Promise<Response> {
  return as === 'resource-server'
    ? oauth.introspectionRequest(running.as, { client_id: 'resource-server' }, oauth.ClientSecretBasic(SECRET), token, insecure)
    : oauth.introspectionRequest(running.as, as, oauth.None(), token, insecure)
}

t.test('userinfo: an OpenID request naming no resource gets a userinfo token; the claims follow the scopes', async (t) => {
  const running = await startAs(t, { claims: { profile: ['name'] } })
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'openid profile', resource: undefined })
  const subject = oauth.getValidatedIdTokenClaims(tokens)?.sub as string
  t.equal(subject, 'demo-user', 'an ID token')
  t.throws(() => decodeJwt(tokens.access_token), 'an opaque access token, for userinfo only')
  const claims = await oauth.processUserInfoResponse(running.as, client, subject, await userinfo(running, client, tokens.access_token))
  t.same(claims, { sub: 'demo-user', name: 'Demo' }, 'profile releases name')

  const minimal = await codeFlowTokens(running, client, { scope: 'openid', resource: undefined })
  const onlySub = await oauth.processUserInfoResponse(running.as, client, subject, await userinfo(running, client, minimal.access_token))
  t.same(onlySub, { sub: 'demo-user' }, 'openid alone releases sub')
})

t.test('an OpenID request for a resource scope gets the resource\'s JWT (named or the only one), which userinfo refuses', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  for (const resource of [RESOURCE, undefined]) {
    const tokens = await codeFlowTokens(running, client, { scope: 'openid mcp:tools:read', resource })
    t.equal(decodeJwt(tokens.access_token).aud, RESOURCE, `the resource's token (resource ${resource === undefined ? 'implied' : 'named'})`)
    t.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, 'demo-user', 'and the ID token still comes')
    const res = await userinfo(running, client, tokens.access_token)
    t.equal(res.status, 401)
    t.match(String(res.headers.get('www-authenticate')), /error="invalid_token"/)
  }
})

t.test('introspection: a client learns about its own tokens (refresh and userinfo), nothing after revocation', async (t) => {
  const running = await startAs(t, { clients: { static: [RESOURCE_SERVER] } })
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read offline_access' })
  const refresh = await oauth.processIntrospectionResponse(running.as, client, await introspect(running, tokens.refresh_token as string, client))
  t.match(refresh, { active: true, client_id: client.client_id, sub: 'demo-user', iss: running.issuer })
  t.same(String(refresh.scope).split(' ').sort(), ['mcp:tools:read', 'offline_access'])

  const signIn = await codeFlowTokens(running, client, { scope: 'openid', resource: undefined })
  const opaque = await oauth.processIntrospectionResponse(running.as, client, await introspect(running, signIn.access_token, client))
  t.match(opaque, { active: true, client_id: client.client_id, sub: 'demo-user', scope: 'openid', token_type: 'Bearer' })

  await oauth.processRevocationResponse(await oauth.revocationRequest(running.as, client, oauth.None(), tokens.refresh_token as string, insecure))
  const revoked = await oauth.processIntrospectionResponse(running.as, client, await introspect(running, tokens.refresh_token as string, client))
  t.same(revoked, { active: false })
})

t.test('introspection: another client, even a confidential one, learns nothing about a token (active: false)', async (t) => {
  const running = await startAs(t, { clients: { static: [RESOURCE_SERVER] } })
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read offline_access' })
  for (const token of [tokens.refresh_token as string, (await codeFlowTokens(running, client, { scope: 'openid', resource: undefined })).access_token]) {
    const answer = await oauth.processIntrospectionResponse(running.as, { client_id: 'resource-server' }, await introspect(running, token, 'resource-server'))
    t.same(answer, { active: false })
  }
})

t.test('introspection refuses JWT access tokens (unsupported_token_type): verify them with the public keys', async (t) => {
  const running = await startAs(t, { clients: { static: [RESOURCE_SERVER] } })
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read' })
  for (const who of ['resource-server', client] as const) {
    const res = await introspect(running, tokens.access_token, who)
    t.equal(res.status, 400)
    t.equal((await res.json() as { error?: string }).error, 'unsupported_token_type')
  }
})
