// createJwtVerifier (lib/access-token.ts) and the verified-token cache in
// front of it (lib/verifier.ts), with a fixed injected clock: the branches the
// plugin tests cannot reach easily (key-resolution failures, several matching
// keys, exact time boundaries, cache expiry without sleeping).
import { randomBytes } from 'node:crypto'
import { CompactSign, createLocalJWKSet, errors, exportJWK, generateKeyPair, importJWK } from 'jose'
import type { CryptoKey, JWK, JWTVerifyGetKey } from 'jose'
import t from 'tap'
import { createJwtVerifier, decodeSegment, normalizeMediaType } from '../../lib/access-token.js'
import type { JwtVerifierOptions } from '../../lib/access-token.js'
import type { VerifiedToken } from '../../lib/claims.js'
import { McpAuthError, reject } from '../../lib/errors.js'
import type { KeyResolver } from '../../lib/key-resolver.js'
import { createTokenVerifier, fingerprint } from '../../lib/verifier.js'
import type { TokenVerifierOptions, VerifiedEntry } from '../../lib/verifier.js'
import { hashToken } from '../../lib/token-hash.js'
import type { ResolvedResource } from '../../lib/options.js'
import { createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

const NOW = 1_800_000_000
const invalid = (reason: string): { code: string, reason: string } => ({ code: 'FST_MCP_AUTH_INVALID_TOKEN', reason })
const ISS = 'https://issuer.test'
const AUD = 'https://mcp.example.com/mcp'

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

function claims (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISS, aud: AUD, sub: 'user-1', client_id: 'cid', iat: NOW, exp: NOW + 300, scope: 'mcp:tools:read', ...extra }
}

/** A key resolver over a static JWKS that records which issuers it was asked for. */
function resolver (getKey: JWTVerifyGetKey): KeyResolver & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    keyFor (issuer) {
      asked.push(issuer)
      return getKey
    },
    status: () => [],
    warmUp: async () => [],
  }
}

type AsyncJwtVerifier = (token: string) => Promise<VerifiedToken>

/** The verifier may answer synchronously (and throw); these tests await every answer alike. */
function verifierFor (keys: KeyResolver, overrides: Partial<JwtVerifierOptions> = {}): AsyncJwtVerifier {
  const verify = syncVerifierFor(keys, overrides)
  return async (token) => verify(token)
}

function syncVerifierFor (keys: KeyResolver, overrides: Partial<JwtVerifierOptions> = {}): ReturnType<typeof createJwtVerifier> {
  return createJwtVerifier({
    algorithms: new Set(['ES256', 'RS256']),
    tokenTypes: new Set(['at+jwt']),
    clockTolerance: 5,
    clock: () => NOW,
    issuers: new Set([ISS]),
    keys,
    secret: undefined,
    ...overrides,
  })
}

async function setup (overrides: Partial<JwtVerifierOptions> = {}): Promise<{ issuer: TestIssuer, keys: KeyResolver & { asked: string[] }, verify: AsyncJwtVerifier }> {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const keys = resolver(createLocalJWKSet(issuer.jwks))
  return { issuer, keys, verify: verifierFor(keys, overrides) }
}

/** Signs raw payload bytes (for JSON the test issuer cannot produce, e.g. 1e400). */
async function signRaw (privateKey: CryptoKey, kid: string, payload: string): Promise<string> {
  return new CompactSign(Buffer.from(payload)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey)
}

t.test('RFC 9068 §4: a valid token yields the VerifiedToken', async (t) => {
  const { issuer, keys, verify } = await setup()
  const verified = await verify(await issuer.mintAccessToken(claims({ scp: ['extra'] })))
  t.equal(verified.issuer, ISS)
  t.same(verified.audiences, [AUD])
  t.equal(verified.expiresAt, NOW + 300)
  t.same(verified.scopes, ['mcp:tools:read', 'extra'])
  t.equal(verified.subject, 'user-1')
  t.equal(verified.clientId, 'cid')
  t.same(verified.binding, { jkt: undefined, x5t: undefined })
  t.ok(Object.isFrozen(verified) && Object.isFrozen(verified.claims))
  t.same(keys.asked, [ISS], 'keys are asked for the token\'s (already trusted) issuer')
})

