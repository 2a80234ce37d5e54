// lib/authenticate.ts without a server: the pipeline in RFC order, with real
// tokens, real DPoP proofs and a real replay store, and every refusal it makes.
import t from 'tap'
import { createJwtVerifier } from '../../lib/access-token.js'
import { createAuthenticator } from '../../lib/authenticate.js'
import type { AuthRequest, AuthenticatorDeps } from '../../lib/authenticate.js'
import { createIssuerMetadataCache } from '../../lib/discovery.js'
import { McpAuthError, reject } from '../../lib/errors.js'
import { createKeyResolver } from '../../lib/key-resolver.js'
import { silentLogger } from '../../lib/logger.js'
import { resolveOptions } from '../../lib/options.js'
import { MemoryReplayStore } from '../../lib/stores/memory-replay-store.js'
import { ReplayStoreFullError } from '../../lib/stores/replay-store.js'
import type { ReplayStore } from '../../lib/stores/replay-store.js'
import { createDpopKey, createDpopProof } from '../../lib/testing/dpop.js'
import { createTokenVerifier } from '../../lib/verifier.js'
import { createTestIssuer } from '../../testing.js'
import type { McpAuthOptions } from '../../types/index.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const OTHER = 'https://mcp.example.com/other'

async function setup (extra: Partial<McpAuthOptions> = {}, deps: Partial<AuthenticatorDeps> = {}) {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const options = resolveOptions({ resource: [RESOURCE, OTHER], authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys }, ...extra } as McpAuthOptions)
  const clock = Date.now
  const keys = createKeyResolver({ source: options.keySource, remote: {} as never, discovery: createIssuerMetadataCache({} as never), issuers: options.issuers })
  const verify = createJwtVerifier({ algorithms: options.algorithms, tokenTypes: options.tokenTypes, clockTolerance: 5, clock, issuers: options.issuers, keys, secret: undefined })
  const verifyToken = createTokenVerifier({ verify: { kind: 'jwt', verify }, cacheSize: 100, cacheTtl: Number.POSITIVE_INFINITY, maxAge: 300, clock, clockTolerance: 5 })
  const authenticate = createAuthenticator({ options, verifyToken, clock, logger: silentLogger, certificateThumbprint: async () => undefined, ...deps })
  const [resource, other] = options.resources
  const request = (authorization: string | undefined, extra: Partial<AuthRequest> = {}): AuthRequest => ({
    method: 'GET', url: '/mcp', authorization, authorizationLines: authorization === undefined ? 0 : 1, dpop: undefined, dpopLines: 0, queryToken: false, request: { id: 1 }, log: silentLogger, ...extra,
  })
  return { issuer, options, authenticate, resource, other, request }
}

async function reason (pending: Promise<unknown>): Promise<string> {
  try {
    await pending
    return 'accepted'
  } catch (err) {
    if (err instanceof McpAuthError) return err.reason
    throw err
  }
}

t.test('a valid Bearer token: request.mcp for the resource, bearer sender, no nonce', async (t) => {
  const { issuer, authenticate, resource, request } = await setup()
  const token = await issuer.mintAccessToken({ sub: 'alice', scope: 'a b' })
  const { context, nonce, proofIgnored } = await authenticate(request(`Bearer ${token}`), resource)
  t.equal(context.token, token)
  t.equal(context.subject, 'alice')
  t.same(context.scopes, ['a', 'b'])
  t.equal(context.resource, RESOURCE)
  t.same(context.sender, { binding: 'bearer' })
  t.ok(Object.isFrozen(context))
  t.equal(nonce, undefined)
  t.equal(proofIgnored, false)
  const ignored = await authenticate(request(`Bearer ${token}`, { dpop: 'a.b.c', dpopLines: 1 }), resource)
  t.equal(ignored.proofIgnored, true, 'a DPoP header beside an unbound Bearer token is not trusted, and said so')
})

