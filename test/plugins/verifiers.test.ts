// The alternatives to JWT verification: a custom `verifyToken` and RFC 7662
// token introspection against a real loopback authorization server. Both go
// through the same per-request checks as JWTs (audience, issuer per resource,
// sender binding, scopes), and an outage is always 503, never 401 or 200.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth, { McpAuthError, requireScopes } from '../../index.js'
import type { McpAuthContext, McpAuthInfo, McpAuthOptions, VerifyTokenContext } from '../../index.js'
import { createDpopKey, createDpopProof, startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer } from '../../testing.js'
import { parseChallenges, RESOURCE } from '../helpers/app.js'
import { assertRejected } from '../helpers/rejections.js'
import type { Expected } from '../helpers/rejections.js'

const ISS = 'https://auth.example.com'
const R2 = 'https://mcp.example.com/tenants/acme/mcp'
const PRM_R2 = 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp'
const CLIENT = { clientId: 'rs:client', clientSecret: 'rs secret+Zq8#w!v%/é' }

interface Seen { readonly path: string, readonly mcp: McpAuthContext | null, readonly auth: McpAuthInfo | undefined }
interface LogLine { readonly level: number, readonly msg: string, readonly reason?: string, readonly [field: string]: unknown }

interface Harness {
  readonly app: FastifyInstance
  readonly raw: string[]
  readonly seen: Seen[]
  logs (): LogLine[]
  lastReason (): string | undefined
  get (path: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>
  post (path: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** GET /mcp, GET /tenants/acme/mcp and POST /mcp (needs mcp:tools:call); logs captured at debug level. */
async function setup (t: Test, options: Partial<McpAuthOptions>): Promise<Harness> {
  const raw: string[] = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => { raw.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [ISS], ...options } as McpAuthOptions)
  const seen: Seen[] = []
  const capture = async (request: FastifyRequest) => {
    seen.push({ path: request.url, mcp: request.mcp, auth: (request.raw as { auth?: McpAuthInfo }).auth })
    return { ok: true }
  }
  app.get('/mcp', capture)
  app.get('/tenants/acme/mcp', capture)
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, capture)
  await app.ready()
  const logs = (): LogLine[] => raw.map((line) => JSON.parse(line) as LogLine)
  return {
    app,
    raw,
    seen,
    logs,
    lastReason: () => logs().filter((l) => l.msg === 'mcp-auth: request rejected').at(-1)?.reason,
    get: (path, headers = {}) => app.inject({ method: 'GET', url: path, headers }),
    post: (path, headers = {}) => app.inject({ method: 'POST', url: path, headers }),
  }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const opaque = (): string => randomBytes(24).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

const unavailable = (reason: string): Expected => ({ status: 503, error: 'temporarily_unavailable', reason })

// ——— verifyToken ———

t.test('verifyToken: returned claims authenticate an opaque token', async (t) => {
  const contexts: Array<{ token: string, resource: string, url: string }> = []
  const exp = now() + 300
  const h = await setup(t, {
    verifyToken: async (token: string, context: VerifyTokenContext) => {
      contexts.push({ token, resource: context.resource, url: context.request.url })
      return { sub: 'alice', client_id: 'cli', aud: RESOURCE, scope: 'mcp:tools:read mcp:tools:call', exp }
    },
  })
  const token = opaque()
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.same(contexts, [{ token, resource: RESOURCE, url: '/mcp' }], 'the verifier gets the raw token, the resource and the request')
  const mcp = h.seen[0]?.mcp as McpAuthContext
  t.equal(mcp.token, token)
  t.equal(mcp.subject, 'alice')
  t.equal(mcp.clientId, 'cli')
  t.same(mcp.scopes, ['mcp:tools:read', 'mcp:tools:call'])
  t.equal(mcp.expiresAt, exp)
  t.equal(mcp.issuer, ISS, 'no iss in the claims: the resource\'s first authorization server')
  t.equal(mcp.resource, RESOURCE)
  t.same(mcp.sender, { binding: 'bearer' })
  t.equal(h.seen[0]?.auth?.token, token)
  t.equal((await h.post('/mcp', bearer(token))).statusCode, 200, 'scope drives requireScopes')
})

t.test('verifyToken: a throw → 401 invalid_token; a non-object result → 401', async (t) => {
  const answers = new Map<string, () => unknown>([
    ['throws', () => { throw new Error('unknown token "x" — ✗') }],
    ['rejects', () => Promise.reject(new TypeError('nope'))],
    ['null', () => null],
    ['undefined', () => undefined],
    ['string', () => 'claims'],
    ['array', () => [{ aud: RESOURCE }]],
    ['number', () => 1],
  ])
  const h = await setup(t, { verifyToken: (token: string) => (answers.get(token) as () => never)() })
  for (const token of answers.keys()) {
    t.comment(token)
    const res = await h.get('/mcp', bearer(token))
    assertRejected(t, h, res, { reason: 'token.rejected' })
    t.equal(res.json().error_description, 'The access token was rejected', 'the verifier\'s message is not sent to the client')
  }
  t.equal(h.seen.length, 0)
})

t.test('verifyToken: an McpAuthError FST_MCP_AUTH_UNAVAILABLE → 503 + Retry-After, no WWW-Authenticate', async (t) => {
  const h = await setup(t, {
    verifyToken: async (token: string) => {
      if (token === 'down') throw new McpAuthError('FST_MCP_AUTH_UNAVAILABLE', 'verifier.unavailable', { cause: new Error('db down') })
      throw new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'token.revoked', { description: 'Token "revoked" ✗' })
    },
  })
  const res = await h.get('/mcp', bearer('down'))
  assertRejected(t, h, res, unavailable('verifier.unavailable'))
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'The token could not be verified, retry later' })
  const revoked = await h.get('/mcp', bearer('revoked'))
  assertRejected(t, h, revoked, { reason: 'token.revoked' })
  t.equal(revoked.json().error_description, 'Token "revoked" ✗')
  t.equal(parseChallenges(revoked.headers['www-authenticate'])[0]?.params.error_description, 'Token \'revoked\' ?')
})

