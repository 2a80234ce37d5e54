// RedisReplayStore against a real redis-server on a free loopback port
// (RFC 9449 §11.1: replays caught across instances; fail closed when Redis
// is down or slow). The store's own guards are also tested with fake clients,
// which need no server. CI installs redis-server, so these never skip there.
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import { RedisReplayStore } from '../../lib/stores/redis-replay-store.js'
import type { RedisSetClient } from '../../lib/stores/redis-replay-store.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import type { DpopKey } from '../../testing.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

// REDIS_SERVER points at another binary (e.g. a redis-server not on PATH).
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'
const hasRedis = spawnSync(REDIS_SERVER, ['--version']).error === undefined
const SKIP: false | string = hasRedis ? false : 'redis-server not found: install it (apt-get install -y redis-server); CI installs it'
if (SKIP !== false) t.comment(`SKIPPING the Redis integration tests — ${SKIP}`)

// ——— a real redis-server ———

class RedisServer {
  readonly port: number
  #process: ChildProcess | undefined

  constructor (port: number) {
    this.port = port
  }

  /** Starts redis-server (no persistence) and resolves once it accepts connections. */
  async start (): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#process = child
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 5 s:\n${output}`)), 5000)
      function fail (err: Error): void {
        clearTimeout(timer)
        child.kill('SIGKILL')
        reject(err)
      }
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
      child.once('exit', (code) => fail(new Error(`redis-server exited (${String(code)}):\n${output}`)))
      child.once('error', fail)
    })
  }

  /** Kills the server process (a crash, not a graceful shutdown) and waits for it to exit. */
  async kill (): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}

async function startRedis (t: Test, port?: number): Promise<RedisServer> {
  const server = new RedisServer(port ?? await freePort())
  await server.start()
  t.teardown(() => server.kill())
  return server
}

/**
 * A client that fails fast while Redis is down instead of queueing: no offline
 * queue, no per-request retries, and a quick constant reconnect so service
 * resumes as soon as Redis is back.
 */
function connect (t: Test, server: RedisServer): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
    lazyConnect: true,
  })
  // Connection errors while Redis is down are expected; the store reports them per request.
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

async function connected (t: Test, server: RedisServer): Promise<Redis> {
  const client = connect(t, server)
  await client.connect()
  return client
}

async function ready (client: Redis, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`ioredis did not reconnect within ${ms} ms (status ${client.status})`)
    await sleep(20)
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// ——— the app ———

async function dpopApp (t: Test, store: RedisReplayStore, issuer?: Awaited<ReturnType<typeof createTestIssuer>>): Promise<FastifyInstance> {
  return (await buildApp(t, { dpop: { replayStore: store } }, issuer)).app
}

interface Client { key: DpopKey, token: string }

async function dpopClient (): Promise<Client> {
  const issuer = sharedIssuer
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  return { key, token }
}

async function send (app: FastifyInstance, client: Client, proof?: string): Promise<LightMyRequestResponse> {
  const dpop = proof ?? await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })
  return app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `DPoP ${client.token}`, dpop } })
}

function assertUnavailable (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 503, `${message}: 503, never 200 or 401`)
  t.equal(res.headers['www-authenticate'], undefined, `${message}: no challenge`)
  t.match(res.headers['retry-after'], /^\d+$/, `${message}: Retry-After`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.equal(res.json().error, 'temporarily_unavailable', `${message}: body error`)
}

function assertReplay (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 401, `${message}: 401`)
  t.equal(res.json().error, 'invalid_dpop_proof', `${message}: invalid_dpop_proof`)
  const dpop = parseChallenges(res.headers['www-authenticate']).find((c) => c.scheme === 'DPoP')
  t.equal(dpop?.params.error, 'invalid_dpop_proof', `${message}: in the DPoP challenge`)
  t.equal(dpop?.params.resource_metadata, PRM, `${message}: resource_metadata`)
}

const sharedIssuer = await createTestIssuer({ audience: RESOURCE })

// ——— the store's guards (fake clients, no server needed) ———

t.test('constructor: clear TypeErrors for bad options', async (t) => {
  const client: RedisSetClient = { set: async () => 'OK' }
  t.throws(() => new RedisReplayStore(undefined as never), { name: 'TypeError', message: /options must be an object/ })
  t.throws(() => new RedisReplayStore({} as never), { name: 'TypeError', message: /ioredis-compatible client/ })
  t.throws(() => new RedisReplayStore({ client: { get: () => null } } as never), { name: 'TypeError', message: /set\(\) method/ })
  t.throws(() => new RedisReplayStore({ client, prefix: 1 as never }), { name: 'TypeError', message: /prefix must be a string/ })
  for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1' as never]) {
    t.throws(() => new RedisReplayStore({ client, timeout }), { name: 'TypeError', message: /timeout must be a positive number/ }, `timeout ${String(timeout)}`)
  }
  const store = new RedisReplayStore({ client })
  t.equal(store.prefix, 'fastify-mcp-auth:dpop:', 'default prefix')
  t.equal(store.timeout, 1, 'default timeout: 1 s')
})

t.test('claim: one SET PX NX per proof; OK → true, null → false, anything else throws', async (t) => {
  const calls: unknown[][] = []
  let reply: unknown = 'OK'
  const store = new RedisReplayStore({ client: { set: async (...args: unknown[]) => { calls.push(args); return reply } }, prefix: 'p:' })
  t.equal(await store.claim('k', 301), true)
  t.same(calls, [['p:k', '1', 'PX', 301000, 'NX']], 'one atomic command, ttl in milliseconds')
  reply = null
  t.equal(await store.claim('k', 0.0001), false)
  t.same(calls[1], ['p:k', '1', 'PX', 1, 'NX'], 'a sub-millisecond ttl rounds up, never to 0')
  for (const odd of [undefined, 'QUEUED', 1, 0, '', {}]) {
    reply = odd
    await t.rejects(store.claim('k', 1), { message: /unexpected reply/ }, `reply ${JSON.stringify(odd)} → throw, never a pass`)
  }
  for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await t.rejects(store.claim('k', ttl), { name: 'TypeError' }, `ttl ${ttl} → throw`)
  }
})

t.test('claim: a client that throws, rejects or never answers → throw within the timeout', async (t) => {
  const sync = new RedisReplayStore({ client: { set: () => { throw new Error('sync boom') } } })
  await t.rejects(sync.claim('k', 1), { message: 'sync boom' }, 'a synchronous throw becomes a rejection')
  const rejecting = new RedisReplayStore({ client: { set: async () => { throw new Error('connection lost') } } })
  await t.rejects(rejecting.claim('k', 1), { message: 'connection lost' })

  // The store's timer is unref'd (it must not keep a process alive); here nothing
  // else would, so hold the event loop open while the claims wait.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  const hung = new RedisReplayStore({ client: { set: () => new Promise(() => {}) }, timeout: 0.1 })
  const started = Date.now()
  await t.rejects(hung.claim('k', 1), { message: /no answer from Redis within 0.1 s/ })
  t.ok(Date.now() - started < 1000, 'gave up after the timeout')

  // An answer after the timeout settles nothing and raises nothing unhandled.
  let answer: (value: unknown) => void = () => {}
  const late = new RedisReplayStore({ client: { set: () => new Promise((resolve) => { answer = resolve }) }, timeout: 0.05 })
  await t.rejects(late.claim('k', 1), { message: /no answer/ })
  answer('OK')
  await sleep(10)
})

t.test('close() leaves the application\'s client alone', async (t) => {
  let quit = false
  const client = { set: async () => 'OK', quit: async () => { quit = true }, disconnect: () => { quit = true } }
  const store = new RedisReplayStore({ client })
  store.close()
  t.equal(quit, false, 'the client is the application\'s to close')
  t.equal(await store.claim('k', 1), true, 'and the store still works')
})

// ——— against a real Redis ———

t.test('RedisReplayStore with ioredis: first claim true, second false', { skip: SKIP }, async (t) => {
  const client = await connected(t, await startRedis(t))
  const store = new RedisReplayStore({ client })
  t.equal(await store.claim('AAAAAAAAAAAAAAAAAAAAAA', 300), true, 'first use')
  t.equal(await store.claim('AAAAAAAAAAAAAAAAAAAAAA', 300), false, 'replay')
  t.equal(await store.claim('BBBBBBBBBBBBBBBBBBBBBB', 300), true, 'another key')
  const pttl = await client.pttl('fastify-mcp-auth:dpop:AAAAAAAAAAAAAAAAAAAAAA')
  t.ok(pttl > 299_000 && pttl <= 300_000, `stored under the default prefix with the ttl (pttl ${pttl})`)
  t.equal(await client.get('fastify-mcp-auth:dpop:AAAAAAAAAAAAAAAAAAAAAA'), '1')
})

t.test('RedisReplayStore: the record expires after the ttl', { skip: SKIP }, async (t) => {
  const client = await connected(t, await startRedis(t))
  const store = new RedisReplayStore({ client })
  t.equal(await store.claim('short', 0.5), true)
  t.equal(await store.claim('short', 0.5), false, 'a replay while recorded')
  await sleep(700)
  t.equal(await store.claim('short', 0.5), true, 'free again after PX elapsed')
})

t.test('RedisReplayStore: prefixes keep stores apart', { skip: SKIP }, async (t) => {
  const client = await connected(t, await startRedis(t))
  const a = new RedisReplayStore({ client, prefix: 'app-a:' })
  const b = new RedisReplayStore({ client, prefix: 'app-b:' })
  t.equal(await a.claim('same', 60), true, 'store a')
  t.equal(await b.claim('same', 60), true, 'store b: the same key under another prefix is not a replay')
  t.equal(await a.claim('same', 60), false)
  t.equal(await b.claim('same', 60), false)
  t.same((await client.keys('*')).sort(), ['app-a:same', 'app-b:same'], 'keys are prefixed')
})

t.test('RedisReplayStore: concurrent claims of one key → exactly one winner (atomic SET NX)', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  // Several connections, as several instances would have.
  const clients = await Promise.all([1, 2, 3, 4].map(() => connected(t, server)))
  const stores = clients.map((client) => new RedisReplayStore({ client }))
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (stores[i % stores.length] as RedisReplayStore).claim('race', 60)))
  t.equal(results.filter((r) => r).length, 1, 'one true, all others false')
})

t.test('RFC 9449 §11.1: a proof accepted by instance A is a replay at instance B sharing the Redis', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  // Each instance with its own connection, as separate processes would have.
  const a = await dpopApp(t, new RedisReplayStore({ client: await connected(t, server) }), sharedIssuer)
  const b = await dpopApp(t, new RedisReplayStore({ client: await connected(t, server) }), sharedIssuer)
  const client = await dpopClient()
  const proof = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })

  const first = await send(a, client, proof)
  t.equal(first.statusCode, 200, 'instance A accepts the proof')
  assertReplay(t, await send(b, client, proof), 'the same proof at instance B')
  assertReplay(t, await send(a, client, proof), 'and again at instance A')
  t.equal((await send(b, client)).statusCode, 200, 'a fresh proof is accepted at B')

  const admin = await connected(t, server)
  const keys = await admin.keys('fastify-mcp-auth:dpop:*')
  t.equal(keys.length, 2, 'one record per accepted proof')
  for (const key of keys) {
    t.match(key, /^fastify-mcp-auth:dpop:[A-Za-z0-9_-]{43}$/, 'key: prefix + base64url SHA-256 of (jkt, jti)')
    const pttl = await admin.pttl(key)
    // iatWindow 300 s: the record lasts as long as the proof could be accepted.
    t.ok(pttl > 295_000 && pttl <= 302_000, `ttl covers the iat window (pttl ${pttl})`)
  }

  // The same proof raced at both instances: exactly one wins.
  const raced = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })
  const both = await Promise.all([send(a, client, raced), send(b, client, raced)])
  t.same(both.map((r) => r.statusCode).sort(), [200, 401], 'one 200, one 401')
})

t.test('Redis stopped → 503 temporarily_unavailable (fail closed); restarted on the same port → service resumes', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  const redis = await connected(t, server)
  const app = await dpopApp(t, new RedisReplayStore({ client: redis }), sharedIssuer)
  const client = await dpopClient()
  t.equal((await send(app, client)).statusCode, 200, 'up: accepted')

  await server.kill()
  for (let i = 0; i < 3; i++) {
    const started = Date.now()
    const res = await send(app, client)
    assertUnavailable(t, res, `Redis down, request ${i + 1}`)
    t.ok(Date.now() - started < 1500, `fails fast (${Date.now() - started} ms), no queueing`)
  }

  await server.start()
  await ready(redis)
  const res = await send(app, client)
  t.equal(res.statusCode, 200, 'Redis back: accepted again')
  const proof = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })
  t.equal((await send(app, client, proof)).statusCode, 200)
  assertReplay(t, await send(app, client, proof), 'and replays are caught again')
})

t.test('Redis stopped with a default ioredis client (offline queue, retries) → 503 after the store timeout, not a hang', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  // ioredis defaults: commands issued while disconnected wait in the offline queue.
  const redis = new Redis({ host: '127.0.0.1', port: server.port })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await ready(redis)
  const timeout = 0.5
  const app = await dpopApp(t, new RedisReplayStore({ client: redis, timeout }), sharedIssuer)
  const client = await dpopClient()
  t.equal((await send(app, client)).statusCode, 200, 'up: accepted')

  await server.kill()
  const started = Date.now()
  const res = await send(app, client)
  const elapsed = Date.now() - started
  assertUnavailable(t, res, 'queued while Redis is down')
  // Without the timeout the command would wait for a reconnect that never comes.
  t.ok(elapsed < 4000, `answered well before a reconnect (${elapsed} ms)`)

  await server.start()
  await ready(redis)
  t.equal((await send(app, client)).statusCode, 200, 'Redis back: accepted again')
})

t.test('a slow Redis hits the store timeout → 503 quickly, not a hang', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  const redis = await connected(t, server)
  const timeout = 0.5
  const app = await dpopApp(t, new RedisReplayStore({ client: redis, timeout }), sharedIssuer)
  const client = await dpopClient()
  t.equal((await send(app, client)).statusCode, 200, 'responsive: accepted')

  // Another connection holds every write for 6 s: SET NX waits on the server.
  const admin = await connected(t, server)
  await admin.call('CLIENT', 'PAUSE', '6000', 'WRITE')
  t.teardown(() => admin.call('CLIENT', 'UNPAUSE').catch(() => {}))
  const started = Date.now()
  const res = await send(app, client)
  const elapsed = Date.now() - started
  assertUnavailable(t, res, 'write-paused Redis')
  t.ok(elapsed >= timeout * 1000 - 50, `waited for the timeout (${elapsed} ms)`)
  t.ok(elapsed < 4000, `answered well before the 6 s pause ends (${elapsed} ms)`)

  await admin.call('CLIENT', 'UNPAUSE')
  t.equal((await send(app, client)).statusCode, 200, 'Redis responsive again: accepted')
})
