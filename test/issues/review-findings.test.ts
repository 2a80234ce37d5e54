// Regressions from the independent security review (findings 2–10).
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { createHmacNonceProvider, MemoryReplayStore, mcpOperationScopes, requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import { buildApp, RESOURCE } from '../helpers/app.js'

/** A nonce from the HMAC provider as it was at `at` (seconds). */
function createHmacNonceProviderForTests (secret: string, at: number): string {
  return createHmacNonceProvider({ secret, clock: () => at }).issue() as string
}

t.test('finding 2: only a CORS preflight skips authentication; any other OPTIONS is authenticated', async (t) => {
  const { app } = await buildApp(t, {}, undefined, (a) => {
    a.route({ method: ['GET', 'OPTIONS'], url: '/data', handler: async (request) => ({ secret: 'data', mcp: request.mcp !== null }) })
  })
  const plain = await app.inject({ method: 'OPTIONS', url: '/data' })
  t.equal(plain.statusCode, 401, 'OPTIONS without a preflight header needs a token')
  const preflight = await app.inject({ method: 'OPTIONS', url: '/data', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } })
  t.not(preflight.statusCode, 401, 'a preflight is not authenticated')
})

t.test('finding 2: requireScopes on an unauthenticated request reveals no route details', async (t) => {
  const { app } = await buildApp(t, {}, undefined, (a) => {
    a.route({ method: ['POST', 'OPTIONS'], url: '/guarded', preHandler: requireScopes(['a']), handler: async () => 'ok' })
    a.route({ method: 'POST', url: '/open', config: { mcpAuth: false }, preHandler: requireScopes(['a']), handler: async () => 'ok' })
  })
  const preflight = await app.inject({ method: 'OPTIONS', url: '/guarded', headers: { origin: 'https://x', 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 204, 'a preflight is answered before the guard')
  const open = await app.inject({ method: 'POST', url: '/open' })
  t.equal(open.statusCode, 500, 'a guard on an opted-out route fails closed')
  t.notMatch(open.body, /open/)
})

t.test('finding 3: a full MemoryReplayStore costs a bounded sweep, and the default is sized for real traffic', async (t) => {
  t.equal(new MemoryReplayStore().maxEntries, 1_000_000)
  let now = 0
  const store = new MemoryReplayStore({ maxEntries: 5000, clock: () => now })
  for (let i = 0; i < 5000; i++) store.claim(`key-${i}`, 600)
  now = 10
  const started = performance.now()
  let refused = 0
  for (let i = 0; i < 200; i++) {
    try {
      store.claim(`more-${i}`, 600)
    } catch (err) {
      if ((err as { code?: string }).code === 'FST_MCP_AUTH_REPLAY_STORE_FULL') refused++
    }
  }
  t.equal(refused, 200, 'full of live entries: refused, never forgotten')
  t.ok(performance.now() - started < 1000, 'full-store claims do not scan every entry')
})

t.test('finding 4: an async onEvent that rejects is logged, never crashes the process', async (t) => {
  const logs: string[] = []
  const { app } = await buildApp(t, { onEvent: async () => { throw new Error('metrics down') } }, undefined, undefined, logs)
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(res.statusCode, 401)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(logs.some((line) => line.includes('mcp-auth: onEvent threw')))
})

t.test('finding 5: a body that is not parsed JSON must satisfy every configured scope', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app } = await buildApp(t, {}, issuer, (a) => {
    a.post('/ops', { preHandler: requireScopes(mcpOperationScopes({ tools: { delete_file: ['files:write'] }, default: ['files:read'] })) }, async () => 'ok')
  })
  const token = await issuer.mintAccessToken({ scope: 'files:read' })
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_file' } })
  const asJson = await app.inject({ method: 'POST', url: '/ops', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: body })
  const asText = await app.inject({ method: 'POST', url: '/ops', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, payload: body })
  t.equal(asJson.statusCode, 403)
  t.equal(asText.statusCode, 403, 'the same call as text/plain is not let through')
  const full = await issuer.mintAccessToken({ scope: 'files:read files:write' })
  t.equal((await app.inject({ method: 'POST', url: '/ops', headers: { authorization: `Bearer ${full}`, 'content-type': 'text/plain' }, payload: body })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/ops', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'no body: the default')
})

t.test('finding 6: a proof by a stranger\'s key is refused before any signature work; huge RSA keys are refused', async (t) => {
  const { app, issuer } = await buildApp(t)
  const key = await createDpopKey()
  const stranger = await createDpopKey('RS256')
  const token = await issuer.mintAccessToken({}, { bindTo: key })
  const huge = { ...stranger.publicJwk, e: 'A'.repeat(400) }
  const proof = await createDpopProof(stranger, { method: 'GET', url: RESOURCE, accessToken: token, header: { jwk: huge } })
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `DPoP ${token}`, dpop: proof } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_dpop_proof', 'the oversized exponent is refused as a bad key')
})

t.test('finding 8: a resource path with ":" is literal in the metadata route; "*" is refused', async (t) => {
  const issuer = await createTestIssuer()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: 'https://mcp.example.com/api:v1/mcp', authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  t.equal((await app.inject('/.well-known/oauth-protected-resource/api:v1/mcp')).statusCode, 200)
  t.equal((await app.inject('/.well-known/oauth-protected-resource/apiANY/mcp')).statusCode, 404)
  const star = Fastify()
  t.teardown(() => star.close())
  await t.rejects(Promise.resolve(star.register(mcpAuth, { resource: 'https://mcp.example.com/a*/mcp', authorizationServers: [issuer.issuer] } as McpAuthOptions).then(() => star.ready())),
    { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /"\*"/ })
})

t.test('finding 10: a rotated DPoP-Nonce on a success is exposed to browser clients', async (t) => {
  const secret = 'a-nonce-secret-that-is-long-enough-1234'
  const { app, issuer } = await buildApp(t, { dpop: { nonce: { secret } } })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: key })
  const old = createHmacNonceProviderForTests(secret, Math.floor(Date.now() / 1000) - 90)
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token, nonce: old })
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `DPoP ${token}`, dpop: proof, origin: 'https://app.example' } })
  t.equal(res.statusCode, 200)
  t.type(res.headers['dpop-nonce'], 'string', 'rotated')
  t.match(res.headers['access-control-expose-headers'], /DPoP-Nonce/)
})