t.test('checks in order: credentials, the route\'s resource, the token, its audience for that resource', async (t) => {
  const { issuer, authenticate, resource, other, request } = await setup()
  const token = await issuer.mintAccessToken()
  t.equal(await reason(authenticate(request(undefined), undefined)), 'credentials.missing', 'credentials first, before the resource')
  t.equal(await reason(authenticate(request(`Bearer ${token}`), undefined)), 'resource.unmatched')
  t.equal(await reason(authenticate(request('Bearer not*a!token'), resource)), 'credentials.malformed')
  const other2 = await issuer.mintAccessToken({ sub: 'someone-else' })
  const forged = other2.slice(0, other2.lastIndexOf('.') + 1) + token.slice(token.lastIndexOf('.') + 1)
  t.equal(await reason(authenticate(request(`Bearer ${forged}`), resource)), 'token.signature')
  t.equal(await reason(authenticate(request(`Bearer ${token}`), other)), 'token.audience', 'valid for one resource, not the other')
  t.equal(await reason(authenticate(request(`Bearer ${token}`), resource)), 'accepted')
  t.equal(await reason(authenticate(request(`Bearer ${token}`), other)), 'token.audience', 'a cache hit is checked per resource too')
})

t.test('RFC 9449: a DPoP-bound token needs the DPoP scheme and a proof by its key; the proof is recorded once', async (t) => {
  const { issuer, authenticate, resource, request } = await setup({ dpop: {} })
  const key = await createDpopKey()
  const stranger = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  const dpop = (value: string) => request(`DPoP ${token}`, { dpop: value, dpopLines: 1 })
  t.equal(await reason(authenticate(request(`Bearer ${token}`, { dpop: proof, dpopLines: 1 }), resource)), 'binding.dpop_required', '§7.2: never as a bearer token')
  t.equal(await reason(authenticate(dpop(await createDpopProof(stranger, { method: 'GET', url: RESOURCE, accessToken: token })), resource)), 'binding.jkt')
  t.equal(await reason(authenticate(dpop(await createDpopProof(key, { method: 'POST', url: RESOURCE, accessToken: token })), resource)), 'dpop.htm')
  t.equal(await reason(authenticate(dpop(await createDpopProof(key, { method: 'GET', url: OTHER, accessToken: token })), resource)), 'dpop.htu')
  const { context, proofIgnored } = await authenticate(dpop(proof), resource)
  t.same(context.sender, { binding: 'dpop', jkt: key.jkt })
  t.equal(proofIgnored, false, 'the proof was checked, not ignored')
  t.ok(Object.isFrozen(context.sender))
  t.equal(await reason(authenticate(dpop(proof), resource)), 'dpop.replay', '§11.1: the same proof twice')
  const unbound = await issuer.mintAccessToken()
  t.equal(await reason(authenticate(request(`DPoP ${unbound}`, { dpop: proof, dpopLines: 1 }), resource)), 'binding.unbound_dpop')
  const both = await issuer.mintAccessToken({ cnf: { jkt: key.jkt, 'x5t#S256': 'x' } })
  t.equal(await reason(authenticate(request(`DPoP ${both}`, { dpop: proof, dpopLines: 1 }), resource)), 'binding.conflict')
})

t.test('dpop.required refuses an unbound Bearer token', async (t) => {
  const { issuer, authenticate, resource, request } = await setup({ dpop: { required: true } })
  t.equal(await reason(authenticate(request(`Bearer ${await issuer.mintAccessToken()}`), resource)), 'binding.dpop_required')
})

