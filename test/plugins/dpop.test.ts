// DPoP at the resource server (RFC 9449 §4.3, §6, §7, §8, §11; SEP-1932), through
// app.inject with real keys and signatures: checklist items DPOP-01…34, EDGE-02…18.
// Every failure is a 401 (never 400), with the error in the DPoP challenge.
import { generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto'
import type { webcrypto } from 'node:crypto'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import mcpAuth, { createHmacNonceProvider, MemoryReplayStore } from '../../index.js'
import { jwkThumbprint } from '../../lib/jwk-thumbprint.js'
import type { DpopNonceProvider, McpAuthOptions, NonceVerdict, ReplayStore } from '../../index.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import { accessTokenHash } from '../../lib/testing/dpop.js'
import type { DpopKey, DpopProofOptions, TestIssuer } from '../../testing.js'
import { buildApp, ORIGIN, parseChallenges, PRM, rejectedReasons, RESOURCE } from '../helpers/app.js'

// The subtest type (the last overload of t.test takes only the callback).
type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const ALGS = 'ES256 ES384 PS256 RS256 EdDSA'
const R2 = 'https://mcp.example.com/tenants/acme/mcp'
const NONCE_SECRET = 'n'.repeat(32)
// RFC 9449 §8.1: nonce = 1*NQCHAR
const NQCHAR = /^[\x21\x23-\x5B\x5D-\x7E]+$/

const now = (): number => Math.floor(Date.now() / 1000)

interface Setup {
  app: FastifyInstance
  issuer: TestIssuer
  key: DpopKey
  /** An access token bound to `key` (cnf.jkt). */
  token: string
}

/** buildApp with its log lines kept (debug level), so each response's logged reason can be asserted. */
async function loggedApp (t: Test, ...rest: [Partial<McpAuthOptions>?, TestIssuer?, ((app: FastifyInstance) => void)?]): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const lines: string[] = []
  const built = await buildApp(t, rest[0], rest[1], rest[2], lines)
  appLogs.set(built.app, lines)
  return built
}

interface LogLine { readonly msg: string, readonly reason?: string, readonly [field: string]: unknown }
const appLogs = new WeakMap<FastifyInstance, string[]>()
/** The log lines an app wrote while answering each response. */
const responseLogs = new WeakMap<LightMyRequestResponse, string[]>()

function logsOf (res: LightMyRequestResponse): LogLine[] {
  return (responseLogs.get(res) ?? []).map((line) => JSON.parse(line) as LogLine)
}

/** The lines logged with `msg` while answering the response. */
function logged (res: LightMyRequestResponse, msg: string): LogLine[] {
  return logsOf(res).filter((line) => line.msg === msg)
}

/** The reason of the 'request rejected' line logged for the response. */
function reasonOf (res: LightMyRequestResponse): string | undefined {
  return rejectedReasons(responseLogs.get(res) ?? []).at(-1)
}

async function setup (t: Test, options: Partial<McpAuthOptions> = {}, claims: Record<string, unknown> = {}): Promise<Setup> {
  const { app, issuer } = await loggedApp(t, options)
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken(claims, { bindTo: { jkt: key.jkt } })
  return { app, issuer, key, token }
}

/** A valid proof for GET /mcp bound to `token`, unless options say otherwise. */
function proofFor (key: DpopKey, token: string, options: Partial<DpopProofOptions> = {}): Promise<string> {
  return createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token, ...options })
}

interface Send {
  token?: string
  proof?: string | string[]
  scheme?: string
  method?: 'GET' | 'POST' | 'HEAD'
  url?: string
  headers?: Record<string, string>
}

async function send (app: FastifyInstance, { token, proof, scheme = 'DPoP', method = 'GET', url = '/mcp', headers = {} }: Send): Promise<LightMyRequestResponse> {
  const all: Record<string, string | string[]> = { ...headers }
  if (token !== undefined) all.authorization = `${scheme} ${token}`
  if (proof !== undefined) all.dpop = proof
  const lines = appLogs.get(app)
  const before = lines?.length ?? 0
  const res = await app.inject({ method, url, headers: all })
  responseLogs.set(res, (lines ?? []).slice(before))
  return res
}

