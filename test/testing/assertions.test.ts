// The assertion helpers of fastify-mcp-auth/testing: each one passes against a
// correct mcpAuth server and throws node's AssertionError, with a message
// naming the step, the response and never a whole token, against a server
// that violates exactly the property it checks.
import assert from 'node:assert'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestCa, createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  parseWwwAuthenticate,
  redactTokens,
} from '../../lib/testing/assertions.js'
import type { HttpResponseLike } from '../../lib/testing/assertions.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const RESOURCE = 'https://mcp.example.com/mcp'
const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'
const ALGS = 'ES256 ES384 PS256 RS256 EdDSA'

// ——— Servers ———

/** A correct server: GET /mcp (any token), POST /mcp (needs mcp:tools:call). */
async function goodApp (t: Test, options: Partial<McpAuthOptions> = {}, issuer?: TestIssuer): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const iss = issuer ?? await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, withKeys(iss, options))
  app.get('/mcp', async (request) => ({ sender: request.mcp?.sender }))
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, async (request) => ({ sender: request.mcp?.sender }))
  await app.ready()
  return { app, issuer: iss }
}

/** Broken: no authentication at all; echoes the credentials it was sent (and records them). */
async function acceptAllApp (t: Test): Promise<{ app: FastifyInstance, seen: string[] }> {
  const app = Fastify()
  t.teardown(() => app.close())
  const seen: string[] = []
  app.all('/mcp', async (request) => {
    for (const name of ['authorization', 'dpop']) if (typeof request.headers[name] === 'string') seen.push(request.headers[name])
    return { authorization: request.headers.authorization, dpop: request.headers.dpop }
  })
  await app.ready()
  return { app, seen }
}

/** Broken: a custom verifier that drops `cnf`, so no binding is ever enforced. */
function droppingCnf (issuer: TestIssuer): Partial<McpAuthOptions> {
  const keys = createLocalJWKSet(issuer.jwks)
  return {
    verifyToken: async (token) => {
      const { payload } = await jwtVerify(token, keys)
      delete payload.cnf
      return payload as never
    },
  }
}

/** mcpAuth options trusting the issuer (through `jwks`, unless a custom verifier replaces it). */
function withKeys (issuer: TestIssuer, options: Partial<McpAuthOptions> = {}): McpAuthOptions {
  const keys = options.verifyToken === undefined ? { jwks: issuer.jwks } : {}
  return { resource: RESOURCE, authorizationServers: [issuer.issuer], ...keys, ...options } as McpAuthOptions
}

/** Broken on purpose with a hand-written answer to every request. */
async function fixedApp (t: Test, answer: (headers: Record<string, unknown>, reply: FastifyReply) => unknown): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  app.all('/mcp', async (request, reply) => answer(request.headers, reply))
  await app.ready()
  return app
}

function invalidToken (reply: FastifyReply, challenge = `Bearer error="invalid_token", resource_metadata="${PRM}"`): unknown {
  return reply.code(401).header('cache-control', 'no-store').header('www-authenticate', challenge).send({ error: 'invalid_token' })
}

// ——— Expecting failures ———

/** The helper rejects with node's AssertionError whose message matches every pattern. */
async function failsWith (t: Test, run: () => Promise<unknown>, patterns: RegExp[], message: string): Promise<assert.AssertionError | undefined> {
  try {
    await run()
  } catch (err) {
    t.ok(err instanceof assert.AssertionError, `${message}: an assert.AssertionError`)
    const text = (err as Error).message
    for (const pattern of patterns) t.match(text, pattern, `${message}: ${pattern}`)
    return err as assert.AssertionError
  }
  t.fail(`${message}: expected an AssertionError, the helper passed`)
  return undefined
}

/** No token or proof the server saw appears whole in the message. */
function noSecrets (t: Test, err: Error | undefined, secrets: string[]): void {
  t.ok(secrets.length > 0, 'the server saw credentials')
  for (const secret of secrets) t.notOk(err?.message.includes(secret), 'the message does not contain a token or proof')
  t.notMatch(err?.message ?? '', /eyJ[\w-]{20,}\.eyJ/, 'nor anything shaped like one')
}

function response (statusCode: number, headers: HttpResponseLike['headers'], body = ''): HttpResponseLike {
  return { statusCode, headers, body }
}

// ——— parseWwwAuthenticate ———

