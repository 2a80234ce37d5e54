// Production wiring: audit events (onEvent + diagnostics_channel), load
// shedding before signature work, the health route, the clustered-store warning.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { totalmem } from 'node:os'
import { Writable } from 'node:stream'
import { getHeapStatistics } from 'node:v8'
import Fastify from 'fastify'
import { createLocalJWKSet } from 'jose'
import t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import { resolveOptions } from '../../lib/options.js'
import type { McpAuthEvent, McpAuthOptions } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import { buildApp, RESOURCE } from '../helpers/app.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

async function appWith (t: Tap, issuer: TestIssuer, options: Partial<McpAuthOptions>, logs?: string[]) {
  const stream = new Writable({ write (chunk, _enc, done) { logs?.push(chunk.toString()); done() } })
  const app = Fastify({ logger: logs === undefined ? false : { level: 'debug', stream } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, ...options } as McpAuthOptions)
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, async () => 'ok')
  return app
}

t.test('onEvent: one event per decision, never the token', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const events: McpAuthEvent[] = []
  const app = await appWith(t, issuer, { onEvent: (event) => { events.push(event) } })
  const good = await issuer.mintAccessToken({ scope: 'mcp:tools:call' })
  const narrow = await issuer.mintAccessToken({ scope: 'mcp:tools:read' })
  await app.inject({ method: 'POST', url: '/mcp?x=secret', headers: { authorization: `Bearer ${good}` } })
  await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${narrow}` } })
  await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: 'Bearer junk' } })
  await app.inject({ method: 'POST', url: '/mcp' })
  // A 403 is the second decision on an authenticated request.
  t.same(events.map((e) => e.type === 'denied' ? [e.type, e.status, e.reason] : [e.type, e.binding]), [
    ['authenticated', 'bearer'],
    ['authenticated', 'bearer'],
    ['denied', 403, 'scope.missing'],
    ['denied', 401, 'token.malformed'],
    ['denied', 401, 'credentials.missing'],
  ])
  t.match(events[0], { type: 'authenticated', method: 'POST', path: '/mcp', resource: RESOURCE, subject: 'user-123', clientId: 'client-abc', issuer: issuer.issuer })
  t.match(events[2], { type: 'denied', code: 'FST_MCP_AUTH_INSUFFICIENT_SCOPE', oauthError: 'insufficient_scope', subject: 'user-123' })
  const text = JSON.stringify(events)
  t.notOk(text.includes(good) || text.includes(narrow) || text.includes('junk') || text.includes('secret'), 'no token, no query string')
})

t.test('diagnostics_channel fastify-mcp-auth:decision receives the same events; a throwing onEvent changes nothing', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const logs: string[] = []
  const app = await appWith(t, issuer, { onEvent: () => { throw new Error('metrics down') } }, logs)
  const seen: unknown[] = []
  const listener = (message: unknown): void => { seen.push(message) }
  subscribe('fastify-mcp-auth:decision', listener)
  t.teardown(() => unsubscribe('fastify-mcp-auth:decision', listener))
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'mcp:tools:call' })}` } })
  t.equal(res.statusCode, 200)
  t.match(seen, [{ type: 'authenticated' }])
  t.ok(logs.some((line) => line.includes('mcp-auth: onEvent threw')))
})

t.test('underPressure: overload → OAuth-style 503 with Retry-After before any signature work', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  let keyLookups = 0
  const app = await appWith(t, issuer, {
    jwks: async () => { keyLookups++; throw new Error('never reached') },
    // Any heap is "too big": the process is under pressure after the first sample.
    underPressure: { maxHeapUsedBytes: 1, sampleInterval: 5 },
    retryAfter: 7,
  })
  await app.ready()
  await new Promise((resolve) => setTimeout(resolve, 50))
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.equal(res.headers['www-authenticate'], undefined)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'The server is overloaded, retry later' })
  t.equal(keyLookups, 0, 'no key lookup, no signature verification')
})

t.test('underPressure: a healthy process passes; pressureHandler cannot be overridden', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = await appWith(t, issuer, { underPressure: true })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'mcp:tools:call' })}` } })
  t.equal(res.statusCode, 200)
  const bad = Fastify()
  t.teardown(() => bad.close())
  await t.rejects(Promise.resolve(bad.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], underPressure: { pressureHandler: () => {} } }).then(() => bad.ready())),
    { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /underPressure\.pressureHandler/ })
})

t.test('underPressure: true sheds on event-loop delay and a nearly full heap, never on a busy but responsive loop', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const logs: string[] = []
  const app = await appWith(t, issuer, { underPressure: true }, logs)
  await app.ready()
  t.notOk(logs.some((line) => line.includes('under-pressure')), 'mcpAuth\'s instance is the one, and says nothing about it')
  // A loop that never idles (ELU close to 1) yet answers within milliseconds: a healthy
  // process at full throughput, or a test and its servers sharing one process.
  const start = performance.eventLoopUtilization()
  const until = performance.now() + 1300
  while (performance.now() < until) {
    const slice = performance.now() + 20
    while (performance.now() < slice);
    await new Promise((resolve) => setImmediate(resolve))
  }
  const busy = performance.eventLoopUtilization(start).utilization
  t.ok(busy > 0.9, `the loop was busy (ELU ${busy.toFixed(2)})`)
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'mcp:tools:call' })}` } })
  t.equal(res.statusCode, 200, 'a busy loop alone is not overload')
})

