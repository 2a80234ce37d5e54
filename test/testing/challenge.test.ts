// assertChallenge: passes on mcpAuth's real challenges and fails, naming the
// property, when a response misses any part of the expectation.
import t from 'tap'
import type { McpAuthOptions } from '../../index.js'
import { assertChallenge } from '../../testing.js'
import type { HttpResponseLike } from '../../testing.js'
import { redactTokens } from '../../lib/testing/report.js'
import { RESOURCE, PRM, ALGS, firstFrame, goodApp, failsWith, response } from './fixtures.js'

t.test('assertChallenge passes on mcpAuth\'s real 401 and 403 and returns the challenges', async (t) => {
  const { app, issuer } = await goodApp(t, { resource: { resource: RESOURCE, scopesSupported: ['mcp:tools:read', 'mcp:tools:call'] } } as Partial<McpAuthOptions>)
  const none = await app.inject({ method: 'GET', url: '/mcp' })
  const challenges = assertChallenge(none, { status: 401, scheme: 'Bearer', error: null, scope: ['mcp:tools:call', 'mcp:tools:read'], resourceMetadata: PRM })
  t.same(challenges.map((c) => c.scheme), ['Bearer', 'DPoP'])
  assertChallenge(none, { scheme: 'dpop', algs: ALGS.split(' ').reverse(), error: null, scope: 'mcp:tools:read mcp:tools:call' })
  assertChallenge(none, {})

  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:read' })
  const forbidden = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` } })
  assertChallenge(forbidden, { status: 403, error: 'insufficient_scope', scope: ['mcp:tools:call'], resourceMetadata: PRM })
  assertChallenge(forbidden, { status: 403, scheme: 'DPoP', error: 'insufficient_scope', scope: 'mcp:tools:call' })
  const bad = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer nope' } })
  assertChallenge(bad, { status: 401, error: 'invalid_token' })
})

t.test('assertChallenge fails, naming the property, when each property is violated', async (t) => {
  const good = { 'cache-control': 'no-store', 'www-authenticate': `Bearer error="invalid_token", scope="a b", resource_metadata="${PRM}", DPoP algs="ES256 EdDSA", resource_metadata="${PRM}"` }
  const res = response(401, good, '{"error":"invalid_token"}')
  assertChallenge(res, { status: 401, error: 'invalid_token', scope: ['b', 'a'], resourceMetadata: PRM })
  assertChallenge(res, { scheme: 'DPoP', error: null, scope: null, algs: 'EdDSA ES256' })
  assertChallenge(response(401, { ...good, 'cache-control': 'private, No-Store' }))
  assertChallenge(response(200, { 'www-authenticate': 'Bearer' }), { status: 200 })

  const cases: Array<[string, HttpResponseLike, Parameters<typeof assertChallenge>[1], RegExp]> = [
    ['status', res, { status: 403 }, /status: expected 403, got 401/],
    ['no-store missing', response(401, { ...good, 'cache-control': undefined }), {}, /Cache-Control: expected no-store on a 401, got \(none\)/],
    ['no-store wrong', response(403, { ...good, 'cache-control': 'no-cache' }), {}, /Cache-Control: expected no-store on a 403, got no-cache/],
    ['no challenge', response(401, { 'cache-control': 'no-store' }), {}, /expected a challenge, got none/],
    ['malformed challenge', response(401, { 'cache-control': 'no-store', 'www-authenticate': 'Bearer realm="x' }), {}, /WWW-Authenticate: expected/],
    ['scheme absent', res, { scheme: 'Basic' }, /expected a Basic challenge, got only Bearer, DPoP/],
    ['error differs', res, { error: 'invalid_request' }, /Bearer challenge: expected error="invalid_request", got "invalid_token"/],
    ['error missing', res, { scheme: 'DPoP', error: 'invalid_token' }, /DPoP challenge: expected error="invalid_token", got none/],
    ['error present', res, { error: null }, /expected no error parameter, got error="invalid_token"/],
    ['scope differs', res, { scope: ['a'] }, /expected scope="a" \(any order\), got "a b"/],
    ['scope missing', res, { scheme: 'DPoP', scope: 'a' }, /expected scope="a" \(any order\), got none/],
    ['scope present', res, { scope: null }, /expected no scope parameter, got scope="a b"/],
    ['resource_metadata', res, { resourceMetadata: RESOURCE }, /expected resource_metadata="https:\/\/mcp.example.com\/mcp", got "https:\/\/mcp.example.com\/.well-known/],
    ['algs', res, { scheme: 'DPoP', algs: ['ES256'] }, /expected algs="ES256" \(any order\), got "ES256 EdDSA"/],
    ['algs missing', res, { algs: 'ES256' }, /Bearer challenge: expected algs="ES256" \(any order\), got none/],
  ]
  for (const [name, bad, expected, pattern] of cases) {
    await failsWith(t, async () => assertChallenge(bad, expected), [/^assertChallenge: /, pattern, /response: status \d+/], name)
  }
  const err = await failsWith(t, async () => assertChallenge(res, { status: 403, error: 'x', scope: 'z' }), [/status: expected 403/, /error="x"/, /scope="z"/], 'several problems at once')
  t.match(firstFrame(err), /challenge\.test\.ts:\d+/, 'the stack starts at the caller')
})

t.test('assertChallenge requires an absolute resource_metadata on a 401 (RFC 9728 §5.1, MCP), unless told not to', async (t) => {
  const challenge = (metadata: string): HttpResponseLike => response(401, { 'cache-control': 'no-store', 'www-authenticate': `Bearer realm="r"${metadata}, DPoP algs="ES256"` })
  for (const ok of [PRM, 'http://localhost:3000/.well-known/oauth-protected-resource/mcp', 'http://127.0.0.1/.well-known/oauth-protected-resource', 'http://[::1]:8080/.well-known/oauth-protected-resource']) {
    assertChallenge(challenge(`, resource_metadata="${ok}"`), { status: 401 })
  }
  const NEEDED = /Bearer challenge: expected an absolute resource_metadata URL on a 401 \(https:, or http: on loopback; RFC 9728 §5\.1, required by MCP\), got /
  for (const [label, metadata, got] of [
    ['none', '', 'none'],
    ['a relative URL', ', resource_metadata="/.well-known/oauth-protected-resource/mcp"', '"/.well-known/oauth-protected-resource/mcp"'],
    ['http off loopback', ', resource_metadata="http://mcp.example.com/.well-known/oauth-protected-resource/mcp"', '"http://mcp.example.com/'],
    ['another scheme', ', resource_metadata="ftp://mcp.example.com/x"', '"ftp:'],
  ] as const) {
    await failsWith(t, async () => assertChallenge(challenge(metadata), { status: 401 }), [NEEDED, new RegExp(`got ${got.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`)], label)
  }
  await failsWith(t, async () => assertChallenge(challenge(`, resource_metadata="${PRM}"`), { scheme: 'DPoP' }), [/DPoP challenge: expected an absolute resource_metadata/], 'the checked challenge carries it')
  assertChallenge(challenge(''), { status: 401, resourceMetadata: false })
  assertChallenge(response(403, { 'cache-control': 'no-store', 'www-authenticate': 'Bearer error="insufficient_scope"' }), { status: 403 })
  assertChallenge(response(400, { 'cache-control': 'no-store', 'www-authenticate': 'Bearer error="invalid_request"' }))
})

t.test('assertChallenge { first: true } requires the checked challenge to come first (MCP SDK v1 clients read only the first)', async (t) => {
  const dpopFirst = response(401, { 'cache-control': 'no-store', 'www-authenticate': `DPoP algs="ES256", resource_metadata="${PRM}", Bearer resource_metadata="${PRM}"` })
  assertChallenge(dpopFirst, { scheme: 'Bearer' })
  assertChallenge(dpopFirst, { scheme: 'DPoP', first: true })
  await failsWith(t, async () => assertChallenge(dpopFirst, { scheme: 'Bearer', first: true }), [
    /WWW-Authenticate: expected the Bearer challenge first \(MCP SDK v1 clients read only the first\), got DPoP, Bearer/,
  ], 'Bearer second')
  const { app } = await goodApp(t)
  assertChallenge(await app.inject({ method: 'GET', url: '/mcp' }), { status: 401, scheme: 'Bearer', first: true, error: null })
})

t.test('assertChallenge hints that DPoP is off when a DPoP challenge is expected and only others came', async (t) => {
  const { app } = await goodApp(t, { dpop: false })
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  await failsWith(t, async () => assertChallenge(res, { scheme: 'DPoP' }), [/expected a DPoP challenge, got only Bearer/, /hint: no DPoP challenge: is DPoP turned off \(dpop: false\)\?/], 'DPoP off')
})

t.test('assertChallenge: the message shows status, challenge and body, with tokens shortened', async (t) => {
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyIsImF1ZCI6Imh0dHBzOi8vbWNwIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl'
  const res = response(401, { 'www-authenticate': 'Bearer realm="r"' }, JSON.stringify({ echoed: jwt, filler: 'x'.repeat(1000) }))
  const err = await failsWith(t, async () => assertChallenge(res, { error: 'invalid_token' }), [
    /www-authenticate: Bearer realm="r"/,
    /cache-control: \(none\)/,
    /body: \{"echoed":"eyJhbGciOiJF…\[\d+ chars\]","filler":"x+… \(\d+ chars\)/,
  ], 'message')
  t.notOk(err?.message.includes(jwt), 'the token is not in the message')
  const lines = response(401, { 'cache-control': 'no-store', 'www-authenticate': [`Bearer realm="a", resource_metadata="${PRM}"`, `DPoP algs="ES256", resource_metadata="${PRM}"`] })
  t.same(assertChallenge(lines, { scheme: 'DPoP', algs: 'ES256' }).map((c) => c.scheme), ['Bearer', 'DPoP'], 'several field lines')
  await failsWith(t, async () => assertChallenge(lines, { error: 'x' }), [/www-authenticate: Bearer realm="a", resource_metadata="[^"]+", DPoP algs="ES256"/], 'several field lines, shown joined')
  t.equal(redactTokens(`a ${jwt} b`), `a ${jwt.slice(0, 12)}…[${jwt.length} chars] b`)
  t.equal(redactTokens('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), 'eyJhbGciOiJu…[36 chars]', 'an unsigned JWT')
  t.equal(redactTokens('no tokens here: mcp.example.com'), 'no tokens here: mcp.example.com')
})
