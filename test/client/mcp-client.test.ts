// The mcpClient plugin: a web app acting as an MCP client for its users. The
// whole browser flow against oidc-provider (the app hosts its client ID
// metadata document over https, which oidc-provider fetches trusting a test
// CA), pending authorizations (single use, partition-checked, 10 minutes),
// same-origin returnTo, the routes' mcpAuth opt-out in both orders, a gateway
// that never forwards its user's token, private networks refused by default.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import mcpAuth from '../../index.js'
import { createTestCa, createTestIssuer } from '../../testing.js'
import { isMcpClientError, mcpClient, McpAuthorizationRequiredError, memoryCredentialStore } from '../../client.js'
import type { CredentialStore, McpClientPluginOptions } from '../../client.js'
import { browse, startOidcServer } from '../helpers/oidc-provider.js'
import type { OidcServer, OidcServerOptions } from '../helpers/oidc-provider.js'
import { rpc, SCOPES, startMcpServer } from '../helpers/mcp-resource-server.js'
import { freePort } from '../helpers/net.js'
import type { McpServer } from '../helpers/mcp-resource-server.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const ca = await createTestCa()
const certificate = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })

interface Setup {
  readonly app: FastifyInstance
  readonly baseUrl: string
  readonly as: OidcServer
  readonly mcp: McpServer
  readonly store: CredentialStore
}

const user = (name: string) => ({ 'x-user': name })

/** Registers mcpClient on a fresh app and waits for it: rejects with the register-time error. */
async function register (options: McpClientPluginOptions): Promise<void> {
  const app = Fastify()
  await app.register(mcpClient, options)
  await app.ready()
}

/**
 * An https app on 127.0.0.1 hosting its CIMD document, with GET /dashboard
 * calling the MCP server for the signed-in user (x-user header).
 */
async function setup (t: Test, options: Partial<McpClientPluginOptions> = {}): Promise<Setup> {
  const resources: OidcServerOptions['resources'] = []
  const as = await startOidcServer(t, { resources, cimdCa: ca.certificatePem })
  const mcp = await startMcpServer(t, { issuer: as.issuer })
  resources.push({ uri: mcp.url, scopes: [...SCOPES] })
  const port = await freePort()
  const baseUrl = `https://127.0.0.1:${port}`
  const store = memoryCredentialStore()
  const app = Fastify({ https: { key: certificate.keyPem, cert: certificate.certificatePem } })
  await app.register(mcpClient, {
    baseUrl,
    partition: (request) => String(request.headers['x-user']),
    clientMetadataDocument: {
      path: '/oauth/client.json',
      document: { client_id: `${baseUrl}/oauth/client.json`, client_name: 'Test web app', redirect_uris: [`${baseUrl}/oauth/mcp/callback`], grant_types: ['authorization_code', 'refresh_token'] },
    },
    store,
    allowPrivateNetworks: true,
    ...options,
  })
  app.get('/dashboard', async (request, reply) => {
    try {
      const response = await app.mcpClient.for(request).fetch(mcp.url, rpc('tools/list'))
      return await response.json()
    } catch (err) {
      if (err instanceof McpAuthorizationRequiredError) return await reply.redirect(err.authorizationUrl)
      throw err
    }
  })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, baseUrl, as, mcp, store }
}

/** The signed-in user's browser through the authorization server; resolves with the callback path. */
async function authorizeInBrowser (setup: Setup, location: string): Promise<string> {
  const callback = await browse(new URL(location), `${setup.baseUrl}/oauth/mcp/callback`)
  return `${callback.pathname}${callback.search}`
}

/**
 * A plain-http app (never listening: only its routes are driven) whose /go calls
 * the MCP server for the x-user user, with the body's returnTo, and redirects to
 * the authorization server when needed.
 */
async function plainApp (t: Test, options: Partial<McpClientPluginOptions> = {}): Promise<{ app: FastifyInstance, as: OidcServer, store: CredentialStore }> {
  const resources: OidcServerOptions['resources'] = []
  const as = await startOidcServer(t, { resources })
  const mcp = await startMcpServer(t, { issuer: as.issuer })
  resources.push({ uri: mcp.url, scopes: [...SCOPES] })
  const store = memoryCredentialStore()
  const app = Fastify()
  await app.register(mcpClient, { baseUrl: 'http://127.0.0.1:1', partition: (request) => String(request.headers['x-user']), clientMetadata: { client_name: 'plain' }, store, allowPrivateNetworks: true, ...options })
  app.post('/go', async (request, reply) => {
    const { returnTo } = (request.body ?? {}) as { returnTo?: string }
    try {
      return await (await app.mcpClient.for(request, { returnTo }).fetch(mcp.url, rpc('tools/list'))).json()
    } catch (err) {
      if (err instanceof McpAuthorizationRequiredError) return await reply.redirect(err.authorizationUrl)
      throw err
    }
  })
  await app.ready()
  return { app, as, store }
}