t.test('parseWwwAuthenticate: RFC 9110 §11.6.1 challenges, params, quoted strings, token68', async (t) => {
  t.same(parseWwwAuthenticate(undefined), [])
  t.same(parseWwwAuthenticate(''), [])
  t.same(parseWwwAuthenticate('Bearer'), [{ scheme: 'Bearer', params: {} }])
  t.same(parseWwwAuthenticate(`Bearer error="invalid_token", scope="a b", resource_metadata="${PRM}", DPoP algs="ES256 EdDSA", error=use_dpop_nonce`), [
    { scheme: 'Bearer', params: { error: 'invalid_token', scope: 'a b', resource_metadata: PRM } },
    { scheme: 'DPoP', params: { algs: 'ES256 EdDSA', error: 'use_dpop_nonce' } },
  ], 'several challenges in one line, quoted and token values')
  t.same(parseWwwAuthenticate('Basic realm="a, b=\\"c\\" \\\\ d", Bearer'), [
    { scheme: 'Basic', params: { realm: 'a, b="c" \\ d' } },
    { scheme: 'Bearer', params: {} },
  ], 'commas, quotes and backslashes inside a quoted-string')
  t.same(parseWwwAuthenticate('BEARER ERROR = "x" ,Realm=y'), [{ scheme: 'BEARER', params: { error: 'x', realm: 'y' } }], 'names lowercased, BWS around "=", OWS around ","')
  t.same(parseWwwAuthenticate(' , Negotiate abc+/_-.~==, , Basic,Bearer realm="r",'), [
    { scheme: 'Negotiate', params: {}, token68: 'abc+/_-.~==' },
    { scheme: 'Basic', params: {} },
    { scheme: 'Bearer', params: { realm: 'r' } },
  ], 'token68, empty list elements, a scheme without params')
  t.same(parseWwwAuthenticate(['Bearer realm="a"', 'DPoP algs="ES256"']).map((c) => c.scheme), ['Bearer', 'DPoP'], 'several field lines')
  t.same(parseWwwAuthenticate('Bearer realm=""'), [{ scheme: 'Bearer', params: { realm: '' } }], 'an empty quoted-string')

  for (const bad of ['Bearer realm="unterminated', 'Bearer a=b c=d', 'Bearer realm="a", realm="b"', '=x', 'Bearer ,a=b', 'Negotiate abc, realm=x', 'Bearer realm="\x01"', 'Bearer\trealm="a"']) {
    t.throws(() => parseWwwAuthenticate(bad), SyntaxError, JSON.stringify(bad))
  }
  t.throws(() => parseWwwAuthenticate('Bearer a=b c=d'), /expected "," between challenges at character 12/, 'the error names the position')
})

// ——— assertChallenge ———

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
  t.match(err?.stack, /assertions\.test\.ts/, 'the stack starts at the caller')
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
  const lines = response(401, { 'cache-control': 'no-store', 'www-authenticate': ['Bearer realm="a"', 'DPoP algs="ES256"'] })
  t.same(assertChallenge(lines, { scheme: 'DPoP', algs: 'ES256' }).map((c) => c.scheme), ['Bearer', 'DPoP'], 'several field lines')
  await failsWith(t, async () => assertChallenge(lines, { error: 'x' }), [/www-authenticate: Bearer realm="a", DPoP algs="ES256"/], 'several field lines, shown joined')
  t.equal(redactTokens(`a ${jwt} b`), `a ${jwt.slice(0, 12)}…[${jwt.length} chars] b`)
  t.equal(redactTokens('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), 'eyJhbGciOiJu…[36 chars]', 'an unsigned JWT')
  t.equal(redactTokens('no tokens here: mcp.example.com'), 'no tokens here: mcp.example.com')
})

// ——— assertDpopBoundBearerRejected ———

t.test('assertDpopBoundBearerRejected passes on mcpAuth (Bearer and DPoP offered, dpop.required, nonces, POST with scopes)', async (t) => {
  const { app, issuer } = await goodApp(t)
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer })
  await assertDpopBoundBearerRejected(app, { url: '/mcp', method: 'POST', issuer, claims: { scope: 'mcp:tools:call' }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
  const required = await goodApp(t, { dpop: { required: true } })
  await assertDpopBoundBearerRejected(required.app, { url: '/mcp', issuer: required.issuer })
  const nonce = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  await assertDpopBoundBearerRejected(nonce.app, { url: '/mcp', issuer: nonce.issuer })
})

