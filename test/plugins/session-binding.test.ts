// sessionBinding through app.inject: the 404 and its body, headers, event and code;
// capture on Fastify replies (onSend) and on hijacked raw responses; store failures →
// 503 and no session ID; unbindable tokens; DELETE; options; health; the stateless
// 2026-07-28 revision, on which the option does nothing. (The MCP SDK on both ends:
// test/interop/mcp-sdk-sessions.test.ts.)
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, LightMyRequestResponse } from 'fastify'
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { MemorySessionStore } from '../../index.js'
import type { McpAuthEvent, McpAuthOptions, SessionStore } from '../../index.js'
import { sessionKey } from '../../lib/session-binding.js'
import { createTestIssuer } from '../../testing.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const issuer = await createTestIssuer({ audience: RESOURCE })
const alice = await issuer.mintAccessToken({ sub: 'alice', client_id: 'app' })
const bob = await issuer.mintAccessToken({ sub: 'bob', client_id: 'app' })
const NOT_FOUND = { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }

/** A MemorySessionStore that records each call and can be made to fail, operation by operation. */
class ObservedStore implements SessionStore {
  readonly inner = new MemorySessionStore()
  readonly calls: string[] = []
  failing = new Set<string>()
  /** Answer a few event-loop turns later, as a networked store does. */
  slow = false

