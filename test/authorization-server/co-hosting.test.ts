// mcpAuthorizationServer and mcpAuth in one Fastify app: every route of the
// authorization server opts out of authentication (config.mcpAuth false), in
// either registration order; mcpAuth verifies the server's tokens through
// `fastify.mcpAuthorizationServer.keys` (no JWKS request); a collision with
// mcpAuth's authorization-server metadata mirror fails ready() with
// FST_MCP_AUTH_INVALID_REGISTRATION; the health route reports the server.
import Fastify from 'fastify'
import type { FastifyInstance, RouteOptions } from 'fastify'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import { mcpAuthorizationServer } from '../../authorization-server.js'
import { completeAuthorization } from '../../testing.js'
import { asOptions, authorizationUrl, insecure, REDIRECT_URI, registerPublicClient, SCOPES } from '../helpers/authorization-server.js'
import { freePort } from '../helpers/net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

async function coHosted (t: Test, order: 'as-first' | 'rs-first') {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const resource = `${issuer}/mcp`
  const app = Fastify()
  t.teardown(() => app.close())
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => { routes.push(route) })
  const as = () => app.register(mcpAuthorizationServer, asOptions(issuer, { resources: [{ uri: resource, scopes: SCOPES, defaultScopes: ['mcp:tools:read'] }] }))
  if (order === 'as-first') {
    await as()
    await app.register(mcpAuth, { resource, authorizationServers: [issuer], jwks: app.mcpAuthorizationServer.keys, healthRoute: '/health' })
  } else {
    // Registered first, mcpAuth cannot see the key function yet: it discovers jwks_uri.
    await app.register(mcpAuth, { resource, authorizationServers: [issuer], healthRoute: '/health' })
    await as()
  }
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:read']) }, async (request) => ({ subject: request.mcp?.subject, scopes: request.mcp?.scopes }))
  await app.listen({ port, host: '127.0.0.1' })
  const url = new URL(issuer)
  const server = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }))
  return { app, issuer, resource, server, routes }
}

for (const order of ['as-first', 'rs-first'] as const) {
  t.test(`co-hosted (${order}): the authorization server's routes are public, its tokens open the MCP route`, async (t) => {
    const { app, resource, server, routes } = await coHosted(t, order)
    const asRoutes = routes.filter((r) => r.url !== '/mcp' && r.url !== '/health' && !r.url.startsWith('/.well-known/oauth-protected-resource'))
    t.ok(asRoutes.length > 10)
    for (const route of asRoutes) t.equal((route.config as { mcpAuth?: unknown } | undefined)?.mcpAuth, false, `${String(route.method)} ${route.url} opts out`)

    const client = await registerPublicClient(server)
    const { url, verifier } = await authorizationUrl(server, client, { resource })
    const callback = await completeAuthorization(url, REDIRECT_URI)
    const result = oauth.validateAuthResponse(server, client, callback, url.searchParams.get('state') ?? undefined)
    const res = await oauth.authorizationCodeGrantRequest(server, client, oauth.None(), result, REDIRECT_URI, verifier, { additionalParameters: { resource }, ...insecure })
    const tokens = await oauth.processAuthorizationCodeResponse(server, client, res)

    const anonymous = await app.inject({ method: 'POST', url: '/mcp' })
    t.equal(anonymous.statusCode, 401, 'the MCP route still needs a token')
    const ok = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${tokens.access_token}` } })
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { subject: 'demo-user', scopes: ['mcp:tools:read'] })

    const health = await app.inject({ url: '/health' })
    t.equal(health.statusCode, 200)
    t.same(health.json().authorizationServer.store, { reachable: true })
    t.equal(health.json().authorizationServer.keys.count, 1)
  })
}

t.test('mcpAuth\'s authorization-server metadata mirror collides with the co-hosted server: ready() fails with FST_MCP_AUTH_INVALID_REGISTRATION, in either order', async (t) => {
  for (const order of ['as-first', 'rs-first']) {
    const issuer = 'http://127.0.0.1:9'
    const app: FastifyInstance = Fastify()
    const rs = (): unknown => app.register(mcpAuth, { resource: 'http://127.0.0.1:9/mcp', authorizationServers: [issuer], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] }, metadata: { authorizationServerMirror: true } })
    const as = (): unknown => app.register(mcpAuthorizationServer, asOptions(issuer))
    // Registered without awaiting, as most apps do: ready() reports it.
    if (order === 'as-first') {
      as()
      rs()
    } else {
      rs()
      as()
    }
    await t.rejects(async () => { await app.ready() }, { code: 'FST_MCP_AUTH_INVALID_REGISTRATION' }, order)
    await app.close().catch(() => {})
  }
})

t.test('registered under a prefix: refused (the issuer decides the paths)', async (t) => {
  const app = Fastify()
  app.register(async (scoped) => { await scoped.register(mcpAuthorizationServer, asOptions('http://127.0.0.1:9')) }, { prefix: '/auth' })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_MCP_AUTH_INVALID_REGISTRATION' })
})