t.test('assertDpopBoundBearerRejected fails when a bound token is accepted as a Bearer token', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app, seen } = await acceptAllApp(t)
  const err = await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /^assertDpopBoundBearerRejected: a DPoP-bound token sent as a Bearer token \(no DPoP header\) must be rejected with 401 invalid_token/,
    /status: expected 401, got 200/,
    /request: GET \/mcp\n {4}authorization: Bearer eyJ[\w-]{9}…\[\d+ chars\]/,
    /response: status 200/,
  ], 'a server with no authentication')
  noSecrets(t, err, seen)

  const broken = await goodApp(t, droppingCnf(issuer), issuer)
  await failsWith(t, () => assertDpopBoundBearerRejected(broken.app, { url: '/mcp', issuer, expectAcceptedWithProof: false }), [
    /sent as a Bearer token \(no DPoP header\)/, /status: expected 401, got 200/,
  ], 'a verifier that drops cnf')
})

t.test('assertDpopBoundBearerRejected fails when a DPoP header makes a Bearer request acceptable', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = await fixedApp(t, (headers, reply) => headers.dpop === undefined ? invalidToken(reply) : { ok: true })
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /under the Bearer scheme must be rejected with 401 invalid_token even with a valid DPoP proof/,
    /status: expected 401, got 200/,
    /dpop: eyJ[\w-]{9}…\[\d+ chars\]/,
  ], 'a server trusting any DPoP header')
})

t.test('assertDpopBoundBearerRejected fails on a wrong or incomplete rejection', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const wrongError = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : invalidToken(reply, 'Bearer error="invalid_request"'))
  await failsWith(t, () => assertDpopBoundBearerRejected(wrongError, { url: '/mcp', issuer }), [/expected error="invalid_token", got "invalid_request"/], 'invalid_request instead of invalid_token')
  const cacheable = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({}))
  await failsWith(t, () => assertDpopBoundBearerRejected(cacheable, { url: '/mcp', issuer }), [/Cache-Control: expected no-store on a 401/], 'no Cache-Control: no-store')
  const malformed = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : invalidToken(reply, 'Bearer error="invalid_token'))
  await failsWith(t, () => assertDpopBoundBearerRejected(malformed, { url: '/mcp', issuer }), [/WWW-Authenticate: expected "," between challenges at character 8/, /status: expected|- WWW-Authenticate/], 'a malformed challenge')
})

t.test('assertDpopBoundBearerRejected fails when the same token with a valid proof is not accepted (unless expectAcceptedWithProof: false)', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /the DPoP-bound token with a valid proof under the DPoP scheme must be accepted/,
    /status: expected 2xx, got 401/,
    /authorization: DPoP eyJ/,
  ], 'DPoP turned off')
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
})

// ——— assertDpopProofAccepted ———

t.test('assertDpopProofAccepted passes on mcpAuth and returns the response', async (t) => {
  const { app, issuer } = await goodApp(t)
  const res = await assertDpopProofAccepted(app, { url: '/mcp', issuer })
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).sender.binding, 'dpop')
  const post = await assertDpopProofAccepted(app, { url: '/mcp?x=1', method: 'post', issuer, claims: { scope: 'mcp:tools:call' }, headers: { 'x-test': '1', 'content-type': 'application/json' }, payload: '{"jsonrpc":"2.0"}' })
  t.equal(JSON.parse(post.body).sender.binding, 'dpop', 'POST, a query string, a string payload and extra headers')
  t.equal((await assertDpopProofAccepted(app, { url: RESOURCE, issuer })).statusCode, 200, 'an absolute url is its own htu')
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer, publicUrl: RESOURCE })).statusCode, 200, 'an explicit publicUrl')
})

t.test('assertDpopProofAccepted retries once with the server\'s nonce (use_dpop_nonce)', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  const res = await assertDpopProofAccepted(app, { url: '/mcp', issuer })
  t.equal(res.statusCode, 200)

  const never = await goodApp(t, { dpop: { nonce: { issue: () => 'fresh-nonce', check: () => 'invalid' } } })
  await failsWith(t, () => assertDpopProofAccepted(never.app, { url: '/mcp', issuer: never.issuer }), [
    /status: expected 2xx, got 401/, /error="use_dpop_nonce"/, /dpop-nonce: fresh-nonce/, /hint: the server asked for a DPoP nonce again/,
  ], 'a server that refuses every nonce')
})

