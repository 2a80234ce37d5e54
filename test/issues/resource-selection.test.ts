// Regression (independent review, finding 1): the resource must be the one of the
// route that answers, never chosen from the raw URL, which percent-encoding, a
// fragment, an absolute-form target or router options make disagree with the router.
import { connect } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import { rejectedReasons } from '../helpers/app.js'
import type { TestIssuer } from '../../testing.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

const appLogs = new WeakMap<FastifyInstance, string[]>()

/** A Fastify instance whose log lines (debug level) are kept, for the reason of each refusal. */
function logged (options: Record<string, unknown> = {}): FastifyInstance {
  const lines: string[] = []
  const app = Fastify({ ...options, logger: { level: 'debug', stream: { write: (line: string) => { lines.push(line) } } } })
  appLogs.set(app, lines)
  return app
}

/** The reason of the app's last 'request rejected' line (docs/errors.md). */
function lastReason (app: FastifyInstance): string | undefined {
  return rejectedReasons(appLogs.get(app) ?? []).at(-1)
}

const R1 = 'https://mcp.example.com/mcp'
const R2 = 'https://mcp.example.com/tenants/acme/mcp'

async function twoTenants (t: Tap, fastifyOptions: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, main: TestIssuer, acme: TestIssuer }> {
  const main = await createTestIssuer({ issuer: 'https://auth.example.com', audience: R1 })
  const acme = await createTestIssuer({ issuer: 'https://login.example.org/acme', audience: R2 })
  const app = logged(fastifyOptions)
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: [R1, { resource: R2, authorizationServers: [acme.issuer] }],
    authorizationServers: [main.issuer],
    jwks: async (header, token) => {
      const { createLocalJWKSet } = await import('jose')
      const keys = [...main.jwks.keys, ...acme.jwks.keys]
      return createLocalJWKSet({ keys })(header, token)
    },
  } as McpAuthOptions)
  app.post('/mcp', async (request) => ({ resource: request.mcp?.resource }))
  app.post('/tenants/acme/mcp', async (request) => ({ tenant: 'acme', resource: request.mcp?.resource, issuer: request.mcp?.issuer }))
  return { app, main, acme }
}

async function raw (app: FastifyInstance, requestLine: string, token: string): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${requestLine}\r\nHost: mcp.example.com\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    })
    let data = ''
    socket.on('data', (chunk) => { data += chunk.toString() })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
}

