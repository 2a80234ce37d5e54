// sessionBinding with the official MCP SDK on both ends: its stateful Streamable HTTP
// server transport behind the plugin (mounted as examples/mcp-server.js mounts the
// stateless one: reply.hijack(), handleRequest on the raw objects) and its client. A
// session opened by user A is refused (404, before the transport sees the request) to
// user B, to A's subject under another client and to A's token bound to another DPoP
// key; it keeps working for A with a refreshed token and across two instances sharing
// Redis; without the option nothing changes (which is the hijack this closes).
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import mcpAuth, { MemorySessionStore, RedisSessionStore } from '../../index.js'
import type { McpAuthEvent, McpAuthOptions } from '../../index.js'
import { createDpopKey, createTestIssuer } from '../../testing.js'
import { RESOURCE } from '../helpers/app.js'
import { bearerFetch, dpopFetch, mountSessionServer, SessionTransports } from '../helpers/mcp-sessions.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP, startRedis } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const issuer = await createTestIssuer({ audience: RESOURCE })
const SESSION_NOT_FOUND = { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }

interface Server { url: string, events: McpAuthEvent[] }

async function startServer (t: Test, sessions: SessionTransports, options: Partial<McpAuthOptions> = {}): Promise<Server> {
  const events: McpAuthEvent[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [issuer.issuer],
    jwks: { keys: issuer.jwks.keys },
    onEvent: (event) => { events.push(event) },
    ...options,
  })
  mountSessionServer(app, sessions)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`, events }
}

async function connect (t: Test, url: string, fetchWith: FetchLike, sessionId?: string): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWith, sessionId })
  const client = new Client({ name: 'session-test', version: '1.0.0' })
  t.teardown(() => client.close())
  // Given a session ID, the SDK client joins that session (no initialize).
  await client.connect(transport)
  return { client, transport }
}

async function whoami (client: Client): Promise<string> {
  const result = await client.callTool({ name: 'whoami', arguments: {} }) as CallToolResult
  const first = result.content[0]
  return first?.type === 'text' ? first.text : ''
}

async function assertRefused (t: Test, call: Promise<unknown>, message: string): Promise<void> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof StreamableHTTPError, `${message}: the SDK client sees an HTTP error`)
  t.equal((err as StreamableHTTPError).code, 404, `${message}: 404, the transport's answer for an unknown session`)
}

/** A raw request naming a session, for the exact wire answer. */
async function rawCall (url: string, token: string, sessionId: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
  })
}

const alice = () => issuer.mintAccessToken({ sub: 'alice', client_id: 'notes-app' })

t.test('a session opened by A keeps working for A, with the same token and a refreshed one', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions, { sessionBinding: true })
  const a = await connect(t, server.url, bearerFetch(await alice()))
  t.equal(await whoami(a.client), 'alice')
  const sessionId = a.transport.sessionId as string
  t.match(sessionId, /^[0-9a-f-]{36}$/, 'the SDK transport issued a session ID, and it reached the client')

  const refreshed = await connect(t, server.url, bearerFetch(await alice()), sessionId)
  t.equal(await whoami(refreshed.client), 'alice', 'a new token of the same identity continues the session')
  t.equal(sessions.opened, 1)
})

t.test('refused for user B: 404 with the transport\'s body, before the transport sees the request', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions, { sessionBinding: true })
  const a = await connect(t, server.url, bearerFetch(await alice()))
  const sessionId = a.transport.sessionId as string

  const bobToken = await issuer.mintAccessToken({ sub: 'bob', client_id: 'notes-app' })
  const bob = await connect(t, server.url, bearerFetch(bobToken), sessionId)
  await assertRefused(t, bob.client.listTools(), 'B with A\'s session ID')

  const res = await rawCall(server.url, bobToken, sessionId)
  t.equal(res.status, 404)
  t.same(await res.json(), SESSION_NOT_FOUND, 'the transport\'s JSON-RPC body')
  t.equal(res.headers.get('cache-control'), 'no-store')
  t.equal(res.headers.get('mcp-session-id'), null, 'the session ID is not echoed')
  t.notOk(sessions.handledTokens.includes(bobToken), 'the transport never saw B\'s requests')

  const denied = server.events.filter((e) => e.type === 'denied')
  t.equal(denied.length, 2)
  t.match(denied[0], { type: 'denied', status: 404, code: 'FST_MCP_AUTH_SESSION_MISMATCH', reason: 'session.identity_mismatch', subject: 'bob', resource: RESOURCE })
  t.notOk(JSON.stringify(server.events).includes(sessionId), 'no event carries the session ID')

  t.equal(await whoami(a.client), 'alice', 'A\'s session is untouched')
})

t.test('refused for A\'s subject under another client', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions, { sessionBinding: true })
  const a = await connect(t, server.url, bearerFetch(await alice()))
  const otherToken = await issuer.mintAccessToken({ sub: 'alice', client_id: 'other-app' })
  const other = await connect(t, server.url, bearerFetch(otherToken), a.transport.sessionId)
  await assertRefused(t, other.client.listTools(), 'A\'s subject, another client')
  t.notOk(sessions.handledTokens.includes(otherToken), 'the transport never saw the request')
})

