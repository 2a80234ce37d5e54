// Issue 15 item 8: fail fast means fast, and a wrong issuer is visible at once.
// jwks.warmUp starts discovery and JWKS fetches at ready() ('background'), or
// makes ready() wait and fail ('required'); close() aborts fetches in flight;
// after a failed fetch with nothing usable, requests get 503 at once for
// min(cooldown, 2 s) counted from the failure, and while one retry is in flight.
// Real loopback authorization servers (hanging, down, misconfigured).
import { createServer } from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer } from '../../testing.js'
import { until } from '../helpers/wait.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const KEYS_UNAVAILABLE = 'The authorization server\'s keys are unavailable, retry later'

interface LogLine { level: number, msg: string, [field: string]: unknown }

async function served (t: Test): Promise<ServedTestIssuer> {
  const issuer = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => issuer.close())
  return issuer
}

async function register (t: Test, options: Partial<McpAuthOptions>, logs: LogLine[] = []): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } } } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, ...options } as McpAuthOptions)
  app.get('/mcp', async () => 'ok')
  return app
}

const call = async (app: FastifyInstance, issuer: ServedTestIssuer): Promise<LightMyRequestResponse> =>
  app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })

const count = (issuer: ServedTestIssuer): number => issuer.requests.length

t.test('warmUp "background" (default): discovery and JWKS fetches start at ready(); the first request waits for nothing', async (t) => {
  const issuer = await served(t)
  const app = await register(t, { authorizationServers: [issuer.issuer] })
  t.equal(count(issuer), 0, 'nothing before ready()')
  await app.ready()
  await until(() => count(issuer) === 2)
  t.same(issuer.requests.map((r) => r.path), ['/.well-known/oauth-authorization-server', '/jwks'])
  t.equal((await call(app, issuer)).statusCode, 200)
  t.equal(count(issuer), 2, 'the request used the warmed keys')
})

