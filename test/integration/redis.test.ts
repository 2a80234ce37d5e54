// RedisReplayStore against a real redis-server on a free loopback port, through
// ioredis and node-redis (RFC 9449 §11.1: replays caught across instances; fail
// closed when Redis is down or slow). The store's own guards are also tested with
// stand-in clients, which need no server. CI installs redis-server, so these never skip there.
import { createHook } from 'node:async_hooks'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import { McpAuthError } from '../../lib/errors.js'
import { RedisReplayStore } from '../../lib/stores/redis-replay-store.js'
import { createHmacNonceProvider } from '../../lib/dpop/nonce.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import type { DpopKey } from '../../testing.js'
import type { McpAuthOptions } from '../../index.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP as SKIP, startRedis } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const connected = connectIoredis

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
  return loggedApp(t, { dpop: { replayStore: store } }, issuer)
}

/** buildApp with its log lines kept, so each response's reason and error lines can be asserted. */
async function loggedApp (t: Test, options: Partial<McpAuthOptions>, issuer?: Awaited<ReturnType<typeof createTestIssuer>>): Promise<FastifyInstance> {
  const lines: string[] = []
  const { app } = await buildApp(t, options, issuer, undefined, lines)
  appLogs.set(app, lines)
  return app
}

interface LogLine { readonly msg: string, readonly reason?: string }
const appLogs = new WeakMap<FastifyInstance, string[]>()
const responseLogs = new WeakMap<LightMyRequestResponse, LogLine[]>()

/** The lines logged with `msg` while the app answered the response. */
function logged (res: LightMyRequestResponse, msg: string): LogLine[] {
  return (responseLogs.get(res) ?? []).filter((line) => line.msg === msg)
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
  const lines = appLogs.get(app) ?? []
  const before = lines.length
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `DPoP ${client.token}`, dpop } })
  responseLogs.set(res, lines.slice(before).map((line) => JSON.parse(line) as LogLine))
  return res
}

function assertUnavailable (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 503, `${message}: 503, never 200 or 401`)
  t.equal(res.headers['www-authenticate'], undefined, `${message}: no challenge`)
  t.match(res.headers['retry-after'], /^\d+$/, `${message}: Retry-After`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.equal(res.json().error, 'temporarily_unavailable', `${message}: body error`)
  t.equal(logged(res, 'mcp-auth: request rejected')[0]?.reason, 'replay_store.failed', `${message}: reason`)
  t.equal(logged(res, 'mcp-auth: DPoP replay store failed').length, 1, `${message}: the store failure is logged`)
}

function assertReplay (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 401, `${message}: 401`)
  t.equal(res.json().error, 'invalid_dpop_proof', `${message}: invalid_dpop_proof`)
  const dpop = parseChallenges(res.headers['www-authenticate']).find((c) => c.scheme === 'DPoP')
  t.equal(dpop?.params.error, 'invalid_dpop_proof', `${message}: in the DPoP challenge`)
  t.equal(dpop?.params.resource_metadata, PRM, `${message}: resource_metadata`)
  t.equal(logged(res, 'mcp-auth: request rejected')[0]?.reason, 'dpop.replay', `${message}: reason`)
}

const sharedIssuer = await createTestIssuer({ audience: RESOURCE })

// ——— the store's guards (fake clients, no server needed) ———

/** A stand-in ioredis client: `call(command, ...args)` answered by `answer`. */
function callClient (answer: (...args: string[]) => unknown): { call: (...args: string[]) => PromiseLike<unknown> } {
  // A synchronous throw stays synchronous: the store must turn it into a rejection.
  return { call: answer as (...args: string[]) => PromiseLike<unknown> }
}