// @fastify/under-pressure decorates the instance, so two of them in one context collide:
// one instance sheds load, whichever order the app registers them in.
async function coexisting (t: Tap, order: 'app-first' | 'mcpAuth-first') {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const logs: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { logs.push(chunk.toString()); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  let keyLookups = 0
  const local = createLocalJWKSet(issuer.jwks)
  // The app's instance is always overloaded (any heap is too big) and answers with its own handler.
  const appInstance = { maxHeapUsedBytes: 1, sampleInterval: 5, pressureHandler: async (_request: unknown, reply: import('fastify').FastifyReply) => { await reply.code(503).send('app shed') } }
  const mcpAuthOptions = { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: async (header, token) => { keyLookups++; return local(header, token) }, underPressure: { maxEventLoopDelay: 60_000 } } as McpAuthOptions
  const { default: underPressure } = await import('@fastify/under-pressure')
  if (order === 'app-first') await app.register(underPressure, appInstance)
  await app.register(mcpAuth, mcpAuthOptions)
  if (order === 'mcpAuth-first') await app.register(underPressure, appInstance)
  app.get('/mcp', async () => 'ok')
  await app.ready()
  await new Promise((resolve) => setTimeout(resolve, 50))
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  return { res, logs: logs.map((line) => JSON.parse(line) as { level: number, msg: string }), keyLookups }
}

t.test('underPressure: true with @fastify/under-pressure already registered registers nothing and logs one info line', async (t) => {
  const { res, logs, keyLookups } = await coexisting(t, 'app-first')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'app shed', 'the app\'s instance sheds load')
  t.equal(keyLookups, 0, 'before any signature work')
  const lines = logs.filter((line) => line.msg.includes('under-pressure'))
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], { level: 30, msg: /already registered; its instance sheds load, so underPressure registers nothing/ })
})

t.test('underPressure: @fastify/under-pressure registered after mcpAuth registers fine, and only that instance sheds load', async (t) => {
  const { res, logs, keyLookups } = await coexisting(t, 'mcpAuth-first')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'app shed', 'the app\'s instance sheds load')
  t.equal(keyLookups, 1, 'after authentication: its hook runs after mcpAuth\'s')
  const lines = logs.filter((line) => line.msg.includes('under-pressure'))
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], { level: 30, msg: /registered after mcpAuth; that instance sheds load, mcpAuth's stays idle \(register it before mcpAuth to shed before any signature work\)/ })
})

t.test('underPressure: registered after mcpAuth, the app\'s instance sheds, never mcpAuth\'s as well', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  // mcpAuth's instance is overloaded, the app's is healthy: nothing is shed.
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, underPressure: { maxHeapUsedBytes: 1, sampleInterval: 5 } } as McpAuthOptions)
  const { default: underPressure } = await import('@fastify/under-pressure')
  await app.register(underPressure, { maxEventLoopDelay: 60_000 })
  app.get('/mcp', async () => 'ok')
  await app.ready()
  await new Promise((resolve) => setTimeout(resolve, 50))
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 200, 'one instance decides: the app\'s')
})

t.test('underPressure defaults: one second of event-loop delay, 90 % of the V8 heap limit, 90 % of a container memory limit', async (t) => {
  const resolved = resolveOptions({ resource: RESOURCE, authorizationServers: ['https://as.example'], underPressure: true })
  t.equal(resolved.underPressure?.maxEventLoopDelay, 1000)
  t.equal(resolved.underPressure?.maxHeapUsedBytes, Math.floor(getHeapStatistics().heap_size_limit * 0.9))
  t.equal(resolved.underPressure?.maxEventLoopUtilization, undefined, 'no utilisation threshold unless asked for')
  const limit = process.constrainedMemory?.() ?? 0
  t.equal(resolved.underPressure?.maxRssBytes, limit > 0 && limit < totalmem() ? Math.floor(limit * 0.9) : undefined)
  const custom = resolveOptions({ resource: RESOURCE, authorizationServers: ['https://as.example'], underPressure: { maxEventLoopUtilization: 0.99, maxHeapUsedBytes: 5e8 } })
  t.equal(custom.underPressure?.maxEventLoopUtilization, 0.99, 'yours are kept')
  t.equal(custom.underPressure?.maxHeapUsedBytes, 5e8)
  t.equal(custom.underPressure?.maxEventLoopDelay, 1000)
})

t.test('healthRoute validation', async (t) => {
  const issuer = await createTestIssuer()
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(Promise.resolve(app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], healthRoute: 'health' }).then(() => app.ready())),
    { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /healthRoute/ })
})

t.test('an in-process replay store in a clustered process logs a warning once at start-up', async (t) => {
  const issuer = await createTestIssuer()
  const previous = process.env.NODE_APP_INSTANCE
  process.env.NODE_APP_INSTANCE = '1'
  t.teardown(() => { if (previous === undefined) delete process.env.NODE_APP_INSTANCE; else process.env.NODE_APP_INSTANCE = previous })
  const logs: string[] = []
  const app = await appWith(t, issuer, {}, logs)
  await app.ready()
  t.equal(logs.filter((line) => line.includes('MemoryReplayStore')).length, 1)

  const quiet: string[] = []
  const custom = await appWith(t, issuer, { dpop: { replayStore: { claim: () => true } } }, quiet)
  await custom.ready()
  t.equal(quiet.filter((line) => line.includes('MemoryReplayStore')).length, 0, 'a shared store is not warned about')
})

t.test('a DPoP header beside Bearer with an unbound token is logged at debug, not silently dropped', async (t) => {
  const { issuer } = await buildApp(t)
  const logs: string[] = []
  const app = await appWith(t, issuer, {}, logs)
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:call' })
  const proof = await createDpopProof(key, { method: 'POST', url: RESOURCE, accessToken: token })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}`, dpop: proof } })).statusCode, 200)
  t.ok(logs.some((line) => line.includes('proof is not trusted')))
  t.notOk(logs.some((line) => line.includes(proof) || line.includes(token)), 'neither the proof nor the token is logged')
})
