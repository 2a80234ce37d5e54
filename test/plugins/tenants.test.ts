// Issue 22: resources resolved at request time (`resource: { origin, path,
// resolve, … }`), with real tokens, real HTTP issuers per tenant and app.inject:
// isolation between tenants, unknown tenants, the metadata route, outages and
// slowness of the resolver, invalidation, and issuer templates.
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import mcpAuth, { protectedResourceMetadata, requireScopes } from '../../index.js'
import type { McpAuthOptions, TenantDescriptor, TenantParams } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer, startTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import { parseChallenges } from '../helpers/app.js'
import type { Teardown } from '../helpers/app.js'
import { startTenantIssuers } from '../helpers/tenant-issuers.js'

const ORIGIN = 'https://mcp.example.com'
const uriOf = (tenant: string): string => `${ORIGIN}/t/${tenant}/mcp`
const metadataOf = (tenant: string): string => `${ORIGIN}/.well-known/oauth-protected-resource/t/${tenant}/mcp`

interface Tenants {
  app: FastifyInstance
  issuer: TestIssuer
  calls: TenantParams[]
  logs: string[]
  descriptors: Map<string, TenantDescriptor | Error | 'hang'>
}

/** An app whose tenants share one issuer (static keys); `descriptors` decides who exists. */
async function tenantsApp (t: Teardown, options: Partial<McpAuthOptions> = {}, resolver: Record<string, unknown> = {}): Promise<Tenants> {
  const issuer = await createTestIssuer({ issuer: 'https://auth.example.com' })
  const calls: TenantParams[] = []
  const logs: string[] = []
  const descriptors = new Map<string, TenantDescriptor | Error | 'hang'>([
    ['acme', { scopesSupported: ['mcp:tools:read'], resourceName: 'Acme' }],
    ['globex', {}],
  ])
  const stream = new Writable({ write (chunk, _encoding, done) { logs.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'debug', stream } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: {
      origin: ORIGIN,
      path: '/t/:tenant/mcp',
      async resolve (params) {
        calls.push(params)
        const descriptor = descriptors.get(params.tenant as string)
        if (descriptor === 'hang') return new Promise<never>(() => {})
        if (descriptor instanceof Error) throw descriptor
        return descriptor
      },
      ...resolver,
    },
    authorizationServers: [issuer.issuer],
    jwks: { keys: issuer.jwks.keys },
    ...options,
  } as McpAuthOptions)
  app.post('/t/:tenant/mcp', async (request) => ({ resource: request.mcp?.resource, issuer: request.mcp?.issuer, auth: (request.raw as { auth?: { resource?: URL } }).auth?.resource?.href }))
  app.post('/t/:tenant/mcp/tools', { preHandler: requireScopes(['mcp:tools:call']) }, async () => ({ ok: true }))
  app.get('/health-check', { config: { mcpAuth: false } }, async () => ({ ok: true }))
  await app.ready()
  return { app, issuer, calls, logs, descriptors }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('a known tenant: its own token passes, request.mcp names its resource', async (t) => {
  const { app, issuer, calls } = await tenantsApp(t)
  const token = await issuer.mintAccessToken({ aud: uriOf('acme') })
  const res = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(token) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { resource: uriOf('acme'), issuer: issuer.issuer, auth: uriOf('acme') })
  t.same(calls, [{ tenant: 'acme' }], 'resolve gets the router\'s decoded parameters named by path, and nothing else')
  t.ok(Object.isFrozen(calls[0]), 'frozen')
  await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(token) })
  t.equal(calls.length, 1, 'within cacheTtl the descriptor is not asked for again')
})

t.test('isolation: a token for tenant A never passes at tenant B, however B is spelled', async (t) => {
  const { app, issuer, calls } = await tenantsApp(t)
  const acme = await issuer.mintAccessToken({ aud: uriOf('acme') })
  for (const url of ['/t/globex/mcp', '/t/Acme/mcp', '/t/ACME/mcp', '/t/%41cme/mcp', '/t/acme%2Fx/mcp', '/t/ac%2Eme/mcp', '/t/nobody/mcp', '/t/acme%20/mcp', '/t/%E2%80%AEacme/mcp']) {
    const res = await app.inject({ method: 'POST', url, headers: bearer(acme) })
    t.equal(res.statusCode, 401, url)
    t.equal(res.json().error, 'invalid_token', url)
  }
  t.same(calls.map((c) => c.tenant), ['globex', 'Acme', 'ACME', 'nobody'], 'values that fail tenantPattern never reach the resolver (%41cme is Acme, held)')
  const same = await app.inject({ method: 'POST', url: '/t/%61cme/mcp', headers: bearer(acme) })
  t.equal(same.statusCode, 200, 'a percent-encoded spelling of acme itself is acme')
})