t.test('constructor: FST_MCP_AUTH_INVALID_OPTION for a bad client or option', async (t) => {
  const client = callClient(async () => 'OK')
  const invalid = (message: RegExp) => ({ code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  for (const options of [undefined, null]) {
    t.throws(() => new RedisReplayStore(options as never), invalid(/^RedisReplayStore options must be an object such as \{ client \}$/), String(options))
  }
  t.throws(() => new RedisReplayStore({} as never), invalid(/^RedisReplayStore client must be a connected ioredis client .* or node-redis .*got undefined$/))
  t.throws(() => new RedisReplayStore({ client: null as never }), invalid(/call\(\) or sendCommand\(\); got null$/))
  t.throws(() => new RedisReplayStore({ client: { set: async () => 'OK' } } as never), invalid(/call\(\) or sendCommand\(\); got an object without either method \(Object\)$/), 'a client with only set() is refused: its signature differs between clients')
  // The message names what was passed instead, so a wrong object is found at start-up.
  t.throws(() => new RedisReplayStore({ client: new Map() as never }), invalid(/got an object without either method \(Map\)$/))
  t.throws(() => new RedisReplayStore({ client: Object.create(null) as never }), invalid(/got an object without either method \(Object\)$/), 'an object without a prototype')
  t.throws(() => new RedisReplayStore({ client, prefix: 1 as never }), invalid(/prefix must be a string/))
  for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1' as never]) {
    t.throws(() => new RedisReplayStore({ client, timeout }), invalid(/timeout must be a positive number/), `timeout ${String(timeout)}`)
  }
  t.ok(t.throws(() => new RedisReplayStore({} as never)) instanceof McpAuthError, 'and it is an McpAuthError')
  const store = new RedisReplayStore({ client })
  t.equal(store.prefix, 'fastify-mcp-auth:dpop:', 'default prefix')
  t.equal(store.timeout, 1, 'default timeout: 1 s')
})

t.test('claim: one raw SET PX NX per proof; OK → true, null → false, anything else throws', async (t) => {
  for (const kind of ['ioredis (call)', 'node-redis (sendCommand)']) {
    const calls: unknown[][] = []
    let reply: unknown = 'OK'
    const answer = async (...args: unknown[]) => { calls.push(args); return reply }
    const client = kind.startsWith('ioredis') ? { call: answer } : { sendCommand: async (args: string[]) => answer(...args) }
    const store = new RedisReplayStore({ client, prefix: 'p:' })
    t.equal(await store.claim('k', 301), true, kind)
    t.same(calls, [['SET', 'p:k', '1', 'PX', '301000', 'NX']], `${kind}: one atomic command, ttl in milliseconds`)
    reply = null
    t.equal(await store.claim('k', 0.0001), false, kind)
    t.same(calls[1], ['SET', 'p:k', '1', 'PX', '1', 'NX'], `${kind}: a sub-millisecond ttl rounds up, never to 0`)
    for (const odd of [undefined, 'QUEUED', 1, 0, '', {}, true, 'ok', Buffer.from('OK'), ['OK'], Object('OK')]) {
      reply = odd
      await t.rejects(store.claim('k', 1), { message: /unexpected reply/ }, `${kind}: reply ${JSON.stringify(odd)} → throw, never "fresh"`)
    }
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await t.rejects(store.claim('k', ttl), { name: 'TypeError', message: `RedisReplayStore ttl must be a positive number of seconds; got ${ttl}` }, `ttl ${ttl} → throw`)
    }
  }
})

t.test('issue 15 item 9: under no client does a proof pass on an unexpected reply: 503, never 200', async (t) => {
  for (const odd of [undefined, 'QUEUED', 1, true, 'ok', Buffer.from('OK'), ['OK'], {}]) {
    for (const kind of ['call', 'sendCommand'] as const) {
      const answer = async (): Promise<unknown> => odd
      const client = kind === 'call' ? { call: answer } : { sendCommand: answer }
      const app = await dpopApp(t, new RedisReplayStore({ client }), sharedIssuer)
      const res = await send(app, await dpopClient())
      assertUnavailable(t, res, `${kind} answering ${JSON.stringify(odd)}`)
    }
  }
})

t.test('an ioredis client, which has both call() and sendCommand(), is driven through call()', async (t) => {
  const used: string[] = []
  const store = new RedisReplayStore({
    client: {
      call: async () => { used.push('call'); return 'OK' },
      sendCommand: async () => { used.push('sendCommand'); return null },
    },
  })
  t.equal(await store.claim('k', 1), true)
  t.same(used, ['call'])
})