t.test('warmUp "background": requests arriving while the first fetch is in flight share it, not refused', async (t) => {
  const issuer = await served(t)
  const held: Array<() => void> = []
  const server = createServer((_req, res) => {
    held.push(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(issuer.jwks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`
  const app = await register(t, { authorizationServers: [issuer.issuer], jwks: { uri } })
  await app.ready()
  await until(() => held.length === 1)
  const pending = Array.from({ length: 5 }, () => call(app, issuer))
  for (const answer of held) answer()
  t.same((await Promise.all(pending)).map((r) => r.statusCode), [200, 200, 200, 200, 200])
  t.equal(held.length, 1, 'one fetch in all: the warm-up\'s')
})

t.test('warmUp "background": a failed warm-up is logged and reported, and the first request fetches again', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const logs: LogLine[] = []
  const app = await register(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri }, healthRoute: '/health' }, logs)
  await app.ready()
  await until(() => logs.some((l) => l.level === 50))
  t.match(logs.find((l) => l.level === 50), { msg: 'mcp-auth: JWKS fetch failed', cause: 'http_503' }, 'visible at once')
  t.match((await app.inject({ url: '/health' })).json(), { status: 'unavailable', jwks: [{ cause: 'http_503' }] })
  // The app may come up before its authorization server (or host it itself): no fail-fast window from the warm-up.
  issuer.failure = false
  t.equal((await call(app, issuer)).statusCode, 200)
})

t.test('warmUp false: nothing is fetched before the first request that needs keys', async (t) => {
  const issuer = await served(t)
  const app = await register(t, { authorizationServers: [issuer.issuer], jwks: { warmUp: false } })
  await app.ready()
  t.equal(count(issuer), 0)
  t.equal((await call(app, issuer)).statusCode, 200)
  t.equal(count(issuer), 2)
})

t.test('warmUp "required": ready() rejects, naming each failing issuer and its cause; succeeds when keys come', async (t) => {
  const good = await served(t)
  const wrong = await served(t)
  wrong.metadata = { issuer: 'https://elsewhere.example.com' }
  const logs: LogLine[] = []
  const failing = await register(t, { authorizationServers: [good.issuer, wrong.issuer], jwks: { warmUp: 'required' } }, logs)
  await t.rejects(async () => { await failing.ready() }, {
    code: 'FST_MCP_AUTH_WARM_UP_FAILED',
    message: new RegExp(`keys are unavailable: ${wrong.issuer.replace(/[.]/g, '\\.')} \\(issuer_mismatch\\)`),
  })
  t.match(logs.find((l) => l.level === 50), { msg: 'mcp-auth: issuer metadata discovery failed', issuer: wrong.issuer, cause: 'issuer_mismatch' }, 'the error log names the cause and the error')

  const ok = await register(t, { authorizationServers: [good.issuer], jwks: { warmUp: 'required' } })
  await ok.ready()
  const fetched = count(good)
  t.equal((await call(ok, good)).statusCode, 200)
  t.equal(count(good), fetched, 'keys were in hand at ready()')

  const uri = await register(t, { authorizationServers: [good.issuer], jwks: { uri: `${good.url}/nowhere`, warmUp: 'required' } })
  await t.rejects(async () => { await uri.ready() }, { code: 'FST_MCP_AUTH_WARM_UP_FAILED', message: /\/nowhere \(http_404\)/ })
})

t.test('close() aborts a fetch in flight', async (t) => {
  const aborted: IncomingMessage[] = []
  let received = 0
  const server = createServer((req) => {
    received++
    req.socket.on('close', () => aborted.push(req))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`
  const logs: LogLine[] = []
  const app = await register(t, { authorizationServers: ['https://issuer.example'], jwks: { uri, timeout: 60 } }, logs)
  await app.ready()
  await until(() => received === 1)
  t.equal(aborted.length, 0, 'hanging, with 60 s to go')
  await app.close()
  await until(() => aborted.length === 1)
  t.pass('the connection was dropped by close(), long before the timeout')
  t.notOk(logs.some((l) => l.level >= 50), 'an aborted fetch is not reported as a failure')
})

t.test('fail fast: after a failed fetch with nothing usable, 503 at once for the window counted from the failure, then one retry; others 503 at once while it runs', async (t) => {
  const issuer = await served(t)
  issuer.failure = 'hang'
  const logs: LogLine[] = []
  // Each fetch gives up after 2.5 s, longer than the 2 s window (min(cooldown, 2 s)):
  // a window counted from the start of the fetch would be over by the failure.
  const app = await register(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, timeout: 2.5, warmUp: false } }, logs)
  await app.ready()
  const first = await call(app, issuer)
  t.equal(first.statusCode, 503)
  t.same(first.json(), { error: 'temporarily_unavailable', error_description: KEYS_UNAVAILABLE })
  t.match(logs.find((l) => l.level === 50), { msg: 'mcp-auth: JWKS fetch failed', jwksUri: issuer.jwksUri, cause: 'timeout', err: { name: 'FetchFailure' } })
  const failedAt = Date.now()
  for (let i = 0; i < 3; i++) t.equal((await call(app, issuer)).statusCode, 503, `right after the failure #${i}`)
  t.equal(count(issuer), 1, 'refused at once: no new fetch, no wait for another timeout')

  await until(() => Date.now() - failedAt > 2100)
  const retry = call(app, issuer) // starts a new fetch, which hangs
  await until(() => count(issuer) === 2)
  const meanwhile = await call(app, issuer)
  t.equal(meanwhile.statusCode, 503, 'while the retry is in flight: refused at once')
  t.equal(count(issuer), 2, 'one retry in all')
  issuer.failure = false
  t.equal((await retry).statusCode, 503, 'the retry itself failed (cut off)')
})

t.test('introspection with a discovered endpoint warms the issuer\'s metadata; a custom verifier needs nothing', async (t) => {
  const issuer = await served(t)
  const app = await register(t, { authorizationServers: [issuer.issuer], introspection: { clientId: 'rs', clientSecret: 's' } })
  await app.ready()
  await until(() => count(issuer) === 1)
  t.same(issuer.requests.map((r) => r.path), ['/.well-known/oauth-authorization-server'], 'metadata only: no JWKS for introspection')

  issuer.failure = true
  const failing = await register(t, { authorizationServers: [issuer.issuer], introspection: { clientId: 'rs', clientSecret: 's' }, jwks: { warmUp: 'required' } })
  await t.rejects(async () => { await failing.ready() }, { code: 'FST_MCP_AUTH_WARM_UP_FAILED', message: /\(http_503\)/ })

  const custom = await register(t, { authorizationServers: [issuer.issuer], verifyToken: async () => ({}), jwks: { warmUp: 'required' } })
  await custom.ready()
  t.pass('nothing to fetch')
})
