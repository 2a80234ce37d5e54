// Issue 15 item 2: a key withdrawn from the issuer's JWKS ends the tokens it
// verified, cached ones included. Real loopback authorization servers publish
// the JWKS (discovered or { uri }); the plugin refetches it when a token names
// a key it does not hold.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer } from '../../testing.js'
import { until } from '../helpers/wait.js'

const RESOURCE = 'https://mcp.example.com/mcp'

async function setup (t: Test, jwks: (issuer: ServedTestIssuer) => McpAuthOptions['jwks']): Promise<{ app: FastifyInstance, issuer: ServedTestIssuer }> {
  const issuer = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => issuer.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: jwks(issuer) })
  app.get('/mcp', async (request) => ({ subject: request.mcp?.subject }))
  await app.ready()
  return { app, issuer }
}

const call = (app: FastifyInstance, token: string) => app.inject({ url: '/mcp', headers: { authorization: `Bearer ${token}` } })

const sources = {
  discovered: () => ({ cooldown: 0 }),
  '{ uri }': (issuer: ServedTestIssuer) => ({ uri: issuer.jwksUri, cooldown: 0 }),
}

for (const [name, jwks] of Object.entries(sources)) {
  t.test(`${name}: after a refresh without its key, a cached long-lived token is verified again and refused`, async (t) => {
    const { app, issuer } = await setup(t, jwks)
    const longLived = await issuer.mintAccessToken({}, { expiresIn: 86_400 })
    // Twice: past the admission filter, the token is in the verified-token cache.
    for (let i = 0; i < 3; i++) t.equal((await call(app, longLived)).statusCode, 200, `cached use ${i}`)
    await issuer.rotateKey({ keepOld: false })
    // A token by the new key names a kid the plugin does not hold: it refetches the JWKS.
    const fresh = await issuer.mintAccessToken()
    t.equal((await call(app, fresh)).statusCode, 200, 'the new key is fetched')
    const withdrawn = await call(app, longLived)
    t.equal(withdrawn.statusCode, 401, 'the withdrawn key no longer vouches for the cached token')
    t.equal(withdrawn.json().error, 'invalid_token')
    t.equal((await call(app, fresh)).statusCode, 200, 'the new key\'s tokens still pass')
  })

  t.test(`${name}: a key that stays in the refreshed JWKS keeps its cached tokens`, async (t) => {
    const { app, issuer } = await setup(t, jwks)
    const token = await issuer.mintAccessToken({}, { expiresIn: 86_400 })
    for (let i = 0; i < 3; i++) t.equal((await call(app, token)).statusCode, 200)
    await issuer.rotateKey({ keepOld: true })
    t.equal((await call(app, await issuer.mintAccessToken())).statusCode, 200, 'the refetch')
    const jwksFetches = issuer.requests.filter((r) => r.path.startsWith('/jwks')).length
    t.equal((await call(app, token)).statusCode, 200, 'the kept key still vouches for it')
    t.equal(issuer.requests.filter((r) => r.path.startsWith('/jwks')).length, jwksFetches, 'no refetch for it')
    // A later refresh that drops it still ends the token (its record outlived the first refresh).
    await issuer.rotateKey({ keepOld: false })
    t.equal((await call(app, await issuer.mintAccessToken())).statusCode, 200, 'the second refetch')
    t.equal((await call(app, token)).statusCode, 401, 'withdrawn two refreshes later')
  })
}

t.test('static { keys } and key functions are not affected: nothing is withdrawn', async (t) => {
  const issuer = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => issuer.close())
  const keys = issuer.jwks.keys
  const { createLocalJWKSet } = await import('jose')
  for (const jwks of [{ keys }, createLocalJWKSet({ keys })]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks })
    app.get('/mcp', async () => 'ok')
    const token = await issuer.mintAccessToken({}, { expiresIn: 86_400 })
    for (let i = 0; i < 3; i++) t.equal((await call(app, token)).statusCode, 200)
  }
})

t.test('tokenCache.maxAge: a cached token is verified again once maxAge has passed', async (t) => {
  const issuer = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => issuer.close())
  const { createLocalJWKSet } = await import('jose')
  const local = createLocalJWKSet(issuer.jwks)
  let lookups = 0
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [issuer.issuer],
    // A key function is asked on every verification: it counts them.
    jwks: async (header, token) => { lookups++; return local(header, token) },
    tokenCache: { maxAge: 1 },
  })
  app.get('/mcp', async () => 'ok')
  const token = await issuer.mintAccessToken({}, { expiresIn: 86_400 })
  for (let i = 0; i < 3; i++) t.equal((await call(app, token)).statusCode, 200)
  const within = lookups
  t.ok(within < 3, 'cached while maxAge lasts')
  // The request clock counts whole seconds: one second after the last verification, its entry is past maxAge.
  const last = Math.floor(Date.now() / 1000)
  await until(() => Math.floor(Date.now() / 1000) >= last + 1)
  t.equal((await call(app, token)).statusCode, 200)
  t.equal(lookups, within + 1, 'verified again after maxAge, though exp is a day away')
})
