// RFC 9728 protected-resource metadata routes (checklist PRM-01..14).
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { buildAuthorizationServerMetadata, buildProtectedResourceMetadata, protectedResourceMetadata } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestIssuer, startTestIssuer } from '../../testing.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

t.test('RFC 9728 §3: GET the path-inserted document without credentials', async (t) => {
  const { app, issuer } = await buildApp(t, { resource: { resource: RESOURCE, scopesSupported: ['mcp:tools:read', 'offline_access'], resourceName: 'Demo', resourceDocumentation: 'https://docs.example.com' } })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'public, max-age=3600', 'RFC 9728 §7.10: cacheable')
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.same(res.json(), {
    resource: RESOURCE,
    authorization_servers: [issuer.issuer],
    scopes_supported: ['mcp:tools:read'],
    bearer_methods_supported: ['header'],
    resource_name: 'Demo',
    resource_documentation: 'https://docs.example.com',
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'],
    dpop_bound_access_tokens_required: false,
  })
})

t.test('PRM-05: the 401 resource_metadata URL serves a document whose resource equals the resource exactly', async (t) => {
  const { app } = await buildApp(t)
  const challenge = parseChallenges((await app.inject({ method: 'GET', url: '/mcp' })).headers['www-authenticate'])[0]
  t.equal(challenge?.params.resource_metadata, PRM)
  const url = new URL(challenge?.params.resource_metadata as string)
  const doc = await app.inject({ method: 'GET', url: url.pathname })
  t.equal(doc.json().resource, RESOURCE)
})

t.test('PRM-07: the root document serves the first resource; configurable, including off', async (t) => {
  const { app } = await buildApp(t)
  const root = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' })
  t.equal(root.statusCode, 200)
  t.equal(root.json().resource, RESOURCE)

  const { app: off } = await buildApp(t, { metadata: { root: false } })
  t.equal((await off.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' })).statusCode, 404)
  t.equal((await off.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).statusCode, 200)

  const { app: second } = await buildApp(t, {
    resource: [RESOURCE, 'https://mcp.example.com/tenants/acme/mcp'],
    metadata: { root: 'https://mcp.example.com/tenants/acme/mcp' },
  })
  t.equal((await second.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' })).json().resource, 'https://mcp.example.com/tenants/acme/mcp')
})

t.test('PRM-06: one document per resource, each with its own fields, and each 401 points at its own', async (t) => {
  const other = await createTestIssuer({ issuer: 'https://login.example.org/tenant1' })
  const { app, issuer } = await buildApp(t, {
    resource: [
      { resource: RESOURCE, scopesSupported: ['a'] },
      { resource: 'https://mcp.example.com/tenants/acme/mcp', scopesSupported: ['b'], authorizationServers: [other.issuer] },
    ],
  }, undefined, (a) => { a.get('/tenants/acme/mcp', async () => 'acme') })
  const one = (await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).json()
  const two = (await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/tenants/acme/mcp' })).json()
  t.same([one.resource, one.scopes_supported, one.authorization_servers], [RESOURCE, ['a'], [issuer.issuer]])
  t.same([two.resource, two.scopes_supported, two.authorization_servers], ['https://mcp.example.com/tenants/acme/mcp', ['b'], [other.issuer]])
  const res = await app.inject({ method: 'GET', url: '/tenants/acme/mcp' })
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp')
})

t.test('PRM-02/EDGE-20: a bare-origin resource is served verbatim at the root URL (no slash added)', async (t) => {
  const { app } = await buildApp(t, { resource: 'https://MCP.example.com' })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' })
  t.equal(res.json().resource, 'https://mcp.example.com', 'scheme and host lowercased, nothing else changed')
  const challenge = parseChallenges((await app.inject({ method: 'GET', url: '/mcp' })).headers['www-authenticate'])[0]
  t.equal(challenge?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource')
})

t.test('PRM-13: CORS preflight allows the MCP headers and is never authenticated', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/.well-known/oauth-protected-resource/mcp',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.match(res.headers['access-control-allow-headers'], /MCP-Protocol-Version/)
  t.match(res.headers['access-control-allow-headers'], /Mcp-Method/)
  t.match(res.headers['access-control-allow-headers'], /Mcp-Name/)
  t.match(res.headers['access-control-allow-headers'], /DPoP/)
})

t.test('HEAD is served like GET; a bad token on the metadata route is ignored (never authenticated)', async (t) => {
  const { app } = await buildApp(t)
  const head = await app.inject({ method: 'HEAD', url: '/.well-known/oauth-protected-resource/mcp' })
  t.equal(head.statusCode, 200)
  const withJunk = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: { authorization: 'Bearer junk' } })
  t.equal(withJunk.statusCode, 200)
})

t.test('PRM-14: a spoofed Host never changes the document', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
  t.equal(res.json().resource, RESOURCE)
})

t.test('RFC 9728 §2: DPoP and mTLS fields follow the sender-constraint configuration', async (t) => {
  const { app: required } = await buildApp(t, { dpop: { required: true, algorithms: ['ES256'] }, mtls: {} })
  const doc = (await required.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).json()
  t.same(doc.dpop_signing_alg_values_supported, ['ES256'])
  t.equal(doc.dpop_bound_access_tokens_required, true)
  t.equal(doc.tls_client_certificate_bound_access_tokens, true)
  const challenge = parseChallenges((await required.inject({ method: 'GET', url: '/mcp' })).headers['www-authenticate'])
  t.equal(challenge.length, 1, 'dpop.required offers only DPoP')
  t.equal(challenge[0]?.params.algs, 'ES256', 'algs equals dpop_signing_alg_values_supported')

  const { app: off } = await buildApp(t, { dpop: false })
  const plain = (await off.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).json()
  t.equal(plain.dpop_signing_alg_values_supported, undefined)
  t.equal(plain.dpop_bound_access_tokens_required, undefined)
  t.equal(plain.tls_client_certificate_bound_access_tokens, undefined)
})

t.test('extra metadata fields are served as given; cacheMaxAge configurable', async (t) => {
  const { app } = await buildApp(t, {
    resource: { resource: RESOURCE, metadata: { resource_policy_uri: 'https://example.com/policy' } },
    metadata: { cacheMaxAge: 60 },
  })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })
  t.equal(res.json().resource_policy_uri, 'https://example.com/policy')
  t.equal(res.headers['cache-control'], 'public, max-age=60')
})

