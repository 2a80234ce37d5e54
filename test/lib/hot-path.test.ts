// The request path's small pieces: each must give exactly the answer of the
// plain computation it stands for (the compact-JWS shape with its canonical
// signature, the scheme scan), and keep no state a request could leak.
import { Buffer } from 'node:buffer'
import { createLocalJWKSet } from 'jose'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import type { Test } from 'tap'
import { createJwtVerifier } from '../../lib/access-token.js'
import { checkTokenSyntax, extractCredentials, schemeOf } from '../../lib/credentials.js'
import { JWS_COMPACT } from '../../lib/compact-jws.js'
import { createKeyResolver } from '../../lib/key-resolver.js'
import type { KeySource } from '../../lib/key-resolver.js'
import { createDpopKey, createDpopProof } from '../../lib/testing/dpop.js'
import mcpAuth from '../../index.js'
import type { McpAuthContext, McpAuthOptions } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

/** A JWT verifier for ES256 tokens from https://as.example with the given key source. */
function jwtVerifier (source: KeySource): ReturnType<typeof createJwtVerifier> {
  return createJwtVerifier({
    algorithms: new Set(['ES256']),
    tokenTypes: new Set(['at+jwt']),
    clockTolerance: 5,
    clock: Date.now,
    issuers: new Set(['https://as.example']),
    keys: createKeyResolver({ source, remote: {} as never, discovery: {} as never, issuers: new Set() }),
    secret: undefined,
  })
}

/** The plugin for https://mcp.example.com/mcp (and `options`), trusting a fresh test issuer, with GET /mcp. */
async function pluginApp (t: Test, options: Partial<McpAuthOptions> = {}): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const issuer = await createTestIssuer({ audience: 'https://mcp.example.com/mcp' })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: 'https://mcp.example.com/mcp', authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys }, ...options })
  app.get('/mcp', async () => 'ok')
  return { app, issuer }
}

t.test('JWS_COMPACT takes a signature exactly when "decoding then encoding gives it back"', async (t) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const base64url = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 140 }).map((chars) => chars.join(''))
  fc.assert(fc.property(base64url, (s) => JWS_COMPACT.test(`eyJ9.e30.${s}`) === (Buffer.from(s, 'base64url').toString('base64url') === s)), { numRuns: 5000 })
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 140 }), (bytes) => JWS_COMPACT.test(`eyJ9.e30.${Buffer.from(bytes).toString('base64url')}`)))
  t.notOk(JWS_COMPACT.test('eyJ9.e30.'), 'no empty signature')
})

t.test('checkTokenSyntax: RFC 6750 §2.1 b64token; extraction leaves it to the verifier', async (t) => {
  t.doesNotThrow(() => checkTokenSyntax('opaque~token+/='))
  t.doesNotThrow(() => checkTokenSyntax('a.b.c'))
  const reasonOf = (token: string): string | undefined => {
    try {
      checkTokenSyntax(token)
      return undefined
    } catch (err) {
      return (err as { reason?: string }).reason
    }
  }
  t.equal(reasonOf('not*a!token'), 'credentials.malformed')
  t.equal(reasonOf('a=b'), 'credentials.malformed', '"=" only at the end')
  const opaque = { authorization: 'Bearer opaque~token+/=', authorizationLines: 1, dpop: undefined, dpopLines: 0, queryToken: false }
  t.equal(extractCredentials(opaque, { dpopEnabled: false, maxTokenLength: 100 }).token, 'opaque~token+/=')
})