const PLAIN_CALLBACK = 'http://127.0.0.1:1/oauth/mcp/callback'

t.test('web-app flow: redirect to authorize, CIMD client ID fetched over https, callback completes for the same user, the call goes through', async (t) => {
  const s = await setup(t)
  const start = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('alice') })
  t.equal(start.statusCode, 302, 'the app sends the user to the authorization server')
  const authorization = new URL(start.headers.location as string)
  t.equal(authorization.origin, s.as.issuer)
  t.equal(authorization.searchParams.get('client_id'), `${s.baseUrl}/oauth/client.json`, 'the hosted document URL is the client ID')
  t.equal(authorization.searchParams.get('redirect_uri'), `${s.baseUrl}/oauth/mcp/callback`)
  t.equal(authorization.searchParams.get('resource'), s.mcp.url)

  const callback = await authorizeInBrowser(s, authorization.href)
  t.equal(s.as.registrations.length, 0, 'no dynamic registration: the authorization server fetched the document')
  const done = await s.app.inject({ method: 'GET', url: callback, headers: user('alice') })
  t.equal(done.statusCode, 302)
  t.equal(done.headers.location, '/dashboard', 'back to where the user started')
  t.equal(done.headers['cache-control'], 'no-store')

  const dashboard = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('alice') })
  t.equal(dashboard.statusCode, 200)
  t.equal(dashboard.json().result.subject, 'test-user')

  // Bob has no credential of his own: alice's is never his.
  const bob = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('bob') })
  t.equal(bob.statusCode, 302, 'another user must authorize for himself')
})

t.test('a callback is single use and completes only for the user who started it (else 400)', async (t) => {
  const s = await setup(t)
  const start = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('alice') })
  const callback = await authorizeInBrowser(s, start.headers.location as string)

  const stolen = await s.app.inject({ method: 'GET', url: callback, headers: user('mallory') })
  t.equal(stolen.statusCode, 400, 'another user opening alice\'s callback → 400')
  t.equal(stolen.json().error, 'invalid_request')
  t.equal(stolen.headers['cache-control'], 'no-store')
  const after = await s.app.inject({ method: 'GET', url: callback, headers: user('alice') })
  t.equal(after.statusCode, 400, 'the pending authorization was spent by the first use')
  t.same(await s.store.keys('cred:'), [], 'no credential for anyone')

  // A fresh start completes once, then never again.
  const again = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('alice') })
  const second = await authorizeInBrowser(s, again.headers.location as string)
  t.equal((await s.app.inject({ method: 'GET', url: second, headers: user('alice') })).statusCode, 302)
  t.equal((await s.app.inject({ method: 'GET', url: second, headers: user('alice') })).statusCode, 400, 'replayed callback → 400')
  t.equal((await s.app.inject({ method: 'GET', url: '/oauth/mcp/callback?code=x', headers: user('alice') })).statusCode, 400, 'no state → 400')
})

t.test('a callback whose client registration vanished meanwhile is refused (400), never redeemed with another client', async (t) => {
  const { app, as, store } = await plainApp(t)
  const start = await app.inject({ method: 'POST', url: '/go', headers: user('frank') })
  const callback = await browse(new URL(start.headers.location as string), PLAIN_CALLBACK)
  for (const key of await store.keys('client:')) await store.delete(key)
  const done = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: user('frank') })
  t.equal(done.statusCode, 400)
  t.same(as.tokenRequests, [], 'the code was never redeemed')
})

t.test('a pending authorization is stored under the hash of its state for 10 minutes', async (t) => {
  const inner = memoryCredentialStore()
  const writes: Array<{ key: string, ttl: number | undefined, state: unknown }> = []
  const store: CredentialStore = { ...inner, set: async (key, record, ttl) => { writes.push({ key, ttl, state: record.state }); await inner.set(key, record, ttl) } }
  const s = await setup(t, { store })
  const start = await s.app.inject({ method: 'GET', url: '/dashboard', headers: user('alice') })
  const state = new URL(start.headers.location as string).searchParams.get('state') as string
  const pending = writes.find((w) => w.key.startsWith('pending:'))
  t.equal(pending?.ttl, 600, '10 minutes')
  t.equal(pending?.state, state)
  t.notOk(pending?.key.includes(state), 'the key is a hash, not the state')
})

