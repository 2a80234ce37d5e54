// JWT access tokens through the plugin (RFC 9068 §4, RFC 8725, RFC 7519, RFC
// 8707 audience, MCP canonical resource URI): one "mutant" per check, a token
// valid in every way except the property under test. Every rejection asserts
// status, WWW-Authenticate, body and the logged `reason`.
import { createHmac, createPublicKey, randomBytes } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import { inspect } from 'node:util'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import { CompactEncrypt, CompactSign, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, importPKCS8 } from 'jose'
import type { CryptoKey, JWK, JWTVerifyGetKey } from 'jose'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth, { McpAuthError, requireScopes } from '../../index.js'
import type { McpAuthContext, McpAuthInfo, McpAuthOptions } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer, startTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import { createTestCa } from '../../lib/testing/certificates.js'
import { ORIGIN, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'
import { assertRejected, DESCRIPTION_CHARS } from '../helpers/rejections.js'
import type { Expected } from '../helpers/rejections.js'

const R2 = 'https://mcp.example.com/tenants/acme/mcp'
const PRM_R2 = 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp'
const PRM_ROOT = 'https://mcp.example.com/.well-known/oauth-protected-resource'
const PATHS = ['/', '/mcp', '/mcp2', '/mcp/sub', '/other', '/tenants/acme/mcp', '/tenants/acme/mcp/tools']
const OUTSIDE = ['/', '/mcp2', '/other']

interface Seen {
  readonly path: string
  readonly mcp: McpAuthContext | null
  readonly auth: McpAuthInfo | undefined
}

interface LogLine {
  readonly level: number
  readonly msg: string
  readonly reason?: string
  readonly code?: string
  readonly [field: string]: unknown
}

interface Harness {
  readonly app: FastifyInstance
  readonly issuer: TestIssuer
  /** Raw log lines as pino wrote them. */
  readonly raw: string[]
  readonly seen: Seen[]
  logs (): LogLine[]
  /** `reason` of every 'request rejected' debug line, in order. */
  reasons (): Array<string | undefined>
  lastReason (): string | undefined
  get (path: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

interface SetupExtra {
  issuer?: TestIssuer
  /** Runs on the bare instance before the plugin is registered. */
  configure?: (app: FastifyInstance) => void
}

/** An app with GET on PATHS and POST /mcp (needs mcp:tools:call); logs captured at debug level. */
async function setup (t: Test, options: Partial<McpAuthOptions> = {}, extra: SetupExtra = {}): Promise<Harness> {
  const issuer = extra.issuer ?? await createTestIssuer({ audience: RESOURCE })
  const raw: string[] = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => { raw.push(line) } } } })
  t.teardown(() => app.close())
  extra.configure?.(app)
  await app.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [issuer.issuer],
    jwks: { keys: issuer.jwks.keys },
    ...options,
  } as McpAuthOptions)
  const seen: Seen[] = []
  const capture = async (request: FastifyRequest) => {
    seen.push({ path: request.url, mcp: request.mcp, auth: (request.raw as { auth?: McpAuthInfo }).auth })
    // A handler that logs the whole context must not leak the token.
    request.log.debug({ mcp: request.mcp }, 'handler saw request.mcp')
    return { ok: true }
  }
  // With several resources a route outside all of them is a registration error:
  // those paths are left to the 404 handler, which answers with the first resource.
  const several = Array.isArray(options.resource) && options.resource.length > 1 && !options.resource.includes(ORIGIN)
  for (const path of PATHS) if (!several || !OUTSIDE.includes(path)) app.get(path, capture)
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, capture)
  await app.ready()
  const logs = (): LogLine[] => raw.map((line) => JSON.parse(line) as LogLine)
  const reasons = (): Array<string | undefined> => logs().filter((l) => l.msg === 'mcp-auth: request rejected').map((l) => l.reason)
  return {
    app,
    issuer,
    raw,
    seen,
    logs,
    reasons,
    lastReason: () => reasons().at(-1),
    get: (path, headers = {}) => app.inject({ method: 'GET', url: path, headers }),
  }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

function assertInvalidToken (t: Test, h: Harness, res: LightMyRequestResponse, reason: string, extra: Partial<Expected> = {}): void {
  assertRejected(t, h, res, { reason, ...extra })
}

function segments (token: string): [string, string, string] {
  const [a = '', b = '', c = ''] = token.split('.')
  return [a, b, c]
}

const decode = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