t.test('schemeOf / extractCredentials: the scheme ends at the first character /\\s/ matches, as the regular expression did', async (t) => {
  const reference = (header: string) => {
    const m = /[\s]/.exec(header)
    const scheme = header.slice(0, m === null ? header.length : m.index).toLowerCase()
    return scheme === 'bearer' || scheme === 'dpop' ? scheme : undefined
  }
  const spaces = fc.constantFrom(' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2000', '\u2028', '\u3000', '\ufeff', '\u0085', 'x', '')
  const header = fc.tuple(fc.constantFrom('Bearer', 'DPoP', 'bearer', 'dpop', 'Basic', ''), spaces, fc.string({ unit: 'binary', maxLength: 6 }))
    .map(([scheme, space, rest]) => scheme + space + rest)
  fc.assert(fc.property(header, (h) => schemeOf(h) === reference(h)), { numRuns: 5000 })
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (h) => schemeOf(h) === reference(h)), { numRuns: 3000 })
  const reason = (authorization: string) => {
    try {
      extractCredentials({ authorization, authorizationLines: 1, dpop: undefined, dpopLines: 0, queryToken: false }, { dpopEnabled: true, maxTokenLength: 8192 })
      return 'accepted'
    } catch (err) {
      return (err as { reason?: string }).reason
    }
  }
  t.equal(reason('Bearer\u00a0abc'), 'credentials.malformed', 'a scheme, then a space that is not SP: malformed (400), not an unknown scheme')
  t.equal(reason('Bearer\tabc'), 'credentials.malformed')
  t.equal(reason('Bearer abc'), 'accepted')
})

t.test('JWT verification: a user key function is always asked, with its own copy of the header', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://as.example' })
  const local = createLocalJWKSet(issuer.jwks)
  const kids: unknown[] = []
  const verify = jwtVerifier({
    kind: 'function',
    getKey: async (header, token) => {
      kids.push(header.kid)
      const key = await local(header, token)
      header.kid = 'written by the key function' // its copy: the next token must not see this
      return key
    },
  })
  await verify(await issuer.mintAccessToken({ aud: 'x' }))
  await verify(await issuer.mintAccessToken({ aud: 'x' }))
  t.same(kids, [issuer.kid, issuer.kid], 'asked for every token, with the header as sent')
})

t.test('JWT verification: a forged signature under a header whose key is known → 401 invalid_token through the plugin', async (t) => {
  const { app, issuer } = await pluginApp(t)
  const good = await issuer.mintAccessToken()
  t.equal((await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${good}` } })).statusCode, 200, 'the header\'s key is now known')
  const other = await issuer.mintAccessToken({ sub: 'someone-else' })
  const forged = other.slice(0, other.lastIndexOf('.') + 1) + good.slice(good.lastIndexOf('.') + 1)
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${forged}` } })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /error="invalid_token"/)
})

t.test('a malformed token is a 400 through the plugin, also one that differs from a cached token in one character', async (t) => {
  const { app, issuer } = await pluginApp(t)
  const good = await issuer.mintAccessToken()
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${good}` } })).statusCode, 200)
  const lookalike = '*' + good.slice(1)
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${lookalike}` } })
  t.equal(res.statusCode, 400, 'scanned, and refused as malformed')
  t.equal(res.json().error, 'invalid_request')
})

t.test('JWT verification: failures reject with McpAuthError', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://as.example' })
  const verify = jwtVerifier({ kind: 'keys', keys: issuer.jwks })
  t.equal((await verify(await issuer.mintAccessToken({ aud: 'x', sub: 'another' }))).subject, 'another')
  const token = await issuer.mintAccessToken({ aud: 'x' })
  const forged = token.slice(0, token.lastIndexOf('.') + 1) + 'A'.repeat(86)
  await t.rejects(verify(forged), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.signature' })
})