t.test('a token from another tenant\'s authorization server never reaches a tenant route, however the path is spelled', async (t) => {
  const { app, main, acme } = await twoTenants(t)
  const mainToken = await main.mintAccessToken()
  for (const url of ['/tenants/acme/mcp', '/tenants/acme/%6dcp', '/tenants/%61cme/mcp', '/%74enants/acme/mcp']) {
    const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${mainToken}` } })
    t.equal(res.statusCode, 401, url)
    t.equal(res.json().error, 'invalid_token', url)
    t.equal(lastReason(app), 'token.issuer', `${url}: checked against the tenant, whose issuer it is not`)
    t.match(res.headers['www-authenticate'], /oauth-protected-resource\/tenants\/acme\/mcp/, `${url}: the tenant's challenge`)
  }
  const acmeToken = await acme.mintAccessToken()
  const ok = await app.inject({ method: 'POST', url: '/tenants/acme/%6dcp', headers: { authorization: `Bearer ${acmeToken}` } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { tenant: 'acme', resource: R2, issuer: acme.issuer }, 'the tenant\'s own token works under any spelling')
})

t.test('fragments and absolute-form targets select the route\'s resource too', async (t) => {
  const { app, main } = await twoTenants(t)
  const mainToken = await main.mintAccessToken()
  t.match(await raw(app, 'POST /tenants/acme/mcp#frag HTTP/1.1', mainToken), /^HTTP\/1\.1 401 /)
  t.equal(lastReason(app), 'token.issuer')
  const { app: app2, main: main2 } = await twoTenants(t)
  t.match(await raw(app2, 'POST http://mcp.example.com/tenants/acme/mcp HTTP/1.1', await main2.mintAccessToken()), /^HTTP\/1\.1 401 /)
  t.equal(lastReason(app2), 'token.issuer')
})

t.test('router options (case-insensitive, duplicate slashes) cannot move a request to another resource', async (t) => {
  const { app, main } = await twoTenants(t, { routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: true } })
  const mainToken = await main.mintAccessToken()
  for (const url of ['/Tenants/acme/mcp', '//tenants/acme/mcp']) {
    const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${mainToken}` } })
    t.equal(res.statusCode, 401, url)
    t.equal(lastReason(app), 'token.issuer', url)
  }
})

t.test('nested resources: /mcp/%61dmin is the /mcp/admin route and resource', async (t) => {
  const issuer = await createTestIssuer({ audience: R1 })
  const app = logged()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [R1, 'https://mcp.example.com/mcp/admin'], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.post('/mcp/admin', async () => 'admin')
  const res = await app.inject({ method: 'POST', url: '/mcp/%61dmin', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 401, 'a token for /mcp is not a token for /mcp/admin')
  t.equal(lastReason(app), 'token.audience')
  const admin = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp/admin' })
  t.equal((await app.inject({ method: 'POST', url: '/mcp/%61dmin', headers: { authorization: `Bearer ${admin}` } })).statusCode, 200)
})

t.test('a parametric route serving several resources picks by the router\'s decoded parameter', async (t) => {
  const issuer = await createTestIssuer()
  const app = logged()
  t.teardown(() => app.close())
  const acme = 'https://mcp.example.com/tenants/acme/mcp'
  const globex = 'https://mcp.example.com/tenants/globex/mcp'
  await app.register(mcpAuth, { resource: [acme, globex], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.post('/tenants/:tenant/mcp', async (request) => ({ resource: request.mcp?.resource }))
  const acmeToken = await issuer.mintAccessToken({ aud: acme })
  const call = (url: string) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${acmeToken}` } })
  t.same((await call('/tenants/acme/mcp')).json(), { resource: acme })
  t.same((await call('/tenants/%61cme/mcp')).json(), { resource: acme }, 'decoded like the router does')
  t.equal((await call('/tenants/globex/mcp')).statusCode, 401, 'another tenant')
  t.equal(lastReason(app), 'token.audience')
  t.equal((await call('/tenants/%67lobex/mcp')).statusCode, 401, 'another tenant, encoded')
  t.equal(lastReason(app), 'token.audience')
  t.equal((await call('/tenants/initech/mcp')).statusCode, 401, 'a tenant that is not configured')
  t.equal(lastReason(app), 'resource.unmatched')
})

t.test('routes registered before the plugin are resolved the same way (from the route pattern at request time)', async (t) => {
  const main = await createTestIssuer({ issuer: 'https://auth.example.com', audience: R1 })
  const acme = await createTestIssuer({ issuer: 'https://login.example.org/acme', audience: R2 })
  const app = logged()
  t.teardown(() => app.close())
  app.post('/tenants/acme/mcp', async (request) => ({ resource: request.mcp?.resource }))
  await app.register(mcpAuth, {
    resource: [R1, { resource: R2, authorizationServers: [acme.issuer] }],
    authorizationServers: [main.issuer],
    jwks: { keys: [...main.jwks.keys, ...acme.jwks.keys] },
  } as McpAuthOptions)
  const mainToken = await main.mintAccessToken()
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme/%6dcp', headers: { authorization: `Bearer ${mainToken}` } })).statusCode, 401)
  t.equal(lastReason(app), 'token.issuer')
  const ok = await app.inject({ method: 'POST', url: '/tenants/acme/%6dcp', headers: { authorization: `Bearer ${await acme.mintAccessToken()}` } })
  t.same(ok.json(), { resource: R2 })
})

