// The plugin against real loopback authorization servers: jwks_uri discovery
// (RFC 8414, then OIDC), remote JWKS caching, rotation, cooldown, the fail-fast
// backoff after a failed fetch (min(jwks.cooldown, 2 s), for discovery and JWKS
// alike), and every outage mapped to 503 temporarily_unavailable (XC-06), never
// 401 or 200. Tests that expect recovery right after an outage set jwks.cooldown 0.
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestIssuer, startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer, StartTestIssuerOptions, TestIssuer } from '../../testing.js'
import { parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

interface LogLine { level: number, msg: string, [key: string]: unknown }

interface Built {
  app: FastifyInstance
  logs: LogLine[]
}

async function build (t: Tap, options: Omit<McpAuthOptions, 'resource'>): Promise<Built> {
  const logs: LogLine[] = []
  const app = Fastify({
    logger: { level: 'warn', stream: { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } } },
  })
  t.teardown(() => app.close())
  // These tests start from nothing fetched: the first request fetches (no warm-up at ready()).
  const jwks = typeof options.jwks === 'function' ? options.jwks : { warmUp: false as const, ...options.jwks }
  await app.register(mcpAuth, { resource: RESOURCE, ...options, jwks } as McpAuthOptions)
  app.get('/mcp', async (request) => ({ subject: request.mcp?.subject, issuer: request.mcp?.issuer, binding: request.mcp?.sender.binding }))
  await app.ready()
  return { app, logs }
}

async function served (t: Tap, options: StartTestIssuerOptions = {}): Promise<ServedTestIssuer> {
  const issuer = await startTestIssuer({ audience: RESOURCE, ...options })
  t.teardown(() => issuer.close())
  return issuer
}

async function call (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `Bearer ${token}` } })
}

function count (issuer: ServedTestIssuer, path: string): number {
  return issuer.requests.filter((r) => r.path === path).length
}

// Issuer metadata and JWKS outages alike: the keys are what the request lacks.
const DISCOVERY_TEXT = 'The authorization server\'s keys are unavailable, retry later'
const JWKS_TEXT = DISCOVERY_TEXT

/** XC-06: 503, Retry-After, no challenge, no-store, temporarily_unavailable. */
function assertUnavailable (t: Tap, res: LightMyRequestResponse, description: string, name = 'XC-06'): void {
  t.equal(res.statusCode, 503, `${name}: status`)
  t.equal(res.headers['retry-after'], '5', `${name}: Retry-After`)
  t.equal(res.headers['www-authenticate'], undefined, `${name}: no WWW-Authenticate`)
  t.equal(res.headers['cache-control'], 'no-store', `${name}: no-store`)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: description }, `${name}: body`)
}

function assertOk (t: Tap, res: LightMyRequestResponse, issuer: TestIssuer, name = 'authenticated'): void {
  t.equal(res.statusCode, 200, name)
  t.same(res.json(), { subject: 'user-123', issuer: issuer.issuer, binding: 'bearer' }, `${name}: request.mcp`)
}

async function waitFor (condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

// ——— discovery (no `jwks` option) ———

t.test('ASM-01 / RFC 8414 §3.1: jwks_uri discovered by path insertion for an issuer with a path', async (t) => {
  const issuer = await served(t, { path: '/tenant1' })
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  t.same(issuer.requests, [
    { method: 'GET', path: '/.well-known/oauth-authorization-server/tenant1' },
    { method: 'GET', path: '/jwks/tenant1' },
  ])
})

t.test('ASM-01: an issuer without a path → /.well-known/oauth-authorization-server', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  t.same(issuer.requests.map((r) => r.path), ['/.well-known/oauth-authorization-server', '/jwks'])
})

t.test('ASM-01 / OIDC Discovery §4: falls back to /.well-known/openid-configuration', async (t) => {
  const issuer = await served(t, { discovery: 'openid' })
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  t.same(issuer.requests.map((r) => r.path), ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/jwks'])
})

t.test('ASM-01: OIDC fallback for an issuer with a path appends to the issuer', async (t) => {
  const issuer = await served(t, { discovery: 'openid', path: '/tenant1' })
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  t.same(issuer.requests.map((r) => r.path), ['/.well-known/oauth-authorization-server/tenant1', '/tenant1/.well-known/openid-configuration', '/jwks/tenant1'])
})

t.test('JWT-08: two discovered issuers each use their own JWKS', async (t) => {
  const a = await served(t)
  const b = await served(t, { path: '/b' })
  const { app } = await build(t, { authorizationServers: [a.issuer, b.issuer] })
  assertOk(t, await call(app, await a.mintAccessToken()), a, 'issuer A')
  assertOk(t, await call(app, await b.mintAccessToken()), b, 'issuer B')
  // A token claiming B but signed with A's key (A's kid): B's JWKS has no such key.
  const forged = await a.mintAccessToken({ iss: b.issuer })
  const res = await call(app, forged)
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_token')
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.error, 'invalid_token')
})

