// The request-path shortcuts: each must give exactly the answer of the slow
// path it replaces (memoized parsing, the canonical-base64url test, the key
// found for a protected header), and stay bounded.
import { Buffer } from 'node:buffer'
import { createLocalJWKSet, errors } from 'jose'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import type { Test } from 'tap'
import { createJwtVerifier, isCanonicalBase64url, isCompactJws, JWS_COMPACT } from '../../lib/access-token.js'
import { extractCredentials, schemeOf } from '../../lib/credentials.js'
import { createKeyResolver } from '../../lib/key-resolver.js'
import type { KeySource } from '../../lib/key-resolver.js'
import { createLocalKeySet, knownKeysOf } from '../../lib/local-key-set.js'
import { memoize } from '../../lib/memo.js'
import { fingerprint } from '../../lib/verifier.js'
import { sharedAuthContext } from '../../lib/auth-context.js'
import { toVerifiedToken } from '../../lib/claims.js'
import type { ResolvedResource } from '../../lib/options.js'
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
    clock: () => Math.floor(Date.now() / 1000),
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

t.test('memoize: the same answers, computed once per input, bounded, long inputs never kept', async (t) => {
  const calls: string[] = []
  const upper = memoize((s: string) => { calls.push(s); return s === 'none' ? undefined : s.toUpperCase() }, { maxEntries: 3, maxKeyLength: 8 })
  t.equal(upper('a'), 'A')
  t.equal(upper('a'), 'A')
  t.equal(upper('none'), undefined)
  t.equal(upper('none'), undefined, 'an undefined answer is remembered too')
  t.same(calls, ['a', 'none'])
  upper('b')
  upper('c') // full: forgets everything, then remembers 'c'
  upper('a')
  t.same(calls, ['a', 'none', 'b', 'c', 'a'])
  upper('a-very-long-input')
  upper('a-very-long-input')
  t.equal(calls.filter((c) => c === 'a-very-long-input').length, 2, 'over maxKeyLength: computed every time')
})

t.test('isCanonicalBase64url: exactly "decoding then encoding gives the input back"', async () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const base64url = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 140 }).map((chars) => chars.join(''))
  fc.assert(fc.property(base64url, (s) => isCanonicalBase64url(s) === (Buffer.from(s, 'base64url').toString('base64url') === s)), { numRuns: 5000 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 140 }), (bytes) => isCanonicalBase64url(Buffer.from(bytes).toString('base64url'))))
})