t.test('isolation: a resolver that folds case still yields the path\'s own resource, never another tenant\'s', async (t) => {
  const { app, issuer, descriptors } = await tenantsApp(t, {}, {
    async resolve (params: TenantParams) { return descriptors.get((params.tenant as string).toLowerCase()) },
  })
  const acme = await issuer.mintAccessToken({ aud: uriOf('acme') })
  const res = await app.inject({ method: 'POST', url: '/t/ACME/mcp', headers: bearer(acme) })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_token', 'the resource is …/t/ACME/mcp, which the token is not for')
  const mcp = await app.inject({ method: 'POST', url: '/t/ACME/mcp', headers: bearer(await issuer.mintAccessToken({ aud: uriOf('ACME') })) })
  t.equal(mcp.json().resource, uriOf('ACME'))
})

t.test('an unknown tenant: 401 with the same challenge shape, resource_metadata = its path\'s URL; never a fallback', async (t) => {
  const { app, issuer } = await tenantsApp(t)
  const known = await app.inject({ method: 'POST', url: '/t/globex/mcp' })
  const unknown = await app.inject({ method: 'POST', url: '/t/nobody/mcp' })
  t.equal(known.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.same(parseChallenges(unknown.headers['www-authenticate']).map((c) => Object.keys(c.params)), parseChallenges(known.headers['www-authenticate']).map((c) => Object.keys(c.params)))
  t.equal(parseChallenges(unknown.headers['www-authenticate'])[0]?.params.resource_metadata, metadataOf('nobody'))
  t.equal(parseChallenges(known.headers['www-authenticate'])[0]?.params.resource_metadata, metadataOf('globex'))
  const invalid = await app.inject({ method: 'POST', url: '/t/a.b/mcp' })
  t.equal(parseChallenges(invalid.headers['www-authenticate'])[0]?.params.resource_metadata, metadataOf('a.b'), 'a value tenantPattern refuses: the same shape')
  const anyToken = await issuer.mintAccessToken({ aud: uriOf('nobody') })
  const withToken = await app.inject({ method: 'POST', url: '/t/nobody/mcp', headers: bearer(anyToken) })
  t.equal(withToken.statusCode, 401, 'even a token naming the unknown tenant\'s URI')
  t.equal(withToken.json().error, 'invalid_token')
})

t.test('the scope guard answers 403 with the tenant\'s resource; unknown paths answer 404', async (t) => {
  const { app, issuer } = await tenantsApp(t)
  const token = await issuer.mintAccessToken({ aud: uriOf('acme'), scope: 'mcp:tools:read' })
  const res = await app.inject({ method: 'POST', url: '/t/acme/mcp/tools', headers: bearer(token) })
  t.equal(res.statusCode, 403)
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.resource_metadata, metadataOf('acme'))
  t.equal((await app.inject({ method: 'POST', url: '/elsewhere' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/health-check' })).statusCode, 200)
})

t.test('metadata: 200 for a known tenant, 404 for an unknown one or a refused value (no resolver call), 503 when the resolver fails', async (t) => {
  const { app, calls, descriptors } = await tenantsApp(t)
  const known = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/acme/mcp' })
  t.equal(known.statusCode, 200)
  t.same(known.json(), {
    resource: uriOf('acme'),
    authorization_servers: ['https://auth.example.com'],
    scopes_supported: ['mcp:tools:read'],
    bearer_methods_supported: ['header'],
    resource_name: 'Acme',
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'],
    dpop_bound_access_tokens_required: false,
  })
  t.equal(known.headers['cache-control'], 'public, max-age=60', 'no longer than the resolver\'s cacheTtl')
  t.equal(known.headers['access-control-allow-origin'], '*')
  const unknown = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/nobody/mcp' })
  t.equal(unknown.statusCode, 404)
  const before = calls.length
  t.equal((await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/-x/mcp' })).statusCode, 404)
  t.equal(calls.length, before, 'a value tenantPattern refuses is never resolved')
  descriptors.set('down', new Error('database unreachable at db.internal'))
  const down = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/down/mcp' })
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '5')
  t.equal(down.json().error, 'temporarily_unavailable')
  t.notMatch(down.body, /database|db\.internal/, 'the resolver\'s message stays in the log')
  const preflight = await app.inject({ method: 'OPTIONS', url: '/.well-known/oauth-protected-resource/t/acme/mcp', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } })
  t.equal(preflight.statusCode, 204)
})

t.test('a failing resolver: 503 with Retry-After and an error log, never 401, never a pass; not remembered', async (t) => {
  const { app, issuer, calls, logs, descriptors } = await tenantsApp(t)
  const token = await issuer.mintAccessToken({ aud: uriOf('acme') })
  descriptors.set('acme', new Error('database unreachable'))
  for (const headers of [{}, bearer(token)]) {
    const res = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '5')
    t.equal(res.headers['www-authenticate'], undefined)
  }
  t.equal(calls.length, 2, 'each request asks again')
  t.match(logs.join(''), /"tenant":"\/t\/acme\/mcp".*database unreachable.*the tenant resolver failed/)
  t.notMatch(logs.join(''), token, 'the token is never logged')
  descriptors.set('acme', {})
  t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(token) })).statusCode, 200, 'recovers at once')
})

