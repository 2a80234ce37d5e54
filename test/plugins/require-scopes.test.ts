// requireScopes: 403 insufficient_scope (RFC 6750 §3.1, MCP 2025-11-25 §10.1.1,
// 2026-07-28 §11.1) and scope hierarchies.
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { McpScopes, mcpOperationScopes, requireScopes, scopesSatisfy } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

async function appWith (t: Tap, options: Record<string, unknown> = {}) {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, ...options })
  return { app, issuer }
}

t.test('MCP-05: a token lacking the scope → 403 insufficient_scope naming the scope, resource_metadata, JSON body', async (t) => {
  const { app, issuer } = await buildApp(t)
  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:read' })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.headers['cache-control'], 'no-store')
  const [bearer, dpop] = parseChallenges(res.headers['www-authenticate'])
  t.equal(bearer?.scheme, 'Bearer')
  t.match(bearer?.params, { error: 'insufficient_scope', scope: 'mcp:tools:call', resource_metadata: PRM })
  t.match(dpop?.params, { error: 'insufficient_scope', scope: 'mcp:tools:call', resource_metadata: PRM }, 'DESIGN: both challenges carry error and scope')
  t.same(res.json(), { error: 'insufficient_scope', error_description: 'The access token does not grant the required scope' })
})

t.test('MCP-06: the 403 lists every scope the operation needs, not only the missing one', async (t) => {
  const { app, issuer } = await appWith(t)
  app.post('/mcp', { preHandler: requireScopes([McpScopes.toolsRead, McpScopes.toolsCall]) }, async () => 'ok')
  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:read' })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.scope, 'mcp:tools:read mcp:tools:call')
  const ok = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'mcp:tools:read mcp:tools:call' })}` } })
  t.equal(ok.statusCode, 200)
})

t.test('MCP-07: hierarchy — a granted mcp:tools satisfies mcp:tools:call; exact mode refuses it', async (t) => {
  const { app, issuer } = await buildApp(t)
  const broad = await issuer.mintAccessToken({ scope: 'mcp:tools' })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${broad}` } })).statusCode, 200)
  const { app: exact } = await buildApp(t, { scopeMatching: 'exact' }, issuer)
  t.equal((await exact.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${broad}` } })).statusCode, 403)
  const near = await issuer.mintAccessToken({ scope: 'mcp:too MCP:TOOLS:CALL mcp:tools:call:x' })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${near}` } })).statusCode, 403, 'no prefix, case or narrower match')
})

t.test('scp claims (array) are read like scope', async (t) => {
  const { app, issuer } = await buildApp(t)
  const token = await issuer.mintAccessToken({ scope: undefined, scp: ['mcp:tools:call'] })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
})

t.test("match: 'any' needs one of the scopes; the 403 still lists all of them", async (t) => {
  const { app, issuer } = await appWith(t)
  app.get('/x', { preHandler: requireScopes(['admin', 'ops'], { match: 'any' }) }, async () => 'ok')
  t.equal((await app.inject({ url: '/x', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'ops' })}` } })).statusCode, 200)
  const res = await app.inject({ url: '/x', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'other' })}` } })
  t.equal(res.statusCode, 403)
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.scope, 'admin ops')
})

