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
import type { TestIssuer } from '../../testing.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

const R1 = 'https://mcp.example.com/mcp'
const R2 = 'https://mcp.example.com/tenants/acme/mcp'

async function twoTenants (t: Tap, fastifyOptions: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, main: TestIssuer, acme: TestIssuer }> {
  const main = await createTestIssuer({ issuer: 'https://auth.example.com', audience: R1 })
  const acme = await createTestIssuer({ issuer: 'https://login.example.org/acme', audience: R2 })
  const app = Fastify(fastifyOptions)
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
  const { app: app2, main: main2 } = await twoTenants(t)
  t.match(await raw(app2, 'POST http://mcp.example.com/tenants/acme/mcp HTTP/1.1', await main2.mintAccessToken()), /^HTTP\/1\.1 401 /)
})

t.test('router options (case-insensitive, duplicate slashes) cannot move a request to another resource', async (t) => {
  const { app, main } = await twoTenants(t, { routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: true } })
  const mainToken = await main.mintAccessToken()
  for (const url of ['/Tenants/acme/mcp', '//tenants/acme/mcp']) {
    const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${mainToken}` } })
    t.equal(res.statusCode, 401, url)
  }
})

t.test('nested resources: /mcp/%61dmin is the /mcp/admin route and resource', async (t) => {
  const issuer = await createTestIssuer({ audience: R1 })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [R1, 'https://mcp.example.com/mcp/admin'], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.post('/mcp/admin', async () => 'admin')
  const res = await app.inject({ method: 'POST', url: '/mcp/%61dmin', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 401, 'a token for /mcp is not a token for /mcp/admin')
  const admin = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp/admin' })
  t.equal((await app.inject({ method: 'POST', url: '/mcp/%61dmin', headers: { authorization: `Bearer ${admin}` } })).statusCode, 200)
})

t.test('a parametric route serving several resources picks by the router\'s decoded parameter', async (t) => {
  const issuer = await createTestIssuer()
  const app = Fastify()
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
  t.equal((await call('/tenants/%67lobex/mcp')).statusCode, 401, 'another tenant, encoded')
})

t.test('routes registered before the plugin are resolved the same way (from the route pattern at request time)', async (t) => {
  const main = await createTestIssuer({ issuer: 'https://auth.example.com', audience: R1 })
  const acme = await createTestIssuer({ issuer: 'https://login.example.org/acme', audience: R2 })
  const app = Fastify()
  t.teardown(() => app.close())
  app.post('/tenants/acme/mcp', async (request) => ({ resource: request.mcp?.resource }))
  await app.register(mcpAuth, {
    resource: [R1, { resource: R2, authorizationServers: [acme.issuer] }],
    authorizationServers: [main.issuer],
    jwks: { keys: [...main.jwks.keys, ...acme.jwks.keys] },
  } as McpAuthOptions)
  const mainToken = await main.mintAccessToken()
  t.equal((await app.inject({ method: 'POST', url: '/tenants/acme/%6dcp', headers: { authorization: `Bearer ${mainToken}` } })).statusCode, 401)
  const ok = await app.inject({ method: 'POST', url: '/tenants/acme/%6dcp', headers: { authorization: `Bearer ${await acme.mintAccessToken()}` } })
  t.same(ok.json(), { resource: R2 })
})