t.test('for(request, { returnTo }) sends the user back to a same-origin path only', async (t) => {
  const { app } = await plainApp(t)
  for (const [returnTo, expected] of [['/reports?week=1', '/reports?week=1'], ['https://evil.example/', '/'], ['//evil.example/x', '/'], ['/\\evil.example', '/'], ['/.//evil.example', '/']] as const) {
    // A user each: after one callback a user has a credential and is not redirected again.
    const headers = user(`dave-${returnTo}`)
    const start = await app.inject({ method: 'POST', url: '/go', payload: { returnTo }, headers })
    const callback = await browse(new URL(start.headers.location as string), PLAIN_CALLBACK)
    const done = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers })
    t.equal(done.headers.location, expected, `returnTo ${returnTo} → ${expected}`)
  }
})

t.test('the client metadata document: served as JSON with a cache lifetime; register-time checks', async (t) => {
  const s = await setup(t)
  const served = await s.app.inject({ method: 'GET', url: '/oauth/client.json' })
  t.equal(served.statusCode, 200)
  t.match(served.headers['content-type'], /^application\/json/)
  t.equal(served.headers['cache-control'], 'public, max-age=3600')
  t.equal(served.json().client_id, `${s.baseUrl}/oauth/client.json`)

  const base = 'https://app.example.com'
  const good = { client_id: `${base}/client.json`, client_name: 'App', redirect_uris: [`${base}/oauth/mcp/callback`] }
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['client_id not the document URL', { ...good, client_id: `${base}/other.json` }, /client_id must equal the URL/],
    ['no client_name', { ...good, client_name: undefined }, /client_name is required/],
    ['no redirect_uris', { ...good, redirect_uris: [] }, /redirect_uris must list/],
    ['callback not listed', { ...good, redirect_uris: [`${base}/elsewhere`] }, /must include this app's callback/],
    ['a client secret', { ...good, client_secret: 'x' }, /must not contain client_secret/],
    ['a shared-secret auth method', { ...good, token_endpoint_auth_method: 'client_secret_basic' }, /needs a shared secret/],
    ['a private key', { ...good, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }] } }, /private or symmetric key/],
  ]
  for (const [name, document, message] of cases) {
    await t.rejects(register({ baseUrl: base, partition: () => 'p', clientMetadataDocument: { path: '/client.json', document: document as never } }), { code: 'FST_MCP_AUTH_INVALID_OPTION', message }, name)
  }
  await t.rejects(register({ baseUrl: 'http://127.0.0.1:1', partition: () => 'p', clientMetadataDocument: { path: '/client.json', document: { ...good, client_id: 'http://127.0.0.1:1/client.json' } } }), { message: /must be https/ }, 'a document URL on plain http')
})

for (const order of ['mcpAuth first', 'mcpClient first'] as const) {
  t.test(`routes opt out of mcpAuth in the same app (${order}): the callback and the document need no token`, async (t) => {
    const issuer = await createTestIssuer()
    const app = Fastify()
    const registerAuth = async (): Promise<void> => { await app.register(mcpAuth, { resource: 'https://app.example.com/mcp', authorizationServers: [issuer.issuer], jwks: issuer.jwks }) }
    const registerClient = async (): Promise<void> => {
      await app.register(mcpClient, {
        baseUrl: 'https://app.example.com',
        partition: () => 'p',
        clientMetadataDocument: { path: '/client.json', document: { client_id: 'https://app.example.com/client.json', client_name: 'App', redirect_uris: ['https://app.example.com/oauth/mcp/callback'] } },
      })
    }
    if (order === 'mcpAuth first') {
      await registerAuth()
      await registerClient()
    } else {
      await registerClient()
      await registerAuth()
    }
    app.get('/mcp', async () => 'protected')
    await app.ready()
    t.equal((await app.inject({ method: 'GET', url: '/mcp' })).statusCode, 401, 'the protected route still needs a token')
    t.equal((await app.inject({ method: 'GET', url: '/client.json' })).statusCode, 200, 'the document is public')
    const callback = await app.inject({ method: 'GET', url: '/oauth/mcp/callback?state=unknown&code=x' })
    t.equal(callback.statusCode, 400, 'the callback runs (400: unknown state), not 401')
    t.equal(callback.headers['www-authenticate'], undefined)
  })
}