t.test('an invalid descriptor: 503 and an error log naming the field', async (t) => {
  const { app, issuer, logs, descriptors } = await tenantsApp(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['scopes', { scopesSupported: 'mcp:tools:read' }, /descriptor\.scopesSupported/],
    ['issuers', { authorizationServers: ['http://auth.example.com'] }, /descriptor\.authorizationServers/],
    ['other', { resource: uriOf('acme') }, /descriptor\.resource.*must be https:\/\/mcp\.example\.com\/t\/other\/mcp/],
    ['unknownkey', { resourceMetadataUrl: 'https://x.example' }, /descriptor\.resourceMetadataUrl/],
    ['notobject', 'acme', /descriptor\\" must be an object/],
  ]
  for (const [tenant, descriptor, field] of cases) {
    descriptors.set(tenant, descriptor as TenantDescriptor)
    const token = await issuer.mintAccessToken({ aud: uriOf(tenant) })
    const res = await app.inject({ method: 'POST', url: `/t/${tenant}/mcp`, headers: bearer(token) })
    t.equal(res.statusCode, 503, tenant)
    t.match(logs.join(''), field, tenant)
  }
  t.match(logs.join(''), /"reason":"resolver\.invalid_descriptor"|invalid descriptor/)
})

t.test('a slow resolver: concurrent requests share one call; past the timeout they get 503', async (t) => {
  const { app, issuer, calls, descriptors } = await tenantsApp(t, {}, { timeout: 0.2 })
  let release: ((d: TenantDescriptor) => void) | undefined
  descriptors.set('slow', 'hang')
  const token = await issuer.mintAccessToken({ aud: uriOf('slow') })
  const hung = await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: '/t/slow/mcp', headers: bearer(token) })))
  t.same(hung.map((r) => r.statusCode), [503, 503, 503, 503, 503])
  t.equal(calls.filter((c) => c.tenant === 'slow').length, 1, 'one resolver call for five concurrent requests')
  descriptors.set('slow', {})
  t.equal((await app.inject({ method: 'POST', url: '/t/slow/mcp', headers: bearer(token) })).statusCode, 200, 'the next request asks again')
  t.equal(release, undefined)
})