function encode (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Signs any header and payload with the key (real ECDSA), for shapes createDpopProof cannot express. */
function forge (key: DpopKey, header: Record<string, unknown>, payload: Record<string, unknown>, hash = 'sha256'): string {
  const input = `${encode(header)}.${encode(payload)}`
  const privateKey = KeyObject.from(key.privateKey as unknown as webcrypto.CryptoKey)
  return `${input}.${sign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

function proofClaims (token: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { jti: randomUUID(), htm: 'GET', htu: RESOURCE, iat: now(), ath: accessTokenHash(token), ...overrides }
}

function proofHeader (key: DpopKey, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...overrides }
}

function assertAccepted (t: Test, res: LightMyRequestResponse, key: DpopKey, message = 'accepted'): void {
  t.equal(res.statusCode, 200, message)
  if (res.statusCode !== 200) {
    t.comment(res.body)
    return
  }
  t.same(res.json().mcp.sender, { binding: 'dpop', jkt: key.jkt }, `${message}: sender`)
}

interface ErrorExpectation {
  error: 'invalid_dpop_proof' | 'invalid_token' | 'use_dpop_nonce'
  /** The reason logged with 'mcp-auth: request rejected' (docs/errors.md). */
  reason?: string
  /** Matches error_description (which names the failed check). */
  description?: RegExp
  algs?: string
}

/** 401, Bearer challenge first and without error, DPoP challenge with the error, ENV(error). */
function assertDpopError (t: Test, res: LightMyRequestResponse, expected: ErrorExpectation, message: string = expected.error): void {
  t.equal(res.statusCode, 401, `${message}: status`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  const challenges = parseChallenges(res.headers['www-authenticate'])
  t.same(challenges.map((c) => c.scheme), ['Bearer', 'DPoP'], `${message}: Bearer first, then DPoP`)
  const bearer = challenges[0]?.params ?? {}
  t.equal(bearer.error, undefined, `${message}: Bearer challenge carries no error`)
  t.equal(bearer.error_description, undefined, `${message}: nor error_description`)
  t.equal(bearer.resource_metadata, PRM, `${message}: Bearer resource_metadata`)
  const dpop = challenges[1]?.params ?? {}
  t.equal(dpop.error, expected.error, `${message}: DPoP error`)
  t.equal(dpop.algs, expected.algs ?? ALGS, `${message}: algs`)
  t.equal(dpop.resource_metadata, PRM, `${message}: resource_metadata`)
  const body = res.json()
  t.equal(body.error, expected.error, `${message}: body error`)
  t.equal(dpop.error_description, body.error_description, `${message}: same description in the challenge and the body`)
  if (expected.description !== undefined) t.match(body.error_description, expected.description, `${message}: description`)
  if (expected.reason !== undefined) t.equal(reasonOf(res), expected.reason, `${message}: reason`)
}

function assertUnavailable (t: Test, res: LightMyRequestResponse, message = '503', reason?: string): void {
  t.equal(res.statusCode, 503, `${message}: status`)
  if (reason !== undefined) t.equal(reasonOf(res), reason, `${message}: reason`)
  t.equal(res.headers['www-authenticate'], undefined, `${message}: no challenge`)
  t.match(res.headers['retry-after'], /^\d+$/, `${message}: Retry-After`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.equal(res.json().error, 'temporarily_unavailable', `${message}: body`)
}

/** A replay store that records every claim and answers with `answer`. */
function countingStore (answer: (key: string, ttl: number) => boolean | Promise<boolean> = () => true): ReplayStore & { calls: Array<{ key: string, ttl: number }> } {
  const calls: Array<{ key: string, ttl: number }> = []
  return {
    calls,
    claim (key, ttl) {
      calls.push({ key, ttl })
      return answer(key, ttl)
    },
  }
}

/** An app for routes buildApp does not have (a wildcard under /mcp, or a bare-origin resource). */
async function buildRouteApp (t: Test, resource: string, routes: string[], options: Partial<McpAuthOptions> = {}): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const issuer = await createTestIssuer({ audience: resource })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource, authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys }, ...options } as McpAuthOptions)
  for (const route of routes) app.get(route, async (request) => ({ sender: request.mcp?.sender ?? null }))
  await app.ready()
  return { app, issuer }
}

interface RawResponse { status: number, headerLines: string[], body: string }

/** Writes an HTTP/1.1 request byte for byte, so repeated field lines really reach the server. */
async function rawRequest (app: FastifyInstance, lines: string[]): Promise<RawResponse> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write([...lines, 'Host: mcp.example.com', 'Connection: close', '', ''].join('\r\n'))
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
  const split = raw.indexOf('\r\n\r\n')
  const [statusLine = '', ...headerLines] = raw.slice(0, split).split('\r\n')
  return { status: Number(statusLine.split(' ')[1]), headerLines, body: raw.slice(split + 4) }
}

function headerValues (res: RawResponse, name: string): string[] {
  return res.headerLines.filter((line) => line.toLowerCase().startsWith(name.toLowerCase() + ':')).map((line) => line.slice(name.length + 1).trim())
}

// ——— DPOP-01, DPOP-02: acceptance ———

t.test('RFC 9449 §7.1: a DPoP-bound token with a valid proof → 200, request.mcp.sender = { binding: dpop, jkt }', async (t) => {
  const { app, key, token } = await setup(t)
  const res = await send(app, { token, proof: await proofFor(key, token) })
  assertAccepted(t, res, key)
  t.equal(res.headers['www-authenticate'], undefined)
  t.equal(res.headers['dpop-nonce'], undefined, 'no nonce without nonce configuration')
  const auth = res.json().auth
  t.equal(auth.token, token, 'request.raw.auth carries the token for MCP SDK transports')
  t.same(auth.extra.sender, { binding: 'dpop', jkt: key.jkt }, 'and the sender binding')
  t.equal(auth.resource, RESOURCE)
})

t.test('RFC 9449 §4.3: every default algorithm is accepted (ES256, ES384, PS256, RS256, EdDSA)', async (t) => {
  const { app, issuer } = await loggedApp(t)
  for (const alg of ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'] as const) {
    const key = await createDpopKey(alg)
    const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
    assertAccepted(t, await send(app, { token, proof: await proofFor(key, token) }), key, alg)
  }
})

t.test('RFC 9110 §11.1 / RFC 9449 §7.1: the DPoP scheme is case-insensitive (DPOP-02, EDGE-08)', async (t) => {
  const { app, key, token } = await setup(t)
  for (const scheme of ['DPoP', 'dpop', 'DPOP', 'dPoP']) {
    assertAccepted(t, await send(app, { token, scheme, proof: await proofFor(key, token) }), key, scheme)
  }
  const res = await send(app, { token, scheme: 'DPoP   ', proof: await proofFor(key, token) })
  assertAccepted(t, res, key, 'several spaces after the scheme')
})

t.test('RFC 9449 §4.1: the DPoP field name is case-insensitive on a real socket (DPOP-02)', async (t) => {
  const { app, key, token } = await setup(t)
  for (const name of ['DPOP', 'dpop', 'DPoP']) {
    const res = await rawRequest(app, ['GET /mcp HTTP/1.1', `Authorization: DPOP ${token}`, `${name}: ${await proofFor(key, token)}`])
    t.equal(res.status, 200, name)
    t.same(JSON.parse(res.body).mcp.sender, { binding: 'dpop', jkt: key.jkt }, name)
  }
})

t.test('RFC 9449 §7.1: a proof for POST, with the POST route\'s scopes → 200', async (t) => {
  const { app, key, token } = await setup(t, {}, { scope: 'mcp:tools:call' })
  const res = await send(app, { token, method: 'POST', proof: await proofFor(key, token, { method: 'POST' }) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { subject: 'user-123' })
})

t.test('principal(claims, sender) sees the DPoP binding', async (t) => {
  const { app, key, token } = await setup(t, { principal: (_claims, sender) => ({ binding: sender.binding }) })
  const res = await send(app, { token, proof: await proofFor(key, token) })
  t.equal(res.statusCode, 200)
  t.same(res.json().principal, { binding: 'dpop' })
})

// ——— DPOP-03 … DPOP-05: presence and shape (RFC 9449 §4.3 steps 1–2) ———

t.test('RFC 9449 §7.1: DPoP scheme without a DPoP header → 401 invalid_dpop_proof (DPOP-03)', async (t) => {
  const { app, token } = await setup(t)
  assertDpopError(t, await send(app, { token }), { error: 'invalid_dpop_proof', description: /proof is required/ })
  assertDpopError(t, await send(app, { token, proof: '' }), { error: 'invalid_dpop_proof' }, 'empty DPoP header')
})

t.test('RFC 9449 §4.3 (1): two DPoP field lines (Node joins them) → 401 invalid_dpop_proof, not 500 (DPOP-04, EDGE-02)', async (t) => {
  const { app, key, token } = await setup(t)
  const p1 = await proofFor(key, token)
  const p2 = await proofFor(key, token)
  assertDpopError(t, await send(app, { token, proof: [p1, p2] }), { error: 'invalid_dpop_proof', description: /more than one/i }, 'two different proofs')
  assertDpopError(t, await send(app, { token, proof: [p1, p1] }), { error: 'invalid_dpop_proof' }, 'the same proof twice')
  assertDpopError(t, await send(app, { token, proof: `${await proofFor(key, token)}, ${await proofFor(key, token)}` }), { error: 'invalid_dpop_proof' }, 'one line holding two proofs')
  const fresh = await proofFor(key, token)
  assertAccepted(t, await send(app, { token, proof: fresh }), key, 'neither proof was recorded or trusted')
})

t.test('RFC 9449 §4.3 (1): two DPoP field lines on a real socket → 401 invalid_dpop_proof (EDGE-02)', async (t) => {
  const { app, key, token } = await setup(t)
  let rawHeaders: string[] = []
  app.server.on('request', (req: { rawHeaders: string[] }) => { rawHeaders = req.rawHeaders })
  const p1 = await proofFor(key, token)
  const p2 = await proofFor(key, token)
  const res = await rawRequest(app, ['GET /mcp HTTP/1.1', `Authorization: DPoP ${token}`, `DPoP: ${p1}`, `DPoP: ${p2}`])
  t.equal(rawHeaders.filter((name) => name.toLowerCase() === 'dpop').length, 2, 'the server really received two lines')
  t.equal(res.status, 401)
  t.match(headerValues(res, 'www-authenticate').join(', '), /DPoP error="invalid_dpop_proof"/)
  t.equal(JSON.parse(res.body).error, 'invalid_dpop_proof')
})

t.test('RFC 9449 §4.3 (2): a DPoP value that is not one well-formed JWS → 401 invalid_dpop_proof (DPOP-05)', async (t) => {
  const { app, key, token } = await setup(t)
  const valid = await proofFor(key, token)
  const [h, p, s] = valid.split('.') as [string, string, string]
  const cases: Record<string, string> = {
    'two segments': `${h}.${p}`,
    'a five-segment JWE': `${h}.${p}.${s}.${s}.${s}`,
    'four segments': `${h}.${p}.${s}.${s}`,
    'bad base64url characters': `${h}.${p}!.${s}`,
    'padded base64': `${h}=.${p}.${s}`,
    'a header that is not JSON': `${encode('x').slice(0, 2)}bm90IGpzb24.${p}.${s}`,
    'a header that is a JSON array': `${encode([1, 2])}.${p}.${s}`,
    'a payload that is not JSON': `${h}.bm90IGpzb24.${s}`,
    'a payload that is JSON null': `${h}.${encode(null)}.${s}`,
    'an empty signature (unsecured)': `${h}.${p}.`,
    'random text': 'not a jwt',
    'a Bearer-looking value': `Bearer ${valid}`,
  }
  for (const [name, proof] of Object.entries(cases)) {
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' }, name)
  }
})

t.test('RFC 9449 §4.3 (2): an oversized proof → 401 invalid_dpop_proof', async (t) => {
  const { app, key, token } = await setup(t)
  const proof = await proofFor(key, token, { claims: { pad: 'p'.repeat(9000) } })
  assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof', description: /malformed/ })
})

// ——— DPOP-06 … DPOP-10: claims, typ, alg, signature, jwk (steps 3–7) ———

t.test('RFC 9449 §4.3 (3): a proof missing jti, htm, htu or iat → 401 invalid_dpop_proof (DPOP-06)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'missing-jti' }) }), { error: 'invalid_dpop_proof', description: /identifier/ }, 'no jti')
  for (const claim of ['jti', 'htm', 'htu', 'iat']) {
    const proof = forge(key, proofHeader(key), proofClaims(token, { [claim]: undefined }))
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' }, `no ${claim}`)
  }
})

t.test('RFC 9449 §4.2: claims of the wrong type → 401 invalid_dpop_proof', async (t) => {
  const { app, key, token } = await setup(t)
  const cases: Record<string, Record<string, unknown>> = {
    'iat as a string': { iat: String(now()) },
    'iat as null': { iat: null },
    'jti as a number': { jti: 12345 },
    'empty jti': { jti: '' },
    'htm as an array': { htm: ['GET'] },
    'htu as an object': { htu: { href: RESOURCE } },
    'nonce as a number': { nonce: 7 },
  }
  for (const [name, overrides] of Object.entries(cases)) {
    const proof = forge(key, proofHeader(key), proofClaims(token, overrides))
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' }, name)
  }
})

t.test('RFC 9449 §4.3 (4): typ JWT, at+jwt or absent → 401 invalid_dpop_proof (DPOP-07)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'wrong-typ' }) }), { error: 'invalid_dpop_proof', description: /type/ }, 'typ JWT')
  for (const typ of ['at+jwt', 'application/at+jwt', 'jwt', undefined, 42]) {
    const proof = forge(key, proofHeader(key, { typ }), proofClaims(token))
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof', description: /type/ }, `typ ${String(typ)}`)
  }
})

t.test('RFC 9449 §4.3 (5): alg none or HS256 → 401 invalid_dpop_proof with algs naming the configured algorithms (DPOP-08)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'alg-none' }) }), { error: 'invalid_dpop_proof' }, 'none')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'hs256' }) }), { error: 'invalid_dpop_proof', description: /algorithm/ }, 'HS256 keyed with the public JWK')
  const noneWithSignature = forge(key, proofHeader(key, { alg: 'none' }), proofClaims(token))
  assertDpopError(t, await send(app, { token, proof: noneWithSignature }), { error: 'invalid_dpop_proof', description: /algorithm/ }, 'none with a signature segment')
})

t.test('RFC 9449 §4.3 (5): a valid algorithm that is not configured → 401; algs lists only the configured ones (DPOP-08)', async (t) => {
  const { app, issuer } = await loggedApp(t, { dpop: { algorithms: ['ES256'] } })
  const key = await createDpopKey('ES384')
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_dpop_proof', description: /algorithm/, algs: 'ES256' })
  const es256 = await createDpopKey('ES256')
  const bound = await issuer.mintAccessToken({}, { bindTo: { jkt: es256.jkt } })
  assertAccepted(t, await send(app, { token: bound, proof: await proofFor(es256, bound) }), es256, 'the configured algorithm works')
})

t.test('RFC 9449 §4.3 (5): an alg that does not fit the jwk (ES384 header, P-256 key) → 401 invalid_dpop_proof (DPOP-08)', async (t) => {
  const { app, key, token } = await setup(t)
  const proof = forge(key, proofHeader(key, { alg: 'ES384' }), proofClaims(token), 'sha384')
  assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' })
  const rsaAlg = forge(key, proofHeader(key, { alg: 'RS256' }), proofClaims(token))
  assertDpopError(t, await send(app, { token, proof: rsaAlg }), { error: 'invalid_dpop_proof' }, 'RS256 header on an EC key')
})

t.test('RFC 9449 §4.3 (6): a bad signature → 401 invalid_dpop_proof (DPOP-09)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'bad-signature' }) }), { error: 'invalid_dpop_proof', description: /signature/ }, 'one character flipped')
  const k2 = await createDpopKey()
  const signedByOther = await createDpopProof(k2, { method: 'GET', url: RESOURCE, accessToken: token, header: { jwk: key.publicJwk } })
  assertDpopError(t, await send(app, { token, proof: signedByOther }), { error: 'invalid_dpop_proof', description: /signature/ }, 'signed by K2, jwk says K')
  const [h, p] = (await proofFor(key, token)).split('.') as [string, string]
  const [, , s] = (await proofFor(key, token)).split('.') as [string, string, string]
  assertDpopError(t, await send(app, { token, proof: `${h}.${p}.${s}` }), { error: 'invalid_dpop_proof', description: /signature/ }, 'a signature from another proof')
})

t.test('RFC 9449 §4.2 / §4.3 (7): a jwk holding private material → 401 invalid_dpop_proof, never 500 (DPOP-10, EDGE-13)', async (t) => {
  const { app, issuer, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'private-key-in-jwk' }) }), { error: 'invalid_dpop_proof', description: /key/ }, 'EC d')
  const rsa = await createDpopKey('RS256')
  const rsaToken = await issuer.mintAccessToken({}, { bindTo: { jkt: rsa.jkt } })
  assertDpopError(t, await send(app, { token: rsaToken, proof: await proofFor(rsa, rsaToken, { flaw: 'private-key-in-jwk' }) }), { error: 'invalid_dpop_proof', description: /key/ }, 'RSA d, p, q, dp, dq, qi')
  const oct = forge(key, proofHeader(key, { jwk: { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0' } }), proofClaims(token))
  assertDpopError(t, await send(app, { token, proof: oct }), { error: 'invalid_dpop_proof', description: /key/ }, 'kty oct')
})

t.test('RFC 9449 §4.3 (7): no jwk (only kid, or only x5c), or a jwk that is not an object → 401 invalid_dpop_proof (DPOP-10)', async (t) => {
  const { app, key, token } = await setup(t)
  const kidOnly = await proofFor(key, token, { flaw: 'missing-jwk', header: { kid: 'key-1' } })
  assertDpopError(t, await send(app, { token, proof: kidOnly }), { error: 'invalid_dpop_proof', description: /key/ }, 'kid only')
  const x5cOnly = forge(key, proofHeader(key, { jwk: undefined, x5c: ['MIIBszCCAVmgAwIBAgIUAA=='] }), proofClaims(token))
  assertDpopError(t, await send(app, { token, proof: x5cOnly }), { error: 'invalid_dpop_proof', description: /key/ }, 'x5c only')
  const offCurve = { ...key.publicJwk, x: key.publicJwk.y, y: key.publicJwk.x }
  for (const jwk of ['a string', ['array'], null, { kty: 'EC', crv: 'P-256' }, { ...key.publicJwk, kty: 'XYZ' }, offCurve, { ...key.publicJwk, crv: 'P-384' }]) {
    const proof = forge(key, proofHeader(key, { jwk }), proofClaims(token))
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' }, `jwk ${JSON.stringify(jwk)}`)
  }
})

t.test('RFC 9449 §4.3 (5) / RFC 8725 §3.5: an RSA proof key below 2048 bits → 401 invalid_dpop_proof, never 500', async (t) => {
  const { app, issuer } = await loggedApp(t)
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const jwk = publicKey.export({ format: 'jwk' })
  const jkt = jwkThumbprint(jwk as Record<string, unknown>) as string
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt } })
  const input = `${encode({ typ: 'dpop+jwt', alg: 'RS256', jwk })}.${encode(proofClaims(token))}`
  const proof = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
  assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof', description: /key/ })
})

t.test('RFC 9449 §4.3: a crit header → 401 invalid_dpop_proof', async (t) => {
  const { app, key, token } = await setup(t)
  const proof = forge(key, proofHeader(key, { crit: ['urn:x-unknown'], 'urn:x-unknown': 1 }), proofClaims(token))
  assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof' })
})

// ——— DPOP-11 … DPOP-15: htm and htu (steps 8–9) ———

t.test('RFC 9449 §4.3 (8): htm must equal the request method, case-sensitively (DPOP-11)', async (t) => {
  const { app, key, token } = await setup(t, {}, { scope: 'mcp:tools:call' })
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'wrong-htm' }) }), { error: 'invalid_dpop_proof', description: /method/ }, 'htm POST on GET')
  assertDpopError(t, await send(app, { token, method: 'POST', proof: await proofFor(key, token, { method: 'GET' }) }), { error: 'invalid_dpop_proof', description: /method/ }, 'htm GET on POST')
  assertDpopError(t, await send(app, { token, method: 'POST', proof: await proofFor(key, token, { method: 'post' }) }), { error: 'invalid_dpop_proof', description: /method/ }, 'htm "post" on POST')
})

t.test('RFC 9449 §4.3 (8): on an automatic HEAD route, htm must be HEAD, not GET (DPOP-11)', async (t) => {
  const { app, key, token } = await setup(t)
  const wrong = await send(app, { token, method: 'HEAD', proof: await proofFor(key, token, { method: 'GET' }) })
  t.equal(wrong.statusCode, 401)
  const challenges = parseChallenges(wrong.headers['www-authenticate'])
  t.equal(challenges[1]?.params.error, 'invalid_dpop_proof')
  t.equal(challenges[0]?.params.error, undefined)
  const right = await send(app, { token, method: 'HEAD', proof: await proofFor(key, token, { method: 'HEAD' }) })
  t.equal(right.statusCode, 200, 'htm HEAD on HEAD')
})

t.test('RFC 9449 §4.3 (9): rejects a proof whose htu differs in scheme, port, host or path (DPOP-12)', async (t) => {
  const { app, key, token } = await setup(t)
  const cases: Record<string, string> = {
    'http scheme': 'http://mcp.example.com/mcp',
    'port 8443': 'https://mcp.example.com:8443/mcp',
    'http with port 80': 'http://mcp.example.com:80/mcp',
    'another host': 'https://other.example.com/mcp',
    'a subdomain': 'https://a.mcp.example.com/mcp',
    'another path': 'https://mcp.example.com/other',
    'R2\'s path': R2,
    'a trailing slash (EDGE-04)': 'https://mcp.example.com/mcp/',
    'path case': 'https://mcp.example.com/MCP',
    'the origin only': ORIGIN,
    'a relative reference': '/mcp',
    userinfo: 'https://user@mcp.example.com/mcp',
    'a wss URI': 'wss://mcp.example.com/mcp',
  }
  for (const [name, htu] of Object.entries(cases)) {
    const proof = await proofFor(key, token, { claims: { htu } })
    assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof', description: /URI/ }, name)
  }
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'wrong-htu' }) }), { error: 'invalid_dpop_proof', description: /URI/ }, 'named flaw wrong-htu')
})

t.test('RFC 9449 §4.3 (9): htu is checked against the actual request path, not the resource (EDGE-06)', async (t) => {
  const { app, key, token } = await setup(t)
  const res = await send(app, { token, url: '/mcp/admin', proof: await proofFor(key, token) })
  assertDpopError(t, res, { error: 'invalid_dpop_proof', description: /URI/ }, 'a proof for /mcp replayed at /mcp/admin')
  const matching = await send(app, { token, url: '/mcp/admin', proof: await proofFor(key, token, { url: `${RESOURCE}/admin` }) })
  t.equal(matching.statusCode, 404, 'a proof for /mcp/admin passes authentication (the route does not exist)')
})

t.test('RFC 9449 §4.3 (9): the request query is ignored: POST /mcp?x=1 with htu without query → 200 (DPOP-13)', async (t) => {
  const { app, key, token } = await setup(t, {}, { scope: 'mcp:tools:call' })
  const post = await send(app, { token, method: 'POST', url: '/mcp?x=1', proof: await proofFor(key, token, { method: 'POST' }) })
  t.equal(post.statusCode, 200)
  t.same(post.json(), { subject: 'user-123' })
  assertAccepted(t, await send(app, { token, url: '/mcp?x=1&y=%20', proof: await proofFor(key, token) }), key, 'GET with a query')
})

t.test('RFC 9449 §4.3 (9) / RFC 3986 §6.2.2–6.2.3: normalization-equivalent htu values → 200 (DPOP-14, EDGE-03)', async (t) => {
  const { app, key, token } = await setup(t)
  for (const htu of [
    'HTTPS://MCP.EXAMPLE.COM/mcp',
    'https://Mcp.Example.Com/mcp',
    'https://mcp.example.com:443/mcp',
    'https://mcp.example.com/%6Dcp',
    'https://mcp.example.com/%6dcp',
    'https://mcp.example.com/x/../mcp',
    'https://mcp.example.com/./mcp',
    'https://mcp.example.com/mcp#fragment',
  ]) {
    assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { claims: { htu } }) }), key, htu)
  }
})

t.test('RFC 3986 §6.2.2.1–.2: percent-encoding case and unreserved characters on the request side too (EDGE-05)', async (t) => {
  const { app, issuer } = await buildRouteApp(t, RESOURCE, ['/mcp/*'])
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const pairs: Array<[string, string]> = [
    ['/mcp/a%2fb', `${RESOURCE}/a%2Fb`],
    ['/mcp/a%2Fb', `${RESOURCE}/a%2fb`],
    ['/mcp/~user', `${RESOURCE}/%7Euser`],
    ['/mcp/%7euser', `${RESOURCE}/~user`],
  ]
  for (const [path, htu] of pairs) {
    const res = await send(app, { token, url: path, proof: await proofFor(key, token, { claims: { htu } }) })
    t.equal(res.statusCode, 200, `${path} vs ${htu}`)
    t.same(res.json().sender, { binding: 'dpop', jkt: key.jkt })
  }
  const decoded = await send(app, { token, url: '/mcp/a%2Fb', proof: await proofFor(key, token, { claims: { htu: `${RESOURCE}/a/b` } }) })
  t.equal(decoded.statusCode, 401, '%2F is never decoded into /')
})

t.test('RFC 3986 §6.2.3: for a bare-origin resource, htu https://mcp.example.com matches GET / (DPOP-14)', async (t) => {
  const { app, issuer } = await buildRouteApp(t, ORIGIN, ['/'])
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  for (const htu of [ORIGIN, `${ORIGIN}/`]) {
    const res = await send(app, { token, url: '/', proof: await proofFor(key, token, { claims: { htu } }) })
    t.equal(res.statusCode, 200, htu)
  }
})

t.test('RFC 9449 §4.3 (9) / RFC 9728 §7.3: the expected htu never comes from Host or X-Forwarded-* (DPOP-15, EDGE-07)', async (t) => {
  const { app, key, token } = await setup(t)
  const spoof = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }
  const evil = await send(app, { token, headers: spoof, proof: await proofFor(key, token, { claims: { htu: 'https://evil.example/mcp' } }) })
  assertDpopError(t, evil, { error: 'invalid_dpop_proof', description: /URI/ }, 'htu following the spoofed Host')
  const proxied = await send(app, { token, headers: { host: '10.0.0.5:3000' }, proof: await proofFor(key, token, { claims: { htu: 'http://10.0.0.5:3000/mcp' } }) })
  assertDpopError(t, proxied, { error: 'invalid_dpop_proof' }, 'htu following the internal address behind a proxy')
  assertAccepted(t, await send(app, { token, headers: spoof, proof: await proofFor(key, token) }), key, 'the same request with htu = R')
  assertAccepted(t, await send(app, { token, headers: { host: '10.0.0.5:3000' }, proof: await proofFor(key, token) }), key, 'behind a TLS-terminating proxy, htu = R')
})

// ——— DPOP-16, DPOP-17: iat window (step 11) ———

t.test('RFC 9449 §11.1: iat older than the 300 s window → 401 invalid_dpop_proof (DPOP-16)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() - 330 }) }), { error: 'invalid_dpop_proof', description: /time window/ }, 'now - 330')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'stale-iat' }) }), { error: 'invalid_dpop_proof', description: /time window/ }, 'named flaw stale-iat')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() - 280 }) }), key, 'now - 280 is inside')
})

t.test('RFC 9449 §11.1 / SEP-1932: iat in the future beyond the window → 401; slightly ahead → 200 (DPOP-17, EDGE-15)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() + 330 }) }), { error: 'invalid_dpop_proof', description: /time window/ }, 'now + 330')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'future-iat' }) }), { error: 'invalid_dpop_proof' }, 'named flaw future-iat')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() + 5 }) }), key, 'now + 5')
})

t.test('dpop.iatWindow sets the window each way', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { iatWindow: 60 } })
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() - 90 }) }), { error: 'invalid_dpop_proof' }, 'now - 90')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() + 90 }) }), { error: 'invalid_dpop_proof' }, 'now + 90')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() - 30 }) }), key, 'now - 30')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { iat: now() + 30 }) }), key, 'now + 30')
})

// ——— DPOP-18 … DPOP-20: replay ———

t.test('RFC 9449 §11.1: the same proof twice → 200 then 401 invalid_dpop_proof (DPOP-18)', async (t) => {
  const { app, key, token } = await setup(t)
  const proof = await proofFor(key, token)
  assertAccepted(t, await send(app, { token, proof }), key, 'first use')
  assertDpopError(t, await send(app, { token, proof }), { error: 'invalid_dpop_proof', description: /already used/ }, 'replay')
  const sameJti = await proofFor(key, token, { jti: JSON.parse(Buffer.from(proof.split('.')[1] as string, 'base64url').toString()).jti })
  assertDpopError(t, await send(app, { token, proof: sameJti }), { error: 'invalid_dpop_proof', description: /already used/ }, 'a new proof reusing the jti')
})

t.test('RFC 9449 §11.1: the same proof sent twice concurrently → exactly one 200', async (t) => {
  const { app, key, token } = await setup(t)
  const proof = await proofFor(key, token)
  const responses = await Promise.all([1, 2, 3, 4].map(() => send(app, { token, proof })))
  t.same(responses.map((res) => res.statusCode).sort(), [200, 401, 401, 401])
})

t.test('RFC 9449 §11.1 / DPOP-20: a proof accepted on one instance is a replay on another sharing the store', async (t) => {
  const store = new MemoryReplayStore()
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const a = await loggedApp(t, { dpop: { replayStore: store } }, issuer)
  const b = await loggedApp(t, { dpop: { replayStore: store } }, issuer)
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const proof = await proofFor(key, token)
  assertAccepted(t, await send(a.app, { token, proof }), key, 'instance A')
  assertDpopError(t, await send(b.app, { token, proof }), { error: 'invalid_dpop_proof', description: /already used/ }, 'instance B')
  await a.app.close()
  t.equal(store.claim('x'.repeat(43), 10), true, 'a user-supplied store is not closed by the app')
})

t.test('EDGE-17: a proof for R replayed at R2 (a token valid for both) → 401 invalid_dpop_proof by htu', async (t) => {
  const { app, issuer } = await loggedApp(t, { resource: [RESOURCE, R2] }, undefined, (a) => { a.get('/tenants/acme/mcp', async () => 'R2') })
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({ aud: [RESOURCE, R2] }, { bindTo: { jkt: key.jkt } })
  const res = await send(app, { token, url: '/tenants/acme/mcp', proof: await proofFor(key, token) })
  t.equal(res.statusCode, 401)
  const [, dpop] = parseChallenges(res.headers['www-authenticate'])
  t.equal(dpop?.params.error, 'invalid_dpop_proof')
  t.equal(dpop?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp')
  const own = await send(app, { token, url: '/tenants/acme/mcp', proof: await proofFor(key, token, { url: R2 }) })
  t.equal(own.statusCode, 200, 'a proof for R2 passes at R2')
})

t.test('RFC 9449 §11.1 / EDGE-17: the same jti from a different key is not a replay', async (t) => {
  const { app, issuer, key, token } = await setup(t)
  const k2 = await createDpopKey()
  const token2 = await issuer.mintAccessToken({}, { bindTo: { jkt: k2.jkt } })
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { jti: 'shared-jti' }) }), key, 'K')
  assertAccepted(t, await send(app, { token: token2, proof: await proofFor(k2, token2, { jti: 'shared-jti' }) }), k2, 'K2, same jti')
})

t.test('RFC 9449 §11.1: a 4 KB jti → 401 invalid_dpop_proof (DPOP-19)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { jti: 'j'.repeat(4096) }) }), { error: 'invalid_dpop_proof', description: /identifier/ })
})

t.test('XC-06: a replay store whose claim() throws → 503 temporarily_unavailable, Retry-After, no challenge (DPOP-20)', async (t) => {
  const store = countingStore(() => { throw new Error('ECONNREFUSED') })
  const { app, key, token } = await setup(t, { dpop: { replayStore: store } })
  const res = await send(app, { token, proof: await proofFor(key, token) })
  assertUnavailable(t, res, 'sync throw', 'replay_store.failed')
  t.match(logged(res, 'mcp-auth: DPoP replay store failed'), [{ level: 50, err: { message: 'ECONNREFUSED' } }], 'logged as a failure, with its error')
  t.equal(store.calls.length, 1)
})

t.test('XC-06: a replay store whose claim() rejects → 503, never 401 and never 200', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { replayStore: { claim: async () => { throw new Error('timeout') } } } })
  assertUnavailable(t, await send(app, { token, proof: await proofFor(key, token) }), 'async rejection', 'replay_store.failed')
})

t.test('RFC 9449 §11.1: a store answering false (seen elsewhere, e.g. another instance) → 401 invalid_dpop_proof', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { replayStore: countingStore(async () => false) } })
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_dpop_proof', description: /already used/, reason: 'dpop.replay' })
})

t.test('a store answering something other than true fails closed → 401 dpop.replay', async (t) => {
  for (const answer of ['yes', 'OK', null, undefined, 1]) {
    const { app, key, token } = await setup(t, { dpop: { replayStore: { claim: async () => answer as unknown as boolean } } })
    assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_dpop_proof', reason: 'dpop.replay' }, JSON.stringify(answer) ?? 'undefined')
  }
})

t.test('a store answering with a non-native thenable is awaited like a promise', async (t) => {
  const thenable = (value: boolean) => ({ then (resolve: (v: boolean) => void) { resolve(value) } }) as unknown as Promise<boolean>
  const answers = [true, false]
  const { app, key, token } = await setup(t, { dpop: { replayStore: { claim: () => thenable(answers.shift() as boolean) } } })
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token) }), key, 'thenable true → fresh')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_dpop_proof', description: /already used/ }, 'thenable false → replay')
})

t.test('EDGE-16: a full MemoryReplayStore → 503, never forgetting a jti', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { replayStore: new MemoryReplayStore({ maxEntries: 1 }) } })
  const first = await proofFor(key, token)
  assertAccepted(t, await send(app, { token, proof: first }), key, 'first proof fills the store')
  const full = await send(app, { token, proof: await proofFor(key, token) })
  assertUnavailable(t, full, 'a second proof', 'replay_store.full')
  t.equal(logged(full, 'mcp-auth: DPoP replay store is full; refusing proofs until entries expire').length, 1, 'logged as full, not as a failure')
  t.equal(logged(full, 'mcp-auth: DPoP replay store failed').length, 0)
  assertDpopError(t, await send(app, { token, proof: first }), { error: 'invalid_dpop_proof', reason: 'dpop.replay' }, 'the recorded proof is still a replay')
})

t.test('dpop.replayStore: false turns replay detection off', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { replayStore: false } })
  const proof = await proofFor(key, token)
  assertAccepted(t, await send(app, { token, proof }), key, 'first')
  assertAccepted(t, await send(app, { token, proof }), key, 'second')
})

t.test('EDGE-16: the jti is kept at least until the proof\'s iat leaves the window', async (t) => {
  const store = countingStore()
  const { app, key, token } = await setup(t, { dpop: { replayStore: store } })
  const before = now()
  for (const iat of [before, before - 200, before + 5]) {
    t.equal((await send(app, { token, proof: await proofFor(key, token, { iat }) })).statusCode, 200)
  }
  t.equal(store.calls.length, 3)
  const [a, b, c] = store.calls
  t.ok((a?.ttl ?? 0) >= 300, `iat = now: ttl ${a?.ttl} ≥ 300`)
  t.ok((b?.ttl ?? 0) >= 100, `iat = now - 200: ttl ${b?.ttl} ≥ 100`)
  t.ok((c?.ttl ?? 0) >= 305, `iat = now + 5: ttl ${c?.ttl} ≥ 305`)
  t.equal(new Set(store.calls.map((call) => call.key)).size, 3, 'one key per jti')
})

t.test('EDGE-17: a junk proof never reaches the replay store', async (t) => {
  const store = countingStore()
  const { app, key, token } = await setup(t, { dpop: { replayStore: store } })
  const junk: Array<Partial<DpopProofOptions>> = [
    { flaw: 'bad-signature' },
    { flaw: 'wrong-htu' },
    { flaw: 'wrong-htm' },
    { flaw: 'missing-ath' },
    { flaw: 'stale-iat' },
    { flaw: 'alg-none' },
    { flaw: 'private-key-in-jwk' },
  ]
  for (const options of junk) {
    t.equal((await send(app, { token, proof: await proofFor(key, token, options) })).statusCode, 401, String(options.flaw))
  }
  t.equal(store.calls.length, 0)
})

t.test('EDGE-17: the jti is recorded only after the binding check (a valid proof from the wrong key)', async (t) => {
  const store = countingStore()
  const { app, key, token } = await setup(t, { dpop: { replayStore: store } })
  const k2 = await createDpopKey()
  const res = await send(app, { token, proof: await proofFor(k2, token, { jti: 'victim-jti' }) })
  assertDpopError(t, res, { error: 'invalid_token' })
  t.equal(store.calls.length, 0, 'store untouched')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { jti: 'victim-jti' }) }), key, 'the rightful client can still use that jti')
})

t.test('EDGE-17: a proof for a token that fails verification never reaches the replay store', async (t) => {
  const store = countingStore()
  const { app, issuer, key } = await setup(t, { dpop: { replayStore: store } })
  const expired = await issuer.mintAccessToken({ exp: now() - 3600, iat: now() - 7200 }, { bindTo: { jkt: key.jkt } })
  assertDpopError(t, await send(app, { token: expired, proof: await proofFor(key, expired) }), { error: 'invalid_token' })
  t.equal(store.calls.length, 0)
})

// ——— DPOP-21, DPOP-22: ath (step 12) ———

t.test('RFC 9449 §4.2: a proof without ath while a token is presented → 401 invalid_dpop_proof (DPOP-21)', async (t) => {
  const { app, key, token } = await setup(t)
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'missing-ath' }) }), { error: 'invalid_dpop_proof', description: /not bound to this access token/ })
})

t.test('RFC 9449 §4.3 (12): ath must be base64url(SHA-256(token)) exactly (DPOP-22, EDGE-12)', async (t) => {
  const { app, issuer, key, token } = await setup(t)
  const other = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const hex = Buffer.from(accessTokenHash(token), 'base64url').toString('hex')
  const cases: Record<string, unknown> = {
    'the hash of another token': accessTokenHash(other),
    'the correct hash with = padding': accessTokenHash(token) + '=',
    'the correct hash in standard base64': Buffer.from(accessTokenHash(token), 'base64url').toString('base64'),
    'the hash of "DPoP <token>"': accessTokenHash(`DPoP ${token}`),
    'hex instead of base64url': hex,
    'the token itself': token,
    'a number': 1,
  }
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { flaw: 'wrong-ath' }) }), { error: 'invalid_dpop_proof', description: /not bound/ }, 'named flaw wrong-ath')
  for (const [name, ath] of Object.entries(cases)) {
    assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { claims: { ath } }) }), { error: 'invalid_dpop_proof', description: /not bound/ }, name)
  }
})

// ——— DPOP-23 … DPOP-27: binding ———

t.test('RFC 9449 §6.1 / §7.1: cnf.jkt ≠ the proof key thumbprint → 401 invalid_token in the DPoP challenge (DPOP-23, EDGE-12)', async (t) => {
  const { app, key, token } = await setup(t)
  const k2 = await createDpopKey()
  const res = await send(app, { token, proof: await proofFor(k2, token) })
  assertDpopError(t, res, { error: 'invalid_token', description: /key does not match/ })
  t.not(res.json().error, 'invalid_dpop_proof', 'a binding mismatch is not a proof error')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token) }), key, 'the rightful key still works')
})

t.test('RFC 9449 §6.1: a token bound to a thumbprint that differs only by padding or case → 401 invalid_token', async (t) => {
  const { app, issuer } = await loggedApp(t)
  const key = await createDpopKey()
  for (const jkt of [key.jkt + '=', key.jkt.toUpperCase(), Buffer.from(key.jkt, 'base64url').toString('hex')]) {
    const token = await issuer.mintAccessToken({}, { bindTo: { jkt } })
    assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_token' }, jkt)
  }
})

t.test('RFC 7638 §3: a jwk with extra members (kid, alg, use, key_ops) still matches cnf.jkt (DPOP-24, EDGE-14)', async (t) => {
  const { app, key, token } = await setup(t)
  const jwk = { ...key.publicJwk, kid: 'client-key-1', alg: 'ES256', use: 'sig', key_ops: ['verify'] }
  const res = await send(app, { token, proof: await proofFor(key, token, { header: { jwk } }) })
  assertAccepted(t, res, key)
})

t.test('RFC 9449 §7.2: a DPoP-bound token sent as Bearer → 401 invalid_token, Bearer challenge with the error, DPoP without (DPOP-25)', async (t) => {
  const { app, key, token } = await setup(t)
  const cases: Record<string, Send> = {
    'without a DPoP header': { token, scheme: 'Bearer' },
    'with a valid DPoP header': { token, scheme: 'Bearer', proof: await proofFor(key, token) },
    'lowercase bearer': { token, scheme: 'bearer', proof: await proofFor(key, token) },
  }
  for (const [name, request] of Object.entries(cases)) {
    const res = await send(app, request)
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['cache-control'], 'no-store')
    const [bearer, dpop, ...rest] = parseChallenges(res.headers['www-authenticate'])
    t.equal(rest.length, 0)
    t.equal(bearer?.scheme, 'Bearer', name)
    t.equal(bearer?.params.error, 'invalid_token', `${name}: BC(invalid_token)`)
    t.equal(bearer?.params.resource_metadata, PRM)
    t.equal(dpop?.scheme, 'DPoP', name)
    t.same(dpop?.params, { algs: ALGS, resource_metadata: PRM }, `${name}: DC0`)
    t.equal(res.json().error, 'invalid_token')
    t.match(res.json().error_description, /DPoP/)
  }
})

t.test('dpop: false: an unbound Bearer token is accepted (with or without a DPoP header); the DPoP scheme is not a credential', async (t) => {
  const { app, issuer, key } = await setup(t, { dpop: false })
  const unbound = await issuer.mintAccessToken({ sub: 'alice' })
  for (const proof of [undefined, await proofFor(key, unbound)]) {
    const res = await send(app, { token: unbound, scheme: 'Bearer', proof })
    t.equal(res.statusCode, 200, proof === undefined ? 'Bearer' : 'Bearer beside a DPoP header')
    t.same(res.json().mcp.sender, { binding: 'bearer' })
    t.equal(res.json().mcp.subject, 'alice')
    t.equal(res.headers['dpop-nonce'], undefined)
  }
  const post = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ scope: 'mcp:tools:call' })}` } })
  t.equal(post.statusCode, 200, 'and the scope guard after it')
  const dpop = await send(app, { token: unbound, proof: await proofFor(key, unbound) })
  t.equal(dpop.statusCode, 401, 'DPoP scheme')
  t.equal(reasonOf(dpop), 'credentials.unsupported_scheme')
  t.same(parseChallenges(dpop.headers['www-authenticate']).map((c) => [c.scheme, c.params.error]), [['Bearer', undefined]], 'only Bearer is offered, without an error (RFC 6750 §3.1)')
})