t.test('function form: per-tool scopes from the JSON-RPC body (sync and async)', async (t) => {
  const { app, issuer } = await appWith(t)
  app.post('/mcp', {
    preHandler: requireScopes((request) => {
      const body = request.body as { method?: string, params?: { name?: string } }
      return body.method === 'tools/call' && body.params?.name === 'delete' ? ['files:write'] : ['files:read']
    }),
  }, async () => 'ok')
  app.post('/async', { preHandler: requireScopes(async () => ['files:write']) }, async () => 'ok')
  const reader = await issuer.mintAccessToken({ scope: 'files:read' })
  const call = (url: string, name: string) => app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${reader}` },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } },
  })
  t.equal((await call('/mcp', 'list')).statusCode, 200)
  const denied = await call('/mcp', 'delete')
  t.equal(denied.statusCode, 403)
  t.equal(parseChallenges(denied.headers['www-authenticate'])[0]?.params.scope, 'files:write')
  t.equal((await call('/async', 'x')).statusCode, 403)
  // A route with a function guard declares no static scopes: its 401 falls back to scopesSupported (none here).
  const anonymous = await app.inject({ method: 'POST', url: '/mcp', payload: {} })
  t.equal(parseChallenges(anonymous.headers['www-authenticate'])[0]?.params.scope, undefined)
})

t.test('a function returning something that is not a scope list → 500, never a pass', async (t) => {
  const { app, issuer } = await appWith(t)
  app.get('/bad', { preHandler: requireScopes(() => ['two words']) }, async () => 'ok')
  app.get('/worse', { preHandler: requireScopes(() => 'admin' as unknown as string[]) }, async () => 'ok')
  const token = await issuer.mintAccessToken()
  for (const url of ['/bad', '/worse']) {
    const res = await app.inject({ url, headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 500, url)
    // The application's developer reads what went wrong (Fastify's default 500 body).
    t.equal(res.json().message, 'the requireScopes function result must be an array of scope tokens (no spaces, quotes or backslashes)', url)
  }
})

t.test('MCP-08: an invalid token with insufficient scope → 401 invalid_token (authentication first)', async (t) => {
  const { app, issuer } = await buildApp(t)
  const expired = await issuer.mintAccessToken({ scope: 'none', exp: Math.floor(Date.now() / 1000) - 600 })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${expired}` } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_token')
})

t.test('RFC 9449 §7.2: a 403 to a DPoP request carries error and scope in both challenges, Bearer first', async (t) => {
  const { app, issuer } = await buildApp(t)
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:read' }, { bindTo: key })
  const proof = await createDpopProof(key, { method: 'POST', url: RESOURCE, accessToken: token })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `DPoP ${token}`, dpop: proof } })
  t.equal(res.statusCode, 403)
  const challenges = parseChallenges(res.headers['www-authenticate'])
  t.same(challenges.map((c) => [c.scheme, c.params.error, c.params.scope]), [
    ['Bearer', 'insufficient_scope', 'mcp:tools:call'],
    ['DPoP', 'insufficient_scope', 'mcp:tools:call'],
  ])
})