t.test('invalidate: on-boarding is seen at once, off-boarding too, and the tenant\'s cached tokens are dropped', async (t) => {
  let verifications = 0
  const keyIssuer = await createTestIssuer({ issuer: 'https://auth.example.com' })
  const { createLocalJWKSet } = await import('jose')
  const local = createLocalJWKSet(keyIssuer.jwks)
  const { app, issuer, calls, descriptors } = await tenantsApp(t, {
    authorizationServers: [keyIssuer.issuer],
    jwks: async (header, token) => { verifications++; return local(header, token) },
  })
  t.equal(issuer.issuer, keyIssuer.issuer)
  const newcomer = await keyIssuer.mintAccessToken({ aud: uriOf('newcomer') })
  t.equal((await app.inject({ method: 'POST', url: '/t/newcomer/mcp', headers: bearer(newcomer) })).statusCode, 401, 'unknown')
  descriptors.set('newcomer', {})
  t.equal((await app.inject({ method: 'POST', url: '/t/newcomer/mcp', headers: bearer(newcomer) })).statusCode, 401, 'still unknown within negativeCacheTtl')
  app.mcpAuth.invalidate({ tenant: 'newcomer' })
  t.equal((await app.inject({ method: 'POST', url: '/t/newcomer/mcp', headers: bearer(newcomer) })).statusCode, 200, 'known at once after invalidate')

  const acme = await keyIssuer.mintAccessToken({ aud: uriOf('acme') })
  await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(acme) })
  const verified = verifications
  t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(acme) })).statusCode, 200)
  t.equal(verifications, verified, 'the token is cached')
  app.mcpAuth.invalidate({ tenant: 'acme' })
  t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(acme) })).statusCode, 200)
  t.equal(verifications, verified + 1, 'after invalidate the token is verified again')
  t.equal(calls.filter((c) => c.tenant === 'acme').length, 2, 'and the descriptor asked for again')
  descriptors.delete('acme')
  app.mcpAuth.invalidate({ tenant: 'acme' })
  t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(acme) })).statusCode, 401, 'off-boarded at once')
  t.equal((await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/acme/mcp' })).statusCode, 404)

  app.mcpAuth.invalidate({ tenant: 'no.such' })
  t.throws(() => app.mcpAuth.invalidate({ tenantId: 'acme' } as TenantParams), { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /missing tenant/ })
})

t.test('per-tenant issuers from a template: filled only for a resolved tenant with a valid value; discovery per issuer; iss exact', async (t) => {
  const servers = await startTenantIssuers(t)
  const descriptors = new Map<string, TenantDescriptor>([['acme', {}], ['globex', {}]])
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: { origin: ORIGIN, path: '/t/:tenant/mcp', resolve: async (params: TenantParams) => descriptors.get(params.tenant as string) },
    authorizationServers: [servers.template],
  })
  app.post('/t/:tenant/mcp', async (request) => ({ issuer: request.mcp?.issuer }))
  await app.ready()
  t.same(servers.requests, [], 'no template is fetched at start-up')
  const acme = await servers.issuer('acme')
  const globex = await servers.issuer('globex')
  const acmeToken = await acme.mintAccessToken({ aud: uriOf('acme') })
  const res = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(acmeToken) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().issuer, `${servers.origin}/acme`)
  t.same(servers.requests, ['/.well-known/oauth-authorization-server/acme', '/jwks/acme'])
  const doc = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/t/globex/mcp' })
  t.same(doc.json().authorization_servers, [`${servers.origin}/globex`])

  const globexForAcme = await globex.mintAccessToken({ aud: uriOf('acme') })
  const cross = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(globexForAcme) })
  t.equal(cross.statusCode, 401, 'another tenant\'s issuer')
  t.equal(cross.json().error, 'invalid_token')
  const acmeAtGlobex = await app.inject({ method: 'POST', url: '/t/globex/mcp', headers: bearer(await acme.mintAccessToken({ aud: uriOf('globex') })) })
  t.equal(acmeAtGlobex.statusCode, 401, 'a token from A\'s issuer, for B\'s resource')
  for (const iss of [`${servers.origin}/ACME`, `${servers.origin}/acme/`, `${servers.origin}/%61cme`]) {
    const forged = await acme.mintAccessToken({ aud: uriOf('acme'), iss })
    t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(forged) })).statusCode, 401, `iss ${iss}`)
  }
  t.notOk(servers.requests.some((p) => p.includes('globex/') || p.endsWith('/globex')), 'B\'s issuer is never fetched for A\'s requests')
  const before = servers.requests.length
  for (const tenant of ['nobody', '-x', 'a.b', '%2e%2e']) await app.inject({ method: 'POST', url: `/t/${tenant}/mcp`, headers: bearer(acmeToken) })
  t.equal(servers.requests.length, before, 'unknown or refused tenants: no fetch at all')
})