t.test('ASM-02 / RFC 8414 §3.3: a discovered issuer that differs → 503, no challenge, an error log, never 200/401', async (t) => {
  const issuer = await served(t)
  issuer.metadata = { issuer: 'https://auth.example.com' }
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer] })
  for (let i = 0; i < 3; i++) assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT, `ASM-02 #${i}`)
  t.equal(count(issuer, '/jwks'), 0, 'the JWKS named by the untrusted document is never fetched')
  t.equal(count(issuer, '/.well-known/oauth-authorization-server'), 1, 'requests right after the failure get 503 without refetching')
  const errorLine = logs.find((l) => l.level === 50 && l.msg === 'mcp-auth: issuer metadata discovery failed')
  t.ok(errorLine, 'an error log line')
  t.match(errorLine, { issuer: issuer.issuer, cause: 'issuer_mismatch', err: { message: /names issuer "https:\/\/auth\.example\.com"/ } })
})

t.test('ASM-02: a trailing-slash variant of the issuer is a different issuer → 503', async (t) => {
  const issuer = await served(t)
  issuer.metadata = { issuer: issuer.issuer + '/' }
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT)
})

t.test('ASM-03: a non-https jwks_uri on a non-loopback host → 503', async (t) => {
  const issuer = await served(t)
  issuer.metadata = { jwks_uri: 'http://keys.example.com/jwks' }
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer] })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT)
  t.match(logs.find((l) => l.level === 50), { cause: 'insecure_jwks_uri' }, 'logged with its cause')
})

t.test('metadata without a jwks_uri → 503, never 401', async (t) => {
  const issuer = await served(t)
  issuer.metadata = { jwks_uri: undefined }
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT)
})

t.test('metadata and keys are cached: more tokens cost no more fetches', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  for (let i = 0; i < 5; i++) assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, `token ${i}`)
  t.equal(count(issuer, '/.well-known/oauth-authorization-server'), 1, 'one metadata fetch')
  t.equal(count(issuer, '/jwks'), 1, 'one JWKS fetch')
})

t.test('concurrent first requests share one metadata fetch and one JWKS fetch', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  const tokens = await Promise.all(Array.from({ length: 10 }, () => issuer.mintAccessToken()))
  const responses = await Promise.all(tokens.map((token) => call(app, token)))
  for (const res of responses) t.equal(res.statusCode, 200)
  t.equal(count(issuer, '/.well-known/oauth-authorization-server'), 1)
  t.equal(count(issuer, '/jwks'), 1)
})

t.test('XC-06: issuer down with nothing cached → 503 (never 401/200); recovery resumes service', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { cooldown: 0 } })
  const token = await issuer.mintAccessToken()
  assertUnavailable(t, await call(app, token), DISCOVERY_TEXT, 'first')
  assertUnavailable(t, await call(app, token), DISCOVERY_TEXT, 'second')
  t.equal(count(issuer, '/.well-known/oauth-authorization-server'), 2, 'cooldown 0: no failure backoff, each request tries again')
  t.match(logs.filter((l) => l.level === 50), [
    { msg: 'mcp-auth: issuer metadata discovery failed', issuer: issuer.issuer },
    { msg: 'mcp-auth: issuer metadata discovery failed', issuer: issuer.issuer },
  ])
  issuer.failure = false
  assertOk(t, await call(app, token), issuer, 'after recovery')
})