t.test('RFC 9449 §7.2: a DPoP-bound token sent as Bearer is refused even with dpop: false (DPOP-25, EDGE-11)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: false })
  for (const proof of [undefined, await proofFor(key, token)]) {
    const res = await send(app, { token, scheme: 'Bearer', proof })
    t.equal(res.statusCode, 401)
    t.equal(reasonOf(res), 'binding.dpop_required')
    const challenges = parseChallenges(res.headers['www-authenticate'])
    t.same(challenges.map((c) => c.scheme), ['Bearer'], 'only Bearer is offered')
    t.equal(challenges[0]?.params.error, 'invalid_token')
    t.equal(res.json().error, 'invalid_token')
  }
})

t.test('RFC 9449 §7.2: a verified-token cache hit still enforces the binding', async (t) => {
  const { app, key, token } = await setup(t)
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token) }), key, 'warms the cache')
  assertDpopError(t, await send(app, { token, proof: await proofFor(await createDpopKey(), token) }), { error: 'invalid_token' }, 'another key')
  t.equal((await send(app, { token, scheme: 'Bearer' })).statusCode, 401, 'as Bearer')
  assertDpopError(t, await send(app, { token }), { error: 'invalid_dpop_proof' }, 'without a proof')
})

t.test('RFC 9449 §7.1 (PINNED DPOP-26): an unbound token under the DPoP scheme with a valid proof → 401 invalid_token', async (t) => {
  const { app, issuer, key } = await setup(t)
  const unbound = await issuer.mintAccessToken()
  const res = await send(app, { token: unbound, proof: await proofFor(key, unbound) })
  assertDpopError(t, res, { error: 'invalid_token', description: /DPoP-bound/ })
})

