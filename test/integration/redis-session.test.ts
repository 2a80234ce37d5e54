// RedisSessionStore: the commands it sends through the suite's one Redis client
// contract (checked with stand-in clients, which need no server), its semantics
// against a real redis-server through ioredis and node-redis, and the plugin failing
// closed when Redis goes away (503 on check and on open, the session ID never sent,
// health 503). The MCP SDK across two instances: test/interop/mcp-sdk-sessions.test.ts.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { RedisSessionStore } from '../../index.js'
import { sessionKey } from '../../lib/session-binding.js'
import { createTestIssuer } from '../../testing.js'
import { buildApp, RESOURCE } from '../helpers/app.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP as SKIP, startRedis } from '../helpers/redis.js'

t.test('constructor: FST_MCP_AUTH_INVALID_OPTION for a bad client or option', async (t) => {
  const invalid = (message: RegExp) => ({ code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  t.throws(() => new RedisSessionStore(undefined as never), invalid(/RedisSessionStore options must be an object/))
  t.throws(() => new RedisSessionStore({} as never), invalid(/RedisSessionStore client must be a connected ioredis client/))
  t.throws(() => new RedisSessionStore({ client: { get: async () => null } } as never), invalid(/call\(\) or sendCommand\(\)/))
  const client = { call: async () => 'OK' }
  t.throws(() => new RedisSessionStore({ client, prefix: 1 as never }), invalid(/prefix must be a string/))
  t.throws(() => new RedisSessionStore({ client, timeout: 0 }), invalid(/timeout must be a positive number/))
  const store = new RedisSessionStore({ client })
  t.equal(store.prefix, 'fastify-mcp-auth:session:')
  t.equal(store.timeout, 1)
})

t.test('one raw command per operation, through call() or sendCommand(); only documented replies count', async (t) => {
  for (const kind of ['ioredis (call)', 'node-redis (sendCommand)']) {
    const calls: unknown[][] = []
    let reply: unknown = 'OK'
    const answer = async (...args: unknown[]) => { calls.push(args); return reply }
    const client = kind.startsWith('ioredis') ? { call: answer } : { sendCommand: async (args: string[]) => answer(...args) }
    const store = new RedisSessionStore({ client, prefix: 'p:' })

    t.equal(await store.create('k', 'v', 3600), true, `${kind}: create OK → true`)
    reply = null
    t.equal(await store.create('k', 'v', 0.2), false, `${kind}: create null → false`)
    reply = 'v'
    t.equal(await store.get('k'), 'v')
    reply = null
    t.equal(await store.get('k'), undefined)
    await store.refresh('k', 'v2', 3600)
    reply = 'OK'
    await store.refresh('k', 'v2', 3600)
    reply = 1
    await store.delete('k')
    reply = 'PONG'
    await store.ping()
    t.same(calls, [
      ['SET', 'p:k', 'v', 'EX', '3600', 'NX'],
      ['SET', 'p:k', 'v', 'EX', '1', 'NX'],
      ['GET', 'p:k'],
      ['GET', 'p:k'],
      ['SET', 'p:k', 'v2', 'EX', '3600', 'XX'],
      ['SET', 'p:k', 'v2', 'EX', '3600', 'XX'],
      ['DEL', 'p:k'],
      ['PING'],
    ], `${kind}: the commands (a fraction of a second rounds up)`)

    for (const odd of [undefined, 'QUEUED', 1, {}, true]) {
      reply = odd
      await t.rejects(store.create('k', 'v', 1), { message: /unexpected reply to SET NX/ }, `${kind}: create ${JSON.stringify(odd)}`)
      await t.rejects(store.refresh('k', 'v', 1), { message: /unexpected reply to SET XX/ }, `${kind}: refresh ${JSON.stringify(odd)}`)
      await t.rejects(store.ping(), { message: /unexpected reply to PING/ })
    }
    for (const odd of [undefined, 1, Buffer.from('v'), {}]) {
      reply = odd
      await t.rejects(store.get('k'), { message: /unexpected reply to GET/ }, `${kind}: get ${String(odd)} is never read as a record or its absence`)
    }
    for (const odd of [undefined, 'OK', null]) {
      reply = odd
      await t.rejects(store.delete('k'), { message: /unexpected reply to DEL/ })
    }
    for (const ttl of [0, -1, Number.NaN]) await t.rejects(store.create('k', 'v', ttl), { name: 'TypeError' }, `ttl ${ttl}`)
  }
})

t.test('close() leaves the application\'s client alone', async (t) => {
  let quit = false
  const store = new RedisSessionStore({ client: { call: async () => 'PONG', quit: async () => { quit = true } } as never })
  store.close()
  t.equal(quit, false)
  await t.resolves(store.ping())
})

for (const kind of ['ioredis', 'node-redis'] as const) {
  t.test(`against redis-server through ${kind}: NX, XX, expiry, DEL`, { skip: SKIP }, async (t) => {
    const server = await startRedis(t)
    const client = kind === 'ioredis' ? await connectIoredis(t, server) : await connectNodeRedis(t, server)
    const inspector = await connectIoredis(t, server)
    const store = new RedisSessionStore({ client })
    t.equal(await store.create('k', 'first', 3600), true)
    t.equal(await store.create('k', 'second', 3600), false, 'an existing record is kept')
    t.equal(await store.get('k'), 'first')
    t.equal(await inspector.ttl('fastify-mcp-auth:session:k'), 3600, 'with idleTtl as its expiry')
    await inspector.expire('fastify-mcp-auth:session:k', 100)
    await store.refresh('k', 'refreshed', 3600)
    t.equal(await store.get('k'), 'refreshed')
    t.equal(await inspector.ttl('fastify-mcp-auth:session:k'), 3600, 'the refresh restarts the expiry')
    await store.delete('k')
    t.equal(await store.get('k'), undefined)
    await store.refresh('k', 'back?', 3600)
    t.equal(await store.get('k'), undefined, 'a refresh never brings an ended session back')
    await t.resolves(store.ping())
  })
}

t.test('Redis gone: 503 on check and on open (the session ID is not sent), health 503; back: service resumes', { skip: SKIP }, async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const server = await startRedis(t)
  const client = await connectIoredis(t, server)
  const store = new RedisSessionStore({ client, timeout: 0.5 })
  const routes = (app: FastifyInstance) => {
    app.post('/mcp/raw', async (request, reply) => {
      reply.hijack()
      const id = request.headers['mcp-session-id'] ?? 'opened-' + String(request.headers['x-n'])
      reply.raw.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': id }).end('{}')
    })
  }
  const { app } = await buildApp(t, { sessionBinding: { store }, healthRoute: '/health' }, issuer, routes)
  const token = await issuer.mintAccessToken({ sub: 'alice' })
  const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/mcp/raw', headers: { authorization: `Bearer ${token}`, ...headers } })

  const opened = await post({ 'x-n': '1' })
  t.equal(opened.headers['mcp-session-id'], 'opened-1')
  t.equal(await client.exists('fastify-mcp-auth:session:' + sessionKey('opened-1')), 1, 'recorded under the SHA-256 of the ID')
  t.equal((await post({ 'mcp-session-id': 'opened-1' })).statusCode, 200)

  await server.kill()
  const checked = await post({ 'mcp-session-id': 'opened-1' })
  t.equal(checked.statusCode, 503, 'check: 503, never a pass')
  t.equal(checked.json().error, 'temporarily_unavailable')
  const open = await post({ 'x-n': '2' })
  t.equal(open.statusCode, 503, 'open: 503')
  t.equal(open.headers['mcp-session-id'], undefined, 'the session ID is not sent')
  const health = await app.inject('/health')
  t.equal(health.statusCode, 503)
  t.equal(health.json().sessionStore.reachable, false)

  await server.start()
  const deadline = Date.now() + 10_000
  while (client.status !== 'ready' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const after = await post({ 'mcp-session-id': 'opened-1' })
  t.equal(after.statusCode, 404, 'a restarted Redis without the record: the session is unknown (the client re-initializes)')
  t.equal((await post({ 'x-n': '3' })).headers['mcp-session-id'], 'opened-3', 'new sessions open again')
})