t.test('XC-06: right after a failed discovery (default jwks.cooldown) requests get 503 at once, without refetching', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer] })
  const token = await issuer.mintAccessToken()
  assertUnavailable(t, await call(app, token), DISCOVERY_TEXT, 'first')
  issuer.failure = false // back up, but the failure is < 2 s old
  for (let i = 0; i < 3; i++) assertUnavailable(t, await call(app, token), DISCOVERY_TEXT, `backoff #${i}`)
  t.equal(count(issuer, '/.well-known/oauth-authorization-server'), 1, 'one fetch in all')
  t.equal(count(issuer, '/jwks'), 0)
  t.equal(logs.filter((l) => l.level === 50).length, 1, 'one error log line')
})

t.test('XC-06: issuer unreachable (connection refused) → 503', async (t) => {
  const port = await closedPort()
  const issuer = await createTestIssuer({ issuer: `http://127.0.0.1:${port}`, audience: RESOURCE })
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT)
})

t.test('XC-06: a hanging issuer → 503 within the configured timeout', async (t) => {
  const issuer = await served(t)
  issuer.failure = 'hang'
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { timeout: 0.3 } })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), DISCOVERY_TEXT)
  t.match(logs.find((l) => l.level === 50), { cause: 'timeout' }, 'the timeout ended the wait')
})

t.test('XC-06: discovered JWKS endpoint down → 503 with the JWKS text', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/.well-known/oauth-authorization-server' ? 200 : 500, { 'content-type': 'application/json' })
    res.end(JSON.stringify(req.url === '/.well-known/oauth-authorization-server' ? { issuer: base, jwks_uri: `${base}/jwks` } : {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const issuer = await createTestIssuer({ issuer: base, audience: RESOURCE })
  const { app, logs } = await build(t, { authorizationServers: [base] })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), JWKS_TEXT)
  t.ok(logs.some((l) => l.level === 50 && l.msg === 'mcp-auth: JWKS fetch failed'))
})

t.test('an issuer that goes down after a successful discovery keeps serving from the cache', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'before')
  issuer.failure = true
  for (let i = 0; i < 3; i++) assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, `while down #${i}`)
  t.equal(issuer.requests.length, 2, 'no fetch while cached')
})

t.test('an untrusted issuer is refused before any discovery request', async (t) => {
  const issuer = await served(t)
  const stranger = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer] })
  const res = await call(app, await stranger.mintAccessToken())
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_token')
  const [bearer] = parseChallenges(res.headers['www-authenticate'])
  t.same(bearer, { scheme: 'Bearer', params: { error: 'invalid_token', error_description: 'The access token issuer is not trusted', resource_metadata: PRM } })
  t.equal(stranger.requests.length, 0, 'JWT-06: nothing fetched for an untrusted iss')
  t.equal(issuer.requests.length, 0)
})

// ——— remote JWKS (`jwks: { uri }`) ———

t.test('jwks: { uri }: one fetch serves many requests; no discovery', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri } })
  for (let i = 0; i < 10; i++) assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, `token ${i}`)
  t.same(issuer.requests, [{ method: 'GET', path: '/jwks' }])
})

t.test('JWT-15: key rotation: a token with the new kid is accepted after exactly one refetch', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, cooldown: 0 } })
  const oldToken = await issuer.mintAccessToken()
  assertOk(t, await call(app, oldToken), issuer, 'old key')
  const oldKid = issuer.kid
  await issuer.rotateKey()
  t.not(issuer.kid, oldKid)
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'new key')
  t.equal(count(issuer, '/jwks'), 2, 'one refetch')
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'new key again')
  t.equal(count(issuer, '/jwks'), 2, 'no further fetch')
})

t.test('JWT-15: concurrent requests with a rotated kid share one refetch', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, cooldown: 0 } })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  await issuer.rotateKey()
  const tokens = await Promise.all(Array.from({ length: 8 }, () => issuer.mintAccessToken()))
  const responses = await Promise.all(tokens.map((token) => call(app, token)))
  for (const res of responses) t.equal(res.statusCode, 200)
  t.equal(count(issuer, '/jwks'), 2)
})

t.test('JWT-15: a flood of junk kids does not cause a refetch storm (cooldown)', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, cooldown: 60 } })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  for (let i = 0; i < 25; i++) {
    const res = await call(app, await issuer.mintAccessToken({}, { header: { kid: `junk-${i}` } }))
    t.equal(res.statusCode, 401, `junk kid ${i}`)
    t.same(res.json(), { error: 'invalid_token', error_description: 'The access token is signed with an unknown key' })
    t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.error, 'invalid_token')
  }
  t.equal(count(issuer, '/jwks'), 1, 'no refetch inside the cooldown')
})