t.test('EDGE-10 (documented decision): an unbound token under Bearer with a DPoP header → 200, binding bearer', async (t) => {
  const { app, issuer, key } = await setup(t)
  const unbound = await issuer.mintAccessToken()
  for (const [name, proof] of [['a valid proof', await proofFor(key, unbound)], ['a junk proof', 'junk']] as const) {
    const res = await send(app, { token: unbound, scheme: 'Bearer', proof })
    t.equal(res.statusCode, 200, name)
    t.same(res.json().mcp.sender, { binding: 'bearer' }, `${name}: never reported as dpop`)
  }
})

t.test('RFC 9449 §7.1: dpop.required → an unbound Bearer token is 401 with only a DPoP challenge (DPOP-27)', async (t) => {
  const { app, issuer, key, token } = await setup(t, { dpop: { required: true } })
  const unbound = await issuer.mintAccessToken()
  const res = await send(app, { token: unbound, scheme: 'Bearer' })
  t.equal(res.statusCode, 401)
  const challenges = parseChallenges(res.headers['www-authenticate'])
  t.same(challenges.map((c) => c.scheme), ['DPoP'], 'no Bearer challenge')
  t.equal(challenges[0]?.params.algs, ALGS)
  t.equal(challenges[0]?.params.resource_metadata, PRM)
  t.equal(res.json().error, 'invalid_token')
  const withProof = await send(app, { token: unbound, scheme: 'Bearer', proof: await proofFor(key, unbound) })
  t.equal(withProof.statusCode, 401, 'a DPoP header beside Bearer does not help')
  const none = await send(app, {})
  t.same(parseChallenges(none.headers['www-authenticate']).map((c) => c.scheme), ['DPoP'], 'no credentials: only DPoP offered')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token) }), key, 'a bound token with a proof')
})