t.test('fails closed without the plugin, or on a route that opted out of authentication', async (t) => {
  const bare = Fastify()
  t.teardown(() => bare.close())
  bare.get('/x', { preHandler: requireScopes(['a']) }, async () => 'ok')
  const res = await bare.inject({ url: '/x' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_MCP_AUTH_NOT_REGISTERED')
  t.equal(res.json().message, 'requireScopes needs the fastify-mcp-auth plugin registered in this context')

  const logs: string[] = []
  const { app } = await buildApp(t, {}, undefined, (app) => {
    app.get('/open', { config: { mcpAuth: false }, preHandler: requireScopes(['a']) }, async () => 'ok')
  }, logs)
  const pub = await app.inject({ url: '/open?x=1' })
  t.equal(pub.statusCode, 500)
  t.equal(pub.json().code, 'FST_MCP_AUTH_NOT_REGISTERED')
  t.equal(pub.json().message, 'requireScopes on a route that is not authenticated')
  // The log names the route (its pattern, not the URL) so the developer finds the misconfigured guard.
  const line = logs.map((l) => JSON.parse(l) as { level: number, msg: string, method?: string, route?: string })
    .find((l) => l.msg === 'mcp-auth: requireScopes on a route that is not authenticated (config.mcpAuth: false)')
  t.match(line, { level: 50, method: 'GET', route: '/open' })
})

t.test('bad arguments throw at route definition', async (t) => {
  const notTokens = { name: 'TypeError', message: 'requireScopes scopes must be an array of scope tokens (no spaces, quotes or backslashes)' }
  t.throws(() => requireScopes(['two words']), notTokens)
  t.throws(() => requireScopes(['a', 'two words', 'b']), notTokens, 'one bad scope among good ones')
  t.throws(() => requireScopes([1 as unknown as string]), notTokens, 'a number is not a scope, though its digits would be a token')
  t.throws(() => requireScopes('admin' as unknown as string[]), notTokens)
  t.throws(() => requireScopes(['a'], { match: 'some' as 'all' }), { name: 'TypeError', message: 'requireScopes match must be "all" or "any"; got some' })
  t.throws(() => requireScopes(['a'], { challengeScopes: 'a' as unknown as string[] }), { name: 'TypeError', message: 'requireScopes challengeScopes must be an array of scope tokens (no spaces, quotes or backslashes)' })
  const scopes = ['a']
  requireScopes(scopes)
  scopes.push('b')
  t.same(scopes, ['a', 'b'], 'the caller array is copied, never mutated')
  // An array whose iterator shows other entries than its indexes: the list checked is the list kept.
  const twoFaced = ['a']
  Object.defineProperty(twoFaced, Symbol.iterator, { value: function * () { yield 'two words' } })
  t.throws(() => requireScopes(twoFaced), notTokens, 'an array whose iterator yields what its indexes hide')
})

t.test('scopesSatisfy and McpScopes', async (t) => {
  t.equal(scopesSatisfy(['mcp:tools'], ['mcp:tools:call']), true)
  t.equal(scopesSatisfy(['mcp:tools'], ['mcp:tools:call'], { mode: 'exact' }), false)
  t.equal(scopesSatisfy(['a'], ['a', 'b']), false)
  t.equal(scopesSatisfy(['a'], ['a', 'b'], { match: 'any' }), true)
  t.equal(scopesSatisfy([], []), true)
  t.equal(McpScopes.server('search', 'tools:call'), 'search:mcp:tools:call')
  t.same([McpScopes.toolsRead, McpScopes.toolsCall, McpScopes.resourcesRead, McpScopes.promptsRead],
    ['mcp:tools:read', 'mcp:tools:call', 'mcp:resources:read', 'mcp:prompts:read'])
})

t.test('mcpOperationScopes: per-tool, per-resource, per-prompt and per-method scopes with a default', async (t) => {
  const { app, issuer } = await appWith(t)
  app.post('/mcp', {
    preHandler: requireScopes(mcpOperationScopes({
      tools: { delete_file: ['files:write'] },
      resources: { 'file:///secret': ['secrets:read'] },
      prompts: { admin: ['prompts:admin'] },
      methods: { 'tools/list': ['mcp:tools:read'] },
      default: ['files:read'],
    })),
  }, async () => 'ok')
  const token = await issuer.mintAccessToken({ scope: 'files:read mcp:tools:read' })
  const send = (body: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}`, ...headers }, payload: body as object })
  const scopeOf = async (body: unknown) => {
    const res = await send(body)
    return res.statusCode === 200 ? 'ok' : parseChallenges(res.headers['www-authenticate'])[0]?.params.scope
  }
  t.equal(await scopeOf({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_file' } }), 'ok', 'default')
  t.equal(await scopeOf({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_file' } }), 'files:write')
  t.equal(await scopeOf({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'file:///secret' } }), 'secrets:read')
  t.equal(await scopeOf({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'admin' } }), 'prompts:admin')
  t.equal(await scopeOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 'ok', 'per method')
  t.equal(await scopeOf([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_file' } }]),
    'mcp:tools:read files:write', 'a batch needs every message\'s scopes')
  t.equal(await scopeOf({ hello: 'not json-rpc' }), 'ok', 'an unknown body gets the default')
})

t.test('MCP 2026-07-28 Server Validation: Mcp-Method / Mcp-Name disagreeing with the body → 400 JSON-RPC -32020', async (t) => {
  const logs: string[] = []
  const { app, issuer } = await buildApp(t, {}, undefined, (app) => {
    app.post('/ops', { preHandler: requireScopes(mcpOperationScopes({ tools: { delete_file: ['files:write'] } })) }, async () => 'ok')
  }, logs)
  const token = await issuer.mintAccessToken({ scope: 'files:write' })
  const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'delete_file' } }
  const send = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/ops', headers: { authorization: `Bearer ${token}`, ...headers }, payload: body })
  const mismatchLines = () => logs.map((l) => JSON.parse(l) as { level: number, msg: string, code?: string })
    .filter((l) => l.msg === 'mcp-auth: MCP headers disagree with the body')

  t.equal((await send({ 'mcp-method': 'tools/call', 'mcp-name': 'delete_file' })).statusCode, 200)
  t.equal((await send({ 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('delete_file').toString('base64')}?=` })).statusCode, 200, 'base64 sentinel decoded')
  t.equal((await send({})).statusCode, 200, 'older clients send no headers')

  const mismatches: Array<Record<string, string>> = [
    { 'mcp-method': 'tools/list' },
    { 'mcp-method': 'tools/call', 'mcp-name': 'read_file' },
    { 'mcp-protocol-version': '2026-07-28' },
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
  ]
  for (const headers of mismatches) {
    const res = await send(headers)
    t.equal(res.statusCode, 400, JSON.stringify(headers))
    t.equal(res.json().error.code, -32020)
    t.equal(res.json().id, 7)
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  }
  // A client's mistake, not the server's: a debug line with the error code.
  t.same(mismatchLines().map((l) => [l.level, l.code]), mismatches.map(() => [20, 'FST_MCP_AUTH_HEADER_MISMATCH']))
})