t.test('ping: PONG resolves; anything else, a rejection or no answer rejects', async (t) => {
  t.equal(await new RedisReplayStore({ client: callClient(async () => 'PONG') }).ping(), undefined)
  await t.rejects(new RedisReplayStore({ client: callClient(async () => 'OK') }).ping(), { message: /unexpected reply to PING/ })
  await t.rejects(new RedisReplayStore({ client: callClient(async () => { throw new Error('down') }) }).ping(), { message: 'down' })
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  await t.rejects(new RedisReplayStore({ client: callClient(() => new Promise(() => {})), timeout: 0.05 }).ping(), { message: /no answer from Redis within 0.05 s/ })
})

t.test('claim: a client that throws, rejects or never answers → throw within the timeout', async (t) => {
  const sync = new RedisReplayStore({ client: callClient(() => { throw new Error('sync boom') }) })
  await t.rejects(sync.claim('k', 1), { message: 'sync boom' }, 'a synchronous throw becomes a rejection')
  const rejecting = new RedisReplayStore({ client: callClient(async () => { throw new Error('connection lost') }) })
  await t.rejects(rejecting.claim('k', 1), { message: 'connection lost' })

  // The store's timer is unref'd (it must not keep a process alive); here nothing
  // else would, so hold the event loop open while the claims wait.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  const hung = new RedisReplayStore({ client: callClient(() => new Promise(() => {})), timeout: 0.1 })
  await t.rejects(hung.claim('k', 1), { message: /no answer from Redis within 0.1 s/ })

  // An answer after the timeout settles nothing and raises nothing unhandled.
  let answer: (value: unknown) => void = () => {}
  const late = new RedisReplayStore({ client: callClient(() => new Promise((resolve) => { answer = resolve })), timeout: 0.05 })
  await t.rejects(late.claim('k', 1), { message: /no answer/ })
  answer('OK')
  await sleep(10)
})

t.test('close() leaves the application\'s client alone', async (t) => {
  let quit = false
  const client = { call: async () => 'OK', quit: async () => { quit = true }, disconnect: () => { quit = true } }
  const store = new RedisReplayStore({ client })
  store.close()
  t.equal(quit, false, 'the client is the application\'s to close')
  t.equal(await store.claim('k', 1), true, 'and the store still works')
})

// ——— a real client talking to a peer that is not the Redis it expects ———

/** How many complete RESP commands (arrays of bulk strings) `input` holds, and the bytes after them. */
function completeCommands (input: Buffer): { count: number, rest: Buffer } {
  let count = 0
  let done = 0
  let at = 0
  const line = (): string | undefined => {
    const end = input.indexOf('\r\n', at)
    if (end === -1) return undefined
    const text = input.toString('latin1', at, end)
    at = end + 2
    return text
  }
  for (;;) {
    const head = line()
    if (head === undefined) break
    let complete = true
    for (let i = 0; i < Number(head.slice(1)) && complete; i++) {
      const length = line()
      at += Number(length?.slice(1)) + 2
      complete = length !== undefined && at <= input.length
    }
    if (!complete) break
    count++
    done = at
  }
  return { count, rest: input.subarray(done) }
}

/** A TCP server on 127.0.0.1 answering every command with `reply` (raw RESP); resolves with its port. */
async function respPeer (t: Test, reply: () => string): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    let pending: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      const { count, rest } = completeCommands(Buffer.concat([pending, chunk]))
      pending = rest
      for (let i = 0; i < count; i++) socket.write(reply())
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(resolve)
  }))
  return (server.address() as AddressInfo).port
}