t.test('cheap checks first: junk tokens are rejected before any key lookup', async (t) => {
  const { issuer, keys, verify } = await setup()
  const [h, p, s] = (await issuer.mintAccessToken(claims())).split('.') as [string, string, string]
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>
  const cases: Array<[string, string]> = [
    ['token.malformed', 'abc'],
    ['token.malformed', `${h}.${p}`],
    ['token.malformed', `${h}.${p}.${s}.x`],
    ['token.encrypted', 'a.b.c.d.e'],
    ['token.malformed', `${h}.${p}.`],
    ['token.malformed', `${h}.${p}.${s}=`],
    ['token.malformed', `${h}.${p}.s+g`],
    ['token.malformed', `YWJj.${p}.${s}`], // header "abc" is not JSON
    ['token.malformed', `${encode([1])}.${p}.${s}`],
    ['token.malformed', `${encode('x')}.${p}.${s}`],
    ['token.malformed', `${encode(null)}.${p}.${s}`],
    ['token.alg', `${encode({ ...header, alg: undefined })}.${p}.${s}`],
    ['token.alg', `${encode({ ...header, alg: 256 })}.${p}.${s}`],
    ['token.alg', `${encode({ ...header, alg: 'none' })}.${p}.${s}`],
    ['token.alg', `${encode({ ...header, alg: 'es256' })}.${p}.${s}`],
    ['token.typ', `${encode({ ...header, typ: undefined })}.${p}.${s}`],
    ['token.typ', `${encode({ ...header, typ: ['at+jwt'] })}.${p}.${s}`],
    ['token.crit', `${encode({ ...header, crit: [] })}.${p}.${s}`],
    ['token.malformed', `${encode({ ...header, b64: false })}.${p}.${s}`],
    ['token.malformed', `${h}.YWJj.${s}`],
    ['token.malformed', `${h}.${encode([claims()])}.${s}`],
    ['token.issuer', `${h}.${encode(claims({ iss: undefined }))}.${s}`],
    ['token.issuer', `${h}.${encode(claims({ iss: ISS + '/' }))}.${s}`],
    ['token.expired', `${h}.${encode(claims({ exp: NOW - 60 }))}.${s}`],
    ['token.exp_missing', `${h}.${encode(claims({ exp: undefined }))}.${s}`],
    ['token.nbf', `${h}.${encode(claims({ nbf: NOW + 60 }))}.${s}`],
    ['token.iat', `${h}.${encode(claims({ iat: NOW + 60 }))}.${s}`],
  ]
  for (const [reason, token] of cases) {
    await t.rejects(verify(token), invalid(reason), `${reason}: ${token.slice(0, 40)}`)
  }
  t.same(keys.asked, [], 'no key was ever resolved')
})

t.test('RFC 7519 §4.1.4-6: exact time boundaries with clockTolerance 5 (fixed clock)', async (t) => {
  const { issuer, verify } = await setup()
  const ok = async (extra: Record<string, unknown>, name: string): Promise<void> => {
    await t.resolves(verify(await issuer.mintAccessToken(claims(extra))), name)
  }
  const fails = async (extra: Record<string, unknown>, reason: string, name: string): Promise<void> => {
    await t.rejects(verify(await issuer.mintAccessToken(claims(extra))), invalid(reason), name)
  }
  await ok({ exp: NOW - 4 }, 'exp 4 s ago: inside the tolerance')
  await fails({ exp: NOW - 5 }, 'token.expired', 'exp exactly tolerance ago')
  await ok({ nbf: NOW + 5 }, 'nbf exactly tolerance ahead')
  await fails({ nbf: NOW + 6 }, 'token.nbf', 'nbf beyond the tolerance')
  await ok({ iat: NOW + 5 }, 'iat exactly tolerance ahead')
  await fails({ iat: NOW + 6 }, 'token.iat', 'iat beyond the tolerance')
  await ok({ exp: NOW + 0.5, iat: NOW - 0.5 }, 'NumericDate may be fractional')
  const strict = verifierFor(resolver(createLocalJWKSet(issuer.jwks)), { clockTolerance: 0 })
  await t.rejects(strict(await issuer.mintAccessToken(claims({ exp: NOW }))), invalid('token.expired'), 'exp == now is expired')
  await t.resolves(strict(await issuer.mintAccessToken(claims({ exp: NOW + 1 }))))
})

t.test('RFC 7519 §2: a non-finite NumericDate (1e400) is not a valid exp', async (t) => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid: 'k1' }
  const verify = verifierFor(resolver(createLocalJWKSet({ keys: [jwk] })))
  const base = JSON.stringify(claims({ exp: undefined })).slice(0, -1)
  await t.resolves(verify(await signRaw(privateKey, 'k1', `${base},"exp":${NOW + 10}}`)))
  await t.rejects(verify(await signRaw(privateKey, 'k1', `${base},"exp":1e400}`)), invalid('token.exp_missing'))
  await t.rejects(verify(await signRaw(privateKey, 'k1', `${base},"exp":${NOW + 10},"nbf":-1e400}`)), invalid('token.nbf'))
  await t.rejects(verify(await signRaw(privateKey, 'k1', `${base},"exp":${NOW + 10},"iat":1e400}`)), invalid('token.iat'))
})