t.test('RFC 9449 §7.2 / SEP-1932: audience is still enforced for DPoP (aud = R2 → 401 invalid_token) (DPOP-33)', async (t) => {
  const { app, issuer, key } = await setup(t)
  const token = await issuer.mintAccessToken({ aud: R2 }, { bindTo: { jkt: key.jkt } })
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token) }), { error: 'invalid_token', description: /not issued for this resource/ })
})

t.test('RFC 9068 §4: token checks still apply under DPoP (expired, forged) → 401 invalid_token in the DPoP challenge', async (t) => {
  const { app, issuer, key } = await setup(t)
  const expired = await issuer.mintAccessToken({ exp: now() - 3600, iat: now() - 7200 }, { bindTo: { jkt: key.jkt } })
  assertDpopError(t, await send(app, { token: expired, proof: await proofFor(key, expired) }), { error: 'invalid_token' }, 'expired')
  const forged = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt }, signWith: key.privateKey })
  assertDpopError(t, await send(app, { token: forged, proof: await proofFor(key, forged) }), { error: 'invalid_token' }, 'signed by the client key')
})

t.test('RFC 6750 §3.1 / contract: a 403 to a DPoP request carries error and scope in both challenges', async (t) => {
  const { app, key, token } = await setup(t)
  const res = await send(app, { token, method: 'POST', proof: await proofFor(key, token, { method: 'POST' }) })
  t.equal(res.statusCode, 403)
  const [bearer, dpop] = parseChallenges(res.headers['www-authenticate'])
  t.equal(bearer?.scheme, 'Bearer')
  t.equal(bearer?.params.error, 'insufficient_scope')
  t.equal(bearer?.params.scope, 'mcp:tools:call')
  t.equal(dpop?.params.error, 'insufficient_scope')
  t.equal(dpop?.params.scope, 'mcp:tools:call')
  t.equal(res.json().error, 'insufficient_scope')
})

