// Issue 15 item 4: token introspection cannot be turned into an amplifier.
// Inactive answers are remembered in their own bounded cache, concurrent
// lookups of one token share one call, at most maxConcurrent calls are in
// flight (beyond: 503 with Retry-After, never a pass), and a token_type other
// than Bearer or DPoP is refused. Against a real loopback endpoint that holds
// its answers until the test releases them, so "in flight" is counted exactly.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { until } from '../helpers/wait.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const ISS = 'https://auth.example.com'

interface Endpoint {
  readonly url: string
  /** Calls received, and the most ever unanswered at once. */
  readonly calls: () => number
  readonly maxInFlight: () => number
  readonly waiting: () => number
  /** Answer every held call (and from now on, answer at once). */
  release (): void
  hold: boolean
  answers: Map<string, Record<string, unknown>>
}

async function startEndpoint (t: Test): Promise<Endpoint> {
  let calls = 0
  let inFlight = 0
  let maxInFlight = 0
  const held: Array<() => void> = []
  const state = { hold: false, answers: new Map<string, Record<string, unknown>>() }
  const server = createServer((req, res) => {
    calls++
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? ''
      const answer = (): void => {
        inFlight--
        reply(res, state.answers.get(token) ?? { active: false })
      }
      if (state.hold) held.push(answer)
      else answer()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const answer of held.splice(0)) answer()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return Object.defineProperties({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
    calls: () => calls,
    maxInFlight: () => maxInFlight,
    waiting: () => held.length,
    release () {
      state.hold = false
      for (const answer of held.splice(0)) answer()
    },
  }, {
    hold: { get: () => state.hold, set: (value: boolean) => { state.hold = value }, enumerable: true },
    answers: { get: () => state.answers, enumerable: true },
  }) as Endpoint
}

function reply (res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

async function app (t: Test, endpoint: Endpoint, introspection: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const instance = Fastify()
  t.teardown(() => instance.close())
  await instance.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [ISS],
    introspection: { endpoint: endpoint.url, clientId: 'rs', clientSecret: 'rs-secret', ...introspection },
  } as McpAuthOptions)
  instance.get('/mcp', async (request) => ({ subject: request.mcp?.subject }))
  await instance.ready()
  return instance
}

const opaque = (): string => randomBytes(24).toString('base64url')
const call = (instance: FastifyInstance, token: string): Promise<LightMyRequestResponse> =>
  instance.inject({ url: '/mcp', headers: { authorization: `Bearer ${token}` } })

t.test('100 concurrent requests with one token → one introspection call', async (t) => {
  const endpoint = await startEndpoint(t)
  const instance = await app(t, endpoint)
  const token = opaque()
  endpoint.answers.set(token, { active: true, aud: RESOURCE, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300 })
  endpoint.hold = true
  const pending = Array.from({ length: 100 }, () => call(instance, token))
  await until(() => endpoint.waiting() === 1)
  endpoint.release()
  const answers = await Promise.all(pending)
  t.same([...new Set(answers.map((r) => r.statusCode))], [200])
  t.equal(endpoint.calls(), 1, 'one call shared by all')

  // The same for an inactive token: all 401, one call.
  const junk = opaque()
  endpoint.hold = true
  const refused = Array.from({ length: 100 }, () => call(instance, junk))
  await until(() => endpoint.waiting() === 1)
  endpoint.release()
  t.same([...new Set((await Promise.all(refused)).map((r) => r.statusCode))], [401])
  t.equal(endpoint.calls(), 2)
})

t.test('600 distinct tokens → never more than maxConcurrent calls in flight; the rest 503 + Retry-After, never a pass', async (t) => {
  for (const maxConcurrent of [undefined, 5] as const) {
    const endpoint = await startEndpoint(t)
    const limit = maxConcurrent ?? 32
    const instance = await app(t, endpoint, maxConcurrent === undefined ? {} : { maxConcurrent })
    const tokens = Array.from({ length: 600 }, opaque)
    for (const token of tokens) endpoint.answers.set(token, { active: true, aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 300 })
    endpoint.hold = true
    const pending = tokens.map((token) => call(instance, token))
    await until(() => endpoint.waiting() === limit)
    // Every request beyond the limit has been answered already, without a call.
    const settled = await Promise.race([Promise.all(pending).then(() => 'all'), new Promise((resolve) => setImmediate(() => resolve('some')))])
    t.equal(settled, 'some', 'the admitted calls are still held')
    endpoint.release()
    const answers = await Promise.all(pending)
    t.equal(endpoint.maxInFlight(), limit, `at most ${limit} in flight`)
    t.equal(endpoint.calls(), limit)
    const busy = answers.filter((r) => r.statusCode === 503)
    t.equal(answers.filter((r) => r.statusCode === 200).length, limit)
    t.equal(busy.length, 600 - limit, 'the rest are refused, not queued')
    t.equal(busy[0]?.headers['retry-after'], '5')
    t.equal(busy[0]?.json().error, 'temporarily_unavailable')
    t.equal(busy[0]?.headers['www-authenticate'], undefined)
  }
})

t.test('an inactive token repeated within negativeCacheTtl → one call; 0 disables the negative cache', async (t) => {
  const endpoint = await startEndpoint(t)
  const instance = await app(t, endpoint)
  const junk = opaque()
  for (let i = 0; i < 5; i++) {
    const res = await call(instance, junk)
    t.equal(res.statusCode, 401)
    t.equal(res.json().error, 'invalid_token')
  }
  t.equal(endpoint.calls(), 1, 'the inactive answer is remembered')

  const uncached = await startEndpoint(t)
  const plain = await app(t, uncached, { negativeCacheTtl: 0 })
  for (let i = 0; i < 3; i++) t.equal((await call(plain, junk)).statusCode, 401)
  t.equal(uncached.calls(), 3, 'negativeCacheTtl: 0 asks every time')
})

t.test('junk never evicts active entries: the negative cache is its own', async (t) => {
  const endpoint = await startEndpoint(t)
  const instance = await app(t, endpoint, { negativeCacheMaxEntries: 10 })
  const token = opaque()
  endpoint.answers.set(token, { active: true, aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 300 })
  t.equal((await call(instance, token)).statusCode, 200)
  for (let i = 0; i < 300; i++) t.equal((await call(instance, opaque())).statusCode, 401)
  const calls = endpoint.calls()
  t.equal((await call(instance, token)).statusCode, 200)
  t.equal(endpoint.calls(), calls, 'the active token is still cached after 300 junk tokens')
})

t.test('token_type, when present, must be Bearer or DPoP (case-insensitive)', async (t) => {
  const endpoint = await startEndpoint(t)
  const instance = await app(t, endpoint)
  const exp = Math.floor(Date.now() / 1000) + 300
  for (const [type, status] of [['Bearer', 200], ['bearer', 200], ['DPoP', 200], ['dpop', 200], ['refresh_token', 401], ['N_A', 401], ['', 401], [7, 401]] as const) {
    const token = opaque()
    endpoint.answers.set(token, { active: true, aud: RESOURCE, exp, token_type: type })
    const res = await call(instance, token)
    t.equal(res.statusCode, status, `token_type ${JSON.stringify(type)}`)
    if (status === 401) t.equal(res.json().error, 'invalid_token')
  }
})