t.test('RFC 8725 §3.1: HS* needs the configured secret; without one it is token.alg', async (t) => {
  const keys = resolver(async () => { throw new Error('never asked') })
  const secret = randomBytes(32)
  const payload = encode(claims())
  const sign = async (key: Uint8Array): Promise<string> => {
    const { createHmac } = await import('node:crypto')
    const input = `${encode({ alg: 'HS256', typ: 'at+jwt' })}.${payload}`
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
  }
  const noSecret = verifierFor(keys, { algorithms: new Set(['HS256']) })
  await t.rejects(noSecret(await sign(secret)), invalid('token.alg'))
  const withSecret = verifierFor(keys, { algorithms: new Set(['HS256']), secret })
  const verified = await withSecret(await sign(secret))
  t.equal(verified.subject, 'user-1')
  await t.rejects(withSecret(await sign(randomBytes(32))), invalid('token.signature'))
  t.same(keys.asked, [], 'HS* never consults the asymmetric key source')
})

t.test('key resolution failures: outage (503) vs. a problem with the token (401)', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const token = await issuer.mintAccessToken(claims())
  const cases: Array<[string, unknown, { code: string, reason: string }]> = [
    ['generic error → jwks.unreachable (503)', new Error('ECONNREFUSED'), { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'jwks.unreachable' }],
    ['jose JWKSTimeout → jwks.unreachable', new errors.JWKSTimeout(), { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'jwks.unreachable' }],
    ['McpAuthError passes through', reject.unavailable('discovery.failed'), { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'discovery.failed' }],
    ['user-level McpAuthError passes through', new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'token.revoked'), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.revoked' }],
    ['JOSENotSupported → token.alg', new errors.JOSENotSupported('unsupported'), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.alg' }],
    ['JWKSNoMatchingKey → token.unknown_key', new errors.JWKSNoMatchingKey(), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.unknown_key' }],
    ['a thrown non-Error → jwks.unreachable', 'string', { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'jwks.unreachable' }],
  ]
  for (const [name, error, expected] of cases) {
    const verify = verifierFor(resolver(async () => { throw error }))
    await t.rejects(verify(token), expected, name)
  }
  // A failing keyFor (e.g. discovery) propagates its McpAuthError unchanged.
  const failing: KeyResolver = { keyFor: async () => { throw reject.unavailable('discovery.failed') }, status: () => [], warmUp: async () => [] }
  await t.rejects(verifierFor(failing)(token), { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'discovery.failed' })
})

t.test('RFC 8725 §3.1: a key that does not fit the algorithm → token.alg (never a 500)', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const rsa = await createTestIssuer({ issuer: ISS, algorithm: 'RS256' })
  const rsaKey = await importJWK(rsa.jwks.keys[0] as JWK, 'RS256')
  const verify = verifierFor(resolver(async () => rsaKey))
  await t.rejects(verify(await issuer.mintAccessToken(claims())), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.alg' })
  const ecKey = await importJWK(issuer.jwks.keys[0] as JWK, 'ES256')
  const secretAsKey = verifierFor(resolver(async () => new Uint8Array(32)))
  await t.rejects(secretAsKey(await issuer.mintAccessToken(claims())), invalid('token.alg'), 'a symmetric key for ES256')
  await t.resolves(verifierFor(resolver(async () => ecKey))(await issuer.mintAccessToken(claims())))
})

t.test('a signature segment that is not canonical base64url → token.malformed', async (t) => {
  const { issuer, verify } = await setup()
  const [h, p] = (await issuer.mintAccessToken(claims())).split('.') as [string, string]
  await t.rejects(verify(`${h}.${p}.A`), invalid('token.malformed'))
  await t.rejects(verify(`${h}.${p}.AA`), invalid('token.signature'), 'canonical but wrong length')
})

t.test('several JWKS keys match the header: one of them must verify', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const good = issuer.jwks.keys[0] as JWK
  const decoy = { ...await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey), kid: good.kid, alg: 'ES256' }
  const decoy2 = { ...decoy, x: (await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)).x, y: undefined }
  const token = await issuer.mintAccessToken(claims())
  const both = verifierFor(resolver(createLocalJWKSet({ keys: [decoy, good] })))
  t.equal((await both(token)).subject, 'user-1', 'the matching key is found among the candidates')
  const decoys = verifierFor(resolver(createLocalJWKSet({ keys: [decoy, { ...decoy }] })))
  await t.rejects(decoys(token), invalid('token.signature'), 'no candidate verifies')
  // A candidate that cannot even be imported is skipped by jose; the rest still count.
  const broken = verifierFor(resolver(createLocalJWKSet({ keys: [decoy2 as JWK, good] })))
  t.equal((await broken(token)).subject, 'user-1')
})