  #run<T> (name: string, call: () => T): T | Promise<T> {
    this.calls.push(name)
    const answer = (): T => {
      if (this.failing.has(name)) throw new Error(`store ${name} failed: redis://secret@db`)
      return call()
    }
    if (!this.slow) return answer()
    return new Promise((resolve) => setTimeout(resolve, 5)).then(answer)
  }

  create (key: string, value: string, ttl: number) { return this.#run('create', () => this.inner.create(key, value, ttl)) }
  get (key: string) { return this.#run('get', () => this.inner.get(key)) }
  refresh (key: string, value: string, ttl: number) { return this.#run('refresh', () => this.inner.refresh(key, value, ttl)) }
  delete (key: string) { return this.#run('delete', () => this.inner.delete(key)) }
  async ping () { return this.#run('ping', () => undefined) }
}

/**
 * Session routes under /mcp: /mcp/reply answers through Fastify's reply, /mcp/raw
 * after reply.hijack() on the raw response (as MCP SDK transports do), /mcp/implicit
 * the same with setHeader and end (no writeHead). A request
 * without Mcp-Session-Id opens a session (its ID from x-new-session, else random);
 * x-status sets the status; x-handled counts the requests that reached a handler.
 */
function sessionRoutes (handled: string[]) {
  function outcome (request: FastifyRequest): { status: number, id: string | undefined, body: string } {
    handled.push(request.mcp?.subject ?? '')
    const given = request.headers['mcp-session-id'] as string | undefined
    const wanted = request.headers['x-new-session'] as string | undefined
    const id = given === undefined || wanted !== undefined ? wanted ?? randomUUID() : given
    return { status: Number(request.headers['x-status'] ?? 200), id, body: JSON.stringify({ ok: true, who: request.mcp?.subject }) }
  }
  return (app: FastifyInstance): void => {
    const viaReply = async (request: FastifyRequest, reply: FastifyReply) => {
      const { status, id, body } = outcome(request)
      if (id !== undefined) reply.header('mcp-session-id', id)
      return reply.code(status).type('application/json').send(body)
    }
    const viaRaw = async (request: FastifyRequest, reply: FastifyReply) => {
      const { status, id, body } = outcome(request)
      reply.hijack()
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (id !== undefined) headers['mcp-session-id'] = id
      reply.raw.writeHead(status, headers).end(body)
    }
    // A raw response whose head is implicit: setHeader, then end.
    const viaImplicit = async (request: FastifyRequest, reply: FastifyReply) => {
      const { status, id, body } = outcome(request)
      reply.hijack()
      reply.raw.statusCode = status
      reply.raw.setHeader('content-type', 'application/json')
      reply.raw.setHeader('content-length', Buffer.byteLength(body))
      if (id !== undefined) reply.raw.setHeader('mcp-session-id', id)
      reply.raw.end(body)
    }
    app.post('/mcp/implicit', viaImplicit)
    app.delete('/mcp/implicit', viaImplicit)
    app.post('/mcp/reply', viaReply)
    app.delete('/mcp/reply', viaReply)
    app.post('/mcp/raw', viaRaw)
    app.delete('/mcp/raw', viaRaw)
    app.post('/mcp/public', { config: { mcpAuth: false } }, viaReply)
  }
}

interface Harness { app: FastifyInstance, store: ObservedStore, handled: string[], events: McpAuthEvent[], logs: string[] }

async function harness (t: Test, options: Partial<McpAuthOptions> = {}, store = new ObservedStore()): Promise<Harness> {
  const handled: string[] = []
  const events: McpAuthEvent[] = []
  const logs: string[] = []
  const { app } = await buildApp(t, { sessionBinding: { store }, onEvent: (e) => { events.push(e) }, ...options }, issuer, sessionRoutes(handled), logs)
  return { app, store, handled, events, logs }
}

function call (app: FastifyInstance, path: string, token: string, headers: Record<string, string> = {}, method: 'POST' | 'DELETE' = 'POST'): Promise<LightMyRequestResponse> {
  return app.inject({ method, url: path, headers: { authorization: `Bearer ${token}`, ...headers } })
}

function assertNotFound (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 404, `${message}: 404`)
  t.same(res.json(), NOT_FOUND, `${message}: the transport's JSON-RPC body`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.match(res.headers['content-type'], /^application\/json/, `${message}: JSON`)
  t.equal(res.headers['www-authenticate'], undefined, `${message}: no challenge (not an OAuth error)`)
  t.equal(res.headers['mcp-session-id'], undefined, `${message}: no session ID`)
}

function assertUnavailable (t: Test, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 503, `${message}: 503, never a pass`)
  t.equal(res.json().error, 'temporarily_unavailable', `${message}: temporarily_unavailable`)
  t.match(res.headers['retry-after'], /^\d+$/, `${message}: Retry-After`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.equal(res.headers['mcp-session-id'], undefined, `${message}: the session ID is not sent`)
  t.notOk(res.body.includes('secret'), `${message}: the store's message stays out of the body`)
  t.equal(res.headers['content-length'], String(Buffer.byteLength(res.rawPayload)), `${message}: the length of this body`)
}

const VIA: Record<string, string> = { '/mcp/reply': 'a Fastify reply', '/mcp/raw': 'a hijacked raw response', '/mcp/implicit': 'a raw response with an implicit head' }
for (const [path, via] of Object.entries(VIA)) {
  t.test(`${via}: the session is bound when its ID is first sent, and refused to anyone else`, async (t) => {
    const h = await harness(t)
    const opened = await call(h.app, path, alice, { 'x-new-session': 'session-1' })
    t.equal(opened.statusCode, 200)
    t.equal(opened.headers['mcp-session-id'], 'session-1', 'the ID reaches its opener')
    t.equal(h.store.inner.size, 1)
    t.ok(h.store.inner.get(sessionKey('session-1'))?.includes(' '), 'the record is under the SHA-256 of the ID')

    t.equal((await call(h.app, path, alice, { 'mcp-session-id': 'session-1' })).statusCode, 200, 'the opener continues')
    t.same(h.store.calls, ['create', 'get'], 'a response repeating the request\'s session ID records nothing')
    const handledBefore = h.handled.length
    assertNotFound(t, await call(h.app, path, bob, { 'mcp-session-id': 'session-1' }), 'another user')
    assertNotFound(t, await call(h.app, path, alice, { 'mcp-session-id': 'never-opened' }), 'an unknown session')
    t.equal(h.handled.length, handledBefore, 'no refused request reached the handler')

    const denied = h.events.filter((e) => e.type === 'denied')
    t.match(denied, [
      { status: 404, code: 'FST_MCP_AUTH_SESSION_MISMATCH', reason: 'session.identity_mismatch', subject: 'bob', oauthError: undefined, path },
      { status: 404, reason: 'session.identity_mismatch', subject: 'alice' },
    ])
    const text = JSON.stringify(h.events) + h.logs.join('')
    t.notOk(text.includes('session-1') || text.includes('never-opened'), 'no event or log line carries a session ID')
    t.ok(h.logs.some((line) => line.includes('session.identity_mismatch')), 'the refusal is logged at debug level with its reason')
  })

  t.test(`${via}: a store failure while recording → 503 and the session ID is not sent`, async (t) => {
    const h = await harness(t, { errorRenderer: (err) => ({ wrapped: err.code }) })
    h.store.failing.add('create')
    const res = await call(h.app, path, alice, { 'x-new-session': 'session-2' })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['mcp-session-id'], undefined, 'the session ID is not sent')
    t.match(res.headers['retry-after'], /^\d+$/)
    t.equal(res.headers['cache-control'], 'no-store')
    t.same(res.json(), { wrapped: 'FST_MCP_AUTH_UNAVAILABLE' }, 'errorRenderer renders it')
    t.equal(res.headers['content-length'], String(res.rawPayload.length), 'the length of this body, not the handler\'s')
    t.notOk(res.body.includes('ok'), 'the handler\'s body is not sent')
    t.match(h.events.at(-1), { type: 'denied', status: 503, reason: 'session_store.failed' })
    t.ok(h.logs.some((line) => line.includes('the session store failed')), 'an error log')
  })

  t.test(`${via}: a token with neither sub nor client ID cannot open a session (any request that would)`, async (t) => {
    const h = await harness(t)
    const anonymous = await issuer.mintAccessToken({ sub: undefined, client_id: undefined })
    const res = await call(h.app, path, anonymous, { 'x-new-session': 'session-3', origin: 'https://app.example' })
    t.equal(res.statusCode, 401)
    t.equal(res.json().error, 'invalid_token')
    t.equal(res.headers['mcp-session-id'], undefined, 'the session ID is not sent')
    t.equal(res.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce')
    const bearer = parseChallenges(res.headers['www-authenticate']).find((c) => c.scheme === 'Bearer')
    t.match(bearer?.params, { error: 'invalid_token', resource_metadata: PRM })
    t.equal(h.store.inner.size, 0)
    t.match(h.events.at(-1), { status: 401, reason: 'session.unbindable_identity' })
    t.equal((await call(h.app, path, anonymous, { 'x-new-session': '' })).statusCode, 401, 'an empty Mcp-Session-Id is still one')
    const handled = h.handled.length
    const initialize = await h.app.inject({
      method: 'POST',
      url: path,
      headers: { authorization: `Bearer ${anonymous}`, 'content-type': 'application/json' },
      payload: [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }],
    })
    t.equal(initialize.statusCode, 401, 'an initialize (here in a batch) is refused before the handler')
    t.equal(initialize.json().error, 'invalid_token')
    t.equal(h.handled.length, handled, 'the handler never ran')
    t.equal((await call(h.app, path, anonymous, { 'mcp-session-id': 'session-3' })).statusCode, 404, 'such a token owns no session')
  })

  t.test(`${via}: DELETE by the owner removes the record once the answer is 2xx`, async (t) => {
    const h = await harness(t)
    await call(h.app, path, alice, { 'x-new-session': 'session-4' })
    assertNotFound(t, await call(h.app, path, bob, { 'mcp-session-id': 'session-4' }, 'DELETE'), 'DELETE by another identity')
    t.equal(h.store.inner.size, 1)
    t.equal((await call(h.app, path, alice, { 'mcp-session-id': 'session-4', 'x-status': '409' }, 'DELETE')).statusCode, 409)
    t.equal(h.store.inner.size, 1, 'a refused DELETE ends nothing')
    t.equal((await call(h.app, path, alice, { 'mcp-session-id': 'session-4' }, 'DELETE')).statusCode, 200)
    t.equal(h.store.inner.size, 0, 'the record is gone when the answer arrives')
    assertNotFound(t, await call(h.app, path, alice, { 'mcp-session-id': 'session-4' }), 'the ended session')
  })

  t.test(`${via}: DELETE whose record the store fails to drop still answers (the transport ended the session)`, async (t) => {
    const h = await harness(t)
    await call(h.app, path, alice, { 'x-new-session': 'session-5' })
    h.store.failing.add('delete')
    t.equal((await call(h.app, path, alice, { 'mcp-session-id': 'session-5' }, 'DELETE')).statusCode, 200)
    t.ok(h.logs.some((line) => line.includes('removing an ended session')), 'an error log')
  })

  t.test(`${via}: a session ID already bound to another identity is never handed out`, async (t) => {
    const h = await harness(t)
    await call(h.app, path, alice, { 'x-new-session': 'same-id' })
    t.equal((await call(h.app, path, alice, { 'x-new-session': 'same-id' })).statusCode, 200, 'the same identity may open it again')
    const res = await call(h.app, path, bob, { 'x-new-session': 'same-id' })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['mcp-session-id'], undefined)
    t.match(h.events.at(-1), { status: 503, reason: 'session.conflict' })
    t.equal((await call(h.app, path, alice, { 'mcp-session-id': 'same-id' })).statusCode, 200, 'the owner keeps it')
  })
}

t.test('a Fastify reply waits for a store that answers later, and is sent once', async (t) => {
  const store = new ObservedStore()
  store.slow = true
  const routes = (app: FastifyInstance) => {
    app.post('/mcp/returns-reply', async (_request, reply) => reply.header('mcp-session-id', 'slow-1').send({ ok: 1 }))
    app.post('/mcp/callback', (_request, reply) => { reply.header('mcp-session-id', 'slow-3').send({ ok: 3 }) })
  }
  const logs: string[] = []
  const { app } = await buildApp(t, { sessionBinding: { store } }, issuer, routes, logs)
  // (An async handler that calls reply.send() must return or await the reply, as with any asynchronous onSend hook.)
  for (const [path, id, body] of [['/mcp/returns-reply', 'slow-1', { ok: 1 }], ['/mcp/callback', 'slow-3', { ok: 3 }]] as const) {
    const res = await call(app, path, alice)
    t.equal(res.statusCode, 200, path)
    t.equal(res.headers['mcp-session-id'], id, `${path}: the ID goes out once recorded`)
    t.same(res.json(), body, `${path}: the handler's body`)
    t.equal(await store.inner.get(sessionKey(id)) !== undefined, true, `${path}: recorded`)
  }
  t.notOk(logs.some((line) => /already sent|"level":50/.test(line)), 'no reply sent twice, no error logged')
})

t.test('a Fastify reply refused while recording keeps the headers the app set on the reply (CORS)', async (t) => {
  const store = new ObservedStore()
  store.failing.add('create')
  const routes = (app: FastifyInstance) => {
    app.addHook('onRequest', async (_request, reply) => { reply.header('access-control-allow-origin', 'https://app.example') })
    app.post('/mcp/cors', async (_request, reply) => reply.header('mcp-session-id', 'cors-1').send({ ok: 1 }))
  }
  const { app } = await buildApp(t, { sessionBinding: { store } }, issuer, routes)
  const res = await call(app, '/mcp/cors', alice, { origin: 'https://app.example' })
  assertUnavailable(t, res, 'a failing store')
  t.equal(res.headers['access-control-allow-origin'], 'https://app.example', 'a browser client can read the 503')
})

t.test('a response naming another session than the request binds it to the requester', async (t) => {
  const h = await harness(t)
  await call(h.app, '/mcp/reply', alice, { 'x-new-session': 'first' })
  const res = await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'first', 'x-new-session': 'second' })
  t.equal(res.headers['mcp-session-id'], 'second')
  assertNotFound(t, await call(h.app, '/mcp/reply', bob, { 'mcp-session-id': 'second' }), 'another user on the new session')
  t.equal((await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'second' })).statusCode, 200)
})