t.test('request.mcp and AuthInfo name the resource of each request, for a token valid for two', async (t) => {
  const R1 = 'https://mcp.example.com/mcp'
  const R2 = 'https://mcp.example.com/other/mcp'
  const issuer = await createTestIssuer({ audience: R1 })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [R1, R2], authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys } })
  const seen: Array<{ mcp: unknown, resource: unknown, auth: unknown }> = []
  const capture = async (request: import('fastify').FastifyRequest) => {
    seen.push({ mcp: request.mcp, resource: request.mcp?.resource, auth: (request.raw as { auth?: { resource?: URL } }).auth?.resource?.href })
    return 'ok'
  }
  app.get('/mcp', capture)
  app.get('/other/mcp', capture)
  const token = await issuer.mintAccessToken({ aud: [R1, R2] })
  for (const path of ['/mcp', '/other/mcp', '/mcp', '/other/mcp']) {
    t.equal((await app.inject({ url: path, headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  }
  t.same(seen.map((s) => s.resource), [R1, R2, R1, R2], 'each request names its own resource')
  t.same(seen.map((s) => s.auth), [R1, R2, R1, R2], 'and so does AuthInfo')
  t.ok(seen.every((s) => Object.isFrozen(s.mcp)), 'frozen')
})

t.test('request.mcp without a principal: frozen, and a request\'s own', async (t) => {
  const { app, issuer } = await pluginApp(t)
  const seen: Array<{ mcp: McpAuthContext | null, auth: unknown }> = []
  app.get('/seen', async (request) => { seen.push({ mcp: request.mcp, auth: (request.raw as { auth?: unknown }).auth }); return 'ok' })
  const token = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp' })
  const other = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp', sub: 'other' })
  for (const presented of [token, token, token, other, other, token]) {
    t.equal((await app.inject({ url: '/seen', headers: { authorization: `Bearer ${presented}` } })).statusCode, 200)
  }
  const [, b, c, d, e] = seen
  for (const s of seen) t.equal(s.mcp?.token, s === d || s === e ? other : token)
  t.equal(e?.mcp?.subject, 'other')
  t.ok(Object.isFrozen(b?.mcp))
  t.not(b?.auth, c?.auth, 'the SDK AuthInfo is mutable by its type: one per request')
})

t.test('the verifier keeps no raw token: request.mcp (and its token) can be collected while the cache still holds the claims', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let asked = 0
  const issuer = await createTestIssuer({ audience: 'https://mcp.example.com/mcp' })
  const local = createLocalJWKSet(issuer.jwks)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: 'https://mcp.example.com/mcp', authorizationServers: [issuer.issuer], jwks: async (header, token) => { asked++; return local(header, token) } })
  let captured: WeakRef<object> | undefined
  app.get('/weak', async (request) => {
    if (captured === undefined && request.mcp !== null) captured = new WeakRef(request.mcp)
    return 'ok'
  })
  let token: string | undefined = await issuer.mintAccessToken()
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/weak', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal(asked, 1, 'verified once, then served from the cache')
  token = undefined
  for (let i = 0; i < 5 && captured?.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  t.equal(captured?.deref(), undefined, 'nothing but the request held the context')
})

t.test('request.mcp with a principal: one object per request', async (t) => {
  let calls = 0
  const { app, issuer } = await pluginApp(t, { principal: () => ({ call: ++calls }) })
  const seen: Array<McpAuthContext | null> = []
  app.get('/seen', async (request) => { seen.push(request.mcp); return 'ok' })
  const token = await issuer.mintAccessToken()
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: '/seen', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.not(seen[0], seen[1])
  t.same(seen.map((mcp) => mcp?.principal), [{ call: 1 }, { call: 2 }])
})

t.test('DPoP: request.mcp.sender names the proof key, frozen', async (t) => {
  const { app, issuer } = await pluginApp(t, { dpop: {} })
  const seen: Array<McpAuthContext | null> = []
  app.get('/seen', async (request) => { seen.push(request.mcp); return 'ok' })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  for (let i = 0; i < 3; i++) {
    const dpop = await createDpopProof(key, { method: 'GET', url: 'https://mcp.example.com/seen', accessToken: token })
    t.equal((await app.inject({ url: '/seen', headers: { authorization: `DPoP ${token}`, dpop } })).statusCode, 200)
  }
  for (const mcp of seen) {
    t.same(mcp?.sender, { binding: 'dpop', jkt: key.jkt })
    t.ok(Object.isFrozen(mcp?.sender))
  }
})