t.test('several matching keys: a candidate failing for another reason than the signature → 401, not 500', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const rsa = await createTestIssuer({ issuer: ISS, algorithm: 'RS256' })
  const rsaKey = await importJWK(rsa.jwks.keys[0] as JWK, 'RS256')
  const many = new errors.JWKSMultipleMatchingKeys()
  Object.assign(many, { [Symbol.asyncIterator]: async function * () { yield rsaKey } })
  const verify = verifierFor(resolver(async () => { throw many }))
  await t.rejects(verify(await issuer.mintAccessToken(claims())), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.alg' })
})

t.test('RFC 7515 §4.1.9: normalizeMediaType lowercases and drops the application/ prefix', async (t) => {
  t.equal(normalizeMediaType('at+jwt'), 'at+jwt')
  t.equal(normalizeMediaType('Application/AT+JWT'), 'at+jwt')
  t.equal(normalizeMediaType('application/'), '')
  t.equal(normalizeMediaType('applicationat+jwt'), 'applicationat+jwt')
  t.equal(normalizeMediaType('text/at+jwt'), 'text/at+jwt')
})

t.test('decodeSegment returns JSON objects only', async (t) => {
  t.same(decodeSegment(encode({ a: 1 })), { a: 1 })
  t.equal(decodeSegment(encode([1])), undefined)
  t.equal(decodeSegment(encode(null)), undefined)
  t.equal(decodeSegment(encode(5)), undefined)
  t.equal(decodeSegment('YWJj'), undefined)
  t.equal(decodeSegment(''), undefined)
})

// ——— lib/verifier.ts: the verified-token cache, with a movable clock ———

const RESOURCE = { uri: AUD } as unknown as ResolvedResource

type AsyncTokenVerifier = (...args: Parameters<ReturnType<typeof createTokenVerifier>>) => Promise<VerifiedToken>
const ctx = { resource: RESOURCE, request: {} }

function syncTokenVerifier (verify: (token: string) => Promise<VerifiedToken>, clock: () => number, overrides: Partial<TokenVerifierOptions> = {}): ReturnType<typeof createTokenVerifier> {
  return createTokenVerifier({
    verify: { kind: 'jwt', verify },
    cacheSize: 100,
    cacheTtl: Number.POSITIVE_INFINITY,
    maxAge: Number.POSITIVE_INFINITY,
    clock,
    clockTolerance: 5,
    issuers: new Set([ISS]),
    ...overrides,
  })
}

/** The verifier answers a cache hit synchronously; these tests await every answer alike. */
/** A verifier (cache of 300) over a stub verification that counts its calls. */
function countingVerifier (): { verifier: ReturnType<typeof createTokenVerifier>, calls: number } {
  const counter = {
    calls: 0,
    verifier: syncTokenVerifier(async () => {
      counter.calls++
      return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken
    }, () => NOW, { cacheSize: 300 }),
  }
  return counter
}

function tokenVerifier (verify: (token: string) => Promise<VerifiedToken>, clock: () => number, overrides: Partial<TokenVerifierOptions> = {}): AsyncTokenVerifier {
  const v = syncTokenVerifier(verify, clock, overrides)
  return async (...args) => (await v(...args)).verified
}

t.test('verified-token cache: hits until exp, then re-verification (fixed clock, no sleeping)', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  let now = NOW
  let calls = 0
  const jwt = verifierFor(resolver(createLocalJWKSet(issuer.jwks)), { clock: () => now })
  const cached = tokenVerifier(async (token) => { calls++; return jwt(token) }, () => now)
  const token = await issuer.mintAccessToken(claims({ exp: NOW + 60 }))
  const first = await cached(token, { resource: RESOURCE, request: {} })
  const second = await cached(token, { resource: RESOURCE, request: {} })
  t.equal(first, second, 'the same immutable entry')
  t.equal(calls, 1)
  now = NOW + 59
  await cached(token, { resource: RESOURCE, request: {} })
  t.equal(calls, 1, 'still valid one second before exp')
  now = NOW + 60
  await cached(token, { resource: RESOURCE, request: {} }).catch(() => undefined)
  t.equal(calls, 2, 'at exp the entry is dropped and the token verified again')
  now = NOW + 66
  await t.rejects(cached(token, { resource: RESOURCE, request: {} }), invalid('token.expired'))
  t.equal(calls, 3)
})