t.test('verifyToken: returned claims still need an aud matching the selected resource', async (t) => {
  const claims = new Map<string, Record<string, unknown>>([
    ['absent', { sub: 'a' }],
    ['empty', { sub: 'a', aud: '' }],
    ['other', { sub: 'a', aud: 'https://api.other.example' }],
    ['r2', { sub: 'a', aud: R2 }],
    ['slash', { sub: 'a', aud: RESOURCE + '/' }],
    ['admin', { sub: 'a', aud: 'https://mcp.example.com/mcp-admin' }],
  ])
  const h = await setup(t, { resource: [RESOURCE, R2], verifyToken: (token: string) => claims.get(token) ?? { aud: [RESOURCE, 'x'] } })
  for (const token of claims.keys()) {
    t.comment(token)
    assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'token.audience' })
  }
  t.equal((await h.get('/mcp', bearer('array'))).statusCode, 200)
  t.equal((await h.get('/tenants/acme/mcp', bearer('r2'))).statusCode, 200, 'R2 audience on the R2 route')
  assertRejected(t, h, await h.get('/tenants/acme/mcp', bearer('array')), { reason: 'token.audience', prm: PRM_R2 })
})

t.test('verifyToken: exp is checked when present; nbf and iat too', async (t) => {
  const claims = new Map<string, Record<string, unknown>>([
    ['expired', { aud: RESOURCE, exp: now() - 60 }],
    ['string-exp', { aud: RESOURCE, exp: String(now() + 60) }],
    ['nbf', { aud: RESOURCE, nbf: now() + 60 }],
    ['iat', { aud: RESOURCE, iat: now() + 60 }],
    ['no-exp', { aud: RESOURCE }],
    ['in-tolerance', { aud: RESOURCE, exp: now() - 2 }],
  ])
  const h = await setup(t, { verifyToken: (token: string) => claims.get(token) as Record<string, unknown> })
  assertRejected(t, h, await h.get('/mcp', bearer('expired')), { reason: 'token.expired' })
  assertRejected(t, h, await h.get('/mcp', bearer('string-exp')), { reason: 'token.exp_missing' })
  assertRejected(t, h, await h.get('/mcp', bearer('nbf')), { reason: 'token.nbf' })
  assertRejected(t, h, await h.get('/mcp', bearer('iat')), { reason: 'token.iat' })
  t.equal((await h.get('/mcp', bearer('no-exp'))).statusCode, 200, 'exp is optional for a custom verifier')
  t.equal(h.seen[0]?.mcp?.expiresAt, undefined)
  t.equal(h.seen[0]?.auth?.expiresAt, undefined)
  t.equal((await h.get('/mcp', bearer('in-tolerance'))).statusCode, 200)
})