t.test('a real ioredis client whose peer answers what Redis never would: each reply refused by command and type, the request 503', async (t) => {
  let reply = ''
  const port = await respPeer(t, () => reply)
  // RESP2 with no hand-shake (HELLO, CLIENT SETINFO) or ready check: the peer answers every command alike.
  const client = new Redis({ host: '127.0.0.1', port, protocol: 2, disableClientInfo: true, enableReadyCheck: false, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await client.connect()
  const store = new RedisReplayStore({ client })
  const app = await dpopApp(t, store, sharedIssuer)

  reply = '$-1\r\n' // a null bulk string
  await t.rejects(store.ping(), { message: 'RedisReplayStore: unexpected reply to PING: null' })
  t.equal(await store.claim('k', 1), false, 'to SET NX, null is the documented "already recorded"')
  reply = '+OK\r\n'
  await t.rejects(store.ping(), { message: 'RedisReplayStore: unexpected reply to PING: string' })
  reply = ':1\r\n'
  await t.rejects(store.claim('k', 1), { message: 'RedisReplayStore: unexpected reply to SET NX: number' })
  assertUnavailable(t, await send(app, await dpopClient()), 'an integer reply to SET NX')
  reply = '*1\r\n+OK\r\n'
  await t.rejects(store.claim('k', 1), { message: 'RedisReplayStore: unexpected reply to SET NX: object' })
  assertUnavailable(t, await send(app, await dpopClient()), 'an array reply to SET NX')
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

t.test('RedisReplayStore with node-redis v5: first claim true, second false, PING answers', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  const client = await connectNodeRedis(t, server)
  const store = new RedisReplayStore({ client })
  t.equal(await store.claim('AAAAAAAAAAAAAAAAAAAAAA', 300), true, 'first use')
  t.equal(await store.claim('AAAAAAAAAAAAAAAAAAAAAA', 300), false, 'replay')
  t.equal(await store.claim('BBBBBBBBBBBBBBBBBBBBBB', 300), true, 'another key')
  const pttl = await client.pTTL('fastify-mcp-auth:dpop:AAAAAAAAAAAAAAAAAAAAAA')
  t.ok(pttl > 299_000 && pttl <= 300_000, `stored under the default prefix with the ttl (pttl ${pttl})`)
  t.equal(await store.ping(), undefined, 'ping resolves')
  await server.kill()
  await t.rejects(store.ping(), 'ping rejects when Redis is gone')
  await t.rejects(store.claim('CCCCCCCCCCCCCCCCCCCCCC', 300), 'claim rejects (→ 503) when Redis is gone')
})

t.test('RFC 9449 §11.1 across clients: a proof accepted through ioredis is a replay through node-redis', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  const a = await dpopApp(t, new RedisReplayStore({ client: await connected(t, server) }), sharedIssuer)
  const b = await dpopApp(t, new RedisReplayStore({ client: await connectNodeRedis(t, server) }), sharedIssuer)
  const client = await dpopClient()
  const proof = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })
  t.equal((await send(a, client, proof)).statusCode, 200, 'instance A (ioredis) accepts the proof')
  assertReplay(t, await send(b, client, proof), 'the same proof at instance B (node-redis)')
  const raced = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token })
  const both = await Promise.all([send(b, client, raced), send(a, client, raced), send(b, client, raced)])
  t.same(both.map((r) => r.statusCode).sort(), [200, 401, 401], 'raced at both: exactly one 200')
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

t.test('RFC 9449 §8.2 with the asynchronous Redis store: a rotated nonce still reaches the 200; the proof is recorded once', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  const admin = await connected(t, server)
  const secret = 's'.repeat(32)
  const app = await loggedApp(t, { dpop: { replayStore: new RedisReplayStore({ client: await connected(t, server) }), nonce: { secret } } }, sharedIssuer)
  const client = await dpopClient()
  const previous = await createHmacNonceProvider({ secret, clock: () => Date.now() / 1000 - 60 }).issue()
  const proof = await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token, nonce: previous })
  const res = await send(app, client, proof)
  t.equal(res.statusCode, 200, 'a nonce from the previous step is accepted')
  t.type(res.headers['dpop-nonce'], 'string', 'with a fresh nonce, after the store answered')
  t.not(res.headers['dpop-nonce'], previous)
  t.equal(await createHmacNonceProvider({ secret }).check(res.headers['dpop-nonce'] as string), 'valid', 'a current nonce')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal((await admin.keys('fastify-mcp-auth:dpop:*')).length, 1, 'the proof is recorded in Redis')
  const again = await send(app, client, proof)
  assertReplay(t, again, 'the same proof again')
  t.equal(again.headers['dpop-nonce'], undefined, 'a replay is not rotated')
  await server.kill()
  const down = await send(app, client, await createDpopProof(client.key, { method: 'GET', url: RESOURCE, accessToken: client.token, nonce: previous }))
  assertUnavailable(t, down, 'Redis down during a rotation')
  t.equal(down.headers['dpop-nonce'], undefined, 'no nonce on the 503')
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