t.test('issue 15 item 2: tokenCache.maxAge bounds how long any entry is trusted without a new verification', async (t) => {
  let now = NOW
  let calls = 0
  const verifier = syncTokenVerifier(async () => {
    calls++
    return Object.freeze({ binding: {}, expiresAt: NOW + 86_400 }) as unknown as VerifiedToken
  }, () => now, { maxAge: 300 })
  for (let i = 0; i < 3; i++) await verifier('long-lived', ctx)
  t.equal(calls, 1, 'verified once, then hits')
  now = NOW + 299
  await verifier('long-lived', ctx)
  t.equal(calls, 1, 'still trusted before maxAge')
  now = NOW + 300
  await verifier('long-lived', ctx)
  t.equal(calls, 2, 'at maxAge (counted from the verification) the token is verified again, long before exp')
  await verifier('long-lived', ctx)
  t.equal(calls, 2, 'and cached anew')
})

t.test('issue 15 item 2: an entry whose signing key is withdrawn is verified again at its next use, on either tier', async (t) => {
  let calls = 0
  const key = { kid: 'k1', thumbprint: 'tp', withdrawn: false }
  const kept = { kid: 'k2', thumbprint: 'tp2', withdrawn: false }
  const verifier = syncTokenVerifier(async (token) => {
    calls++
    return Object.freeze({ binding: {}, expiresAt: NOW + 86_400, signingKey: token === 'by-kept' ? kept : key }) as unknown as VerifiedToken
  }, () => NOW)
  for (let i = 0; i < 3; i++) await verifier('by-k1', ctx)
  for (let i = 0; i < 3; i++) await verifier('by-kept', ctx)
  t.equal(calls, 2)
  key.withdrawn = true
  await verifier('by-k1', ctx)
  t.equal(calls, 3, 'the by-value tier does not serve it')
  await verifier('by-kept', ctx)
  t.equal(calls, 3, 'a token by a key still listed stays cached')
  // Past the by-value tier (256 other tokens): the hashed tier must drop it too.
  const hashed = syncTokenVerifier(async () => {
    calls++
    return Object.freeze({ binding: {}, expiresAt: NOW + 86_400, signingKey: kept }) as unknown as VerifiedToken
  }, () => NOW, { cacheSize: 1000 })
  // Two misses admit it to the hashed tier; 300 other tokens push it out of the by-value tier.
  await hashed('old', ctx)
  for (let i = 0; i < 300; i++) await hashed(`other-${i}`, ctx)
  await hashed('old', ctx)
  for (let i = 0; i < 300; i++) await hashed(`again-${i}`, ctx)
  const before = calls
  await hashed('old', ctx)
  t.equal(calls, before, 'found in the hashed tier')
  for (let i = 0; i < 300; i++) await hashed(`more-${i}`, ctx)
  kept.withdrawn = true
  const flood = calls
  await hashed('old', ctx)
  t.equal(calls, flood + 1, 'withdrawn: verified again from the hashed tier as well')
})

t.test('verified-token cache: a verification that ends past exp or past cacheTtl is never served from the cache', async (t) => {
  let now = NOW
  let calls = 0
  // The clock moves while the (asynchronous) verification runs.
  const slow = (moveTo: number) => async (): Promise<VerifiedToken> => {
    calls++
    now = moveTo
    return Object.freeze({ binding: {}, expiresAt: NOW + 10 }) as unknown as VerifiedToken
  }
  const pastExp = syncTokenVerifier(slow(NOW + 11), () => now)
  await pastExp('token-a', ctx)
  await pastExp('token-a', ctx)
  t.equal(calls, 2, 'verified again: the first answer expired while it was being made')

  now = NOW
  calls = 0
  const pastTtl = syncTokenVerifier(async () => { calls++; now = NOW + 3; return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken }, () => now, { cacheTtl: 2 })
  await pastTtl('token-b', ctx)
  await pastTtl('token-b', ctx)
  t.equal(calls, 2, 'cacheTtl counts from the request that verified it, not from the answer')
})

