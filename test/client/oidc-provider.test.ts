// The client against software nobody here wrote: oidc-provider as the
// authorization server, this package's mcpAuth as the MCP server. Dynamic
// registration, PKCE (S256) with `state` and `resource`, RFC 9068 tokens whose
// `aud` is the resource, refresh-token rotation, sign-out with revocation.
import type { IncomingMessage, ServerResponse } from 'node:http'
import Fastify from 'fastify'
import t from 'tap'
import { createMcpOAuthClient, memoryCredentialStore } from '../../client.js'
import type { Authorizer, CredentialStore } from '../../client.js'
import { browse, startOidcServer } from '../helpers/oidc-provider.js'
import type { OidcServer, OidcServerOptions } from '../helpers/oidc-provider.js'
import { rpc, SCOPES, startMcpServer } from '../helpers/mcp-resource-server.js'
import type { McpServer, McpServerOptions } from '../helpers/mcp-resource-server.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const REDIRECT_URI = 'http://127.0.0.1:9/callback'

/** The user's browser, counting the authorizations it was sent to. */
function browser (): Authorizer & { urls: URL[] } {
  const urls: URL[] = []
  const authorize = async (url: URL): Promise<URL> => {
    urls.push(url)
    return await browse(url, REDIRECT_URI)
  }
  return Object.assign(authorize, { urls, redirectUri: REDIRECT_URI })
}

function claims (authorization: string | undefined): Record<string, unknown> {
  const jwt = authorization?.split(' ')[1] ?? ''
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
}

interface Result { subject: string, clientId: string, resource: string, scopes: string[], sender: { binding: string, jkt?: string } }

async function result (t: Test, response: Response): Promise<Result> {
  const text = await response.text()
  t.equal(response.status, 200, `200${response.status === 200 ? '' : `: ${text}`}`)
  return (JSON.parse(text) as { result: Result }).result
}

/** Moves every stored credential's expiry into the past, as time would. */
async function expireAll (store: CredentialStore): Promise<void> {
  for (const key of await store.keys('cred:')) {
    const record = await store.get(key)
    if (record !== undefined) await store.set(key, { ...record, expiresAt: 1 })
  }
}

/** An authorization server and an MCP server that trust each other. */
async function servers (t: Test, as: Partial<OidcServerOptions> = {}, mcp: Partial<McpServerOptions> = {}): Promise<{ as: OidcServer, mcp: McpServer }> {
  const resources: OidcServerOptions['resources'] = []
  const authorizationServer = await startOidcServer(t, { ...as, resources })
  const server = await startMcpServer(t, { issuer: authorizationServer.issuer, ...mcp })
  resources.push({ uri: server.url, scopes: [...SCOPES] })
  return { as: authorizationServer, mcp: server }
}

t.test('DCR + authorization code with PKCE, state and resource → a token for exactly that resource; refresh rotates; sign-out revokes', async (t) => {
  const { as, mcp } = await servers(t)
  const store = memoryCredentialStore()
  const authorize = browser()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'test client' }, authorize, store })

  const first = await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.equal(first.subject, 'test-user')
  t.equal(first.resource, mcp.url)
  t.equal(first.sender.binding, 'bearer')

  t.equal(as.registrations.length, 1, 'one dynamic registration')
  const registration = as.registrations[0] ?? {}
  t.equal(registration.application_type, 'native', 'application_type sent (SEP-837)')
  t.same(registration.redirect_uris, [REDIRECT_URI])
  t.same(registration.grant_types, ['authorization_code', 'refresh_token'])
  t.equal(registration.token_endpoint_auth_method, 'none')
  t.notOk('scope' in registration && registration.scope !== undefined && registration.scope !== '', 'registered without a scope restriction')

  const request = authorize.urls[0]?.searchParams
  t.equal(request?.get('code_challenge_method'), 'S256')
  t.match(request?.get('code_challenge'), /^[\w-]{43}$/)
  t.match(request?.get('state'), /^[\w-]{20,}$/)
  t.equal(request?.get('resource'), mcp.url, 'resource in the authorization request')
  t.equal(request?.get('scope'), 'mcp:tools:read mcp:tools:call offline_access', 'the challenge\'s scope, and offline_access since the authorization server lists it (SEP-2207)')
  t.equal(request?.get('client_id'), first.clientId)

  const token = claims(mcp.authorizations.at(-1))
  t.equal(token.aud, mcp.url, 'aud is the resource: resource was in the token request too')
  t.equal(token.iss, as.issuer)

  // A second call reuses the token: no new authorization, no token request.
  await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.equal(authorize.urls.length, 1)
  t.same(as.tokenRequests.map((r) => r.grantType), ['authorization_code'])

  // Expired: one refresh, a rotated refresh token, and the call succeeds.
  const before = (await store.get((await store.keys('cred:'))[0] ?? ''))?.refreshToken
  await expireAll(store)
  await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.same(as.tokenRequests.map((r) => r.grantType), ['authorization_code', 'refresh_token'])
  const after = (await store.get((await store.keys('cred:'))[0] ?? ''))?.refreshToken
  t.ok(after !== undefined && after !== before, 'the refresh token rotated and the new one is kept')
  t.equal(authorize.urls.length, 1, 'no second authorization')

  const signOut = await oauth.signOut()
  // The refresh token is revoked; oidc-provider does not revoke JWT access tokens (unsupported_token_type), which is no failure.
  t.same({ deleted: signOut.deleted, revoked: signOut.revoked, failures: signOut.failures.length }, { deleted: 1, revoked: 1, failures: 0 })
  t.same(await store.keys('cred:'), [], 'credentials deleted')
  // The revoked refresh token is dead at the authorization server: the next call authorizes anew.
  await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.equal(authorize.urls.length, 2)
})