t.test('RFC 9449 §8: server nonces: missing, invalid, rotated; a failing provider is a 503', async (t) => {
  let verdict: 'valid' | 'rotate' | 'invalid' = 'valid'
  let fail = false
  const provider = { issue: () => 'fresh-nonce', check: async () => { if (fail) throw new Error('down'); return verdict } }
  const logged: Array<[object, string]> = []
  const logger = { ...silentLogger, error: (obj: object, msg: string) => { logged.push([obj, msg]) } }
  const { issuer, authenticate, resource, request } = await setup({ dpop: { nonce: provider } }, { logger })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const send = async (nonce?: string) => authenticate(request(`DPoP ${token}`, { dpop: await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token, nonce }), dpopLines: 1 }), resource)
  t.equal(await reason(send()), 'dpop.nonce_missing')
  verdict = 'invalid'
  t.equal(await reason(send('n')), 'dpop.nonce_invalid')
  verdict = 'valid'
  t.equal((await send('n')).nonce, undefined)
  verdict = 'rotate'
  t.equal((await send('n')).nonce, 'fresh-nonce', 'accepted, with a fresh nonce to send back')
  fail = true
  const err = await send('n').then(() => undefined, (e: unknown) => e as McpAuthError)
  t.equal(err?.statusCode, 503)
  t.equal(err?.reason, 'nonce.failed')
  t.same(logged, [[{ err: { name: 'Error', code: undefined, message: 'down' } }, 'mcp-auth: DPoP nonce check failed']], 'the provider\'s error is logged')
})

t.test('replay store failures are 503, never a pass; a full store and a failed one are told apart, in the answer and the log', async (t) => {
  const FULL = 'mcp-auth: DPoP replay store is full; refusing proofs until entries expire'
  const FAILED = 'mcp-auth: DPoP replay store failed'
  const cases: Array<[string, ReplayStore, string, string]> = [
    ['a throw', { claim: () => { throw new Error('down') } }, 'replay_store.failed', FAILED],
    ['a rejection', { claim: async () => { throw new Error('down') } }, 'replay_store.failed', FAILED],
    ['a full MemoryReplayStore', new MemoryReplayStore({ maxEntries: 1 }), 'replay_store.full', FULL],
    ['a ReplayStoreFullError rejection', { claim: async () => { throw new ReplayStoreFullError(7) } }, 'replay_store.full', FULL],
  ]
  for (const [name, store, expected, message] of cases) {
    const logged: Array<[object, string]> = []
    const logger = { ...silentLogger, error: (obj: object, msg: string) => { logged.push([obj, msg]) } }
    const { issuer, authenticate, resource, request } = await setup({ dpop: { replayStore: store } }, { logger })
    const key = await createDpopKey()
    const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
    const send = async () => authenticate(request(`DPoP ${token}`, { dpop: await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token }), dpopLines: 1 }), resource)
    if (store instanceof MemoryReplayStore) await send()
    const err = await send().then(() => undefined, (e: unknown) => e as McpAuthError)
    t.equal(err?.reason, expected, name)
    t.equal(err?.statusCode, 503, `${name}: 503`)
    t.equal(logged.length, 1, `${name}: logged once`)
    t.equal(logged[0]?.[1], message, `${name}: the log says which`)
    t.match(logged[0]?.[0], { err: { message: /down|entries/ } }, `${name}: with the store's error`)
  }
})

t.test('RFC 9449 §11.1: a replay store answering anything but true is a replay (fail closed)', async (t) => {
  for (const [answer, async] of [false, null, undefined, 'OK', 1, 'true', {}].flatMap((value) => [[value, false], [value, true]] as const)) {
    const { issuer, authenticate, resource, request } = await setup({ dpop: { replayStore: { claim: () => (async ? Promise.resolve(answer) : answer) as boolean } } })
    const key = await createDpopKey()
    const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
    const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
    t.equal(await reason(authenticate(request(`DPoP ${token}`, { dpop: proof, dpopLines: 1 }), resource)), 'dpop.replay', `${async ? 'a promise of ' : ''}${JSON.stringify(answer) ?? 'undefined'}`)
  }
  const { issuer, authenticate, resource, request } = await setup({ dpop: { replayStore: { claim: () => true } } })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  t.same((await authenticate(request(`DPoP ${token}`, { dpop: proof, dpopLines: 1 }), resource)).context.sender, { binding: 'dpop', jkt: key.jkt }, 'true: fresh')
})