t.test('isCompactJws: the answer of JWS_COMPACT.test for every input, whatever came before', async (t) => {
  const inputs = ['a.b.c', 'a.b', 'a.b.c', 'a.b.c~', 'a.b.c', ['a', 'b', 'c'].join('.'), 'a..c', '', 'abc', 'A-_.b.c', 'a.b.c.d.e', 'a.b.c']
  for (const input of inputs) t.equal(isCompactJws(input), JWS_COMPACT.test(input), JSON.stringify(input))
  fc.assert(fc.property(fc.array(fc.stringMatching(/^[A-Za-z0-9_~.-]{0,12}$/), { maxLength: 8 }), (values) => values.every((v) => isCompactJws(v) === JWS_COMPACT.test(v))))
  // Extraction and the verifier share it: an opaque b64token still passes extraction.
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

t.test('createLocalKeySet: remembers the key of a protected header only after a successful, unambiguous lookup', async (t) => {
  const issuer = await createTestIssuer()
  const set = createLocalKeySet(issuer.jwks)
  const token = await issuer.mintAccessToken()
  const [protectedHeader, payload, signature] = token.split('.') as [string, string, string]
  const header = JSON.parse(Buffer.from(protectedHeader, 'base64url').toString()) as { alg: string, kid: string }
  t.equal(knownKeysOf(set)?.known(protectedHeader), undefined)
  const key = await set(header, { protected: protectedHeader, payload, signature })
  t.ok(key)
  t.equal(knownKeysOf(set)?.known(protectedHeader), undefined, 'found, but not remembered before a signature verified with it')
  knownKeysOf(set)?.confirm(protectedHeader)
  t.ok(knownKeysOf(set)?.known(protectedHeader), 'remembered once confirmed')
  // The same answer jose gives.
  t.same(await createLocalJWKSet(issuer.jwks)(header, { protected: protectedHeader, payload, signature }), key)

  const unknown = Buffer.from(JSON.stringify({ ...header, kid: 'nope' })).toString('base64url')
  await t.rejects(Promise.resolve().then(() => set({ ...header, kid: 'nope' }, { protected: unknown, payload, signature })), errors.JWKSNoMatchingKey)
  knownKeysOf(set)?.confirm(unknown)
  t.equal(knownKeysOf(set)?.known(unknown), undefined, 'a failed lookup is not remembered')

  const twice = createLocalKeySet({ keys: [{ ...issuer.jwks.keys[0], kid: undefined }, { ...issuer.jwks.keys[0], kid: undefined }] as never })
  const anyKid = Buffer.from(JSON.stringify({ alg: header.alg })).toString('base64url')
  await t.rejects(Promise.resolve(twice({ alg: header.alg }, { protected: anyKid, payload, signature })), errors.JWKSMultipleMatchingKeys)
  knownKeysOf(twice)?.confirm(anyKid)
  t.equal(knownKeysOf(twice)?.known(anyKid), undefined, 'an ambiguous lookup is not remembered')

  const withUnprotected = Buffer.from(JSON.stringify({ alg: header.alg })).toString('base64url')
  await set({ alg: header.alg, kid: header.kid }, { protected: withUnprotected, header: { kid: header.kid }, payload, signature })
  knownKeysOf(set)?.confirm(withUnprotected)
  t.equal(knownKeysOf(set)?.known(withUnprotected), undefined, 'a JWS with an unprotected header is not remembered')
  t.equal(knownKeysOf(async () => key), undefined, 'a user key function has no synchronous answers')
  t.equal(knownKeysOf(Object.assign(async () => key, { known: () => key })), undefined, 'not even one with a "known" property')
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

t.test('credentials: a token found by value skips the syntax scan; any other string is still scanned', async (t) => {
  const malformed = 'not*a!token'
  const input = { authorization: `Bearer ${malformed}`, authorizationLines: 1, dpop: undefined, dpopLines: 0, queryToken: false }
  const reasonOf = (run: () => unknown): string => {
    try {
      run()
      return 'accepted'
    } catch (err) {
      return (err as { reason?: string }).reason ?? String(err)
    }
  }
  t.equal(reasonOf(() => extractCredentials(input, { dpopEnabled: false, maxTokenLength: 100 })), 'credentials.malformed')
  t.equal(extractCredentials(input, { dpopEnabled: false, maxTokenLength: 100, knownToken: (token) => token === malformed ? { token: malformed } : undefined }).token, malformed, 'known: not scanned')
  t.equal(reasonOf(() => extractCredentials(input, { dpopEnabled: false, maxTokenLength: 100, knownToken: () => undefined })), 'credentials.malformed')
  t.equal(reasonOf(() => extractCredentials({ ...input, authorization: `Bearer ${'a'.repeat(101)}` }, { dpopEnabled: false, maxTokenLength: 100, knownToken: (token) => ({ token }) })), 'credentials.too_large', 'the length limit still applies')

  // Through the plugin: a malformed string sharing the fingerprint of a token in use is still a 400.
  const { app, issuer } = await pluginApp(t)
  const good = await issuer.mintAccessToken()
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${good}` } })).statusCode, 200)
  const lookalike = '*' + good.slice(1)
  t.equal(fingerprint(lookalike), fingerprint(good), 'same fingerprint as the token in use')
  const res = await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${lookalike}` } })
  t.equal(res.statusCode, 400, 'scanned, and refused as malformed')
  t.equal(res.json().error, 'invalid_request')
})

t.test('JWT verification: no promise once the protected header\'s key is known; failures still throw McpAuthError', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://as.example' })
  const verify = jwtVerifier({ kind: 'keys', keys: issuer.jwks })
  const first = verify(await issuer.mintAccessToken({ aud: 'x' }))
  t.ok(first instanceof Promise, 'the first token of a header asks the key set')
  await first
  const second = verify(await issuer.mintAccessToken({ aud: 'x', sub: 'another' }))
  t.notOk(second instanceof Promise, 'later tokens with that header: verified synchronously')
  t.equal((second as { subject?: string }).subject, 'another')
  const token = await issuer.mintAccessToken({ aud: 'x' })
  const forged = token.slice(0, token.lastIndexOf('.') + 1) + 'A'.repeat(86)
  t.throws(() => verify(forged), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.signature' })
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

t.test('request.mcp without a principal: one frozen object per token, resource and binding, shared by its requests', async (t) => {
  const { app, issuer } = await pluginApp(t)
  const seen: Array<{ mcp: McpAuthContext | null, auth: unknown }> = []
  app.get('/seen', async (request) => { seen.push({ mcp: request.mcp, auth: (request.raw as { auth?: unknown }).auth }); return 'ok' })
  const token = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp' })
  const other = await issuer.mintAccessToken({ aud: 'https://mcp.example.com/mcp', sub: 'other' })
  for (const presented of [token, token, token, other, other, token]) {
    t.equal((await app.inject({ url: '/seen', headers: { authorization: `Bearer ${presented}` } })).statusCode, 200)
  }
  const [a, b, c, d, e, f] = seen
  t.not(a?.mcp, b?.mcp, 'a token\'s first request: its own object (a one-shot token\'s is not kept)')
  t.equal(b?.mcp, c?.mcp, 'the same token again: the same object')
  t.equal(b?.mcp, f?.mcp, 'still, after another token')
  t.not(e?.mcp, b?.mcp, 'another token: its own object')
  for (const s of seen) t.equal(s.mcp?.token, s === d || s === e ? other : token)
  t.equal(e?.mcp?.subject, 'other')
  t.ok(Object.isFrozen(b?.mcp))
  t.not(b?.auth, c?.auth, 'the SDK AuthInfo is mutable by its type: one per request')

  // The same facts with another token string never yield a context carrying the first token.
  const verified = toVerifiedToken({ sub: 's', exp: Math.floor(Date.now() / 1000) + 60 }, 'https://as.example')
  const resource = { uri: 'https://mcp.example.com/mcp', authorizationServers: ['https://as.example'] } as unknown as ResolvedResource
  const sender = Object.freeze({ binding: 'bearer' as const })
  const kept = { token: 'token-one' }
  const first = sharedAuthContext(kept, 'token-one', verified, resource, sender)
  t.equal(sharedAuthContext(kept, 'token-one', verified, resource, sender), first)
  t.equal(sharedAuthContext(kept, 'token-two', verified, resource, sender).token, 'token-two')
  t.equal(sharedAuthContext(kept, 'token-one', verified, resource, sender), first, 'another string never replaces what is kept')
  t.equal(sharedAuthContext(kept, 'token-one', verified, { ...resource, uri: 'https://mcp.example.com/other' } as ResolvedResource, sender).resource, 'https://mcp.example.com/other')
  const reverified = toVerifiedToken({ sub: 's2', exp: Math.floor(Date.now() / 1000) + 60 }, 'https://as.example')
  t.equal(sharedAuthContext(kept, 'token-one', reverified, resource, sender).subject, 's2', 'verified again: the new claims')
})

t.test('a shared request.mcp (and the raw token it holds) lives no longer than the by-value tier keeps the token', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const { app, issuer } = await pluginApp(t)
  let captured: WeakRef<object> | undefined
  let capture = false
  app.get('/weak', async (request) => {
    if (capture && request.mcp !== null) captured = new WeakRef(request.mcp)
    return 'ok'
  })
  const send = async (token: string): Promise<void> => {
    t.equal((await app.inject({ url: '/weak', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  }
  const flood = async (): Promise<void> => {
    for (let i = 0; i < 300; i++) await send(await issuer.mintAccessToken({ sub: `flood-${i}` }))
  }
  const token = await issuer.mintAccessToken()
  await send(token)
  await flood()
  // Back again: verified into the hashed cache (which outlives the by-value tier),
  // then found there, then by value, when its context is kept and shared.
  for (let i = 0; i < 3; i++) await send(token)
  capture = true
  await send(token)
  capture = false
  t.ok(captured?.deref(), 'captured')
  await flood()
  for (let i = 0; i < 5 && captured?.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  t.equal(captured?.deref(), undefined, 'pushed out of the by-value tier, the context (and its token) can be collected while the hashed cache still holds the claims')
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

t.test('DPoP: the same token and key share one request.mcp and sender across proofs', async (t) => {
  const { app, issuer } = await pluginApp(t, { dpop: {} })
  const seen: Array<McpAuthContext | null> = []
  app.get('/seen', async (request) => { seen.push(request.mcp); return 'ok' })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  for (let i = 0; i < 3; i++) {
    const dpop = await createDpopProof(key, { method: 'GET', url: 'https://mcp.example.com/seen', accessToken: token })
    t.equal((await app.inject({ url: '/seen', headers: { authorization: `DPoP ${token}`, dpop } })).statusCode, 200)
  }
  t.equal(seen[1], seen[2])
  t.equal(seen[0]?.sender, seen[1]?.sender, 'one sender object for the token, from its first request')
  t.same(seen[0]?.sender, { binding: 'dpop', jkt: key.jkt })
  t.ok(Object.isFrozen(seen[0]?.sender))
})