t.test('refused for A\'s token bound to another DPoP key', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions, { sessionBinding: true })
  const key = await createDpopKey()
  const a = await connect(t, server.url, dpopFetch(await issuer.mintAccessToken({ sub: 'alice', client_id: 'notes-app' }, { bindTo: { jkt: key.jkt } }), key, RESOURCE))
  t.equal(await whoami(a.client), 'alice')

  const sameKey = await connect(t, server.url, dpopFetch(await issuer.mintAccessToken({ sub: 'alice', client_id: 'notes-app' }, { bindTo: { jkt: key.jkt } }), key, RESOURCE), a.transport.sessionId)
  t.equal(await whoami(sameKey.client), 'alice', 'a refreshed token bound to the same key continues')

  const otherKey = await createDpopKey()
  const otherKeyToken = await issuer.mintAccessToken({ sub: 'alice', client_id: 'notes-app' }, { bindTo: { jkt: otherKey.jkt } })
  const stolen = await connect(t, server.url, dpopFetch(otherKeyToken, otherKey, RESOURCE), a.transport.sessionId)
  await assertRefused(t, stolen.client.listTools(), 'A\'s identity on another key')
  t.notOk(sessions.handledTokens.includes(otherKeyToken), 'the transport never saw the request')

  const bearer = await connect(t, server.url, bearerFetch(await alice()), a.transport.sessionId)
  await assertRefused(t, bearer.client.listTools(), 'A\'s identity as an unbound bearer token')
})

t.test('DELETE: refused for another identity; by its owner the session and its record end', async (t) => {
  const sessions = new SessionTransports()
  const store = new MemorySessionStore()
  const server = await startServer(t, sessions, { sessionBinding: { store } })
  const a = await connect(t, server.url, bearerFetch(await alice()))
  const sessionId = a.transport.sessionId as string
  t.equal(store.size, 1)

  const bob = await connect(t, server.url, bearerFetch(await issuer.mintAccessToken({ sub: 'bob', client_id: 'notes-app' })), sessionId)
  const err = await bob.transport.terminateSession().then(() => undefined, (e: unknown) => e)
  t.equal((err as StreamableHTTPError | undefined)?.code, 404, 'B cannot end A\'s session')
  t.ok(sessions.transports.has(sessionId), 'the session lives on')
  t.equal(store.size, 1, 'and so does its record')

  await a.transport.terminateSession()
  t.notOk(sessions.transports.has(sessionId), 'the transport ended the session')
  t.equal(store.size, 0, 'the record went with it')
  const res = await rawCall(server.url, await alice(), sessionId)
  t.equal(res.status, 404, 'the ended session answers 404')
})

t.test('a token with neither sub nor client ID cannot open a session: 401 before the transport opens one', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions, { sessionBinding: true })
  const anonymous = await issuer.mintAccessToken({ sub: undefined, client_id: undefined })
  const transport = new StreamableHTTPClientTransport(new URL(server.url), { fetch: bearerFetch(anonymous) })
  const client = new Client({ name: 'session-test', version: '1.0.0' })
  t.teardown(() => client.close())
  const err = await client.connect(transport).then(() => undefined, (e: unknown) => e)
  t.ok(err !== undefined, 'initialize fails')
  t.equal(sessions.opened, 0, 'the transport opened no session')
  t.equal(sessions.handledTokens.length, 0, 'the transport never saw the request')
  t.match(server.events.find((e) => e.type === 'denied'), { status: 401, reason: 'session.unbindable_identity', oauthError: 'invalid_token' })
})

t.test('without the option nothing changes: B can use A\'s session (the hijack sessionBinding closes)', async (t) => {
  const sessions = new SessionTransports()
  const server = await startServer(t, sessions)
  const a = await connect(t, server.url, bearerFetch(await alice()))
  const bob = await connect(t, server.url, bearerFetch(await issuer.mintAccessToken({ sub: 'bob', client_id: 'notes-app' })), a.transport.sessionId)
  t.equal(await whoami(bob.client), 'bob', 'B\'s requests reach A\'s session')
  t.equal(server.events.filter((e) => e.type === 'denied').length, 0)
})

for (const kind of ['ioredis', 'node-redis'] as const) {
  t.test(`two instances sharing Redis (${kind}): A continues on the other instance, B is refused there`, { skip: REDIS_SKIP }, async (t) => {
    const redis = await startRedis(t)
    const connectClient = kind === 'ioredis' ? connectIoredis : connectNodeRedis
    const sessions = new SessionTransports()
    const one = await startServer(t, sessions, { sessionBinding: { store: new RedisSessionStore({ client: await connectClient(t, redis) }) } })
    const two = await startServer(t, sessions, { sessionBinding: { store: new RedisSessionStore({ client: await connectClient(t, redis) }) } })

    // A load balancer without stickiness: A opens the session on one, then every request goes to two.
    let target = one.url
    const key = await createDpopKey()
    const token = await issuer.mintAccessToken({ sub: 'alice', client_id: 'notes-app' }, { bindTo: { jkt: key.jkt } })
    const a = await connect(t, one.url, dpopFetch(token, key, RESOURCE, () => target))
    target = two.url
    t.equal(await whoami(a.client), 'alice', 'the binding recorded by one is checked by two')
    t.equal(await whoami(a.client), 'alice')

    const bobToken = await issuer.mintAccessToken({ sub: 'bob', client_id: 'notes-app' })
    const bob = await connect(t, two.url, bearerFetch(bobToken), a.transport.sessionId)
    await assertRefused(t, bob.client.listTools(), 'B on the other instance')
    t.notOk(sessions.handledTokens.includes(bobToken), 'no transport saw B\'s request')
    t.match(two.events.find((e) => e.type === 'denied'), { status: 404, reason: 'session.identity_mismatch' })

    const inspector = await connectIoredis(t, redis)
    t.equal(await inspector.dbsize(), 1, 'one record in Redis')
    await a.transport.terminateSession()
    t.equal(await inspector.dbsize(), 0, 'ended on two, the record is gone for every instance')
  })
}