t.test('DPoP with nonces required by both servers on one origin: one nonce round trip per server role, none per switch (RFC 9449 §8, §9)', async (t) => {
  let asHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const mcp = await startMcpServer(t, { issuer: 'same-origin', dpopNonces: true, otherPaths: () => asHandler })
  const resources = [{ uri: mcp.url, scopes: [...SCOPES] }]
  const as = await startOidcServer(t, {
    resources,
    dpopNonces: true,
    listen: async (handler) => {
      asHandler = handler
      return mcp.origin
    },
  })
  t.equal(as.issuer, mcp.origin, 'the authorization server and the MCP server share an origin')
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'dpop client' }, authorize: browser(), store, dpop: { key: 'generate' } })

  const first = await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.equal(first.sender.binding, 'dpop', 'a DPoP-bound token presented with a proof')
  const token = claims(mcp.authorizations.at(-1))
  t.same(token.cnf, { jkt: first.sender.jkt }, 'cnf.jkt is the client\'s key')
  t.match(mcp.authorizations.at(-1), /^DPoP /)
  t.equal(as.nonceChallenges.count, 1, 'the token endpoint asked for its nonce once')
  t.equal(mcp.nonceChallenges.count, 1, 'the MCP server asked for its nonce once')

  // Token endpoint (refresh), then MCP server, then again: each role keeps its own nonce.
  await expireAll(store)
  const second = await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))
  t.same(as.tokenRequests.filter((r) => r.ok).map((r) => r.grantType), ['authorization_code', 'refresh_token'])
  t.equal(second.sender.jkt, first.sender.jkt, 'the refreshed token is bound to the same key')
  t.equal(as.nonceChallenges.count, 1, 'no extra nonce round trip at the token endpoint after MCP requests')
  t.equal(mcp.nonceChallenges.count, 1, 'no extra nonce round trip at the MCP server after a token request')
})

t.test('two MCP servers on one authorization server: each gets a token with its own aud; a token for one is never sent to the other', async (t) => {
  const resources: OidcServerOptions['resources'] = []
  const as = await startOidcServer(t, { resources })
  const a = await startMcpServer(t, { issuer: as.issuer })
  const b = await startMcpServer(t, { issuer: as.issuer })
  resources.push({ uri: a.url, scopes: [...SCOPES] }, { uri: b.url, scopes: [...SCOPES] })
  const authorize = browser()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'two servers' }, authorize })

  t.equal((await result(t, await oauth.fetch(a.url, rpc('tools/list')))).resource, a.url)
  t.equal((await result(t, await oauth.fetch(b.url, rpc('tools/list')))).resource, b.url)
  await result(t, await oauth.fetch(a.url, rpc('tools/list')))
  t.equal(authorize.urls.length, 2, 'one authorization per resource')
  t.same(authorize.urls.map((u) => u.searchParams.get('resource')), [a.url, b.url])
  t.equal(as.registrations.length, 1, 'one registration for the one authorization server')
  const sentToA = a.authorizations.filter((h) => h !== undefined).map((h) => claims(h).aud)
  const sentToB = b.authorizations.filter((h) => h !== undefined).map((h) => claims(h).aud)
  t.same([...new Set(sentToA)], [a.url], 'A only ever saw tokens for A')
  t.same([...new Set(sentToB)], [b.url], 'B only ever saw tokens for B')
})