t.test('under a prefix: ready() fails until protectedResourceMetadata serves the challenge URL', async (t) => {
  const issuer = await createTestIssuer()
  const auth: McpAuthOptions = { resource: 'https://mcp.example.com/api/mcp', authorizationServers: [issuer.issuer], jwks: issuer.jwks }
  const broken = Fastify()
  t.teardown(() => broken.close())
  await broken.register(async (api) => {
    await api.register(mcpAuth, auth)
    api.post('/mcp', async () => 'ok')
  }, { prefix: '/api' })
  await t.rejects(Promise.resolve(broken.ready()), { code: 'FST_MCP_AUTH_METADATA_MISSING', message: /protectedResourceMetadata/ })

  const fixed = Fastify()
  t.teardown(() => fixed.close())
  await fixed.register(async (api) => {
    await api.register(mcpAuth, auth)
    api.post('/mcp', async () => 'ok')
  }, { prefix: '/api' })
  await fixed.register(protectedResourceMetadata, { auth })
  await fixed.ready()
  const doc = await fixed.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/api/mcp' })
  t.equal(doc.json().resource, 'https://mcp.example.com/api/mcp')
  const challenge = parseChallenges((await fixed.inject({ method: 'POST', url: '/api/mcp' })).headers['www-authenticate'])
  t.equal(challenge[0]?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/api/mcp')
})

t.test('metadata: false with a resourceMetadataUrl needs no local route', async (t) => {
  const issuer = await createTestIssuer()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: { resource: RESOURCE, resourceMetadataUrl: 'https://gateway.example.com/prm/mcp' },
    authorizationServers: [issuer.issuer],
    jwks: issuer.jwks,
    metadata: false,
  })
  await app.ready()
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.resource_metadata, 'https://gateway.example.com/prm/mcp')
  t.equal((await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).statusCode, 404)
})

t.test('protectedResourceMetadata refuses a prefix and needs mcpAuth or its options', async (t) => {
  const prefixed = Fastify()
  t.teardown(() => prefixed.close())
  prefixed.register(async (child) => {
    await child.register(protectedResourceMetadata, { auth: { resource: RESOURCE, authorizationServers: ['https://issuer.test'] } })
  }, { prefix: '/x' })
  await t.rejects(Promise.resolve(prefixed.ready()), { code: 'FST_MCP_AUTH_INVALID_REGISTRATION', message: /prefix/ })

  const alone = Fastify()
  t.teardown(() => alone.close())
  alone.register(protectedResourceMetadata, {})
  await t.rejects(Promise.resolve(alone.ready()), { code: 'FST_MCP_AUTH_NOT_REGISTERED' })
})

t.test('ASM-05: opt-in mirror of the issuer metadata for 2025-03-26 clients; 503 when the issuer is down', async (t) => {
  const issuer = await startTestIssuer()
  t.teardown(() => issuer.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], metadata: { authorizationServerMirror: true } })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(res.statusCode, 200)
  t.equal(res.json().issuer, issuer.issuer)
  t.equal(res.json().jwks_uri, issuer.jwksUri)

  const down = await startTestIssuer()
  t.teardown(() => down.close())
  down.failure = true
  const app2 = Fastify()
  t.teardown(() => app2.close())
  await app2.register(mcpAuth, { resource: RESOURCE, authorizationServers: [down.issuer], metadata: { authorizationServerMirror: true } })
  const failed = await app2.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(failed.statusCode, 503)
  t.equal(failed.headers['retry-after'], '5')
  t.equal(failed.json().error, 'temporarily_unavailable')
})

t.test('builders: RFC 9728 and RFC 8414 documents, zero values omitted, offline_access never listed', async (t) => {
  t.same(buildProtectedResourceMetadata({ resource: RESOURCE, authorizationServers: ['https://a'], scopesSupported: ['offline_access'] }), {
    resource: RESOURCE,
    authorization_servers: ['https://a'],
    bearer_methods_supported: ['header'],
  })
  t.same(buildAuthorizationServerMetadata({
    issuer: 'https://auth.example.com',
    authorizationEndpoint: 'https://auth.example.com/authorize',
    tokenEndpoint: 'https://auth.example.com/token',
    scopesSupported: ['mcp:tools:read', 'offline_access'],
    dpopSigningAlgValuesSupported: ['ES256'],
  }), {
    issuer: 'https://auth.example.com',
    authorization_endpoint: 'https://auth.example.com/authorize',
    token_endpoint: 'https://auth.example.com/token',
    scopes_supported: ['mcp:tools:read'],
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    dpop_signing_alg_values_supported: ['ES256'],
  })
  t.throws(() => buildProtectedResourceMetadata({ resource: '', authorizationServers: [] }), TypeError)
  t.throws(() => buildAuthorizationServerMetadata({ issuer: 'https://a.example/?x=1' }), TypeError)
})