// ——— DPOP-28, DPOP-29: challenges ———

t.test('RFC 9449 §7.2: no credentials → Bearer then DPoP, neither with error; algs = the configured algorithms (DPOP-28)', async (t) => {
  const { app } = await loggedApp(t, { dpop: { algorithms: ['EdDSA', 'ES256'] } })
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(res.statusCode, 401)
  const [bearer, dpop, ...rest] = parseChallenges(res.headers['www-authenticate'])
  t.equal(rest.length, 0)
  t.same(bearer, { scheme: 'Bearer', params: { resource_metadata: PRM } })
  t.same(dpop, { scheme: 'DPoP', params: { algs: 'EdDSA ES256', resource_metadata: PRM } })
})

t.test('RFC 9449 §7.1 / DPOP-29: algs never contains none or HS*; such options reject register', async (t) => {
  for (const algorithms of [['none'], ['HS256'], ['ES256', 'HS512'], []]) {
    const app = Fastify()
    t.teardown(() => app.close())
    const options = { resource: RESOURCE, authorizationServers: ['https://issuer.test'], dpop: { algorithms } } as McpAuthOptions
    await t.rejects(async () => { await app.register(mcpAuth, options).ready() }, JSON.stringify(algorithms))
  }
  const { app } = await loggedApp(t)
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: 'DPoP abc', dpop: 'x' } })
  const algs = parseChallenges(res.headers['www-authenticate'])[1]?.params.algs ?? ''
  t.notMatch(algs, /none|HS/i)
})