t.test('a store failure while checking → 503 before the handler, never a pass', async (t) => {
  const h = await harness(t)
  await call(h.app, '/mcp/raw', alice, { 'x-new-session': 'session-6' })
  h.store.failing.add('get')
  const handled = h.handled.length
  assertUnavailable(t, await call(h.app, '/mcp/raw', alice, { 'mcp-session-id': 'session-6' }), 'the owner')
  assertUnavailable(t, await call(h.app, '/mcp/raw', bob, { 'mcp-session-id': 'session-6' }), 'another user')
  t.equal(h.handled.length, handled)
})

t.test('the check runs after authentication: no or bad token → 401 as without the option', async (t) => {
  const h = await harness(t)
  const none = await h.app.inject({ method: 'POST', url: '/mcp/reply', headers: { 'mcp-session-id': 'x' } })
  t.equal(none.statusCode, 401)
  t.equal(none.json().error, 'unauthorized')
  t.equal((await call(h.app, '/mcp/reply', 'junk', { 'mcp-session-id': 'x' })).json().error, 'invalid_token')
  t.same(h.store.calls, [], 'the store is not asked for unauthenticated requests')
})

t.test('routes the plugin does not authenticate are not checked', async (t) => {
  const h = await harness(t)
  const res = await h.app.inject({ method: 'POST', url: '/mcp/public', headers: { 'mcp-session-id': 'anything' } })
  t.equal(res.statusCode, 200)
  t.same(h.store.calls, [])
})