t.test('JWKS endpoint down with keys cached → requests still pass', async (t) => {
  const issuer = await served(t)
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri } })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer)
  issuer.failure = true
  for (let i = 0; i < 5; i++) assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, `while down #${i}`)
  issuer.failure = 'hang'
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'while hanging')
  t.equal(count(issuer, '/jwks'), 1)
})

t.test('XC-06: JWKS endpoint down with nothing cached → 503 and an error log; recovery resumes service', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, cooldown: 0 } })
  const token = await issuer.mintAccessToken()
  assertUnavailable(t, await call(app, token), JWKS_TEXT, 'down')
  assertUnavailable(t, await call(app, token), JWKS_TEXT, 'still down')
  t.equal(count(issuer, '/jwks'), 2, 'cooldown 0: no failure backoff')
  t.match(logs.find((l) => l.level === 50), { msg: 'mcp-auth: JWKS fetch failed', jwksUri: issuer.jwksUri, cause: 'http_503', err: { message: /unexpected status 503/ } })
  issuer.failure = false
  assertOk(t, await call(app, token), issuer, 'recovered')
})

t.test('XC-06: right after a failed JWKS fetch (default jwks.cooldown) requests get 503 at once, without refetching', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri } })
  const token = await issuer.mintAccessToken()
  assertUnavailable(t, await call(app, token), JWKS_TEXT, 'down')
  issuer.failure = false // back up, but the failure is < 2 s old
  for (let i = 0; i < 3; i++) assertUnavailable(t, await call(app, token), JWKS_TEXT, `backoff #${i}`)
  t.equal(count(issuer, '/jwks'), 1, 'one fetch in all')
  t.equal(logs.filter((l) => l.level === 50).length, 1, 'one error log line')
})

t.test('XC-06: a slow JWKS endpoint → 503 within the timeout (jwks.timeout 0.3 s)', async (t) => {
  const issuer = await served(t)
  issuer.failure = 'hang'
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, timeout: 0.3, cooldown: 0 } })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), JWKS_TEXT)
  t.match(logs.find((l) => l.level === 50), { cause: 'timeout' }, 'the timeout ended the wait')
  issuer.failure = false
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'recovered')
})

t.test('XC-06: JWKS endpoint unreachable (connection refused) → 503', async (t) => {
  const port = await closedPort()
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: `http://127.0.0.1:${port}/jwks` } })
  assertUnavailable(t, await call(app, await issuer.mintAccessToken()), JWKS_TEXT)
})

t.test('XC-06: the reason reaches errorRenderer; status and headers stay', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const reasons: string[] = []
  const { app } = await build(t, {
    authorizationServers: [issuer.issuer],
    jwks: { uri: issuer.jwksUri },
    errorRenderer: (err) => {
      reasons.push(err.reason)
      return { problem: err.oauthError }
    },
  })
  const res = await call(app, await issuer.mintAccessToken())
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.equal(res.headers['www-authenticate'], undefined)
  t.same(res.json(), { problem: 'temporarily_unavailable' })
  t.same(reasons, ['jwks.unreachable'])
})

t.test('stale keys past cacheMaxAge are refreshed in the background while requests are served', async (t) => {
  const issuer = await served(t)
  // The background refresh waits for jwks.cooldown since the last fetch as well as for cacheMaxAge.
  const { app, logs } = await build(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, cacheMaxAge: 1, cooldown: 1, timeout: 60 } })
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'first')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  issuer.failure = 'hang'
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'stale but served')
  // The refresh hangs for up to 60 s and has not ended: the request did not wait for it.
  t.notOk(logs.some((l) => l.level >= 40), 'answered while the refresh is still in flight')
  await waitFor(() => count(issuer, '/jwks') >= 2)
  t.equal(count(issuer, '/jwks'), 2, 'a background refresh went out')
  issuer.failure = false // the hanging refresh is cut off and fails
  await waitFor(() => logs.some((l) => l.level === 40))
  t.match(logs.find((l) => l.level === 40), { msg: 'mcp-auth: JWKS background refresh failed, keeping cached keys', jwksUri: issuer.jwksUri })
  t.notOk(logs.some((l) => l.level === 50), 'a failed background refresh is a warning, not an error')
  assertOk(t, await call(app, await issuer.mintAccessToken()), issuer, 'still served after the failed refresh')
})