t.test('RFC 9449 §7.1: a DPoP attempt with a malformed token → 401 invalid_token in the DPoP challenge (DPOP-29)', async (t) => {
  const { app, key } = await setup(t)
  const res = await send(app, { token: 'abc', proof: await proofFor(key, 'abc') })
  assertDpopError(t, res, { error: 'invalid_token' })
})

// ——— DPOP-30 … DPOP-32: server nonces ———

t.test('RFC 9449 §8: with nonces on, a proof without nonce → 401 use_dpop_nonce, one DPoP-Nonce, no-store (DPOP-30)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const res = await send(app, { token, proof: await proofFor(key, token) })
  assertDpopError(t, res, { error: 'use_dpop_nonce', description: /nonce/ })
  const nonce = res.headers['dpop-nonce']
  t.type(nonce, 'string', 'exactly one DPoP-Nonce header')
  t.match(nonce, NQCHAR, 'NQCHAR only')
  const retry = await send(app, { token, proof: await proofFor(key, token, { nonce: nonce as string }) })
  assertAccepted(t, retry, key, 'the retry carrying the nonce')
  // Unless a 60 s step boundary fell between the two requests, the nonce is current and not rotated.
  if (await createHmacNonceProvider({ secret: NONCE_SECRET }).check(nonce as string) === 'valid') {
    t.equal(retry.headers['dpop-nonce'], undefined, 'a current nonce is not rotated')
  }
})

t.test('RFC 9449 §8: exactly one DPoP-Nonce field line on the wire, with Cache-Control: no-store (DPOP-30)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const res = await rawRequest(app, ['GET /mcp HTTP/1.1', `Authorization: DPoP ${token}`, `DPoP: ${await proofFor(key, token)}`])
  t.equal(res.status, 401)
  const nonces = headerValues(res, 'dpop-nonce')
  t.equal(nonces.length, 1)
  t.match(nonces[0], NQCHAR)
  t.same(headerValues(res, 'cache-control'), ['no-store'])
})

t.test('RFC 9449 §8 / §11.3: a wrong, forged or foreign nonce → 401 use_dpop_nonce with a fresh nonce; no downgrade (DPOP-31, EDGE-18)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const current = await createHmacNonceProvider({ secret: NONCE_SECRET }).issue()
  const foreign = await createHmacNonceProvider({ secret: 'x'.repeat(32) }).issue()
  const raw = Buffer.from(current, 'base64url')
  raw[10] = (raw[10] as number) ^ 0xff
  const cases: Record<string, string> = {
    'an unknown value': 'abc',
    'a tampered MAC': raw.toString('base64url'),
    'a nonce from another secret': foreign,
    'an empty nonce': '',
  }
  for (const [name, nonce] of Object.entries(cases)) {
    const res = await send(app, { token, proof: await proofFor(key, token, { nonce }) })
    assertDpopError(t, res, { error: 'use_dpop_nonce' }, name)
    t.match(res.headers['dpop-nonce'], NQCHAR, `${name}: a fresh nonce`)
    t.not(res.headers['dpop-nonce'], nonce, `${name}: not the one sent`)
  }
  const stale = createHmacNonceProvider({ secret: NONCE_SECRET, clock: () => Date.now() / 1000 - 200 })
  const expired = await send(app, { token, proof: await proofFor(key, token, { nonce: await stale.issue() }) })
  assertDpopError(t, expired, { error: 'use_dpop_nonce' }, 'an expired nonce (three steps old)')
  t.equal(await createHmacNonceProvider({ secret: NONCE_SECRET }).check(expired.headers['dpop-nonce'] as string), 'valid', 'the fresh nonce is a current one')
  const noNonce = await send(app, { token, proof: await proofFor(key, token) })
  assertDpopError(t, noNonce, { error: 'use_dpop_nonce' }, 'a proof without nonce after enforcement')
})

t.test('RFC 9449 §11.1: one nonce serves several proofs, concurrently → all 200 (DPOP-32)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const first = await send(app, { token, proof: await proofFor(key, token) })
  const nonce = first.headers['dpop-nonce'] as string
  const proofs = await Promise.all([1, 2, 3, 4, 5].map(() => proofFor(key, token, { nonce })))
  const responses = await Promise.all(proofs.map((proof) => send(app, { token, proof })))
  for (const [i, res] of responses.entries()) assertAccepted(t, res, key, `request ${i + 1}`)
})

t.test('RFC 9449 §8.2: a nonce from an earlier step is accepted, and the 200 rotates it (DPoP-Nonce, no-store) (DPOP-32)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const previous = await createHmacNonceProvider({ secret: NONCE_SECRET, clock: () => Date.now() / 1000 - 60 }).issue()
  t.not(previous, await createHmacNonceProvider({ secret: NONCE_SECRET }).issue())
  const res = await send(app, { token, proof: await proofFor(key, token, { nonce: previous }) })
  assertAccepted(t, res, key, 'previous step')
  t.not(res.headers['dpop-nonce'], previous, 'rotated')
  t.equal(await createHmacNonceProvider({ secret: NONCE_SECRET }).check(res.headers['dpop-nonce'] as string), 'valid', 'to a current nonce')
  t.equal(res.headers['cache-control'], 'no-store')
  const next = await createHmacNonceProvider({ secret: NONCE_SECRET, clock: () => Date.now() / 1000 + 60 }).issue()
  const ahead = await send(app, { token, proof: await proofFor(key, token, { nonce: next }) })
  assertAccepted(t, ahead, key, 'a nonce from an instance one step ahead')
})