// Issue 15 item 1: the resource that runs is the resource checked. A route's
// requests are checked against the longest resource its path lies within,
// never against a fallback; several resources make every other route an error.

const ORIGIN = 'https://mcp.example.com'
const CAFE = `${ORIGIN}/tenants/caf%C3%A9/mcp`

/** Resources `…/mcp` and the tenants given, one issuer; `routes` adds the app's routes. */
async function tenantApp (
  t: Tap,
  tenants: readonly string[],
  routes: (app: FastifyInstance) => void,
  fastifyOptions: Record<string, unknown> = {}
): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const issuer = await createTestIssuer({ issuer: 'https://auth.example.com', audience: R1 })
  const app = logged(fastifyOptions)
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [R1, ...tenants], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  routes(app)
  await app.ready()
  return { app, issuer }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('item 1: a parametric tenant route never falls back to the first resource (percent-encoded tenant)', async (t) => {
  const { app, issuer } = await tenantApp(t, [CAFE], (a) => {
    a.post('/mcp', async (request) => ({ resource: request.mcp?.resource }))
    a.post('/tenants/:tenant/mcp', async (request) => ({ tenant: (request.params as { tenant: string }).tenant, resource: request.mcp?.resource }))
  })
  const mainToken = await issuer.mintAccessToken()
  const cafeToken = await issuer.mintAccessToken({ aud: CAFE })
  const denied = await app.inject({ method: 'POST', url: '/tenants/caf%C3%A9/mcp', headers: bearer(mainToken) })
  t.equal(denied.statusCode, 401, 'a token for …/mcp is refused at the tenant route')
  t.equal(denied.json().error, 'invalid_token')
  t.equal(lastReason(app), 'token.audience')
  const ok = await app.inject({ method: 'POST', url: '/tenants/caf%C3%A9/mcp', headers: bearer(cafeToken) })
  t.equal(ok.statusCode, 200, 'the tenant\'s own token is accepted')
  t.same(ok.json(), { tenant: 'café', resource: CAFE }, 'request.mcp.resource is the RFC 3986 form')
  const lower = await app.inject({ method: 'POST', url: '/tenants/caf%c3%a9/mcp', headers: bearer(cafeToken) })
  t.equal(lower.statusCode, 200, 'lower-case hex in the request is the same tenant')

  const metadata = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/tenants/caf%C3%A9/mcp' })
  t.equal(metadata.statusCode, 200, 'the tenant\'s metadata route answers')
  t.equal(metadata.json().resource, CAFE)
  const challenge = String(denied.headers['www-authenticate'])
  t.match(challenge, /resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/tenants\/caf%C3%A9\/mcp"/)
})

t.test('item 1 (d): a tenant that is not configured gets 401 with the nearest resource\'s challenge, never another resource\'s check', async (t) => {
  const { app, issuer } = await tenantApp(t, [CAFE], (a) => {
    a.post('/mcp', async () => 'main')
    a.post('/tenants/:tenant/mcp', async () => 'tenant handler ran')
  })
  const mainToken = await issuer.mintAccessToken()
  const none = await app.inject({ method: 'POST', url: '/tenants/globex/mcp' })
  t.equal(none.statusCode, 401)
  t.equal(lastReason(app), 'credentials.missing')
  t.notMatch(String(none.headers['www-authenticate']), /error=/, 'no error without credentials')
  t.match(String(none.headers['www-authenticate']), /oauth-protected-resource\/tenants\/caf%C3%A9\/mcp/, 'the resource sharing the longest static prefix')
  const withToken = await app.inject({ method: 'POST', url: '/tenants/globex/mcp', headers: bearer(mainToken) })
  t.equal(withToken.statusCode, 401, 'a token for …/mcp is not accepted for an unknown tenant')
  t.equal(withToken.json().error, 'invalid_token')
  t.equal(lastReason(app), 'resource.unmatched', 'checked against no resource, not the nearest one')
  t.notMatch(withToken.body, /handler ran/)
  const cafeToken = await issuer.mintAccessToken({ aud: CAFE })
  t.equal((await app.inject({ method: 'POST', url: '/tenants/globex/mcp', headers: bearer(cafeToken) })).statusCode, 401, 'nor a token for another tenant')
  t.equal(lastReason(app), 'resource.unmatched')
})

t.test('item 1: with caseSensitive: false, /tenants/ACME/mcp is not …/tenants/acme/mcp and never …/mcp', async (t) => {
  const acme = `${ORIGIN}/tenants/acme/mcp`
  const { app, issuer } = await tenantApp(t, [acme], (a) => {
    a.post('/mcp', async () => 'main')
    a.post('/tenants/:tenant/mcp', async (request) => ({ resource: request.mcp?.resource }))
  }, { routerOptions: { caseSensitive: false } })
  const mainToken = await issuer.mintAccessToken()
  const acmeToken = await issuer.mintAccessToken({ aud: acme })
  for (const url of ['/tenants/ACME/mcp', '/TENANTS/ACME/MCP']) {
    t.equal((await app.inject({ method: 'POST', url, headers: bearer(mainToken) })).statusCode, 401, `${url}: the …/mcp token`)
    t.equal(lastReason(app), 'resource.unmatched', `${url}: the ACME tenant is not configured`)
  }
  t.same((await app.inject({ method: 'POST', url: '/TENANTS/acme/MCP', headers: bearer(acmeToken) })).json(), { resource: acme }, 'the parameter names the tenant')
})

t.test('item 1: every router option leaves the checked resource to the route', async (t) => {
  const acme = `${ORIGIN}/tenants/acme/mcp`
  const cases: Array<{ option: Record<string, unknown>, urls: string[] }> = [
    { option: { caseSensitive: false }, urls: ['/Tenants/Acme/mcp', '/tenants/ACME/mcp', '/MCP'] },
    { option: { ignoreTrailingSlash: true }, urls: ['/tenants/acme/mcp/', '/tenants/globex/mcp/', '/mcp/'] },
    { option: { ignoreDuplicateSlashes: true }, urls: ['//tenants/acme/mcp', '/tenants//acme/mcp', '/tenants/globex//mcp', '//mcp'] },
    { option: { useSemicolonDelimiter: true }, urls: ['/tenants/acme/mcp;x=1', '/tenants/acme;/mcp', '/tenants/globex/mcp;a=/tenants/acme/mcp', '/mcp;/tenants/acme/mcp'] },
  ]
  for (const { option, urls } of cases) {
    const { app, issuer } = await tenantApp(t, [acme], (a) => {
      a.post('/mcp', async (request) => ({ route: '/mcp', resource: request.mcp?.resource }))
      a.post('/tenants/:tenant/mcp', async (request) => ({ route: 'tenant', tenant: (request.params as { tenant: string }).tenant, resource: request.mcp?.resource }))
    }, { routerOptions: option })
    const tokens = { [R1]: await issuer.mintAccessToken(), [acme]: await issuer.mintAccessToken({ aud: acme }) }
    let passed = 0
    for (const url of urls) {
      for (const [aud, token] of Object.entries(tokens)) {
        const res = await app.inject({ method: 'POST', url, headers: bearer(token) })
        if (res.statusCode !== 200) continue
        const body = res.json() as { route: string, tenant?: string, resource: string }
        const expected = body.route === '/mcp' ? R1 : body.tenant === 'acme' ? acme : undefined
        t.equal(body.resource, expected, `${JSON.stringify(option)} ${url}: the route that ran decides the resource`)
        t.equal(aud, expected, `${JSON.stringify(option)} ${url}: only that resource's token passes`)
        passed++
      }
    }
    t.ok(passed > 0, `${JSON.stringify(option)}: the router option is in effect`)
  }
})

t.test('item 1 (c): with several resources, a static route outside all of them fails ready() unless it opts out', async (t) => {
  const issuer = await createTestIssuer()
  const options = { resource: [R1, R2], authorizationServers: [issuer.issuer], jwks: issuer.jwks }
  const app = logged()
  t.teardown(() => app.close())
  await app.register(mcpAuth, options)
  app.post('/mcp', async () => 'ok')
  app.get('/status', async () => 'status')
  await t.rejects(async () => { await app.ready() }, { code: 'FST_MCP_AUTH_INVALID_REGISTRATION', message: /GET \/status/ })

  const optedOut = logged()
  t.teardown(() => optedOut.close())
  await optedOut.register(mcpAuth, options)
  optedOut.get('/status', { config: { mcpAuth: false } }, async () => 'status')
  optedOut.get('/items/:id', { config: { mcpAuth: false } }, async () => 'item')
  await optedOut.ready()
  t.equal((await optedOut.inject('/status')).body, 'status')

  const parametric = logged()
  t.teardown(() => parametric.close())
  await parametric.register(mcpAuth, options)
  parametric.get('/items/:id', async () => 'item')
  await t.rejects(async () => { await parametric.ready() }, { code: 'FST_MCP_AUTH_INVALID_REGISTRATION', message: /\/items\/:id/ }, 'a parameter that can never reach a resource is outside too')

  const single = logged()
  t.teardown(() => single.close())
  await single.register(mcpAuth, { resource: R1, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  single.get('/status', async (request) => ({ resource: request.mcp?.resource }))
  await single.ready()
  const res = await single.inject({ url: '/status', headers: bearer(await issuer.mintAccessToken({ aud: R1 })) })
  t.same(res.json(), { resource: R1 }, '(b) one resource: every route uses it')
})

t.test('item 1 (e): an unknown path answers with the first resource\'s challenge and never runs a handler', async (t) => {
  const acme = `${ORIGIN}/tenants/acme/mcp`
  const { app, issuer } = await tenantApp(t, [acme], (a) => {
    a.post('/mcp', async () => 'main')
    a.post('/tenants/acme/mcp', async () => 'acme')
  })
  const res = await app.inject({ method: 'POST', url: '/tenants/acme/other' })
  t.equal(res.statusCode, 401)
  t.match(String(res.headers['www-authenticate']), /resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"/)
  const acmeToken = await issuer.mintAccessToken({ aud: acme })
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme/other', headers: bearer(acmeToken) })).statusCode, 401, 'checked against the first resource')
  t.equal(lastReason(app), 'token.audience')
  t.equal((await app.inject({ method: 'POST', url: '/nowhere', headers: bearer(await issuer.mintAccessToken()) })).statusCode, 404)
})

t.test('item 1: a catch-all proxy route selects by its wildcard, and a path outside every resource is 401', async (t) => {
  const acme = `${ORIGIN}/tenants/acme/mcp`
  const { app, issuer } = await tenantApp(t, [acme], (a) => {
    a.all('/*', async (request) => ({ resource: request.mcp?.resource }))
  })
  const mainToken = await issuer.mintAccessToken()
  t.same((await app.inject({ method: 'POST', url: '/mcp', headers: bearer(mainToken) })).json(), { resource: R1 })
  t.same((await app.inject({ method: 'POST', url: '/mcp/sub', headers: bearer(mainToken) })).json(), { resource: R1 })
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme/mcp', headers: bearer(mainToken) })).statusCode, 401)
  t.equal(lastReason(app), 'token.audience')
  t.equal((await app.inject({ method: 'POST', url: '/admin', headers: bearer(mainToken) })).statusCode, 401, 'outside every resource: no fallback')
  t.equal(lastReason(app), 'resource.unmatched')
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme%2Fmcp', headers: bearer(mainToken) })).statusCode, 401)
  t.equal(lastReason(app), 'token.audience', 'the router decodes the wildcard, whose "/" separate segments: checked against …/tenants/acme/mcp')
})

t.test('item 1: the root wildcard route "*" (no leading "/") selects by its parameter, as "/*" does', async (t) => {
  const acme = `${ORIGIN}/tenants/acme/mcp`
  const { app, issuer } = await tenantApp(t, [acme], (a) => {
    a.all('*', async (request) => ({ resource: request.mcp?.resource }))
  })
  const mainToken = await issuer.mintAccessToken()
  t.same((await app.inject({ method: 'POST', url: '/mcp/sub', headers: bearer(mainToken) })).json(), { resource: R1 })
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme/mcp', headers: bearer(mainToken) })).statusCode, 401)
  t.equal(lastReason(app), 'token.audience')
  t.same((await app.inject({ method: 'POST', url: '/tenants/acme/mcp', headers: bearer(await issuer.mintAccessToken({ aud: acme })) })).json(), { resource: acme })
  t.equal((await app.inject({ method: 'POST', url: '/admin', headers: bearer(mainToken) })).statusCode, 401, 'outside every resource: no fallback')
  t.equal(lastReason(app), 'resource.unmatched')
})

t.test('item 1: resource URIs are configured in RFC 3986 form; other spellings are refused with the encoded one', async (t) => {
  const issuer = await createTestIssuer()
  const cases: Array<[string, RegExp]> = [
    [`${ORIGIN}/tenants/café/mcp`, /https:\/\/mcp\.example\.com\/tenants\/caf%C3%A9\/mcp/],
    [`${ORIGIN}/tenants/caf%c3%a9/mcp`, /https:\/\/mcp\.example\.com\/tenants\/caf%C3%A9\/mcp/],
    [`${ORIGIN}/%7Euser/mcp`, /https:\/\/mcp\.example\.com\/~user\/mcp/],
    [`${ORIGIN}/a b/mcp`, /https:\/\/mcp\.example\.com\/a%20b\/mcp/],
  ]
  for (const [resource, spelling] of cases) {
    const app = logged()
    t.teardown(() => app.close())
    await t.rejects(Promise.resolve(app.register(mcpAuth, { resource, authorizationServers: [issuer.issuer], jwks: issuer.jwks }).then(() => app.ready())),
      { code: 'FST_MCP_AUTH_INVALID_OPTION', message: spelling }, resource)
  }
})

t.test('item 1: a route whose text no URI can spell (reached through rewriteUrl) lies in no resource but a bare origin', async (t) => {
  // The router matches '/mcp/\uD800' to '/:x/\uD800' with x = "mcp"; "/mcp" must not be the resource checked.
  const rewriteUrl = (request: { url?: string }): string => request.url === '/odd' ? '/mcp/\uD800' : request.url ?? '/'
  const { app, issuer } = await tenantApp(t, [ORIGIN], (a) => {
    a.post('/:x/\uD800', async (request) => ({ resource: request.mcp?.resource }))
  }, { rewriteUrl })
  t.equal((await app.inject({ method: 'POST', url: '/odd', headers: bearer(await issuer.mintAccessToken()) })).statusCode, 401, 'a token for /mcp')
  t.equal(lastReason(app), 'token.audience')
  t.same((await app.inject({ method: 'POST', url: '/odd', headers: bearer(await issuer.mintAccessToken({ aud: ORIGIN })) })).json(), { resource: ORIGIN })
  const without = logged({ rewriteUrl })
  t.teardown(() => without.close())
  await without.register(mcpAuth, { resource: [R1, `${ORIGIN}/other`], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  without.post('/:x/\uD800', async () => 'x')
  await t.rejects(async () => without.ready(), { code: 'FST_MCP_AUTH_INVALID_REGISTRATION', message: /lies outside every configured resource/ }, 'without a bare origin: refused at start-up')
})