function hs256 (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Uint8Array): string {
  const input = `${encode(header)}.${encode(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

/** A signing key the test owns outright (for headers the test issuer cannot sign, such as crit). */
async function ownKey (kid = 'own-key'): Promise<{ privateKey: CryptoKey, jwk: JWK, sign: (header: Record<string, unknown>, payload: Record<string, unknown>, crit?: Record<string, boolean>) => Promise<string> }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid, alg: 'ES256' }
  return {
    privateKey,
    jwk,
    sign: (header, payload, crit) => new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header } as never)
      .sign(privateKey, crit === undefined ? undefined : { crit }),
  }
}

/** A key function that counts how often a key is resolved (i.e. how often a token is really verified). */
function countingKeys (jwks: { keys: JWK[] }): { getKey: JWTVerifyGetKey, calls: () => number } {
  const local = createLocalJWKSet(jwks)
  let calls = 0
  return {
    getKey: async (header, token) => {
      calls++
      return local(header, token)
    },
    calls: () => calls,
  }
}

// ——— baseline ———

t.test('RFC 9068 §4: a valid at+jwt access token is accepted (the baseline every mutant departs from)', async (t) => {
  const h = await setup(t)
  const token = await h.issuer.mintAccessToken()
  const res = await h.get('/mcp', bearer(token))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ok: true })
  t.equal(h.seen[0]?.mcp?.sender.binding, 'bearer')
  t.same(h.reasons(), [])
})

// ——— C. RFC 9068 / RFC 8725: header and signature ———

t.test('RFC 9068 §4 / RFC 8725 §3.1: alg none (unsigned, empty signature) → 401 invalid_token', async (t) => {
  const h = await setup(t)
  const [header, payload] = segments(await h.issuer.mintAccessToken())
  const unsigned = `${encode({ ...decode(header), alg: 'none' })}.${payload}.`
  assertInvalidToken(t, h, await h.get('/mcp', bearer(unsigned)), 'token.malformed')
  // The same with something in the third segment still never verifies.
  const withJunk = `${encode({ ...decode(header), alg: 'none' })}.${payload}.AAAA`
  assertInvalidToken(t, h, await h.get('/mcp', bearer(withJunk)), 'token.alg')
  const upper = `${encode({ ...decode(header), alg: 'NONE' })}.${payload}.AAAA`
  assertInvalidToken(t, h, await h.get('/mcp', bearer(upper)), 'token.alg')
  t.equal(h.seen.length, 0, 'the handler never ran')
})

t.test('RFC 9068 §4: "none" cannot be configured, whatever the configuration', async (t) => {
  for (const algorithms of [['none'], ['ES256', 'None']]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: ['https://issuer.test'], algorithms })
    }, { code: 'FST_MCP_AUTH_INVALID_OPTION' })
  }
})

t.test('RFC 8725 §2.1: HS256 keyed with the issuer public key (algorithm confusion), no secret configured → 401', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE, algorithm: 'RS256' })
  const h = await setup(t, {}, { issuer })
  const [header, payload] = segments(await issuer.mintAccessToken())
  const claims = decode(payload)
  const jwk = issuer.jwks.keys[0] as JWK
  const publicKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  const secrets: Array<[string, string | Uint8Array]> = [
    ['PEM', publicKey.export({ type: 'spki', format: 'pem' }) as string],
    ['DER', publicKey.export({ type: 'spki', format: 'der' })],
    ['JWK n', jwk.n as string],
    ['JWK JSON', JSON.stringify(jwk)],
  ]
  for (const [name, secret] of secrets) {
    const forged = hs256({ ...decode(header), alg: 'HS256' }, claims, secret)
    t.comment(name)
    assertInvalidToken(t, h, await h.get('/mcp', bearer(forged)), 'token.alg')
  }
  t.equal(h.seen.length, 0)
})

t.test('RFC 8725 §2.1: with HS256 allowed and a secret configured, a MAC keyed with the public key → 401 (the real secret → 200)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE, algorithm: 'RS256' })
  const secret = randomBytes(32)
  const h = await setup(t, { algorithms: ['RS256', 'HS256'], secret }, { issuer })
  const [header, payload] = segments(await issuer.mintAccessToken())
  const claims = decode(payload)
  const jwk = issuer.jwks.keys[0] as JWK
  const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
  for (const key of [pem, jwk.n as string, JSON.stringify(jwk)]) {
    const forged = hs256({ ...decode(header), alg: 'HS256' }, claims, key)
    assertInvalidToken(t, h, await h.get('/mcp', bearer(forged)), 'token.signature')
  }
  const genuine = hs256({ ...decode(header), alg: 'HS256' }, claims, secret)
  t.equal((await h.get('/mcp', bearer(genuine))).statusCode, 200, 'the configured secret verifies')
  t.equal((await h.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 200, 'RS256 still verifies with the JWKS')
})

t.test('RFC 9068 §4: an alg outside `algorithms` → 401 invalid_token', async (t) => {
  const h = await setup(t, { algorithms: ['RS256', 'PS256'] })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken())), 'token.alg')
  const ps = await createTestIssuer({ audience: RESOURCE, algorithm: 'PS256' })
  const h2 = await setup(t, { algorithms: ['RS256'] }, { issuer: ps })
  assertInvalidToken(t, h2, await h2.get('/mcp', bearer(await ps.mintAccessToken())), 'token.alg')
})

t.test('RFC 9068 §2.1: RS256 from the JWKS is accepted by default', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE, algorithm: 'RS256' })
  const h = await setup(t, {}, { issuer })
  t.equal((await h.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 200)
})

t.test('RFC 8725 §3.1: an ES256 header on an RSA key → 401 invalid_token', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE, algorithm: 'RS256' })
  const [header, payload, signature] = segments(await issuer.mintAccessToken())
  const swapped = `${encode({ ...decode(header), alg: 'ES256' })}.${payload}.${signature}`
  // The JWKS entry (kty RSA, alg RS256) never matches an ES256 header.
  const h = await setup(t, {}, { issuer })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(swapped)), 'token.unknown_key')
  // Even without `alg` on the JWK, an EC algorithm never selects an RSA key.
  const h2 = await setup(t, { jwks: { keys: issuer.jwks.keys.map(({ alg: _alg, ...k }) => k) } }, { issuer })
  assertInvalidToken(t, h2, await h2.get('/mcp', bearer(swapped)), 'token.unknown_key')
  // A key function that hands back the RSA key anyway: the crypto layer refuses it.
  const rsa = await importJWK(issuer.jwks.keys[0] as JWK, 'RS256')
  const h3 = await setup(t, { jwks: async () => rsa }, { issuer })
  assertInvalidToken(t, h3, await h3.get('/mcp', bearer(swapped)), 'token.alg')
  t.equal((await h3.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 200, 'the same key verifies RS256')
})

t.test('RFC 9068 §4: a signature wrong by one byte → 401 invalid_token', async (t) => {
  const h = await setup(t)
  const [header, payload, signature] = segments(await h.issuer.mintAccessToken())
  const bytes = Buffer.from(signature, 'base64url')
  bytes[10] = (bytes[10] as number) ^ 0x01
  assertInvalidToken(t, h, await h.get('/mcp', bearer(`${header}.${payload}.${bytes.toString('base64url')}`)), 'token.signature')
  // A payload changed after signing (aud swapped to another resource's value is not needed: any byte).
  const tampered = encode({ ...decode(payload), scope: 'mcp:tools:call' })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(`${header}.${tampered}.${signature}`)), 'token.signature')
  // Signed by a key that is not in the JWKS, under the issuer's kid.
  const { privateKey } = await generateKeyPair('ES256')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({}, { signWith: privateKey }))), 'token.signature')
})

t.test('RFC 8725 §3.10: jku / x5u / jwk / x5c headers naming an attacker key are never used or fetched', async (t) => {
  const attacker = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => attacker.close())
  const h = await setup(t)
  const iss = h.issuer.issuer

  // jku: the attacker publishes a JWKS and signs with its key; its kid is unknown here.
  const viaJku = await attacker.mintAccessToken({ iss }, { header: { jku: attacker.jwksUri } })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(viaJku)), 'token.unknown_key')
  const viaX5u = await attacker.mintAccessToken({ iss }, { header: { x5u: `${attacker.url}/cert.pem` } })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(viaX5u)), 'token.unknown_key')
  t.same(attacker.requests, [], 'no outbound request to jku / x5u')

  // jwk / x5c: the attacker embeds its own public key; no kid, so only the issuer's keys are candidates.
  const keys = await generateKeyPair('ES256', { extractable: true })
  const attackerJwk = await exportJWK(keys.publicKey)
  const viaJwk = await h.issuer.mintAccessToken({}, { header: { jwk: attackerJwk, kid: undefined }, signWith: keys.privateKey })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(viaJwk)), 'token.signature')
  // x5c: a real certificate chain (leaf + CA) for another attacker key.
  const ca = await createTestCa({ commonName: 'attacker CA' })
  const leaf = await ca.issueClientCertificate({ commonName: 'attacker' })
  const leafKey = await importPKCS8(leaf.keyPem, 'ES256')
  const x5c = [Buffer.from(leaf.der).toString('base64'), pemBody(ca.certificatePem)]
  const viaX5c = await h.issuer.mintAccessToken({}, { header: { x5c, kid: undefined }, signWith: leafKey })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(viaX5c)), 'token.signature')
  // Same attacker key, under the issuer's own kid.
  const kidReuse = await h.issuer.mintAccessToken({}, { header: { jwk: attackerJwk, x5c }, signWith: keys.privateKey })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(kidReuse)), 'token.signature')
  t.equal(h.seen.length, 0)
})

t.test('RFC 9068 §4: typ absent, JWT, jwt, dpop+jwt or application/jwt → 401 by default', async (t) => {
  const h = await setup(t)
  for (const typ of [undefined, 'JWT', 'jwt', 'dpop+jwt', 'application/jwt', 'at+jwt; charset=utf-8', 'application/at+jwt+x', '']) {
    t.comment(String(typ))
    const token = await h.issuer.mintAccessToken({}, { header: { typ } })
    assertInvalidToken(t, h, await h.get('/mcp', bearer(token)), 'token.typ')
  }
  const numeric = await h.issuer.mintAccessToken({}, { header: { typ: 1 } })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(numeric)), 'token.typ')
})

t.test('RFC 9068 §2.1 / RFC 7515 §4.1.9: at+jwt, application/at+jwt and case variants are accepted', async (t) => {
  const h = await setup(t)
  for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT', 'at+JWT', 'Application/At+Jwt']) {
    const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken({}, { header: { typ } })))
    t.equal(res.statusCode, 200, typ)
  }
})

t.test('RFC 9068 §4: tokenTypes ["at+jwt", "JWT"] opts in to typ JWT (still not to an absent typ)', async (t) => {
  const h = await setup(t, { tokenTypes: ['at+jwt', 'JWT'] })
  for (const typ of ['JWT', 'jwt', 'application/jwt', 'at+jwt']) {
    t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({}, { header: { typ } })))).statusCode, 200, typ)
  }
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({}, { header: { typ: undefined } }))), 'token.typ')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({}, { header: { typ: 'dpop+jwt' } }))), 'token.typ')
})

t.test('RFC 7515 §4.1.11: a crit header parameter → 401 invalid_token', async (t) => {
  const own = await ownKey()
  const h = await setup(t, { authorizationServers: ['https://issuer.test'], jwks: { keys: [own.jwk] } })
  const claims = { iss: 'https://issuer.test', aud: RESOURCE, sub: 'u', iat: now(), exp: now() + 300 }
  t.equal((await h.get('/mcp', bearer(await own.sign({}, claims)))).statusCode, 200, 'control: the same token without crit')
  const crit = await own.sign({ crit: ['urn:x-unknown'], 'urn:x-unknown': true }, claims, { 'urn:x-unknown': true })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(crit)), 'token.crit')
  const b64 = await own.sign({ crit: ['b64'], b64: true }, claims, { b64: true })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(b64)), 'token.crit')
})

t.test('RFC 9068 §4: a JWE (5 segments) → 401 invalid_token, never 500', async (t) => {
  const h = await setup(t)
  const jwe = await new CompactEncrypt(Buffer.from(JSON.stringify({ iss: h.issuer.issuer, aud: RESOURCE, exp: now() + 300 })))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt' })
    .encrypt(randomBytes(32))
  t.equal(jwe.split('.').length, 5)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(jwe)), 'token.encrypted')
  // A JWE with an empty encrypted-key segment (alg dir) does not fit the JWS shape either.
  for (const junk of ['a.b', 'a.b.c.d', 'a.b.c.d.e.f', `${segments(jwe)[0]}.x.y`]) {
    const res = await h.get('/mcp', bearer(junk))
    t.equal(res.statusCode, 401, junk)
    t.equal(res.json().error, 'invalid_token')
  }
})

// ——— C. claims: iss, times, optional claims ———

t.test('RFC 9068 §4 / RFC 7519 §2: iss must match exactly (no trailing slash, case or path variants)', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://auth.example.com', audience: RESOURCE })
  const h = await setup(t, {}, { issuer })
  t.equal((await h.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 200)
  for (const iss of ['https://auth.example.com/', 'HTTPS://auth.example.com', 'https://AUTH.example.com', 'https://auth.example.com/x', 'https://auth.example.com:443', ' https://auth.example.com', undefined, 42]) {
    t.comment(String(iss))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await issuer.mintAccessToken({ iss }))), 'token.issuer')
  }
})

t.test('RFC 9068 §4 (JWT-08): two issuers with discovered JWKS: iss=ISS2 signed by ISS1 → 401', async (t) => {
  const iss1 = await startTestIssuer({ audience: RESOURCE })
  const iss2 = await startTestIssuer({ audience: RESOURCE, path: '/tenant1' })
  t.teardown(() => iss1.close())
  t.teardown(() => iss2.close())
  const h = await setup(t, { authorizationServers: [iss1.issuer, iss2.issuer], jwks: undefined }, { issuer: iss1 })
  t.equal((await h.get('/mcp', bearer(await iss1.mintAccessToken()))).statusCode, 200, 'ISS1 token')
  t.equal((await h.get('/mcp', bearer(await iss2.mintAccessToken()))).statusCode, 200, 'ISS2 token')
  // A kid only ISS1 publishes: looked up in ISS2's key set, where it does not exist.
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ iss: iss2.issuer }))), 'token.unknown_key')
  // ISS2's kid reused on a token ISS1 signed.
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ iss: iss2.issuer }, { header: { kid: iss2.kid } }))), 'token.signature')
  t.ok(iss2.requests.some((r) => r.path === '/jwks/tenant1'), 'ISS2 keys come from ISS2 jwks_uri')
})

t.test('RFC 9068 §4 (JWT-08): a key function that selects keys per issuer keeps issuers apart', async (t) => {
  const iss1 = await createTestIssuer({ issuer: 'https://auth.example.com', audience: RESOURCE })
  const iss2 = await createTestIssuer({ issuer: 'https://login.example.org/tenant1', audience: RESOURCE })
  const byIssuer = new Map([[iss1.issuer, createLocalJWKSet(iss1.jwks)], [iss2.issuer, createLocalJWKSet(iss2.jwks)]])
  const getKey: JWTVerifyGetKey = async (header, token) => {
    const { iss } = decode(token.payload as string) as { iss: string }
    const local = byIssuer.get(iss)
    if (local === undefined) throw new Error('unexpected issuer')
    return local(header, token)
  }
  const h = await setup(t, { authorizationServers: [iss1.issuer, iss2.issuer], jwks: getKey }, { issuer: iss1 })
  t.equal((await h.get('/mcp', bearer(await iss2.mintAccessToken()))).statusCode, 200)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ iss: iss2.issuer }))), 'token.unknown_key')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ iss: iss2.issuer }, { header: { kid: iss2.kid } }))), 'token.signature')
})

t.test('JWT-08 (current behaviour): one shared static JWKS verifies every configured issuer with every listed key', async (t) => {
  // jwks: { keys } has no notion of which key belongs to which issuer, so the
  // key resolver hands the same key set to every issuer. Per-issuer separation
  // needs discovery (default) or a key function (tests above).
  const iss1 = await createTestIssuer({ issuer: 'https://auth.example.com', audience: RESOURCE })
  const iss2 = await createTestIssuer({ issuer: 'https://login.example.org/tenant1', audience: RESOURCE })
  const h = await setup(t, { authorizationServers: [iss1.issuer, iss2.issuer], jwks: { keys: [...iss1.jwks.keys, ...iss2.jwks.keys] } }, { issuer: iss1 })
  const crossed = await iss1.mintAccessToken({ iss: iss2.issuer })
  const res = await h.get('/mcp', bearer(crossed))
  t.equal(res.statusCode, 200, 'accepted: iss=ISS2 signed with the key ISS1 published')
  t.equal(h.seen[0]?.mcp?.issuer, iss2.issuer)
})

t.test('RFC 7519 §4.1.4 / RFC 9068 §4: exp beyond clockTolerance → 401, inside → 200, missing or not a number → 401', async (t) => {
  const h = await setup(t, { clockTolerance: 5 })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp: now() - 30 }))), 'token.expired')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp: now() - 6 }))), 'token.expired')
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp: now() - 2 })))).statusCode, 200, 'within the tolerance')
  for (const exp of [undefined, String(now() + 300), null, true, [now() + 300], { n: 1 }]) {
    t.comment(JSON.stringify(exp))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp }))), 'token.exp_missing')
  }
})

t.test('RFC 7519 §4.1.4: clockTolerance 0 rejects a token that expired a second ago', async (t) => {
  const h = await setup(t, { clockTolerance: 0 })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp: now() - 1 }))), 'token.expired')
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ exp: now() + 60 })))).statusCode, 200)
})

t.test('RFC 7519 §4.1.5: nbf in the future beyond the tolerance → 401; inside → 200', async (t) => {
  const h = await setup(t)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ nbf: now() + 60 }))), 'token.nbf')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ nbf: String(now()) }))), 'token.nbf')
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ nbf: now() + 2 })))).statusCode, 200)
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ nbf: now() - 60 })))).statusCode, 200)
})

t.test('RFC 7519 §4.1.6 (pinned): iat in the future beyond the tolerance → 401; inside → 200', async (t) => {
  const h = await setup(t)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ iat: now() + 60 }))), 'token.iat')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ iat: 'yesterday' }))), 'token.iat')
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ iat: now() + 2 })))).statusCode, 200)
  t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ iat: undefined })))).statusCode, 200, 'iat is optional for the RS')
})

t.test('RFC 9068 §2.2 (JWT-12): missing sub / client_id / jti is accepted; clientId falls back to azp', async (t) => {
  const h = await setup(t)
  const none = await h.issuer.mintAccessToken({ sub: undefined, client_id: undefined, jti: undefined })
  t.equal((await h.get('/mcp', bearer(none))).statusCode, 200)
  const mcp = h.seen[0]?.mcp
  t.equal(mcp?.subject, undefined)
  t.equal(mcp?.clientId, undefined, 'clientId undefined when absent (DESIGN.md)')
  t.equal(h.seen[0]?.auth?.clientId, '', 'AuthInfo.clientId is a string')
  const azp = await h.issuer.mintAccessToken({ client_id: undefined, azp: 'azp-client' })
  t.equal((await h.get('/mcp', bearer(azp))).statusCode, 200)
  t.equal(h.seen[1]?.mcp?.clientId, 'azp-client')
  const both = await h.issuer.mintAccessToken({ client_id: 'cid', azp: 'azp-client' })
  t.equal((await h.get('/mcp', bearer(both))).statusCode, 200)
  t.equal(h.seen[2]?.mcp?.clientId, 'cid', 'client_id wins over azp')
  // Claims that must be strings but are not.
  for (const claims of [{ sub: 5 }, { client_id: ['x'] }, { scope: ['mcp:tools:read'] }, { jti: {} }]) {
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken(claims))), 'token.claims')
  }
})

// ——— D. audience ———

t.test('RFC 8707 §2 / RFC 7519 §4.1.3 (AUD-01/02): aud as the string R, or an array holding R → 200', async (t) => {
  const h = await setup(t)
  for (const aud of [RESOURCE, [RESOURCE], ['https://api.other.example', RESOURCE], [RESOURCE, 'https://api.other.example']]) {
    t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud })))).statusCode, 200, JSON.stringify(aud))
  }
})

t.test('RFC 7519 §4.1.3 (AUD-03/07, EDGE-22): aud absent, empty or naming only other values → 401', async (t) => {
  const h = await setup(t)
  const others: unknown[] = [
    undefined, '', [], [''],
    R2, [R2, 'https://api.other.example'],
    ORIGIN, ORIGIN + '/',
    h.issuer.issuer, 'client-abc',
    'https://mcp.example.com/mcp-admin', 'https://mcp.example.com/mc', 'https://mcp.example.com/mcp/sub',
    'https://mcp.example.com/MCP',
    'https://mcp.example.com/mcp/',
    'https://mcp.example.com/mcp#x', [RESOURCE + '#x'],
    'https://mcp.example.com/mcp?x=1',
    'http://mcp.example.com/mcp',
    'https://mcp.example.com:8443/mcp',
    'https://mcp.example.com.evil.example/mcp',
  ]
  for (const aud of others) {
    t.comment(JSON.stringify(aud))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud }))), 'token.audience')
  }
  for (const aud of [5, [RESOURCE, 5], { aud: RESOURCE }]) {
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud }))), 'token.claims')
  }
  t.equal(h.seen.length, 0)
})

t.test('MCP §8.1 (AUD-05): uppercase scheme/host and the default port are accepted; path case is not', async (t) => {
  const h = await setup(t)
  for (const aud of ['HTTPS://MCP.EXAMPLE.COM/mcp', 'https://Mcp.Example.Com/mcp', 'https://mcp.example.com:443/mcp']) {
    t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud })))).statusCode, 200, aud)
  }
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud: 'HTTPS://MCP.EXAMPLE.COM/MCP' }))), 'token.audience')
})

t.test('AUD-03 / DESIGN (aud exact after scheme/host case and default port): an aud with userinfo never matches R', async (t) => {
  const h = await setup(t)
  for (const aud of ['https://evil@mcp.example.com/mcp', 'https://a:b@mcp.example.com/mcp', ['https://evil@mcp.example.com/mcp']]) {
    t.comment(JSON.stringify(aud))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud }))), 'token.audience')
  }
})

t.test('AUD-03 / DESIGN: a tab or newline inside the aud authority is not silently removed', async (t) => {
  const h = await setup(t)
  for (const aud of ['https://mcp.example.com\t/mcp', 'https://mcp.exa\nmple.com/mcp']) {
    t.comment(JSON.stringify(aud))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud }))), 'token.audience')
  }
})

t.test('AUD-03 / RFC 3986 §6.2.1: dot segments, percent-encoded path, trailing-dot host, backslash or spaces never match', async (t) => {
  const h = await setup(t)
  for (const aud of [
    'https://mcp.example.com/x/../mcp',
    'https://mcp.example.com/./mcp',
    'https://mcp.example.com/%6Dcp',
    'https://mcp.example.com./mcp',
    'https://mcp.example.com\\mcp',
    ' https://mcp.example.com/mcp',
    'https://mcp.example.com/mcp ',
  ]) {
    t.comment(JSON.stringify(aud))
    assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud }))), 'token.audience')
  }
})

t.test('AUD-06: a trailing-slash aud is accepted only through an explicit audiences alias', async (t) => {
  const slash = 'https://mcp.example.com/mcp/'
  const plain = await setup(t)
  assertInvalidToken(t, plain, await plain.get('/mcp', bearer(await plain.issuer.mintAccessToken({ aud: slash }))), 'token.audience')
  const aliased = await setup(t, { resource: { resource: RESOURCE, audiences: [slash, 'api://mcp'] } })
  t.equal((await aliased.get('/mcp', bearer(await aliased.issuer.mintAccessToken({ aud: slash })))).statusCode, 200)
  t.equal((await aliased.get('/mcp', bearer(await aliased.issuer.mintAccessToken({ aud: 'api://mcp' })))).statusCode, 200, 'a non-URI alias')
  t.equal((await aliased.get('/mcp', bearer(await aliased.issuer.mintAccessToken({ aud: RESOURCE })))).statusCode, 200, 'the canonical URI still works')
  t.equal(aliased.seen.at(-2)?.mcp?.resource, RESOURCE, 'request.mcp.resource is the canonical URI, not the alias')
  assertInvalidToken(t, aliased, await aliased.get('/mcp', bearer(await aliased.issuer.mintAccessToken({ aud: 'API://MCP' }))), 'token.audience')
})

t.test('AUD-06 / RFC 3986 §6.2.3: for a bare-origin resource, aud with or without "/" → 200', async (t) => {
  const h = await setup(t, { resource: ORIGIN })
  for (const aud of [ORIGIN, ORIGIN + '/', 'HTTPS://MCP.EXAMPLE.COM']) {
    t.equal((await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud })))).statusCode, 200, aud)
  }
  t.equal(h.seen[0]?.mcp?.resource, ORIGIN, 'resource kept verbatim (no slash added)')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud: RESOURCE }))), 'token.audience', { prm: PRM_ROOT })
})

t.test('RFC 9728 §7.3 (AUD-08): a spoofed Host / X-Forwarded-Host never changes the expected audience', async (t) => {
  const h = await setup(t)
  const evil = await h.issuer.mintAccessToken({ aud: 'https://evil.example/mcp' })
  assertInvalidToken(t, h, await h.get('/mcp', { ...bearer(evil), host: 'evil.example' }), 'token.audience')
  assertInvalidToken(t, h, await h.get('/mcp', { ...bearer(evil), 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }), 'token.audience')
  const good = await h.issuer.mintAccessToken()
  t.equal((await h.get('/mcp', { ...bearer(good), host: 'evil.example' })).statusCode, 200, 'the real audience works whatever the Host')
  const noCredentials = await h.get('/mcp', { host: 'evil.example' })
  t.equal(parseChallenges(noCredentials.headers['www-authenticate'])[0]?.params.resource_metadata, PRM, 'resource_metadata comes from config')
})

// ——— the verified-token cache ———

t.test('verified-token cache: a repeated token is served without re-verification', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { jwks: counting.getKey }, { issuer })
  const token = await issuer.mintAccessToken()
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(counting.calls(), 1)
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(counting.calls(), 1, 'second and third requests are cache hits')
  t.ok(Object.isFrozen(h.seen[1]?.mcp) && Object.isFrozen(h.seen[1]?.mcp?.scopes) && Object.isFrozen(h.seen[1]?.mcp?.claims), 'request.mcp is frozen, as is all it holds')
  t.equal((await h.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 200)
  t.equal(counting.calls(), 2, 'another token is verified')
})

t.test('verified-token cache: tokenCache false verifies every request', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { jwks: counting.getKey, tokenCache: false }, { issuer })
  const token = await issuer.mintAccessToken()
  await h.get('/mcp', bearer(token))
  await h.get('/mcp', bearer(token))
  t.equal(counting.calls(), 2)
})

t.test('verified-token cache: a failed verification is not cached', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { jwks: counting.getKey }, { issuer })
  const [header, payload, signature] = segments(await issuer.mintAccessToken())
  const bad = `${header}.${payload}.${signature.slice(0, -4)}AAAA`
  assertInvalidToken(t, h, await h.get('/mcp', bearer(bad)), 'token.signature')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(bad)), 'token.signature')
  t.equal(counting.calls(), 2)
})

t.test('verified-token cache: an entry never outlives exp', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { jwks: counting.getKey, clockTolerance: 0 }, { issuer })
  // Leave enough of the current second for the first request.
  if (Date.now() % 1000 > 500) await sleep(1000 - (Date.now() % 1000) + 5)
  const token = await issuer.mintAccessToken({ exp: now() + 1, iat: now() })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  t.equal(counting.calls(), 1, 'cached while valid')
  await sleep(1000 - (Date.now() % 1000) + 20)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(token)), 'token.expired')
  t.equal(counting.calls(), 1, 'rejected on the time check, before any key lookup')
})

t.test('verified-token cache: a hit still enforces the audience of the resource the request selects', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { resource: [RESOURCE, R2], jwks: counting.getKey }, { issuer })
  const token = await issuer.mintAccessToken()
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  assertInvalidToken(t, h, await h.get('/tenants/acme/mcp', bearer(token)), 'token.audience', { prm: PRM_R2 })
  t.equal(counting.calls(), 1, 'the second request was a cache hit')
})

t.test('verified-token cache: a hit still enforces the per-resource issuer', async (t) => {
  const iss1 = await createTestIssuer({ issuer: 'https://auth.example.com', audience: RESOURCE })
  const iss2 = await createTestIssuer({ issuer: 'https://login.example.org/tenant1' })
  const counting = countingKeys({ keys: [...iss1.jwks.keys, ...iss2.jwks.keys] })
  const h = await setup(t, {
    authorizationServers: [iss1.issuer],
    resource: [RESOURCE, { resource: R2, authorizationServers: [iss2.issuer] }],
    jwks: counting.getKey,
  }, { issuer: iss1 })
  const token = await iss1.mintAccessToken({ aud: [RESOURCE, R2] })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  assertInvalidToken(t, h, await h.get('/tenants/acme/mcp', bearer(token)), 'token.issuer', { prm: PRM_R2 })
  t.equal(counting.calls(), 1)
})

t.test('verified-token cache: a hit still enforces the DPoP binding (RFC 9449 §7.2)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const counting = countingKeys(issuer.jwks)
  const h = await setup(t, { jwks: counting.getKey }, { issuer })
  const key = await createDpopKey()
  const other = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  const ok = await h.get('/mcp', { authorization: `DPoP ${token}`, dpop: proof })
  t.equal(ok.statusCode, 200)
  t.same(h.seen[0]?.mcp?.sender, { binding: 'dpop', jkt: key.jkt })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(token)), 'binding.dpop_required')
  const wrongKey = await createDpopProof(other, { method: 'GET', url: RESOURCE, accessToken: token })
  assertInvalidToken(t, h, await h.get('/mcp', { authorization: `DPoP ${token}`, dpop: wrongKey }), 'binding.jkt', { scheme: 'DPoP' })
  t.equal(counting.calls(), 1, 'all three requests after the first were cache hits')
})

// ——— several resources on one host ———

t.test('RFC 9728 / AUD-04: several resources on one host: longest prefix, own audience, own issuers, own metadata', async (t) => {
  const iss1 = await createTestIssuer({ issuer: 'https://auth.example.com' })
  const iss2 = await createTestIssuer({ issuer: 'https://login.example.org/tenant1' })
  const h = await setup(t, {
    authorizationServers: [iss1.issuer],
    // R2 first: an unknown path is answered with the first resource, so /mcp2 → R2 proves it did not select /mcp.
    resource: [{ resource: R2, authorizationServers: [iss2.issuer], audiences: ['api://acme'] }, RESOURCE],
    jwks: { keys: [...iss1.jwks.keys, ...iss2.jwks.keys] },
  }, { issuer: iss1 })

  const metadataFor = async (path: string): Promise<string[]> => {
    const res = await h.get(path)
    t.equal(res.statusCode, 401, path)
    return parseChallenges(res.headers['www-authenticate']).map((c) => c.params.resource_metadata ?? '')
  }
  t.same(await metadataFor('/mcp'), [PRM, PRM])
  t.same(await metadataFor('/mcp/sub'), [PRM, PRM])
  t.same(await metadataFor('/tenants/acme/mcp'), [PRM_R2, PRM_R2])
  t.same(await metadataFor('/tenants/acme/mcp/tools'), [PRM_R2, PRM_R2])
  t.same(await metadataFor('/mcp2'), [PRM_R2, PRM_R2], '/mcp2 does not select /mcp (segment boundary)')
  t.same(await metadataFor('/other'), [PRM_R2, PRM_R2], 'unknown paths use the first resource')

  // Each resource accepts its own audience from its own issuers.
  const forR = await iss1.mintAccessToken({ aud: RESOURCE })
  const forR2 = await iss2.mintAccessToken({ aud: R2 })
  t.equal((await h.get('/mcp', bearer(forR))).statusCode, 200)
  t.equal(h.seen.at(-1)?.mcp?.resource, RESOURCE)
  t.equal((await h.get('/tenants/acme/mcp/tools', bearer(forR2))).statusCode, 200)
  t.equal(h.seen.at(-1)?.mcp?.resource, R2)
  t.equal(h.seen.at(-1)?.mcp?.issuer, iss2.issuer)
  t.equal((await h.get('/tenants/acme/mcp', bearer(await iss2.mintAccessToken({ aud: 'api://acme' })))).statusCode, 200, 'R2 alias')

  // Audience of the other resource.
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ aud: R2 }))), 'token.audience')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss1.mintAccessToken({ aud: 'api://acme' }))), 'token.audience', { prm: PRM })
  assertInvalidToken(t, h, await h.get('/tenants/acme/mcp', bearer(await iss2.mintAccessToken({ aud: RESOURCE }))), 'token.audience', { prm: PRM_R2 })
  // A per-resource authorizationServers replaces the top-level list, in both directions.
  assertInvalidToken(t, h, await h.get('/tenants/acme/mcp', bearer(await iss1.mintAccessToken({ aud: R2 }))), 'token.issuer', { prm: PRM_R2 })
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await iss2.mintAccessToken({ aud: RESOURCE }))), 'token.issuer', { prm: PRM })
  assertInvalidToken(t, h, await h.get('/mcp2', bearer(forR)), 'token.issuer', { prm: PRM_R2 })
})

t.test('several resources with a bare-origin one: it catches every path no longer prefix takes', async (t) => {
  const h = await setup(t, { resource: [RESOURCE, ORIGIN] })
  const prmOf = async (path: string): Promise<string | undefined> => parseChallenges((await h.get(path)).headers['www-authenticate'])[0]?.params.resource_metadata
  t.equal(await prmOf('/mcp'), PRM)
  t.equal(await prmOf('/mcp2'), PRM_ROOT)
  t.equal(await prmOf('/'), PRM_ROOT)
  t.equal((await h.get('/other', bearer(await h.issuer.mintAccessToken({ aud: ORIGIN })))).statusCode, 200)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud: ORIGIN }))), 'token.audience')
})

// ——— request.mcp and request.raw.auth ———

t.test('DESIGN.md: request.mcp has exactly the documented shape', async (t) => {
  const h = await setup(t)
  const exp = now() + 120
  const token = await h.issuer.mintAccessToken({ exp, scope: 'mcp:tools:read  mcp:tools:call', scp: ['extra:a', 'mcp:tools:read'] })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  const mcp = h.seen[0]?.mcp as McpAuthContext
  t.ok(mcp)
  t.same(Object.keys(mcp).sort(), ['claims', 'clientId', 'expiresAt', 'issuer', 'principal', 'resource', 'scopes', 'sender', 'subject'])
  t.equal(mcp.token, token, 'token readable as request.mcp.token')
  t.ok('token' in mcp)
  t.notOk(JSON.stringify(mcp).includes(token), 'JSON.stringify(request.mcp) does not print the token')
  t.notOk(inspect(mcp, { depth: 10, showHidden: true }).includes(token), 'util.inspect does not print it either')
  t.same(mcp.scopes, ['mcp:tools:read', 'mcp:tools:call', 'extra:a'], 'scope and scp merged, deduplicated, no empty entries')
  t.equal(mcp.subject, 'user-123')
  t.equal(mcp.clientId, 'client-abc')
  t.equal(mcp.issuer, h.issuer.issuer)
  t.equal(mcp.resource, RESOURCE)
  t.equal(mcp.expiresAt, exp, 'expiresAt in seconds')
  t.ok(Number.isInteger(mcp.expiresAt) && (mcp.expiresAt as number) < 1e11)
  t.same(mcp.sender, { binding: 'bearer' })
  t.equal(mcp.principal, undefined)
  t.ok('principal' in mcp)
  t.equal(mcp.claims.sub, 'user-123')
  t.equal(mcp.claims.exp, exp)
  t.ok(Object.isFrozen(mcp), 'request.mcp is frozen')
  t.ok(Object.isFrozen(mcp.claims) && Object.isFrozen(mcp.scopes) && Object.isFrozen(mcp.sender))
  t.throws(() => { (mcp as { resource: string }).resource = 'x' })
})

t.test('RFC 9068 §2.2.3: scopes come from scope, from an scp array and from an scp string', async (t) => {
  const h = await setup(t)
  await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ scope: undefined, scp: ['a', 'b:c'] })))
  await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ scope: undefined, scp: 'a b:c' })))
  await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ scope: undefined })))
  t.same(h.seen.map((s) => s.mcp?.scopes), [['a', 'b:c'], ['a', 'b:c'], []])
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ scp: [1] }))), 'token.claims')
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ scp: { a: 1 } }))), 'token.claims')
})

t.test('MCP SDK: request.raw.auth has the AuthInfo shape', async (t) => {
  const h = await setup(t)
  const token = await h.issuer.mintAccessToken({ scope: 'mcp:tools:read mcp:tools:call' })
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  const { auth, mcp } = h.seen[0] as Seen
  t.ok(auth)
  const info = auth as McpAuthInfo
  t.same(Object.keys(info).sort(), ['clientId', 'expiresAt', 'extra', 'resource', 'scopes', 'token'])
  t.equal(info.token, token)
  t.equal(info.clientId, 'client-abc')
  t.same(info.scopes, ['mcp:tools:read', 'mcp:tools:call'])
  t.ok(Array.isArray(info.scopes) && !Object.isFrozen(info.scopes), 'a plain string array')
  t.equal(info.expiresAt, mcp?.expiresAt)
  t.ok(info.resource instanceof URL)
  t.equal(info.resource?.href, RESOURCE)
  // One URL per resource, shared by every request: nothing may change it for the next one.
  const url = info.resource as URL
  for (const part of ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const) {
    t.throws(() => { (url as unknown as Record<string, string>)[part] = 'https://evil.example/x?y#z' }, TypeError, `${part} cannot be set`)
  }
  for (const change of ['append', 'delete', 'set', 'sort'] as const) {
    t.throws(() => { (url.searchParams[change] as (...args: string[]) => void)('tampered', '1') }, TypeError, `searchParams.${change} throws`)
  }
  t.throws(() => { (url as unknown as Record<string, unknown>).extra = 1 }, TypeError, 'frozen')
  t.equal((await h.get('/mcp', bearer(token))).statusCode, 200)
  const again = h.seen[1]?.auth as McpAuthInfo
  t.equal(again.resource, url, 'the same shared instance')
  t.equal(again.resource?.href, RESOURCE, 'unchanged for the next request')
  t.equal(new URL(url.href).href, RESOURCE, 'a mutable copy is one constructor away')
  t.same(info.extra, { subject: 'user-123', issuer: h.issuer.issuer, sender: { binding: 'bearer' }, claims: mcp?.claims, principal: undefined })
})

// ——— principal ———

t.test('principal: sync and async results land on request.mcp.principal (and AuthInfo.extra)', async (t) => {
  for (const kind of ['sync', 'async'] as const) {
    const calls: unknown[][] = []
    const h = await setup(t, {
      principal: (claims, sender, request) => {
        calls.push([claims, sender, request.url])
        const value = { id: claims.sub, binding: sender.binding }
        return kind === 'sync' ? value : Promise.resolve(value)
      },
    })
    const token = await h.issuer.mintAccessToken()
    t.equal((await h.get('/mcp', bearer(token))).statusCode, 200, kind)
    t.same(h.seen[0]?.mcp?.principal, { id: 'user-123', binding: 'bearer' })
    t.same(h.seen[0]?.auth?.extra?.principal, { id: 'user-123', binding: 'bearer' })
    t.equal(calls.length, 1)
    t.equal((calls[0]?.[0] as { sub: string }).sub, 'user-123')
    t.same(calls[0]?.[1], { binding: 'bearer' })
    t.equal(calls[0]?.[2], '/mcp')
  }
})

t.test('principal: a thrown McpAuthError is rendered as that OAuth error', async (t) => {
  const description = 'Account "bob" is suspended \\ contact ☎ support — ünïcode'
  const h = await setup(t, {
    principal: async (claims) => {
      if (claims.sub === 'bob') throw new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'user.suspended', { description })
      if (claims.sub === 'db') throw new McpAuthError('FST_MCP_AUTH_UNAVAILABLE', 'user.store_down')
      if (claims.sub === 'eve') throw new McpAuthError('FST_MCP_AUTH_INSUFFICIENT_SCOPE', 'user.scope', { scope: ['admin:all'] })
      return { id: claims.sub }
    },
  })
  const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ sub: 'bob' })))
  assertInvalidToken(t, h, res, 'user.suspended')
  t.equal(res.json().error_description, description, 'the JSON body keeps the original text')
  const challenge = parseChallenges(res.headers['www-authenticate'])[0]
  t.notOk(challenge?.params.error_description?.includes('"'))
  t.match(challenge?.params.error_description, /^Account 'bob' is suspended/)

  assertRejected(t, h, await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ sub: 'db' }))), {
    status: 503, error: 'temporarily_unavailable', reason: 'user.store_down',
  })
  const forbidden = await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ sub: 'eve' })))
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.json().error, 'insufficient_scope')
  t.equal(parseChallenges(forbidden.headers['www-authenticate'])[0]?.params.scope, 'admin:all')
  t.equal(h.seen.length, 0, 'the handler never ran')
})

t.test('principal: a plain Error → 500, never 200', async (t) => {
  for (const kind of ['throw', 'reject'] as const) {
    const h = await setup(t, {
      principal: kind === 'throw'
        ? () => { throw new Error('directory lookup failed') }
        : async () => { throw new TypeError('boom') },
    })
    const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken()))
    t.equal(res.statusCode, 500, kind)
    t.equal(h.seen.length, 0, 'the handler never ran')
  }
})

// ——— errorRenderer ———

t.test('errorRenderer: replaces the body; status, WWW-Authenticate, Cache-Control stay (401 no credentials, 401, 403, 503)', async (t) => {
  let down = false
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const local = createLocalJWKSet(issuer.jwks)
  const rendered: unknown[] = []
  const h = await setup(t, {
    jwks: async (header, token) => {
      if (down) throw new Error('connect ECONNREFUSED')
      return local(header, token)
    },
    errorRenderer: async (error, request) => {
      rendered.push(error)
      return { problem: { code: error.code, oauth: error.oauthError ?? null, reason: error.reason, path: request.url } }
    },
  }, { issuer })
  const plain = await setup(t, { jwks: { keys: issuer.jwks.keys } }, { issuer })

  const noCredentials = await h.get('/mcp')
  t.equal(noCredentials.statusCode, 401)
  t.same(noCredentials.json(), { problem: { code: 'FST_MCP_AUTH_NO_CREDENTIALS', oauth: null, reason: 'credentials.missing', path: '/mcp' } })
  t.equal(noCredentials.headers['www-authenticate'], (await plain.get('/mcp')).headers['www-authenticate'], 'same challenge as without a renderer')
  t.equal(noCredentials.headers['cache-control'], 'no-store')

  const expired = await issuer.mintAccessToken({ exp: now() - 60 })
  const invalid = await h.get('/mcp', bearer(expired))
  t.equal(invalid.statusCode, 401)
  t.same(invalid.json(), { problem: { code: 'FST_MCP_AUTH_INVALID_TOKEN', oauth: 'invalid_token', reason: 'token.expired', path: '/mcp' } })
  t.equal(invalid.headers['www-authenticate'], (await plain.get('/mcp', bearer(expired))).headers['www-authenticate'])
  t.equal(invalid.headers['cache-control'], 'no-store')

  const forbidden = await h.app.inject({ method: 'POST', url: '/mcp', headers: bearer(await issuer.mintAccessToken()) })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.json().problem.oauth, 'insufficient_scope')
  t.equal(parseChallenges(forbidden.headers['www-authenticate'])[0]?.params.error, 'insufficient_scope')

  down = true
  const unavailable = await h.get('/mcp', bearer(await issuer.mintAccessToken()))
  t.equal(unavailable.statusCode, 503)
  t.same(unavailable.json(), { problem: { code: 'FST_MCP_AUTH_UNAVAILABLE', oauth: 'temporarily_unavailable', reason: 'jwks.unreachable', path: '/mcp' } })
  t.equal(unavailable.headers['retry-after'], '5')
  t.equal(unavailable.headers['www-authenticate'], undefined)
  t.equal(unavailable.headers['cache-control'], 'no-store')
  t.equal(rendered.length, 4)
  t.ok(rendered.every((e) => e instanceof McpAuthError))
})

t.test('errorRenderer: a throwing renderer falls back to the default body (and logs it)', async (t) => {
  for (const kind of ['sync', 'async'] as const) {
    const h = await setup(t, {
      errorRenderer: kind === 'sync'
        ? () => { throw new Error('renderer bug') }
        : async () => { throw new Error('renderer bug') },
    })
    const none = await h.get('/mcp')
    t.equal(none.statusCode, 401, kind)
    t.same(none.json(), { error: 'unauthorized', error_description: 'An access token is required' })
    const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken({ aud: R2 })))
    assertInvalidToken(t, h, res, 'token.audience')
    t.same(res.json(), { error: 'invalid_token', error_description: 'The access token was not issued for this resource' })
    t.ok(h.logs().some((l) => l.level === 50 && l.msg === 'mcp-auth: errorRenderer threw; sending the default body'))
  }
})

// ——— RFC 6750 §3 character set ———

t.test('RFC 6750 §3 (BEAR-15, EDGE-19): error_description never carries ", \\ or non-ASCII', async (t) => {
  const nasty = 'He said "no" \\ to the token — ☃ é \u0000 \t\r\n end'
  const h = await setup(t, {
    principal: () => { throw new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'user.nasty', { description: nasty }) },
  })
  const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken()))
  assertInvalidToken(t, h, res, 'user.nasty')
  const header = res.headers['www-authenticate'] as string
  t.match(header, /^[\x20-\x7E]*$/, 'raw header: printable ASCII only')
  const match = /error_description="([^"]*)"/.exec(header)
  t.ok(match, 'error_description is one quoted-string')
  t.match(match?.[1], DESCRIPTION_CHARS)
  t.notOk(match?.[1]?.includes('\\'))
  t.equal(res.json().error_description, nasty, 'the JSON body keeps the original')
  // Every library rejection renders with a clean description too.
  const plain = await setup(t)
  for (const token of ['abc', await plain.issuer.mintAccessToken({ exp: now() - 60 }), await plain.issuer.mintAccessToken({ aud: R2 })]) {
    const r = await plain.get('/mcp', bearer(token))
    const d = parseChallenges(r.headers['www-authenticate'])[0]?.params.error_description
    t.match(d, /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/)
  }
})

t.test('RFC 6750 §3 (BEAR-16): a scope from a user McpAuthError is rendered as scope tokens only', async (t) => {
  const h = await setup(t, {
    principal: () => { throw new McpAuthError('FST_MCP_AUTH_INSUFFICIENT_SCOPE', 'user.scope', { scope: ['mcp:tools:call', 'a"b', 'c\\d', 'é'] }) },
  })
  const res = await h.get('/mcp', bearer(await h.issuer.mintAccessToken()))
  t.equal(res.statusCode, 403)
  t.match(res.headers['www-authenticate'], /^[\x20-\x7E]*$/)
  for (const c of parseChallenges(res.headers['www-authenticate'])) {
    t.match(c.params.scope, /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, `${c.scheme} scope`)
    t.equal(c.params.error, 'insufficient_scope')
  }
})

// ——— interplay with the host application ———

t.test('a user setErrorHandler that answers 500 does not turn 401/403/503 into 500', async (t) => {
  const handled: unknown[] = []
  let down = false
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const local = createLocalJWKSet(issuer.jwks)
  const h = await setup(t, {
    jwks: async (header, token) => {
      if (down) throw new Error('down')
      return local(header, token)
    },
  }, {
    issuer,
    configure: (app) => {
      app.setErrorHandler(async (error, _request, reply) => {
        handled.push(error)
        reply.code(500)
        return { custom: 'error handler' }
      })
    },
  })
  t.equal((await h.get('/mcp')).statusCode, 401)
  assertInvalidToken(t, h, await h.get('/mcp', bearer(await issuer.mintAccessToken({ aud: R2 }))), 'token.audience')
  const forbidden = await h.app.inject({ method: 'POST', url: '/mcp', headers: bearer(await issuer.mintAccessToken()) })
  t.equal(forbidden.statusCode, 403)
  down = true
  t.equal((await h.get('/mcp', bearer(await issuer.mintAccessToken()))).statusCode, 503)
  t.same(handled, [], 'the error handler never saw our rejections')
})

t.test('route config mcpAuth: anything but false fails at registration', async (t) => {
  for (const value of [true, 'false', 0, null, {}]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: ['https://issuer.test'], jwks: { keys: (await createTestIssuer()).jwks.keys } })
    let error: unknown
    try {
      app.get('/x', { config: { mcpAuth: value } as never }, async () => 'x')
      await app.ready()
    } catch (err) {
      error = err
    }
    t.match(error, { code: 'FST_MCP_AUTH_INVALID_OPTION' }, JSON.stringify(value))
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: ['https://issuer.test'], jwks: { keys: (await createTestIssuer()).jwks.keys } })
  app.get('/x', { config: { mcpAuth: false } }, async () => 'x')
  await app.ready()
  t.equal((await app.inject({ method: 'GET', url: '/x' })).statusCode, 200, 'false opts the route out')
})

// ——— logging ———

t.test('nothing secret is logged; rejections log their reason at debug level', async (t) => {
  let down = false
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const local = createLocalJWKSet(issuer.jwks)
  const h = await setup(t, {
    jwks: async (header, token) => {
      if (down) throw new Error('jwks endpoint down')
      return local(header, token)
    },
  }, { issuer })
  const key = await createDpopKey()
  const secrets: string[] = []
  const remember = (value: string): string => {
    secrets.push(value, segments(value)[2])
    return value
  }

  const good = remember(await issuer.mintAccessToken())
  t.equal((await h.get('/mcp', bearer(good))).statusCode, 200)
  const expired = remember(await issuer.mintAccessToken({ exp: now() - 60 }))
  t.equal((await h.get('/mcp', bearer(expired))).statusCode, 401)
  const wrongAud = remember(await issuer.mintAccessToken({ aud: R2 }))
  t.equal((await h.get('/mcp', bearer(wrongAud))).statusCode, 401)
  const bound = remember(await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } }))
  const proof = remember(await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: bound }))
  t.equal((await h.get('/mcp', { authorization: `DPoP ${bound}`, dpop: proof })).statusCode, 200)
  t.equal((await h.get('/mcp', { authorization: `DPoP ${bound}`, dpop: proof })).statusCode, 401, 'replayed proof')
  const badProof = remember(await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: bound, flaw: 'wrong-htu' }))
  t.equal((await h.get('/mcp', { authorization: `DPoP ${bound}`, dpop: badProof })).statusCode, 401)
  t.equal((await h.get('/mcp', bearer(bound))).statusCode, 401)
  t.equal((await h.get('/mcp', bearer(good + 'x'))).statusCode, 401)
  down = true
  const fresh = remember(await issuer.mintAccessToken())
  t.equal((await h.get('/mcp', bearer(fresh))).statusCode, 503)

  const text = h.raw.join('')
  t.ok(h.logs().some((l) => l.msg === 'handler saw request.mcp' && typeof l.mcp === 'object'), 'request.mcp was logged by the handler')
  for (const secret of secrets) t.notOk(text.includes(secret), 'a token, proof or signature appears in the logs')
  t.notOk(/authorization/i.test(text), 'no Authorization header in the logs')
  const rejected = h.logs().filter((l) => l.msg === 'mcp-auth: request rejected')
  t.same(rejected.map((l) => l.reason), ['token.expired', 'token.audience', 'dpop.replay', 'dpop.htu', 'binding.dpop_required', 'token.malformed', 'jwks.unreachable'])
  t.ok(rejected.every((l) => l.level === 20), 'logged at debug level')
  t.ok(rejected.every((l) => typeof l.code === 'string'))
})

function pemBody (pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