t.test('a gateway gets its own token for the upstream server and never forwards its user\'s token', async (t) => {
  const resources: OidcServerOptions['resources'] = []
  const client = { client_id: 'gateway', client_secret: 'gateway-secret-value', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }
  const as = await startOidcServer(t, { resources, clients: [client] })
  const upstream = await startMcpServer(t, { issuer: as.issuer })
  resources.push({ uri: upstream.url, scopes: [...SCOPES] })
  const users = await createTestIssuer({ issuer: 'https://users.example.com', audience: 'https://gateway.example.com/mcp' })
  const gateway = Fastify()
  await gateway.register(mcpAuth, { resource: 'https://gateway.example.com/mcp', authorizationServers: [users.issuer], jwks: users.jwks })
  await gateway.register(mcpClient, { baseUrl: 'https://gateway.example.com', partition: (request) => request.mcp?.subject ?? '', grant: { type: 'client_credentials' }, preRegistered: { [as.issuer]: { clientId: 'gateway', auth: { method: 'client_secret_basic', secret: 'gateway-secret-value' } } }, allowPrivateNetworks: true })
  gateway.post('/mcp', async (request) => {
    // A careless handler passes the user's credentials along: the client drops them.
    const response = await gateway.mcpClient.for(request).fetch(upstream.url, { ...rpc('tools/list'), headers: { authorization: request.headers.authorization as string, 'content-type': 'application/json' } })
    return await response.json()
  })
  await gateway.ready()
  const userToken = await users.mintAccessToken({ sub: 'erin', scope: 'mcp:tools:read' })
  const answer = await gateway.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${userToken}` }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  t.equal(answer.statusCode, 200, answer.body)
  t.equal(answer.json().result.clientId, 'gateway', 'upstream saw the gateway\'s own client')
  t.notOk(upstream.authorizations.some((h) => h?.includes(userToken)), 'the user\'s token never reached the upstream server')
  t.ok(upstream.authorizations.some((h) => h?.startsWith('Bearer ')), 'upstream got a token of its own')
})

t.test('private, loopback and link-local addresses are refused by default', async (t) => {
  const app = Fastify()
  await app.register(mcpClient, { baseUrl: 'https://app.example.com', partition: () => 'p', clientMetadata: { client_name: 'x' } })
  await app.ready()
  const request = { method: 'GET', url: '/', headers: {} } as never
  for (const url of ['http://127.0.0.1:1/mcp', 'http://localhost:1/mcp', 'http://[::1]:1/mcp', 'http://169.254.169.254/latest', 'http://10.0.0.1/mcp']) {
    const err = await app.mcpClient.for(request).fetch(url).catch((e: unknown) => e)
    t.ok(isMcpClientError(err) && err.reason === 'outbound.private_address', `${url} refused`)
  }
  await t.rejects(register({ baseUrl: 'https://app.example.com', partition: () => 'p', clientMetadata: { client_name: 'x' }, fetch: globalThis.fetch }), { message: /custom fetch cannot enforce allowPrivateNetworks/ })
})

t.test('register-time checks of the plugin itself', async (t) => {
  const prefixed = Fastify()
  prefixed.register(async (child) => { await child.register(mcpClient, { baseUrl: 'https://app.example.com', partition: () => 'p', clientMetadata: { client_name: 'x' } }) }, { prefix: '/api' })
  await t.rejects(async () => { await prefixed.ready() }, { code: 'FST_MCP_AUTH_INVALID_REGISTRATION' }, 'not under a prefix')
  for (const [options, message] of [
    [{ baseUrl: 'https://app.example.com/path', partition: () => 'p' }, /baseUrl must be this app's public origin/],
    [{ baseUrl: 'https://app.example.com' }, /partition\(request\) is required/],
    [{ baseUrl: 'https://app.example.com', partition: () => 'p', authorize: () => 'x' }, /"authorize" is not a known option \(the plugin sets it/],
    [{ baseUrl: 'https://app.example.com', partition: () => 'p', callbackPath: 'no-slash' }, /callbackPath must be a path/],
  ] as const) {
    await t.rejects(register(options as never), { code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  }
})