t.test('registration: routes outside the path must opt out; templates need a resolver; bad resolver options name the option', async (t) => {
  const issuer = await createTestIssuer()
  const base = { authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys } }
  const resolver = { origin: ORIGIN, path: '/t/:tenant/mcp', resolve: async () => undefined }
  const outside = Fastify()
  await outside.register(mcpAuth, { ...base, resource: resolver })
  outside.post('/admin', async () => 'x')
  await t.rejects(async () => outside.ready(), { code: 'FST_MCP_AUTH_INVALID_REGISTRATION', message: /POST \/admin lies outside the resolver's path \(\/t\/:tenant\/mcp\)/ })
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, resource: ORIGIN + '/mcp', authorizationServers: ['https://login.example.com/{tenant}'] }, /placeholder.*only a resolver fills/],
    [{ ...base, resource: { ...resolver, path: '/mcp' } }, /"resource.path" must name the tenant with a parameter/],
    [{ ...base, resource: { ...resolver, path: 't/:tenant' } }, /"resource.path" must be a route pattern with parameters/],
    [{ ...base, resource: { ...resolver, path: '/t/:tenant/:tenant' } }, /names a parameter twice/],
    [{ ...base, resource: { ...resolver, path: '/t/:tenant/\uD800' } }, /"resource.path" has text no URI can spell/],
    [{ ...base, resource: resolver, authorizationServers: 'https://login.example.com' }, /"authorizationServers" must be a non-empty array/],
    [{ ...base, resource: resolver, authorizationServers: [42] }, /"authorizationServers" entries must be strings/],
    [{ ...base, resource: resolver, authorizationServers: ['https://login.example.com/{tenant}?x'] }, /must not have a query/],
    [{ ...base, resource: { ...resolver, path: '/t/*' } }, /"resource.path" must not contain "\*"/],
    [{ ...base, resource: { ...resolver, origin: 'https://mcp.example.com/x' } }, /"resource.origin" must be this server's public origin/],
    [{ ...base, resource: { ...resolver, resolve: 'x' } }, /"resource.resolve" must be a function/],
    [{ ...base, resource: { ...resolver, tenantPattern: /[a-z]+/ } }, /"resource.tenantPattern" must be anchored/],
    [{ ...base, resource: { ...resolver, tenantPattern: /^[a-z]+$/g } }, /must not use the g or y flag/],
    [{ ...base, resource: { ...resolver, cacheTtl: -1 } }, /"resource.cacheTtl"/],
    [{ ...base, resource: { ...resolver, maxEntries: 0 } }, /"resource.maxEntries"/],
    [{ ...base, resource: { ...resolver, maxEntrys: 1 } }, /did you mean "resource.maxEntries"/],
    [{ ...base, resource: resolver, authorizationServers: ['https://login.example.com/{org}'] }, /placeholder \{org\}, which "resource.path" does not name/],
    [{ ...base, resource: [resolver] }, /is a resolver/],
    [{ ...base, resource: resolver, metadata: { authorizationServerMirror: true } }, /one per tenant/],
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => app.register(mcpAuth, options as unknown as McpAuthOptions).ready(), { code: 'FST_MCP_AUTH_INVALID_OPTION', message }, String(message))
  }
  const stat = Fastify()
  await stat.register(mcpAuth, { ...base, resource: ORIGIN + '/mcp' })
  t.throws(() => stat.mcpAuth.invalidate({ tenant: 'x' }), { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /needs resource: \{ path, resolve/ })
  const dynamic = Fastify()
  await dynamic.register(mcpAuth, { ...base, resource: resolver })
  t.throws(() => dynamic.mcpAuth.invalidate(null as unknown as TenantParams), { code: 'FST_MCP_AUTH_INVALID_OPTION' })
  const noMetadata = Fastify()
  await noMetadata.register(mcpAuth, { ...base, resource: resolver, metadata: false })
  await t.rejects(async () => noMetadata.ready(), { code: 'FST_MCP_AUTH_METADATA_MISSING', message: /GET \/\.well-known\/oauth-protected-resource\/t\/:tenant\/mcp/ })
})

t.test('mcpAuth under a prefix: the metadata plugin at the root serves the tenants\' documents from the same options', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://auth.example.com' })
  const options = {
    resource: { origin: ORIGIN, path: '/api/t/:tenant/mcp', resolve: async ({ tenant }: TenantParams) => tenant === 'acme' ? {} : undefined },
    authorizationServers: [issuer.issuer],
    jwks: { keys: issuer.jwks.keys },
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async (api) => {
    await api.register(mcpAuth, options)
    api.post('/t/:tenant/mcp', async (request) => ({ resource: request.mcp?.resource }))
  }, { prefix: '/api' })
  await app.register(protectedResourceMetadata, { auth: options })
  await app.ready()
  const doc = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/api/t/acme/mcp' })
  t.same([doc.statusCode, doc.json().resource], [200, `${ORIGIN}/api/t/acme/mcp`])
  t.equal((await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/api/t/other/mcp' })).statusCode, 404)
  const res = await app.inject({ method: 'POST', url: '/api/t/acme/mcp', headers: bearer(await issuer.mintAccessToken({ aud: `${ORIGIN}/api/t/acme/mcp` })) })
  t.same([res.statusCode, res.json().resource], [200, `${ORIGIN}/api/t/acme/mcp`])
})

t.test('DPoP at a tenant\'s route: htu is the configured origin + the path; the proof for another tenant\'s URL is refused', async (t) => {
  const { app, issuer } = await tenantsApp(t)
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({ aud: uriOf('acme') }, { bindTo: { jkt: key.jkt } })
  const proof = async (url: string): Promise<string> => createDpopProof(key, { method: 'POST', url, accessToken: token })
  const ok = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: { authorization: `DPoP ${token}`, dpop: await proof(uriOf('acme')), host: 'evil.example' } })
  t.equal(ok.statusCode, 200, 'the Host header plays no part')
  const other = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: { authorization: `DPoP ${token}`, dpop: await proof(uriOf('globex')) } })
  t.equal(other.statusCode, 401)
  t.equal(other.json().error, 'invalid_dpop_proof')
})