t.test('verified-token cache: cacheSize 0 or cacheTtl 0 disable it; a token without exp is cached only under a finite TTL', async (t) => {
  const noExp = Object.freeze({ binding: {}, expiresAt: undefined }) as unknown as VerifiedToken
  let calls = 0
  const verify = async (): Promise<VerifiedToken> => { calls++; return noExp }
  for (const overrides of [{ cacheSize: 0 }, { cacheTtl: 0 }, {}]) {
    calls = 0
    const v = tokenVerifier(verify, () => NOW, overrides)
    await v('t', ctx)
    await v('t', ctx)
    t.equal(calls, 2, JSON.stringify(overrides))
  }
  calls = 0
  const capped = tokenVerifier(verify, () => NOW, { verify: { kind: 'introspection', verify }, cacheTtl: 60 })
  await capped('t', ctx)
  await capped('t', ctx)
  t.equal(calls, 1, 'introspection results without exp live for cacheTtl')
  calls = 0
  const expired = Object.freeze({ binding: {}, expiresAt: NOW - 1 }) as unknown as VerifiedToken
  const past = tokenVerifier(async () => { calls++; return expired }, () => NOW)
  await past('t', ctx)
  await past('t', ctx)
  t.equal(calls, 2, 'an entry already past exp (accepted inside the tolerance) is never stored')
})

t.test('verified-token cache: a hit answers synchronously, a miss with a promise', async (t) => {
  const entry = Object.freeze({ binding: {}, expiresAt: NOW + 60 }) as unknown as VerifiedToken
  const v = syncTokenVerifier(async () => entry, () => NOW)
  const miss = v('t', ctx)
  t.ok(miss instanceof Promise)
  t.equal((await miss).verified, entry)
  const hit = v('t', ctx)
  t.notOk(hit instanceof Promise, 'no promise, no microtask on the hot path')
  t.equal((hit as VerifiedEntry).verified, entry)
  t.equal((hit as VerifiedEntry).tokenHash, undefined, 'a bearer token seen once is not hashed')
  const bound = Object.freeze({ binding: { jkt: 'key' }, expiresAt: NOW + 60 }) as unknown as VerifiedToken
  const dpop = syncTokenVerifier(async () => bound, () => NOW)
  t.equal((await dpop('d', ctx)).tokenHash, hashToken('d'), 'a DPoP-bound token carries its SHA-256 (the ath) from its first sighting')
  t.equal((dpop('d', ctx) as VerifiedEntry).tokenHash, hashToken('d'))
})

t.test('verified-token cache: tokens in use are found by value, still never past exp, and those are bounded', async (t) => {
  let now = NOW
  let calls = 0
  const v = tokenVerifier(async (token) => {
    calls++
    return Object.freeze({ binding: {}, expiresAt: token === 'short' ? NOW + 10 : NOW + 600 }) as unknown as VerifiedToken
  }, () => now, { cacheSize: 1000 })
  for (let i = 0; i < 5; i++) await v('short', ctx)
  t.equal(calls, 1, 'verified once; later requests find it by value')
  now = NOW + 10
  await v('short', ctx)
  t.equal(calls, 2, 'a token found by value is dropped at exp like any other entry')
  // More distinct tokens than are kept by value: each keeps working through the hashed cache.
  now = NOW
  calls = 0
  const perToken = new Map<string, number>()
  const counting = tokenVerifier(async (token) => {
    perToken.set(token, (perToken.get(token) ?? 0) + 1)
    return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken
  }, () => now, { cacheSize: 1000 })
  for (let round = 0; round < 4; round++) for (let i = 0; i < 600; i++) await counting(`token-${i}`, ctx)
  t.equal(perToken.size, 600)
  t.ok([...perToken.values()].every((n) => n <= 2), 'each token verified at most twice: its first miss, and the miss that admits it to the hashed cache')
  const settled = [...perToken.values()].reduce((a, b) => a + b, 0)
  for (let round = 0; round < 3; round++) for (let i = 0; i < 600; i++) await counting(`token-${i}`, ctx)
  t.equal([...perToken.values()].reduce((a, b) => a + b, 0), settled, 'from then on every token is found in the hashed cache or by value')
  const second = syncTokenVerifier(async () => Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken, () => NOW)
  const a = await second('a', ctx)
  const b = await second('b', ctx)
  t.not(a, b, 'distinct tokens, distinct entries')
  t.not(a.verified, undefined)
})