t.test('issue 15 item 7: Redis killed → DPoP requests get 503 and the health route says so (503, reachable: false, a cause code)', { skip: SKIP }, async (t) => {
  for (const [name, connect] of [['ioredis', connectIoredis], ['node-redis', connectNodeRedis]] as const) {
    const server = await startRedis(t)
    const store = new RedisReplayStore({ client: await connect(t, server), timeout: 0.5 })
    const app = await loggedApp(t, { dpop: { replayStore: store }, healthRoute: '/health' }, sharedIssuer)
    const up = await app.inject({ url: '/health' })
    t.equal(up.statusCode, 200, `${name}: up`)
    t.same(up.json().replayStore, { reachable: true })
    await server.kill()
    assertUnavailable(t, await send(app, await dpopClient()), `${name}: Redis down`)
    const down = await app.inject({ url: '/health' })
    t.equal(down.statusCode, 503, `${name}: the health route agrees`)
    t.equal(down.json().status, 'unavailable')
    t.equal(down.json().replayStore.reachable, false)
    t.equal(down.json().replayStore.cause, 'offline', `${name}: the client has no connection`)
    t.notMatch(down.body, /ECONN|closed|writeable|Redis/i, `${name}: no error message`)
  }
})

t.test('Redis paused (SIGSTOP): the store gives up after its timeout with ETIMEDOUT → 503, and the health route names the cause timeout', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  // The default timeout (1 s): the answers before the pause and after the resume must come within it.
  const store = new RedisReplayStore({ client: await connected(t, server) })
  const app = await loggedApp(t, { dpop: { replayStore: store }, healthRoute: '/health' }, sharedIssuer)
  t.equal((await send(app, await dpopClient())).statusCode, 200, 'up: accepted')

  server.pause()
  await t.rejects(store.ping(), { code: 'ETIMEDOUT', message: 'RedisReplayStore: no answer from Redis within 1 s' })
  assertUnavailable(t, await send(app, await dpopClient()), 'Redis paused')
  // The store's timeout (1 s) ends the health route's ping before the route's own (network timeout, 5 s).
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 503)
  t.same(health.json().replayStore, { reachable: false, cause: 'timeout' })

  server.resume()
  t.equal((await send(app, await dpopClient())).statusCode, 200, 'resumed: the late answers settle nothing, a new request is accepted')
})

t.test('each command\'s timeout timer never holds the process open and is cleared as soon as the command settles', { skip: SKIP }, async (t) => {
  const server = await startRedis(t)
  // The Timeouts created while a command starts, and the ones destroyed (cleared, or fired).
  let watching = false
  let created: number[] = []
  const destroyed = new Set<number>()
  const hook = createHook({
    init (id, type) { if (watching && type === 'Timeout') created.push(id) },
    destroy (id) { destroyed.add(id) },
  }).enable()
  t.teardown(() => { hook.disable() })
  // process.getActiveResourcesInfo lists the timers that keep the event loop alive.
  const holdingTimers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length

  /** Starts `command`, checks its one timer holds nothing open, and waits until it settles. */
  async function settle (command: () => Promise<unknown>, message: string): Promise<string> {
    const before = holdingTimers()
    created = []
    watching = true
    const settled = command().then(() => 'resolved', (err: unknown) => `rejected: ${(err as Error).message}`)
    watching = false
    t.equal(created.length, 1, `${message}: one timer`)
    t.equal(holdingTimers(), before, `${message}: it does not keep the process alive`)
    return settled
  }
  /** Whether the timers created by the last settle() are gone, polling briefly: destroy hooks run asynchronously. */
  async function cleared (): Promise<boolean> {
    for (let i = 0; i < 100 && !created.every((id) => destroyed.has(id)); i++) await sleep(20)
    return created.every((id) => destroyed.has(id))
  }

  // A 600 s timeout: a timer left armed would outlive the test by far.
  const store = new RedisReplayStore({ client: await connected(t, server), timeout: 600 })
  t.equal(await settle(() => store.ping(), 'Redis answers'), 'resolved')
  t.ok(await cleared(), 'Redis answers: the timer is cleared')
  await server.kill()
  t.match(await settle(() => store.ping(), 'Redis down'), /^rejected: /)
  t.ok(await cleared(), 'the client rejects: the timer is cleared')
  const throwing = new RedisReplayStore({ client: callClient(() => { throw new Error('sync boom') }), timeout: 600 })
  t.equal(await settle(() => throwing.ping(), 'a client that throws'), 'rejected: sync boom')
  t.ok(await cleared(), 'the client throws: the timer is cleared')
})