t.test('verifyToken: an iss in the returned claims must be trusted (for the selected resource)', async (t) => {
  const other = 'https://login.example.org/tenant1'
  const claims = new Map<string, Record<string, unknown>>([
    ['untrusted', { aud: [RESOURCE, R2], iss: 'https://evil.example' }],
    ['slash', { aud: [RESOURCE, R2], iss: ISS + '/' }],
    ['number', { aud: [RESOURCE, R2], iss: 7 }],
    ['iss1', { aud: [RESOURCE, R2], iss: ISS }],
    ['iss2', { aud: [RESOURCE, R2], iss: other }],
  ])
  const h = await setup(t, {
    resource: [RESOURCE, { resource: R2, authorizationServers: [other] }],
    verifyToken: (token: string) => claims.get(token) as Record<string, unknown>,
  })
  for (const token of ['untrusted', 'slash', 'number']) assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'token.issuer' })
  t.equal((await h.get('/mcp', bearer('iss1'))).statusCode, 200)
  t.equal(h.seen[0]?.mcp?.issuer, ISS)
  assertRejected(t, h, await h.get('/mcp', bearer('iss2')), { reason: 'token.issuer' })
  assertRejected(t, h, await h.get('/tenants/acme/mcp', bearer('iss1')), { reason: 'token.issuer', prm: PRM_R2 })
  t.equal((await h.get('/tenants/acme/mcp', bearer('iss2'))).statusCode, 200)
  t.equal(h.seen[1]?.mcp?.issuer, other)
})

t.test('verifyToken: called on every request (the verifier decides about caching)', async (t) => {
  let calls = 0
  const h = await setup(t, { verifyToken: () => { calls++; return { aud: RESOURCE, exp: now() + 60 } } })
  await h.get('/mcp', bearer('tok'))
  await h.get('/mcp', bearer('tok'))
  t.equal(calls, 2)
})

t.test('verifyToken: request.mcp.claims is a frozen copy the verifier cannot change afterwards', async (t) => {
  const shared = { aud: RESOURCE, sub: 'alice', nested: { roles: ['a'] } }
  const h = await setup(t, {
    verifyToken: (token: string) => (token === 'fn' ? { aud: RESOURCE, hook: () => 1 } : shared) as never,
  })
  t.equal((await h.get('/mcp', bearer('tok'))).statusCode, 200)
  shared.sub = 'mallory'
  shared.nested.roles.push('admin')
  const claims = h.seen[0]?.mcp?.claims as Record<string, unknown>
  t.equal(claims.sub, 'alice')
  t.same(claims.nested, { roles: ['a'] })
  t.ok(Object.isFrozen(claims.nested))
  t.notOk(Object.isFrozen(shared), 'the verifier\'s own object is not frozen')
  assertRejected(t, h, await h.get('/mcp', bearer('fn')), { reason: 'token.claims' })
})

t.test('RFC 9449 §7.2: verifyToken claims with cnf.jkt need a DPoP proof', async (t) => {
  const key = await createDpopKey()
  const h = await setup(t, { verifyToken: () => ({ aud: RESOURCE, cnf: { jkt: key.jkt } }) })
  const token = opaque()
  assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'binding.dpop_required' })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  t.equal((await h.get('/mcp', { authorization: `DPoP ${token}`, dpop: proof })).statusCode, 200)
  t.same(h.seen[0]?.mcp?.sender, { binding: 'dpop', jkt: key.jkt })
})

t.test('verifyToken with jwks or introspection fails at registration', async (t) => {
  for (const extra of [{ jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } }, { introspection: { endpoint: 'https://as.example/i', ...CLIENT } }]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [ISS], verifyToken: () => ({}), ...extra } as McpAuthOptions)
    }, { code: 'FST_MCP_AUTH_INVALID_OPTION' })
  }
})