t.test('verified-token cache: admission on the second miss, so one-shot tokens cannot flush the tokens in use', async (t) => {
  const counter = countingVerifier()
  const v = counter.verifier
  // A token in use: seen, pushed out of the by-value tier, seen again → admitted.
  await v('in-use', ctx)
  for (let i = 0; i < 260; i++) await v(`filler-${i}`, ctx)
  await v('in-use', ctx)
  t.equal(counter.calls, 262, 'verified on its first and second miss')
  // More one-shot tokens than the cache holds: none is admitted, so none evicts it.
  for (let i = 0; i < 310; i++) await v(`one-shot-${i}`, ctx)
  counter.calls = 0
  const entry = await v('in-use', ctx)
  t.equal(counter.calls, 0, 'still cached after the flood')
  t.equal(entry.tokenHash, hashToken('in-use'), 'admitted entries carry the SHA-256 they are keyed by')
  // Ten times the cache size, with the token in use coming back after every 280
  // one-shot tokens (past the 256 of the by-value tier, within the 300 the filter
  // surely remembers): each return refreshes it in the two-generation admission
  // filter, so it is never verified again.
  for (let i = 0; i < 3000; i++) {
    await v(`flood-${i}`, ctx)
    if (i % 280 === 279) {
      counter.calls = 0
      await v('in-use', ctx)
      t.equal(counter.calls, 0, `found in the cache while the flood goes on (${i + 1} one-shot tokens)`)
    }
  }
  // Unused during a flood longer than both generations: forgotten by the filter,
  // which costs it one verification; then it is found again.
  for (let i = 0; i < 3000; i++) await v(`long-flood-${i}`, ctx)
  counter.calls = 0
  for (let i = 0; i < 5; i++) await v('in-use', ctx)
  t.ok(counter.calls <= 1, 'at most one more verification after a long flood without it')
})

t.test('verified-token cache: the admission filter forgets its oldest generation, not everything at once', async (t) => {
  const counter = countingVerifier()
  const v = counter.verifier
  // Two generations of 300: the 600th token fills both, the 601st retires the older one.
  for (let i = 0; i < 599; i++) await v(`early-${i}`, ctx)
  await v('last-before-rollover', ctx)
  for (let i = 0; i < 260; i++) await v(`late-${i}`, ctx) // also out of the by-value tier
  counter.calls = 0
  const entry = await v('last-before-rollover', ctx)
  t.equal(counter.calls, 1, 'verified on its second miss')
  t.equal(entry.tokenHash, hashToken('last-before-rollover'), 'remembered across the rollover, so admitted to the hashed cache')
  const early = await v('early-10', ctx)
  t.equal(early.tokenHash, undefined, 'a token from the retired generation counts as a first miss again')
  // Admission put it in the current generation: past the by-value tier, it is found in the hashed cache.
  for (let i = 0; i < 280; i++) await v(`later-${i}`, ctx)
  counter.calls = 0
  await v('last-before-rollover', ctx)
  t.equal(counter.calls, 0, 'found in the hashed cache, not verified again')
})

t.test('verified-token cache: tokens sharing a fingerprint never answer for each other', async (t) => {
  // Only the first character differs: outside the fingerprinted length, middle and tail.
  const rest = '-token-with-a-long-middle.same-last-16-chars'
  const first = 'f' + rest
  const other = 'o' + rest
  t.equal(fingerprint(first), fingerprint(other), 'a deliberate collision')
  const verifiedFor = new Map<string, VerifiedToken>()
  let calls = 0
  const v = syncTokenVerifier(async (token) => {
    calls++
    const verified = Object.freeze({ binding: {}, expiresAt: NOW + 600, token }) as unknown as VerifiedToken
    verifiedFor.set(token, verified)
    return verified
  }, () => NOW, { cacheSize: 300 })
  for (let round = 0; round < 4; round++) {
    t.equal((await v(first, ctx)).verified, verifiedFor.get(first), `round ${round}: the first token's own entry`)
    t.equal((await v(other, ctx)).verified, verifiedFor.get(other), `round ${round}: the other token's own entry`)
  }
  t.ok(calls >= 2 && calls <= 4, 'each verified, at most twice')
})

t.test('verified-token cache: fingerprint() is a small integer of the length, the middle and the last 16 characters', async (t) => {
  const a = fingerprint('x'.repeat(100) + 'abcdefghijklmnop')
  t.equal(a, fingerprint('y' + 'x'.repeat(99) + 'abcdefghijklmnop'), 'the head does not count')
  t.not(a, fingerprint('x'.repeat(100) + 'abcdefghijklmnoq'), 'the tail counts')
  t.not(a, fingerprint('x'.repeat(54) + 'z' + 'x'.repeat(45) + 'abcdefghijklmnop'), 'the middle counts')
  t.not(a, fingerprint('x'.repeat(101) + 'abcdefghijklmnop'), 'the length counts')
  // Opaque tokens that share a suffix spread over many fingerprints.
  const suffix = '.tenant-42.prod.v1'
  const marks = new Set(Array.from({ length: 1000 }, () => fingerprint(randomBytes(24).toString('base64url') + suffix)))
  t.ok(marks.size > 990, `a shared suffix does not collide (${marks.size} of 1000 distinct)`)
  for (const token of ['', 'a', 'eyJhbGciOiJFUzI1NiJ9.e30.' + 'A'.repeat(86)]) {
    const f = fingerprint(token)
    t.ok(Number.isInteger(f) && f >= 0 && f < 2 ** 30, `in [0, 2^30) for ${JSON.stringify(token.slice(0, 12))}`)
  }
})