t.test('mcpOperationScopes validates its map', async (t) => {
  t.throws(() => mcpOperationScopes({ tools: { x: 'a' as unknown as string[] } }), TypeError)
})

t.test('wildcards only when enabled: * and prefix:*', async (t) => {
  const { app, issuer } = await buildApp(t)
  const star = await issuer.mintAccessToken({ scope: '*' })
  const prefix = await issuer.mintAccessToken({ scope: 'mcp:*' })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${star}` } })).statusCode, 403, 'off by default')
  const { app: on } = await buildApp(t, { scopeWildcards: true, scopeMatching: 'exact' }, issuer)
  t.equal((await on.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${star}` } })).statusCode, 200)
  t.equal((await on.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${prefix}` } })).statusCode, 200)
  t.equal(scopesSatisfy(['mcp:*'], ['mcpx:tools'], { wildcards: true }), false, 'respects the : boundary')
  t.equal(scopesSatisfy(['mc*'], ['mcp'], { wildcards: true }), false, 'only * and prefix:* are wildcards')
})

t.test('challengeScopes: what a route\'s 401 asks for (least privilege first, step up with 403s)', async (t) => {
  const { app, issuer } = await appWith(t, { resource: { resource: RESOURCE, scopesSupported: ['notes:read', 'notes:write'] } })
  app.post('/mcp', {
    preHandler: requireScopes(mcpOperationScopes({ tools: { write: ['notes:write'] }, default: ['notes:read'] }), { challengeScopes: ['notes:read'] }),
  }, async () => 'ok')
  app.post('/all', { preHandler: requireScopes(mcpOperationScopes({ default: ['notes:read'] })) }, async () => 'ok')
  const first = await app.inject({ method: 'POST', url: '/mcp', payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  t.equal(parseChallenges(first.headers['www-authenticate'])[0]?.params.scope, 'notes:read')
  const fallback = await app.inject({ method: 'POST', url: '/all', payload: {} })
  t.equal(parseChallenges(fallback.headers['www-authenticate'])[0]?.params.scope, 'notes:read notes:write', 'default: scopesSupported')
  const reader = await issuer.mintAccessToken({ scope: 'notes:read' })
  const write = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${reader}` }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'write' } } })
  t.equal(parseChallenges(write.headers['www-authenticate'])[0]?.params.scope, 'notes:write', 'the 403 names the operation\'s scopes')
  t.throws(() => requireScopes(['a'], { challengeScopes: ['bad scope'] }), TypeError)
})