t.test('health covers the tenants\' issuers fetched within the last cacheTtl; one tenant\'s issuer down does not make the instance unready', async (t) => {
  const servers = await startTenantIssuers(t)
  await servers.issuer('acme')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: { origin: ORIGIN, path: '/t/:tenant/mcp', resolve: async () => ({}) },
    authorizationServers: [servers.template],
    healthRoute: '/health',
  })
  app.post('/t/:tenant/mcp', async () => 'ok')
  await app.ready()
  const empty = await app.inject({ method: 'GET', url: '/health' })
  t.same([empty.statusCode, empty.json().jwks], [200, []], 'nothing fetched yet')
  const acme = await servers.issuer('acme')
  t.equal((await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer(await acme.mintAccessToken({ aud: uriOf('acme') })) })).statusCode, 200)
  const goneToken = await acme.mintAccessToken({ aud: uriOf('gone'), iss: `${servers.origin}/gone` })
  const gone = await app.inject({ method: 'POST', url: '/t/gone/mcp', headers: bearer(goneToken) })
  t.equal(gone.statusCode, 503, 'a tenant whose issuer publishes no metadata: 503')
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  const sets = health.json().jwks.sort((x: { issuer: string }, y: { issuer: string }) => x.issuer.localeCompare(y.issuer))
  t.match(sets, [
    { issuer: `${servers.origin}/acme`, uri: `${servers.origin}/jwks/acme`, usable: true, tenant: true },
    { issuer: `${servers.origin}/gone`, usable: false, cause: 'http_404', tenant: true },
  ])
  t.equal(sets.length, 2)
})

t.test('introspection per tenant: each tenant\'s issuer\'s own endpoint; one tenant\'s verdict never serves another', async (t) => {
  const client = { clientId: 'rs', clientSecret: 'rs-secret' }
  const a = await startTestIssuer({ introspectionClient: client })
  const b = await startTestIssuer({ introspectionClient: client })
  t.teardown(async () => { await a.close(); await b.close() })
  const now = Math.floor(Date.now() / 1000)
  a.introspection.set('opaque-a', { active: true, iss: a.issuer, aud: uriOf('acme'), sub: 'alice', exp: now + 600 })
  const issuers = new Map([['acme', [a.issuer]], ['globex', [b.issuer]], ['both', [a.issuer, b.issuer]]])
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: { origin: ORIGIN, path: '/t/:tenant/mcp', resolve: async (params: TenantParams) => ({ authorizationServers: issuers.get(params.tenant as string) }) },
    introspection: client,
  })
  app.post('/t/:tenant/mcp', async (request) => ({ subject: request.mcp?.subject }))
  await app.ready()
  const atB = await app.inject({ method: 'POST', url: '/t/globex/mcp', headers: bearer('opaque-a') })
  t.equal(atB.statusCode, 401, 'B\'s endpoint does not know A\'s token')
  t.ok(b.requests.some((r) => r.path === '/introspect'))
  const atA = await app.inject({ method: 'POST', url: '/t/acme/mcp', headers: bearer('opaque-a') })
  t.same([atA.statusCode, atA.json()], [200, { subject: 'alice' }], 'B\'s "inactive" was not remembered for A')
  const both = await app.inject({ method: 'POST', url: '/t/both/mcp', headers: bearer('opaque-a') })
  t.equal(both.statusCode, 503, 'without an endpoint a descriptor must name one issuer')
})