t.test('the record is refreshed at most once per idleTtl / 10', async (t) => {
  const store = new ObservedStore()
  const h = await harness(t, { sessionBinding: { store, idleTtl: 100 } }, store)
  await call(h.app, '/mcp/reply', alice, { 'x-new-session': 'ttl' })
  const key = sessionKey('ttl')
  const [version, writtenAt, identity] = (store.inner.get(key) as string).split(' ')
  // Age the record as if it had been written `age` seconds ago.
  const aged = (age: number) => store.inner.refresh(key, `${version} ${Number(writtenAt) - age} ${identity}`, 100)

  aged(9)
  await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'ttl' })
  t.notOk(store.calls.includes('refresh'), 'written 9 s ago (under idleTtl / 10): not rewritten')
  aged(10)
  await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'ttl' })
  t.equal(store.calls.filter((c) => c === 'refresh').length, 1, 'written 10 s ago: rewritten')
  t.ok(Number((store.inner.get(key) as string).split(' ')[1]) >= Number(writtenAt), 'with the time of the rewrite')
  await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'ttl' })
  t.equal(store.calls.filter((c) => c === 'refresh').length, 1, 'and not again right after')

  aged(10)
  store.failing.add('refresh')
  assertUnavailable(t, await call(h.app, '/mcp/reply', alice, { 'mcp-session-id': 'ttl' }), 'a failing refresh')
})

