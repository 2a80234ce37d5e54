// Issue 15 item 6: a user callback's failure never leaks. A principal that
// throws anything but an McpAuthError is answered by the hook itself (500,
// server_error, through errorRenderer, logged with reason principal.failed);
// the other callbacks keep their mappings, and none of their messages reaches
// the client.
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth, { mcpContext, McpAuthError } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const SECRET = 'db down: postgres://app:hunter2@db.internal/accounts'

interface Harness { app: FastifyInstance, issuer: TestIssuer, logs: Array<Record<string, unknown>>, ran: () => number }

async function harness (t: Test, options: Partial<McpAuthOptions>): Promise<Harness> {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const logs: Array<Record<string, unknown>> = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, ...options } as McpAuthOptions)
  let ran = 0
  app.get('/mcp', async () => { ran++; return 'handler' })
  await app.ready()
  return { app, issuer, logs, ran: () => ran }
}

function assertNoLeak (t: Test, res: LightMyRequestResponse, secret: string): void {
  t.notOk(res.body.includes(secret), 'the callback\'s message is not in the body')
  t.notOk(res.body.includes('hunter2'), 'nor any part of it')
  t.notOk(JSON.stringify(res.headers).includes('hunter2'), 'nor in a header')
}

t.test('a principal that throws a plain Error → 500 server_error "Internal error", logged with reason principal.failed', async (t) => {
  for (const kind of ['throw', 'reject'] as const) {
    const h = await harness(t, {
      principal: kind === 'throw' ? () => { throw new Error(SECRET) } : async () => { throw new TypeError(SECRET) },
    })
    const res = await h.app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await h.issuer.mintAccessToken()}` } })
    t.equal(res.statusCode, 500, kind)
    t.same(res.json(), { error: 'server_error', error_description: 'Internal error' }, `${kind}: the fixed body`)
    t.equal(res.headers['cache-control'], 'no-store')
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.headers['www-authenticate'], undefined, 'no challenge: the credentials were fine')
    t.equal(res.headers['retry-after'], undefined)
    assertNoLeak(t, res, SECRET)
    t.equal(h.ran(), 0, 'the handler never ran')
    const logged = h.logs.find((l) => l.reason === 'principal.failed')
    t.equal(logged?.level, 50, `${kind}: an error log line`)
    t.match(JSON.stringify(logged?.err), /db down/, 'the log carries the error for the operator')
    t.notOk(h.logs.some((l) => l.msg === 'Internal Server Error' || (typeof l.err === 'object' && l.err !== null && (l.err as { statusCode?: number }).statusCode === 500 && l.reason !== 'principal.failed')), 'not thrown into Fastify\'s error handler')
  }
})

t.test('a principal failure goes through errorRenderer like every rejection', async (t) => {
  const rendered: McpAuthError[] = []
  const h = await harness(t, {
    principal: () => { throw new Error(SECRET) },
    errorRenderer: (error) => { rendered.push(error); return { problem: error.oauthError, detail: error.description, status: error.statusCode } },
  })
  const res = await h.app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await h.issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { problem: 'server_error', detail: 'Internal error', status: 500 })
  t.equal(rendered[0]?.code, 'FST_MCP_AUTH_INTERNAL')
  t.equal(rendered[0]?.reason, 'principal.failed')
  t.notOk(String(rendered[0]?.description).includes('db down'))
  assertNoLeak(t, res, SECRET)
})

t.test('a setErrorHandler never sees a principal failure', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  let seen = 0
  app.setErrorHandler(async (error, _request, reply) => { seen++; return reply.code(500).send({ message: (error as Error).message }) })
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, principal: () => { throw new Error(SECRET) } })
  app.get('/mcp', async () => 'handler')
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })
  t.equal(res.statusCode, 500)
  t.equal(seen, 0)
  assertNoLeak(t, res, SECRET)
})

t.test('the other callbacks keep their mappings, and none of their messages reaches the client', async (t) => {
  const renderer = await harness(t, { errorRenderer: () => { throw new Error(SECRET) } })
  const rendered = await renderer.app.inject({ url: '/mcp' })
  t.equal(rendered.statusCode, 401, 'errorRenderer throw → the default body')
  t.same(rendered.json(), { error: 'unauthorized', error_description: 'An access token is required' })
  assertNoLeak(t, rendered, SECRET)

  const verifier = await harness(t, { jwks: undefined, verifyToken: async () => { throw new Error(SECRET) } } as Partial<McpAuthOptions>)
  const verified = await verifier.app.inject({ url: '/mcp', headers: { authorization: 'Bearer opaque-token-value' } })
  t.equal(verified.statusCode, 401, 'verifyToken throw → 401')
  t.equal(verified.json().error, 'invalid_token')
  t.equal(verified.json().error_description, 'The access token was rejected')
  t.notMatch(String(verified.headers['www-authenticate']), /db down|hunter2/)
  assertNoLeak(t, verified, SECRET)

  const nonce = await harness(t, { dpop: { nonce: { issue: () => { throw new Error(SECRET) }, check: () => 'invalid' } } })
  const key = await createDpopKey()
  const token = await nonce.issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  const unavailable = await nonce.app.inject({ url: '/mcp', headers: { authorization: `DPoP ${token}`, dpop: proof } })
  t.equal(unavailable.statusCode, 503, 'nonce provider throw → 503')
  t.equal(unavailable.json().error, 'temporarily_unavailable')
  assertNoLeak(t, unavailable, SECRET)
  t.equal(renderer.ran() + verifier.ran() + nonce.ran(), 0)
})

// A developer error (an McpAuthError outside the wire table) thrown inside a
// callback is a failure like any other, never the client's answer.
t.test('a developer error thrown by a callback takes the callback\'s failure path, not the answer of a rejection', async (t) => {
  const developerError = () => new McpAuthError('FST_MCP_AUTH_NOT_REGISTERED', 'plugin.not_registered', { message: `mcpContext() outside mcpAuth (${SECRET})` })

  // principal calling mcpContext(request): request.mcp is not set while principal runs.
  const principal = await harness(t, { principal: (_claims, _sender, request) => mcpContext(request) })
  const asPrincipal = await principal.app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await principal.issuer.mintAccessToken({})}` } })
  t.equal(asPrincipal.statusCode, 500)
  t.same(asPrincipal.json(), { error: 'server_error', error_description: 'Internal error' })
  t.ok(principal.logs.some((l) => l.level === 50 && l.reason === 'principal.failed' && l.msg === 'mcp-auth: principal threw'), 'logged as a principal failure')

  const verifier = await harness(t, { jwks: undefined, verifyToken: async () => { throw developerError() } } as Partial<McpAuthOptions>)
  const verified = await verifier.app.inject({ url: '/mcp', headers: { authorization: 'Bearer opaque-token-value' } })
  t.equal(verified.statusCode, 401, 'verifyToken: 401 token.rejected')
  t.equal(verified.json().error, 'invalid_token')
  t.ok(verifier.logs.some((l) => l.reason === 'token.rejected'))
  assertNoLeak(t, verified, SECRET)

  const keys = await harness(t, { jwks: async () => { throw developerError() } })
  const keyed = await keys.app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await keys.issuer.mintAccessToken({})}` } })
  t.equal(keyed.statusCode, 503, 'a key function: 503 like an unreachable key set')
  t.equal(keyed.json().error, 'temporarily_unavailable')
  assertNoLeak(t, keyed, SECRET)

  const certificate = await harness(t, { mtls: { certificate: () => { throw developerError() } } })
  const bound = await certificate.issuer.mintAccessToken({}, { bindTo: { x5t: 'A'.repeat(43) } })
  const unbound = await certificate.app.inject({ url: '/mcp', headers: { authorization: `Bearer ${bound}` } })
  t.equal(unbound.statusCode, 401, 'mtls.certificate: 401 binding.certificate_missing')
  t.ok(certificate.logs.some((l) => l.reason === 'binding.certificate_missing'))
  assertNoLeak(t, unbound, SECRET)
  t.equal(principal.ran() + verifier.ran() + keys.ran() + certificate.ran(), 0)
})