t.test('RFC 8705: a certificate-bound token needs the certificate whose thumbprint it names', async (t) => {
  let presented: string | undefined
  let fails = false
  const { issuer, authenticate, resource, request } = await setup({}, { certificateThumbprint: async () => { if (fails) throw new Error('tls'); return presented } })
  const token = await issuer.mintAccessToken({}, { bindTo: { x5t: 'thumb' } })
  t.equal(await reason(authenticate(request(`Bearer ${token}`), resource)), 'binding.certificate_missing')
  presented = 'other'
  t.equal(await reason(authenticate(request(`Bearer ${token}`), resource)), 'binding.x5t')
  presented = 'thumb'
  t.same((await authenticate(request(`Bearer ${token}`), resource)).context.sender, { binding: 'mtls', x5t: 'thumb' })
  fails = true
  t.equal(await reason(authenticate(request(`Bearer ${token}`), resource)), 'binding.certificate_missing', 'a failing certificate source proves nothing')
})

t.test('RFC 8705: the certificate source\'s own McpAuthError is its answer (a 503 stays a 503); any other throw is logged and proves nothing', async (t) => {
  let failure: unknown
  const logged: Array<[string, object, string]> = []
  const logger = { debug: () => {}, info: () => {}, warn: (obj: object, msg: string) => { logged.push(['warn', obj, msg]) }, error: (obj: object, msg: string) => { logged.push(['error', obj, msg]) } }
  const { issuer, authenticate, resource, request } = await setup({}, { logger, certificateThumbprint: async () => { throw failure } })
  const token = await issuer.mintAccessToken({}, { bindTo: { x5t: 'thumb' } })
  const answer = async () => authenticate(request(`Bearer ${token}`), resource).then(() => undefined, (e: unknown) => e as McpAuthError)
  failure = reject.unavailable('verifier.unavailable', new Error('terminator down'))
  t.equal(await answer(), failure, 'a 503 from the certificate source passes through unchanged')
  failure = reject.invalidToken('token.rejected')
  t.equal(await answer(), failure, 'so does any McpAuthError')
  t.same(logged, [], 'and is not logged as a certificate failure')
  failure = new Error('bad header')
  const err = await answer()
  t.equal(err?.reason, 'binding.certificate_missing')
  t.equal(err?.statusCode, 401)
  t.equal((err?.cause as Error | undefined)?.message, 'bad header', 'the cause is kept for the log')
  t.same(logged, [['warn', { err: { name: 'Error', code: undefined, message: 'bad header' } }, 'mcp-auth: reading the client certificate failed']])
})

t.test('principal: its value on request.mcp; an McpAuthError is its answer; anything else is a 500 that names nothing', async (t) => {
  let answer: () => unknown = () => ({ id: 'u1' })
  const logged: unknown[] = []
  const { issuer, authenticate, resource, request } = await setup({ principal: (claims, sender, req) => { logged.push({ sub: claims.sub, binding: sender.binding, req }); return answer() } })
  const token = await issuer.mintAccessToken({ sub: 'alice' })
  const log = { ...silentLogger, error: (obj: object) => { logged.push(obj) } }
  t.same((await authenticate(request(`Bearer ${token}`, { log }), resource)).context.principal, { id: 'u1' })
  t.same(logged[0], { sub: 'alice', binding: 'bearer', req: { id: 1 } }, 'called with the claims, the sender and the framework request')
  answer = () => { throw new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'principal.unknown') }
  t.equal(await reason(authenticate(request(`Bearer ${token}`, { log }), resource)), 'principal.unknown')
  answer = () => { throw new Error('postgres://user:secret@db failed') }
  const err = await authenticate(request(`Bearer ${token}`, { log }), resource).then(() => undefined, (e: unknown) => e as McpAuthError)
  t.equal(err?.statusCode, 500)
  t.equal(err?.description, 'Internal error')
  t.match(logged.at(-1), { reason: 'principal.failed' }, 'logged on the request\'s logger')
})