t.test('without the option nothing changes', async (t) => {
  const handled: string[] = []
  const { app } = await buildApp(t, {}, issuer, sessionRoutes(handled))
  const opened = await call(app, '/mcp/raw', alice, { 'x-new-session': 'plain' })
  t.equal(opened.headers['mcp-session-id'], 'plain')
  t.equal((await call(app, '/mcp/raw', bob, { 'mcp-session-id': 'plain' })).statusCode, 200, 'anyone may name the session')
})

t.test('the stateless 2026-07-28 revision: the option does nothing (no session ID is minted or read)', async (t) => {
  // A store that fails on every call: any use of it would show as a 503.
  const store = new ObservedStore()
  store.failing = new Set(['create', 'get', 'refresh', 'delete'])
  const request = {
    method: 'POST' as const,
    url: '/mcp/stateless',
    headers: { authorization: `Bearer ${alice}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list', 'content-type': 'application/json' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } },
  }
  const stateless = (app: FastifyInstance) => {
    app.post('/mcp/stateless', async (_request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } }))
    })
  }
  const bound = await buildApp(t, { sessionBinding: { store } }, issuer, stateless)
  const plain = await buildApp(t, {}, issuer, stateless)
  const withOption = await bound.app.inject(request)
  const without = await plain.app.inject(request)
  t.equal(withOption.statusCode, 200)
  t.equal(withOption.body, without.body)
  t.same(Object.keys(withOption.headers).sort(), Object.keys(without.headers).sort(), 'the same headers')
  t.same(store.calls, [], 'the store is never asked')
})

t.test('options: true, { store, idleTtl }, and mistakes rejected at register', async (t) => {
  const register = async (sessionBinding: unknown) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, sessionBinding } as McpAuthOptions)
    await app.ready()
  }
  for (const ok of [true, false, undefined, {}, { idleTtl: 60 }, { store: new MemorySessionStore() }]) await t.resolves(register(ok), `accepts ${JSON.stringify(ok)}`)
  const invalid = (message: RegExp) => ({ code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  await t.rejects(register('yes'), invalid(/"sessionBinding" must be true, false or \{ store, idleTtl \}/))
  await t.rejects(register([]), invalid(/"sessionBinding" must be/))
  await t.rejects(register({ idleTTL: 60 }), invalid(/"sessionBinding.idleTTL" is not a known option; did you mean "sessionBinding.idleTtl"/))
  await t.rejects(register({ idleTtl: 0 }), invalid(/"sessionBinding.idleTtl" must be an integer between 1 and 2592000/))
  await t.rejects(register({ idleTtl: 1.5 }), invalid(/idleTtl/))
  await t.rejects(register({ store: { claim: () => true } }), invalid(/"sessionBinding.store" must be a session store with create, get, refresh and delete/))
  await t.rejects(register({ store: null }), invalid(/"sessionBinding.store"/))
})

t.test('true binds with a MemorySessionStore of its own; a store passed in is never closed by the app', async (t) => {
  const issued = await buildApp(t, { sessionBinding: true }, issuer, sessionRoutes([]))
  await call(issued.app, '/mcp/reply', alice, { 'x-new-session': 'closing' })
  t.equal((await call(issued.app, '/mcp/reply', alice, { 'mcp-session-id': 'closing' })).statusCode, 200, 'true binds with a MemorySessionStore')
  t.equal((await call(issued.app, '/mcp/reply', bob, { 'mcp-session-id': 'closing' })).statusCode, 404)

  const store = new MemorySessionStore()
  const given = await buildApp(t, { sessionBinding: { store } }, issuer, sessionRoutes([]))
  await call(given.app, '/mcp/reply', alice, { 'x-new-session': 'kept' })
  await given.app.close()
  t.equal(store.size, 1, 'the user\'s store keeps its records')
})

t.test('healthRoute includes the session store\'s ping()', async (t) => {
  const store = new ObservedStore()
  const { app } = await buildApp(t, { sessionBinding: { store }, healthRoute: '/health', jwks: { keys: issuer.jwks.keys } }, issuer)
  const up = await app.inject('/health')
  t.equal(up.statusCode, 200)
  t.same(up.json().sessionStore, { reachable: true })
  store.failing.add('ping')
  const down = await app.inject('/health')
  t.equal(down.statusCode, 503)
  t.match(down.json(), { status: 'unavailable', sessionStore: { reachable: false, cause: 'failed' } })
  t.notOk(down.body.includes('secret'), 'a cause code, never the store\'s message')

  const memory = await buildApp(t, { sessionBinding: true, healthRoute: '/health' }, issuer)
  t.same((await memory.app.inject('/health')).json().sessionStore, { reachable: null }, 'a store without ping() cannot tell, and does not fail the route')
  const off = await buildApp(t, { healthRoute: '/health' }, issuer)
  t.equal((await off.app.inject('/health')).json().sessionStore, undefined, 'absent without the option')
})