t.test('RFC 9449 §8.2: the rotating 200 has one DPoP-Nonce line and Cache-Control: no-store on the wire', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const previous = await createHmacNonceProvider({ secret: NONCE_SECRET, clock: () => Date.now() / 1000 - 60 }).issue()
  const res = await rawRequest(app, ['GET /mcp HTTP/1.1', `Authorization: DPoP ${token}`, `DPoP: ${await proofFor(key, token, { nonce: previous })}`])
  t.equal(res.status, 200)
  t.equal(headerValues(res, 'dpop-nonce').length, 1)
  t.same(headerValues(res, 'cache-control'), ['no-store'])
})

t.test('a custom nonce provider { issue, check } drives use_dpop_nonce and rotation', async (t) => {
  const checked: string[] = []
  const provider: DpopNonceProvider = {
    issue: async () => 'server-nonce-2',
    check: (nonce: string): NonceVerdict => {
      checked.push(nonce)
      return nonce === 'server-nonce-2' ? 'valid' : nonce === 'server-nonce-1' ? 'rotate' : 'invalid'
    },
  }
  const { app, key, token } = await setup(t, { dpop: { nonce: provider } })
  const missing = await send(app, { token, proof: await proofFor(key, token) })
  assertDpopError(t, missing, { error: 'use_dpop_nonce' }, 'no nonce')
  t.equal(missing.headers['dpop-nonce'], 'server-nonce-2')
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-2' }) }), key, 'valid')
  const rotated = await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-1' }) })
  assertAccepted(t, rotated, key, 'rotate')
  t.equal(rotated.headers['dpop-nonce'], 'server-nonce-2')
  const invalid = await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-0' }) })
  assertDpopError(t, invalid, { error: 'use_dpop_nonce' }, 'invalid')
  t.same(checked, ['server-nonce-2', 'server-nonce-1', 'server-nonce-0'])
})

t.test('an asynchronous nonce provider (check returns a promise) gives the same answers; its rejection → 503', async (t) => {
  const provider: DpopNonceProvider = {
    issue: async () => 'server-nonce-2',
    check: async (nonce: string): Promise<NonceVerdict> => nonce === 'server-nonce-2' ? 'valid' : nonce === 'server-nonce-1' ? 'rotate' : 'invalid',
  }
  const store = countingStore()
  const { app, key, token } = await setup(t, { dpop: { nonce: provider, replayStore: store } })
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-2' }) }), key, 'valid')
  const rotated = await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-1' }) })
  assertAccepted(t, rotated, key, 'rotate')
  t.equal(rotated.headers['dpop-nonce'], 'server-nonce-2')
  t.equal(store.calls.length, 2, 'each accepted proof recorded once')
  assertDpopError(t, await send(app, { token, proof: await proofFor(key, token, { nonce: 'server-nonce-0', jti: 'refused-jti' }) }), { error: 'use_dpop_nonce' }, 'invalid')
  t.equal(store.calls.length, 2, 'a proof refused by the asynchronous nonce check does not consume its jti')
  const rejects = await setup(t, { dpop: { nonce: { issue: () => 'n', check: async () => { throw new Error('down') } } } })
  assertUnavailable(t, await send(rejects.app, { token: rejects.token, proof: await proofFor(rejects.key, rejects.token, { nonce: 'n' }) }), 'check rejects')
})

t.test('XC-06: a nonce provider that throws → 503, never 401 or 200', async (t) => {
  const checkThrows = await setup(t, { dpop: { nonce: { issue: () => 'n', check: () => { throw new Error('down') } } } })
  assertUnavailable(t, await send(checkThrows.app, { token: checkThrows.token, proof: await proofFor(checkThrows.key, checkThrows.token, { nonce: 'n' }) }), 'check throws')
  const issueThrows = await setup(t, { dpop: { nonce: { issue: () => { throw new Error('down') }, check: () => 'invalid' as const } } })
  assertUnavailable(t, await send(issueThrows.app, { token: issueThrows.token, proof: await proofFor(issueThrows.key, issueThrows.token) }), 'issue throws on use_dpop_nonce')
})

t.test('RFC 9449 §8.1: a provider nonce that is not 1*NQCHAR never reaches DPoP-Nonce: 503 nonce.failed, logged', async (t) => {
  for (const bad of ['a b', 'x"y', 'back\\slash', 'tab\there', 'é', '', 42, null, undefined]) {
    const name = JSON.stringify(bad) ?? 'undefined'
    const provider = { issue: () => bad as string, check: (nonce: string): NonceVerdict => nonce === 'old' ? 'rotate' : 'invalid' }
    const { app, key, token } = await setup(t, { dpop: { nonce: provider } })
    // A use_dpop_nonce answer would carry it.
    const asked = await send(app, { token, proof: await proofFor(key, token) })
    assertUnavailable(t, asked, `${name}, use_dpop_nonce`, 'nonce.failed')
    t.equal(asked.headers['dpop-nonce'], undefined, `${name}: no DPoP-Nonce on the 503`)
    t.match(logged(asked, 'mcp-auth: issuing a DPoP nonce failed'), [{ level: 50, err: { message: /1\*NQCHAR/ } }], `${name}: the provider's fault is logged`)
    // A rotation on an accepted proof would carry it.
    const rotated = await send(app, { token, proof: await proofFor(key, token, { nonce: 'old' }) })
    assertUnavailable(t, rotated, `${name}, rotation`, 'nonce.failed')
    t.equal(rotated.headers['dpop-nonce'], undefined, `${name}: no DPoP-Nonce on the 503`)
  }
})

t.test('nonces are checked only after the binding, and a bad nonce does not consume the jti', async (t) => {
  const store = countingStore()
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET }, replayStore: store } })
  const wrongKey = await send(app, { token, proof: await proofFor(await createDpopKey(), token) })
  assertDpopError(t, wrongKey, { error: 'invalid_token' }, 'binding first')
  const noNonce = await send(app, { token, proof: await proofFor(key, token, { jti: 'retry-jti' }) })
  assertDpopError(t, noNonce, { error: 'use_dpop_nonce' })
  t.equal(store.calls.length, 0, 'nothing recorded')
  const retry = await send(app, { token, proof: await proofFor(key, token, { jti: 'retry-jti', nonce: noNonce.headers['dpop-nonce'] as string }) })
  assertAccepted(t, retry, key, 'the retry may reuse the jti of the refused proof')
})

t.test('without nonce configuration, a nonce claim in the proof is ignored', async (t) => {
  const { app, key, token } = await setup(t)
  assertAccepted(t, await send(app, { token, proof: await proofFor(key, token, { nonce: 'whatever' }) }), key)
})

// ——— DPOP-34 ———

t.test('RFC 9449 §7.1 / §9: every proof and binding failure at the resource server is 401, never 400 (DPOP-34)', async (t) => {
  const { app, key, token } = await setup(t, { dpop: { nonce: { secret: NONCE_SECRET } } })
  const flaws = ['wrong-htm', 'wrong-htu', 'missing-ath', 'wrong-ath', 'stale-iat', 'future-iat', 'missing-jti', 'private-key-in-jwk', 'alg-none', 'hs256', 'bad-signature', 'wrong-typ', 'missing-jwk'] as const
  for (const flaw of flaws) {
    const res = await send(app, { token, proof: await proofFor(key, token, { flaw }) })
    t.equal(res.statusCode, 401, flaw)
  }
  t.equal((await send(app, { token, proof: await proofFor(key, token) })).statusCode, 401, 'use_dpop_nonce')
})

t.test('issue 15 item 5: htu is the URL the client requested, not the one after rewriteUrl', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  // A versioned public path served by the /mcp route.
  const app = Fastify({ rewriteUrl: (request) => (request.url ?? '/').replace(/^\/v1\//, '/') })
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.get('/mcp', async (request) => ({ url: request.url, originalUrl: request.originalUrl }))
  const key = await createDpopKey()
  const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
  const requested = await send(app, { token, url: '/v1/mcp?x=1', proof: await proofFor(key, token, { url: `${ORIGIN}/v1/mcp` }) })
  t.equal(requested.statusCode, 200, 'a proof for the requested URL is accepted')
  t.same(requested.json(), { url: '/mcp?x=1', originalUrl: '/v1/mcp?x=1' })
  const rewritten = await send(app, { token, url: '/v1/mcp', proof: await proofFor(key, token, { url: RESOURCE }) })
  t.equal(rewritten.statusCode, 401, 'a proof naming the rewritten URL is refused')
  t.equal(parseChallenges(rewritten.headers['www-authenticate'])[1]?.params.error, 'invalid_dpop_proof')
  t.match(parseChallenges(rewritten.headers['www-authenticate'])[1]?.params.error_description, /URI/)
})