t.test('step-up after dynamic registration: 403 insufficient_scope re-authorizes with the union of scopes and the call goes through (SEP-2350)', async (t) => {
  const { as, mcp } = await servers(t, {}, { scopesSupported: ['mcp:tools:read'] })
  const authorize = browser()
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'step-up' }, authorize, store, scopes: { offlineAccess: false } })
  t.same((await result(t, await oauth.fetch(mcp.url, rpc('tools/list')))).scopes, ['mcp:tools:read'])
  const called = await result(t, await oauth.fetch(mcp.url, rpc('tools/call', { name: 'echo' })))
  t.same([...called.scopes].sort(), ['mcp:tools:call', 'mcp:tools:read'])
  t.same(authorize.urls.map((u) => u.searchParams.get('scope')), ['mcp:tools:read', 'mcp:tools:read mcp:tools:call'], 'the second request asks for the union')
  t.equal(as.registrations.length, 1, 'the one registration serves both scopes')

  // The union is stored with the credential: a new client on the same store starts from it.
  const again = createMcpOAuthClient({ clientMetadata: { client_name: 'step-up' }, authorize, store, scopes: { offlineAccess: false } })
  await expireAll(store)
  await result(t, await again.fetch(mcp.url, rpc('tools/call', { name: 'echo' })))
  t.equal(authorize.urls.length, 2, 'a refresh keeps both scopes: no third authorization')
})

t.test('negative fixture: metadata without code_challenge_methods_supported → no authorization request (MCP "Authorization Code Protection")', async (t) => {
  const { as, mcp } = await servers(t, {
    transformMetadata: (metadata) => {
      const { code_challenge_methods_supported: _removed, ...rest } = metadata
      return rest
    },
  })
  const authorize = browser()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'pkce' }, authorize })
  await t.rejects(oauth.fetch(mcp.url, rpc('tools/list')), { code: 'FST_MCP_CLIENT_DISCOVERY', reason: 'as_metadata.pkce_unsupported' })
  t.equal(authorize.urls.length, 0, 'the browser was never sent anywhere')
  t.equal(as.authorizationRequests.length, 0, 'the authorization endpoint saw nothing')
  t.same(as.tokenRequests, [])

  // Named as known to support S256 anyway: the flow goes through.
  const allowed = createMcpOAuthClient({ clientMetadata: { client_name: 'pkce' }, authorize, pkce: { allowMissingMetadata: [as.issuer] } })
  await result(t, await allowed.fetch(mcp.url, rpc('tools/list')))
})

t.test('negative fixture: a resource document naming another origin → rejected before any authorization server is contacted (RFC 9728 §3.3)', async (t) => {
  const { as, mcp } = await servers(t)
  // A server that points discovery at the real MCP server's metadata, from another origin.
  const app = Fastify()
  app.post('/mcp', async (_request, reply) => reply.code(401).header('www-authenticate', `Bearer resource_metadata="${mcp.origin}/.well-known/oauth-protected-resource/mcp"`).send({}))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address() as { port: number }
  const authorize = browser()
  const oauth = createMcpOAuthClient({ clientMetadata: { client_name: 'mismatch' }, authorize })
  await t.rejects(oauth.fetch(`http://127.0.0.1:${address.port}/mcp`, rpc('tools/list')), { code: 'FST_MCP_CLIENT_DISCOVERY', reason: 'resource_metadata.resource_mismatch' })
  t.equal(as.registrations.length, 0, 'no registration')
  t.equal(authorize.urls.length, 0, 'no authorization')
})

t.test('the DPoP key is stored with the credential: a new client instance on the same store refreshes a DPoP-bound refresh token', async (t) => {
  const { as, mcp } = await servers(t)
  const store = memoryCredentialStore()
  const authorize = browser()
  const options = { clientMetadata: { client_name: 'restart' }, authorize, store, dpop: { key: 'generate' as const } }
  const before = await result(t, await createMcpOAuthClient(options).fetch(mcp.url, rpc('tools/list')))
  await expireAll(store)
  // Nothing shared but the store: a restarted process.
  const after = await result(t, await createMcpOAuthClient(options).fetch(mcp.url, rpc('tools/list')))
  t.equal(after.sender.jkt, before.sender.jkt, 'same key, read back from the store')
  t.same(as.tokenRequests.map((r) => [r.grantType, r.ok]), [['authorization_code', true], ['refresh_token', true]], 'the bound refresh token was accepted with a proof from the stored key')
  t.equal(authorize.urls.length, 1)
})