t.test('assertDpopProofAccepted finds the resource (aud and htu origin) from the app when not given', async (t) => {
  const issuer = await createTestIssuer()
  const { app } = await goodApp(t, {}, issuer)
  t.equal(issuer.audience, undefined)
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer })).statusCode, 200)
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: RESOURCE })).statusCode, 200)

  const { app: open } = await acceptAllApp(t)
  await failsWith(t, () => assertDpopProofAccepted(open, { url: '/mcp', issuer }), [
    /finding the resource URI/, /expected a 401 with a resource_metadata challenge parameter/, /response: status 200/, /hint: pass `resource`/,
  ], 'an app that does not answer 401')
  const noMetadata = await fixedApp(t, (_headers, reply) => invalidToken(reply, `Bearer resource_metadata="${PRM}"`))
  await failsWith(t, () => assertDpopProofAccepted(noMetadata, { url: '/mcp', issuer }), [
    /expected a 200 JSON metadata document with "resource" at https:\/\/mcp.example.com\/.well-known\/oauth-protected-resource\/mcp/, /status 404/,
  ], 'a resource_metadata nobody serves')
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: 'api://mcp' }), [/invalid_token/, /is api:\/\/mcp \(the token's aud\)/], 'an aud alias the app does not accept (htu origin discovered)')

  // A resource that is not a URL: the public URL cannot be derived.
  const urn = Fastify()
  t.teardown(() => urn.close())
  urn.get('/mcp', async (_request, reply) => invalidToken(reply, 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"'))
  urn.get('/.well-known/oauth-protected-resource', async () => ({ resource: 'urn:example:mcp' }))
  await t.rejects(assertDpopProofAccepted(urn, { url: '/mcp', issuer }), { name: 'TypeError', message: /cannot tell the public URL of \/mcp; pass publicUrl/ })
})

t.test('assertDpopProofAccepted with several resources: the request path picks the resource; an aud alias is accepted', async (t) => {
  const issuer = await createTestIssuer()
  const acme = 'https://mcp.example.com/tenants/acme/mcp'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [RESOURCE, { resource: acme, audiences: ['api://acme'] }], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.get('/mcp', async (request) => ({ resource: request.mcp?.resource }))
  app.get('/tenants/acme/mcp', async (request) => ({ resource: request.mcp?.resource }))
  await app.ready()
  for (const [url, expected] of [['/mcp', RESOURCE], ['/tenants/acme/mcp', acme]] as const) {
    const res = await assertDpopProofAccepted(app, { url, issuer })
    t.equal(JSON.parse(res.body).resource, expected, `${url}: the discovered resource`)
  }
  const alias = await assertDpopProofAccepted(app, { url: '/tenants/acme/mcp', issuer, resource: 'api://acme' })
  t.equal(JSON.parse(alias.body).resource, acme, 'aud api://acme; htu origin from discovery')
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: acme }), [/invalid_token/], 'another resource\'s aud')
})

t.test('assertDpopProofAccepted: an absolute url on another host is not the public URL (mcpAuth never trusts Host)', async (t) => {
  const { app, issuer } = await goodApp(t)
  await failsWith(t, () => assertDpopProofAccepted(app, { url: 'https://evil.example/mcp', issuer }), [/error="invalid_dpop_proof"/, /htu was https:\/\/evil.example\/mcp/], 'htu on the Host header\'s origin')
})

t.test('assertDpopProofAccepted fails when a valid proof is refused, with a hint', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer }), [
    /^assertDpopProofAccepted: a DPoP-bound token with a valid proof must be accepted/, /status: expected 2xx, got 401/, /www-authenticate: Bearer/,
  ], 'DPoP turned off')

  const good = await goodApp(t)
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', method: 'POST', issuer: good.issuer }), [
    /status: expected 2xx, got 403/, /hint: the token's scope was the issuer default; pass claims: \{ scope/,
  ], 'insufficient scope')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', method: 'POST', issuer: good.issuer, claims: { scope: 'other' } }), [/the token's scope was "other"/], 'insufficient scope, with claims')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: good.issuer, publicUrl: 'https://elsewhere.example/mcp' }), [
    /error="invalid_dpop_proof"/, /hint: the proof's htu was https:\/\/elsewhere.example\/mcp; .*pass `publicUrl`/,
  ], 'a wrong publicUrl')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: good.issuer, resource: 'https://mcp.example.com/other' }), [
    /error="invalid_token"/, /hint: does the app trust the issuer .* is https:\/\/mcp.example.com\/other \(the token's aud\) its configured resource/,
  ], 'a wrong resource')
  const untrusted = await createTestIssuer({ audience: RESOURCE })
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: untrusted }), [/invalid_token/, /authorizationServers: \[issuer.issuer\]/], 'an issuer the app does not trust')
  const teapot = await fixedApp(t, (_headers, reply) => reply.code(418).send(''))
  await failsWith(t, () => assertDpopProofAccepted(teapot, { url: '/mcp', issuer: good.issuer }), [/status: expected 2xx, got 418/, /body: \(empty\)/], 'no hint for an unknown answer')
})