t.test('verified-token cache: keyed by the token, failures are not stored', async (t) => {
  let calls = 0
  const v = tokenVerifier(async (token) => {
    calls++
    if (token === 'bad') throw reject.invalidToken('token.signature')
    return Object.freeze({ binding: {}, expiresAt: NOW + 60 }) as unknown as VerifiedToken
  }, () => NOW)
  await t.rejects(v('bad', ctx))
  await t.rejects(v('bad', ctx))
  t.equal(calls, 2)
  await v('good', ctx)
  await v('good', ctx)
  t.equal(calls, 3)
})

t.test('custom verifier (lib): results are checked like token claims and never cached', async (t) => {
  let calls = 0
  const answers: Record<string, unknown> = {
    ok: { aud: AUD, iss: ISS, exp: NOW + 60 },
    noiss: { aud: AUD },
    untrusted: { aud: AUD, iss: 'https://evil.example' },
    nonstring: { aud: AUD, iss: ['x'] },
    expired: { aud: AUD, exp: NOW - 60 },
    cyclic: (() => { const o: Record<string, unknown> = { aud: AUD }; o.self = o; return o })(),
    symbol: { aud: AUD, s: Symbol('x') },
  }
  const custom = createTokenVerifier({
    verify: { kind: 'custom', verify: (token) => { calls++; return answers[token] } },
    cacheSize: 100,
    cacheTtl: Number.POSITIVE_INFINITY,
    maxAge: 300,
    clock: () => NOW,
    clockTolerance: 5,
    issuers: new Set([ISS]),
  })
  const v: AsyncTokenVerifier = async (...args) => (await custom(...args)).verified
  t.equal((await v('ok', ctx)).issuer, ISS)
  await v('ok', ctx)
  t.equal(calls, 2, 'never cached')
  t.equal((await v('noiss', ctx)).issuer, undefined)
  await t.rejects(v('untrusted', ctx), invalid('token.issuer'))
  await t.rejects(v('nonstring', ctx), invalid('token.issuer'))
  await t.rejects(v('expired', ctx), invalid('token.expired'))
  const cyclic = await v('cyclic', ctx)
  t.equal((cyclic.claims as Record<string, unknown>).self, cyclic.claims, 'a cyclic result is copied and frozen without looping')
  await t.rejects(v('symbol', ctx), invalid('token.claims'), 'an uncloneable result')
  await t.rejects(v('missing', ctx), invalid('token.rejected'))
})

t.test('verified-token cache: an entry of the hashed cache is not served past exp (JWT after admission, introspection at once)', async (t) => {
  for (const kind of ['jwt', 'introspection'] as const) {
    let now = NOW
    let calls = 0
    const verify = async (token: string) => {
      calls++
      return Object.freeze({ binding: {}, expiresAt: token === 'target' ? NOW + 10 : NOW + 600 }) as unknown as VerifiedToken
    }
    const v = tokenVerifier(verify, () => now, { verify: { kind, verify }, cacheSize: 300 })
    // Into the hashed cache: a JWT on its second miss (pushed out of the by-value tier in between).
    await v('target', ctx)
    for (let i = 0; i < 260; i++) await v(`filler-${i}`, ctx)
    await v('target', ctx)
    calls = 0
    for (let i = 0; i < 260; i++) await v(`other-${i}`, ctx)
    await v('target', ctx)
    t.equal(calls, 260, `${kind}: still served from the cache before exp`)
    now = NOW + 10
    calls = 0
    await v('target', ctx)
    t.equal(calls, 1, `${kind}: verified again at exp`)
  }
})

t.test('verified-token cache: cacheTtl also runs on the monotonic clock (a wall clock that stands still or steps back cannot stretch it)', async (t) => {
  let calls = 0
  const v = tokenVerifier(async () => { calls++; return Object.freeze({ binding: {}, expiresAt: undefined }) as unknown as VerifiedToken }, () => NOW, { verify: { kind: 'introspection', verify: async () => { calls++; return Object.freeze({ binding: {}, expiresAt: undefined }) as unknown as VerifiedToken } }, cacheTtl: 0.05 })
  await v('t', ctx)
  await v('t', ctx)
  t.equal(calls, 1, 'cached')
  await new Promise((resolve) => setTimeout(resolve, 80))
  await v('t', ctx)
  t.equal(calls, 2, 'past cacheTtl in real time: asked again, although the injected wall clock never moved')
})