// ——— introspection (RFC 7662) ———

async function startAs (t: Test, options: { client?: false } = {}): Promise<ServedTestIssuer> {
  const as = await startTestIssuer(options.client === false ? {} : { introspectionClient: CLIENT })
  t.teardown(() => as.close())
  return as
}

function introspectionOptions (as: ServedTestIssuer, extra: Record<string, unknown> = {}): Partial<McpAuthOptions> {
  return {
    authorizationServers: [as.issuer],
    introspection: { endpoint: `${as.url}/introspect`, ...CLIENT, ...extra } as McpAuthOptions['introspection'],
  }
}

const introspectCalls = (as: ServedTestIssuer): number => as.requests.filter((r) => r.method === 'POST' && r.path === '/introspect').length

interface CapturedRequest { method: string, url: string, headers: IncomingHttpHeaders, body: string }

/** A loopback endpoint that records every request in full and answers what `answer` says. */
async function startCapture (t: Test, answer: () => { status: number, body: string, type?: string }): Promise<{ url: string, requests: CapturedRequest[] }> {
  const requests: CapturedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      const { status, body, type } = answer()
      res.writeHead(status, { 'content-type': type ?? 'application/json' })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`, requests }
}

t.test('RFC 7662 §2.1: POST, form body token=…, client_secret_basic, Accept: application/json', async (t) => {
  const endpoint = await startCapture(t, () => ({ status: 200, body: JSON.stringify({ active: true, aud: RESOURCE, exp: now() + 60 }) }))
  const h = await setup(t, { introspection: { endpoint: endpoint.url, ...CLIENT } })
  const token = opaque() + '+/=='
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(endpoint.requests.length, 1)
  const request = endpoint.requests[0] as CapturedRequest
  t.equal(request.method, 'POST')
  t.equal(request.url, '/introspect')
  t.match(request.headers['content-type'], /^application\/x-www-form-urlencoded/)
  t.match(request.headers.accept, /application\/json/)
  // RFC 6749 §2.3.1: id and secret form-urlencoded, joined by ":", base64 — decode the way an AS does.
  const [scheme, credentials] = String(request.headers.authorization).split(' ')
  t.equal(scheme, 'Basic')
  const decoded = Buffer.from(credentials ?? '', 'base64').toString('utf8')
  t.equal(decoded.split(':').length, 2, 'the ":" inside the client id is encoded')
  const [id, secret] = decoded.split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')))
  t.equal(id, CLIENT.clientId)
  t.equal(secret, CLIENT.clientSecret)
  const form = new URLSearchParams(request.body)
  t.equal(form.get('token'), token, 'the raw token, form-encoded')
  t.ok(['access_token', null].includes(form.get('token_type_hint')))
  t.same([...form.keys()].filter((k) => k !== 'token_type_hint'), ['token'])
})

t.test('RFC 7662 §2.1: the request reaches the real test AS (requests log) and an active answer authenticates', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const token = opaque()
  const exp = now() + 120
  as.introspection.set(token, { active: true, aud: RESOURCE, iss: as.issuer, sub: 'alice', client_id: 'cli', username: 'alice@example', scope: 'mcp:tools:read', exp })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.same(as.requests, [{ method: 'POST', path: '/introspect' }])
  const mcp = h.seen[0]?.mcp as McpAuthContext
  t.equal(mcp.subject, 'alice')
  t.equal(mcp.clientId, 'cli')
  t.equal(mcp.issuer, as.issuer)
  t.equal(mcp.expiresAt, exp)
  t.same(mcp.scopes, ['mcp:tools:read'])
  t.equal(mcp.claims.username, 'alice@example')
  t.equal(mcp.claims.active, undefined, '`active` is not a claim')
})

t.test('RFC 7662 §2.3 (XC-06): wrong client credentials → the AS answers 401 → 503, never 401', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as, { clientSecret: 'wrong-secret' }))
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE })
  assertRejected(t, h, await h.get('/mcp', bearer(token)), unavailable('introspection.failed'))
  t.equal(introspectCalls(as), 1)
  t.ok(h.logs().some((l) => l.level === 50 && l.msg === 'mcp-auth: token introspection failed'), 'the outage is logged as an error')
})

t.test('RFC 7662 §2.2: active false, missing, null, "true" or 1 → 401 invalid_token', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const answers: Array<Record<string, unknown>> = [
    { active: false, aud: RESOURCE },
    { aud: RESOURCE, sub: 'a' },
    { active: null, aud: RESOURCE },
    { active: 'true', aud: RESOURCE },
    { active: 1, aud: RESOURCE },
    { active: [true], aud: RESOURCE },
  ]
  for (const answer of answers) {
    const token = opaque()
    as.introspection.set(token, answer)
    t.comment(JSON.stringify(answer.active))
    assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'token.inactive' })
  }
  assertRejected(t, h, await h.get('/mcp', bearer(opaque())), { reason: 'token.inactive' }) // unknown → {active:false}
  t.equal(h.seen.length, 0)
})

t.test('RFC 7662 §2.2 (INTRO-03): active true with a wrong or absent aud, an untrusted iss, or expired → 401', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const cases: Array<[string, Record<string, unknown>]> = [
    ['token.audience', { active: true }],
    ['token.audience', { active: true, aud: R2 }],
    ['token.audience', { active: true, aud: [] }],
    ['token.audience', { active: true, aud: RESOURCE + '#f' }],
    ['token.issuer', { active: true, aud: RESOURCE, iss: 'https://evil.example' }],
    ['token.issuer', { active: true, aud: RESOURCE, iss: as.issuer + '/' }],
    ['token.expired', { active: true, aud: RESOURCE, exp: now() - 60 }],
    ['token.exp_missing', { active: true, aud: RESOURCE, exp: 'soon' }],
    ['token.nbf', { active: true, aud: RESOURCE, nbf: now() + 60 }],
    ['token.claims', { active: true, aud: RESOURCE, scope: ['mcp:tools:read'] }],
    ['binding.cnf', { active: true, aud: RESOURCE, cnf: { 'x5t#S256': 5 } }],
  ]
  for (const [reason, answer] of cases) {
    const token = opaque()
    as.introspection.set(token, answer)
    t.comment(JSON.stringify(answer))
    assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason })
  }
  const good = opaque()
  as.introspection.set(good, { active: true, aud: [RESOURCE, R2] })
  t.equal((await h.get('/mcp', bearer(good))).statusCode, 200, 'the mutants\' control')
})

t.test('RFC 7662 §2.2 (INTRO-08): the scope string drives requireScopes', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const read = opaque()
  const call = opaque()
  const parent = opaque()
  as.introspection.set(read, { active: true, aud: RESOURCE, scope: 'mcp:tools:read' })
  as.introspection.set(call, { active: true, aud: RESOURCE, scope: 'mcp:tools:read mcp:tools:call' })
  as.introspection.set(parent, { active: true, aud: RESOURCE, scope: 'mcp:tools' })
  assertRejected(t, h, await h.post('/mcp', bearer(read)), { status: 403, error: 'insufficient_scope', reason: 'scope.missing', scope: 'mcp:tools:call' })
  t.equal((await h.post('/mcp', bearer(call))).statusCode, 200)
  t.equal((await h.post('/mcp', bearer(parent))).statusCode, 200, 'MCP 2026-07-28 §11.1.2: scope hierarchy')
})

t.test('RFC 7662 §4 (INTRO-06): a repeated token is answered from the cache (one AS call)', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE, exp: now() + 300 })
  for (let i = 0; i < 3; i++) t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(introspectCalls(as), 1)
  // Request-specific checks still run on a hit.
  assertRejected(t, h, await h.post('/mcp', bearer(token)), { status: 403, error: 'insufficient_scope', reason: 'scope.missing', scope: 'mcp:tools:call' })
  t.equal(introspectCalls(as), 1)
})

t.test('RFC 7662 §4: a cache hit still enforces the audience of the selected resource', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, { ...introspectionOptions(as), resource: [RESOURCE, R2] })
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE, exp: now() + 300 })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  assertRejected(t, h, await h.get('/tenants/acme/mcp', bearer(token)), { reason: 'token.audience', prm: PRM_R2 })
  t.equal(introspectCalls(as), 1)
})

t.test('RFC 7662 §4: cacheTtl 0 disables the cache; with negativeCacheTtl 0 inactive answers are never kept', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as, { cacheTtl: 0 }))
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE, exp: now() + 300 })
  await h.get('/mcp', bearer(token))
  await h.get('/mcp', bearer(token))
  t.equal(introspectCalls(as), 2)

  const as2 = await startAs(t)
  const h2 = await setup(t, introspectionOptions(as2, { negativeCacheTtl: 0 }))
  const later = opaque()
  assertRejected(t, h2, await h2.get('/mcp', bearer(later)), { reason: 'token.inactive' })
  as2.introspection.set(later, { active: true, aud: RESOURCE, exp: now() + 300 })
  t.equal((await h2.get('/mcp', bearer(later))).statusCode, 200, 'the negative answer was not kept')
  t.equal(introspectCalls(as2), 2)

  // By default it is kept (negativeCacheTtl 10 s), and the answer is the same.
  const as3 = await startAs(t)
  const h3 = await setup(t, introspectionOptions(as3))
  const junk = opaque()
  assertRejected(t, h3, await h3.get('/mcp', bearer(junk)), { reason: 'token.inactive' })
  assertRejected(t, h3, await h3.get('/mcp', bearer(junk)), { reason: 'token.inactive' })
  t.equal(introspectCalls(as3), 1)
})

t.test('RFC 7662 §4 (INTRO-06): a cached answer is never used beyond its exp', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, { ...introspectionOptions(as), clockTolerance: 0 })
  if (Date.now() % 1000 > 500) await sleep(1000 - (Date.now() % 1000) + 5)
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE, exp: now() + 1 })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(introspectCalls(as), 1)
  await sleep(1000 - (Date.now() % 1000) + 20)
  assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'token.expired' })
  t.equal(introspectCalls(as), 2, 'the AS was asked again after exp')
})

t.test('RFC 7662 §2.3 (INTRO-05, XC-06): AS down, hanging, refusing connections or answering garbage → 503, never 401 or 200', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as, { timeout: 0.1 }))
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE })

  as.failure = true
  assertRejected(t, h, await h.get('/mcp', bearer(token)), unavailable('introspection.failed'))
  as.failure = 'hang'
  const started = Date.now()
  assertRejected(t, h, await h.get('/mcp', bearer(token)), unavailable('introspection.failed'))
  t.ok(Date.now() - started < 1000, 'the timeout bounds the wait')
  as.failure = false
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200, 'recovers once the AS answers')

  // Connection refused: an endpoint nobody listens on.
  const closed = await startCapture(t, () => ({ status: 200, body: '{}' }))
  const refused = closed.url.replace(/:\d+\//, ':1/')
  const h2 = await setup(t, { introspection: { endpoint: refused, ...CLIENT, timeout: 0.5 } })
  assertRejected(t, h2, await h2.get('/mcp', bearer(token)), unavailable('introspection.failed'))

  for (const answer of [
    { status: 200, body: 'not json', type: 'text/plain' },
    { status: 200, body: '[]' },
    { status: 200, body: 'null' },
    { status: 500, body: JSON.stringify({ active: true, aud: RESOURCE }) },
    { status: 403, body: JSON.stringify({ error: 'forbidden' }) },
    { status: 302, body: '' },
  ]) {
    const endpoint = await startCapture(t, () => answer)
    const h3 = await setup(t, { introspection: { endpoint: endpoint.url, ...CLIENT } })
    t.comment(`${answer.status} ${answer.body}`)
    assertRejected(t, h3, await h3.get('/mcp', bearer(token)), unavailable('introspection.failed'))
  }
})

t.test('RFC 8414: the introspection endpoint is discovered from the issuer metadata when omitted', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, { authorizationServers: [as.issuer], introspection: { ...CLIENT } })
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.same(as.requests, [
    { method: 'GET', path: '/.well-known/oauth-authorization-server' },
    { method: 'POST', path: '/introspect' },
  ])
  const second = opaque()
  as.introspection.set(second, { active: true, aud: RESOURCE })
  t.equal((await h.get('/mcp', bearer(second))).statusCode, 200)
  t.equal(as.requests.filter((r) => r.method === 'GET').length, 1, 'the metadata is cached')
})

t.test('RFC 8414: discovery failures are outages (503)', async (t) => {
  const down = await startAs(t)
  down.failure = true
  const h = await setup(t, { authorizationServers: [down.issuer], introspection: { ...CLIENT, timeout: 0.5 } })
  assertRejected(t, h, await h.get('/mcp', bearer(opaque())), unavailable('discovery.failed'))

  const noEndpoint = await startAs(t)
  noEndpoint.metadata = { introspection_endpoint: undefined }
  const h2 = await setup(t, { authorizationServers: [noEndpoint.issuer], introspection: { ...CLIENT } })
  assertRejected(t, h2, await h2.get('/mcp', bearer(opaque())), unavailable('introspection.failed'))

  const wrongIssuer = await startAs(t)
  wrongIssuer.metadata = { issuer: 'https://evil.example' }
  const h3 = await setup(t, { authorizationServers: [wrongIssuer.issuer], introspection: { ...CLIENT } })
  assertRejected(t, h3, await h3.get('/mcp', bearer(opaque())), unavailable('discovery.failed'))
  t.equal(introspectCalls(wrongIssuer), 0, 'never introspects at an endpoint from a mismatched document')
})

t.test('introspection without an endpoint and several issuers fails at registration', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [ISS, 'https://login.example.org'], introspection: { ...CLIENT } })
  }, { code: 'FST_MCP_AUTH_INVALID_OPTION' })
})

t.test('RFC 9449 §6.2 (INTRO-04): cnf.jkt in the introspection answer → DPoP rules apply', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const key = await createDpopKey()
  const other = await createDpopKey()
  const token = opaque()
  as.introspection.set(token, { active: true, aud: RESOURCE, cnf: { jkt: key.jkt } })
  assertRejected(t, h, await h.get('/mcp', bearer(token)), { reason: 'binding.dpop_required' })
  const withProof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  assertRejected(t, h, await h.get('/mcp', { ...bearer(token), dpop: withProof }), { reason: 'binding.dpop_required' })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  t.equal((await h.get('/mcp', { authorization: `DPoP ${token}`, dpop: proof })).statusCode, 200)
  t.same(h.seen[0]?.mcp?.sender, { binding: 'dpop', jkt: key.jkt })
  const wrongKey = await createDpopProof(other, { method: 'GET', url: RESOURCE, accessToken: token })
  assertRejected(t, h, await h.get('/mcp', { authorization: `DPoP ${token}`, dpop: wrongKey }), { reason: 'binding.jkt', scheme: 'DPoP' })

  const certBound = opaque()
  as.introspection.set(certBound, { active: true, aud: RESOURCE, cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } })
  assertRejected(t, h, await h.get('/mcp', bearer(certBound)), { reason: 'binding.certificate_missing' })
})

t.test('introspection: the client secret and tokens are never logged', async (t) => {
  const as = await startAs(t)
  const h = await setup(t, introspectionOptions(as))
  const tokens = [opaque(), opaque(), opaque()]
  as.introspection.set(tokens[0] as string, { active: true, aud: RESOURCE })
  as.introspection.set(tokens[1] as string, { active: true, aud: R2 })
  await h.get('/mcp', bearer(tokens[0] as string))
  await h.get('/mcp', bearer(tokens[1] as string))
  await h.get('/mcp', bearer(tokens[2] as string))
  as.failure = true
  await h.get('/mcp', bearer(opaque()))
  const wrong = await setup(t, introspectionOptions(as, { clientSecret: 'another-Secret-9' }))
  as.failure = false
  await wrong.get('/mcp', bearer(tokens[0] as string))
  const basic = Buffer.from(`${encodeURIComponent(CLIENT.clientId)}:${encodeURIComponent(CLIENT.clientSecret)}`).toString('base64')
  const text = h.raw.join('') + wrong.raw.join('')
  for (const secret of [CLIENT.clientSecret, encodeURIComponent(CLIENT.clientSecret), 'another-Secret-9', basic, ...tokens]) t.notOk(text.includes(secret), 'a secret or token appears in the logs')
  t.same(h.logs().filter((l) => l.msg === 'mcp-auth: request rejected').map((l) => l.reason), ['token.audience', 'token.inactive', 'introspection.failed'])
})

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