// ——— assertReplayRejected ———

t.test('assertReplayRejected passes on mcpAuth (with and without nonces) and returns the replay\'s response', async (t) => {
  const { app, issuer } = await goodApp(t)
  const replay = await assertReplayRejected(app, { url: '/mcp', issuer })
  t.equal(replay.statusCode, 401)
  t.equal(JSON.parse(replay.body).error, 'invalid_dpop_proof')
  const nonce = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  await assertReplayRejected(nonce.app, { url: '/mcp', issuer: nonce.issuer })
})

t.test('assertReplayRejected fails when a replayed proof is accepted', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: { replayStore: false } })
  await failsWith(t, () => assertReplayRejected(app, { url: '/mcp', issuer }), [
    /^assertReplayRejected: the same DPoP proof sent a second time must be rejected with 401 invalid_dpop_proof/, /status: expected 401, got 200/, /dpop: eyJ/,
  ], 'replay detection off')
  const { app: open, seen } = await acceptAllApp(t)
  noSecrets(t, await failsWith(t, () => assertReplayRejected(open, { url: '/mcp', issuer }), [/status: expected 401, got 200/], 'no authentication'), seen)
})

t.test('assertReplayRejected fails when the first use is refused, or the replay gets another error', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertReplayRejected(app, { url: '/mcp', issuer }), [/the first use of the proof must be accepted/, /status: expected 2xx, got 401/], 'DPoP off')
  let calls = 0
  const wrong = await fixedApp(t, (_headers, reply) => ++calls === 1 ? { ok: true } : invalidToken(reply, 'Bearer, DPoP error="invalid_token"'))
  await failsWith(t, () => assertReplayRejected(wrong, { url: '/mcp', issuer }), [/DPoP challenge: expected error="invalid_dpop_proof", got "invalid_token"/], 'invalid_token instead of invalid_dpop_proof')
})

// ——— assertMtlsBindingEnforced ———

const ca = await createTestCa()
const serverCertificate = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })

/** An HTTPS listener asking for client certificates from `ca`, with GET /mcp behind mcpAuth (or not). */
async function httpsApp (t: Test, options: { auth?: Partial<McpAuthOptions> | false, rejectUnauthorized?: boolean, issuer?: TestIssuer } = {}): Promise<{ url: string, issuer: TestIssuer }> {
  const issuer = options.issuer ?? await createTestIssuer({ audience: RESOURCE })
  const app = Fastify({
    https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: options.rejectUnauthorized ?? false },
  }) as unknown as FastifyInstance
  t.teardown(() => app.close())
  if (options.auth !== false) {
    await app.register(mcpAuth, withKeys(issuer, options.auth))
  }
  app.all('/mcp', async (request) => ({ sender: request.mcp?.sender ?? null }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`, issuer }
}

t.test('assertMtlsBindingEnforced passes on mcpAuth over real TLS and returns the accepted response', async (t) => {
  const { url, issuer } = await httpsApp(t)
  const res = await assertMtlsBindingEnforced({ url, issuer, ca })
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).sender.binding, 'mtls')
  const post = await assertMtlsBindingEnforced({ url, issuer, ca, method: 'POST', payload: { jsonrpc: '2.0', id: 1 }, serverCa: [ca.certificatePem], headers: { 'x-test': '1' } })
  t.equal(post.statusCode, 200, 'POST with a JSON payload')
  const withString = await assertMtlsBindingEnforced({ url, issuer, ca, method: 'POST', payload: 'text', headers: { 'content-type': 'text/plain' } })
  t.equal(withString.statusCode, 200, 'POST with a string payload')

  const unnamed = await createTestIssuer()
  const discovered = await httpsApp(t, { issuer: unnamed })
  t.equal((await assertMtlsBindingEnforced({ url: discovered.url, issuer: unnamed, ca })).statusCode, 200, 'the resource found from the 401, over TLS')
})

t.test('assertMtlsBindingEnforced fails when a certificate-bound token is accepted without or with another certificate', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const broken = await httpsApp(t, { auth: droppingCnf(issuer), issuer })
  const err = await failsWith(t, () => assertMtlsBindingEnforced({ url: broken.url, issuer, ca }), [
    /^assertMtlsBindingEnforced: a certificate-bound token presented with no client certificate must be rejected with 401 invalid_token/,
    /status: expected 401, got 200/,
    /client certificate: no client certificate/,
    /authorization: Bearer eyJ[\w-]{9}…/,
  ], 'a verifier that drops cnf')
  t.notMatch(err?.message, /eyJ[\w-]{20,}\.eyJ/)

  // Checks only that some certificate is present: the third step must catch it.
  const onlyPresence = await fixedHttps(t, (request) => request.socket.getPeerCertificate?.()?.raw === undefined ? 'reject' : 'accept')
  await failsWith(t, () => assertMtlsBindingEnforced({ url: onlyPresence, issuer, ca }), [
    /presented with another client certificate from the same CA must be rejected/, /status: expected 401, got 200/,
  ], 'a server that accepts any client certificate')
})

t.test('assertMtlsBindingEnforced fails when the bound certificate is refused, with a hint', async (t) => {
  const untrusted = await createTestIssuer({ audience: RESOURCE })
  const { url } = await httpsApp(t)
  await failsWith(t, () => assertMtlsBindingEnforced({ url, issuer: untrusted, ca }), [
    /presented with the bound client certificate must be accepted/, /status: expected 2xx, got 401/, /hint: does the app trust the issuer/,
  ], 'an issuer the app does not trust')
  const open = await httpsApp(t, { auth: false })
  await failsWith(t, () => assertMtlsBindingEnforced({ url: open.url, issuer: untrusted, ca }), [/no client certificate must be rejected/, /status: expected 401, got 200/], 'no authentication')
})

t.test('assertMtlsBindingEnforced reports TLS failures and refuses a non-https url', async (t) => {
  const strict = await httpsApp(t, { rejectUnauthorized: true })
  await failsWith(t, () => assertMtlsBindingEnforced({ url: strict.url, issuer: strict.issuer, ca }), [
    /no client certificate must be rejected/, /the request failed: /, /hint: a server with rejectUnauthorized: true ends the TLS handshake/,
  ], 'a server that ends the handshake without a certificate')
  const other = await createTestCa()
  await failsWith(t, () => assertMtlsBindingEnforced({ url: strict.url, issuer: strict.issuer, ca, serverCa: other.certificatePem }), [
    /the bound client certificate must be accepted/, /the request failed: /, /hint: does the server trust the CA/,
  ], 'a server certificate the client cannot verify')
  await t.rejects(assertMtlsBindingEnforced({ url: 'http://127.0.0.1:1/mcp', issuer: strict.issuer, ca }), TypeError)
})

/** A bare HTTPS server (no plugin) deciding from the request alone. */
async function fixedHttps (t: Test, decide: (request: { socket: { getPeerCertificate?: () => { raw?: Buffer } } }) => 'accept' | 'reject'): Promise<string> {
  const app = Fastify({
    https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false },
  }) as unknown as FastifyInstance
  t.teardown(() => app.close())
  app.all('/mcp', async (request, reply) => decide({ socket: request.raw.socket as never }) === 'accept' ? { ok: true } : invalidToken(reply))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`
}

// ——— Runner independence ———

t.test('the helpers throw node:assert\'s AssertionError (code ERR_ASSERTION), which every runner reports as a failure', async (t) => {
  const { app } = await acceptAllApp(t)
  const issuer = await createTestIssuer({ audience: RESOURCE })
  for (const run of [
    () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }),
    () => assertReplayRejected(app, { url: '/mcp', issuer }),
    async () => assertChallenge(await app.inject({ method: 'GET', url: '/mcp' }), { status: 401 }),
  ]) {
    const err = await run().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof assert.AssertionError)
    t.equal((err as assert.AssertionError).code, 'ERR_ASSERTION')
    t.equal((err as assert.AssertionError).generatedMessage, false)
  }
})
