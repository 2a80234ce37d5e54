// createJwtVerifier (lib/access-token.ts) and the verified-token cache in
// front of it (lib/verifier.ts), with a fixed injected clock: the branches the
// plugin tests cannot reach easily (key-resolution failures, several matching
// keys, exact time boundaries, cache expiry without sleeping).
import { constants, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto'
import type { JsonWebKeyInput } from 'node:crypto'
import { CompactSign, createLocalJWKSet, errors, exportJWK, generateKeyPair, importJWK } from 'jose'
import type { CryptoKey, JWK, JWTVerifyGetKey } from 'jose'
import t from 'tap'
import { createJwtVerifier } from '../../lib/access-token.js'
import { decodeSegment, normalizeMediaType } from '../../lib/compact-jws.js'
import type { JwtVerifierOptions } from '../../lib/access-token.js'
import type { VerifiedToken } from '../../lib/claims.js'
import { McpAuthError, reject } from '../../lib/errors.js'
import { jwkThumbprint } from '../../lib/jwk-thumbprint.js'
import type { KeyResolver } from '../../lib/key-resolver.js'
import { createTokenCache, createTokenVerifier } from '../../lib/verifier.js'
import type { TokenVerifierOptions } from '../../lib/verifier.js'
import { hashToken } from '../../lib/verifier.js'
import type { ResolvedResource } from '../../lib/options.js'
import { createSigningKeys } from '../../lib/signing-keys.js'
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
    async keyFor (issuer) {
      asked.push(issuer)
      return { getKey }
    },
    status: () => [],
    warmUp: async () => [],
  }
}

type AsyncJwtVerifier = (token: string) => Promise<VerifiedToken>

function verifierFor (keys: KeyResolver, overrides: Partial<JwtVerifierOptions> = {}): AsyncJwtVerifier {
  return createJwtVerifier({
    algorithms: new Set(['ES256', 'RS256']),
    tokenTypes: new Set(['at+jwt']),
    clockTolerance: 5,
    clock: () => NOW * 1000,
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
  const refusal = await noSecret(await sign(secret)).catch((err: unknown) => err as McpAuthError)
  t.equal((refusal as McpAuthError).cause, undefined, 'refused by the verifier itself: jose is never handed a missing key')
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

// Keys of every type the algorithms use, and tokens signed by hand with node:crypto,
// so jose's verification is checked against a second implementation.
const PAIRS = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  ed25519: generateKeyPairSync('ed25519'),
  ed448: generateKeyPairSync('ed448'),
}

type Signer = (input: Buffer, key: KeyObject) => Buffer
const ecdsa = (digest: string, dsaEncoding: 'ieee-p1363' | 'der' = 'ieee-p1363'): Signer => (input, key) => sign(digest, input, { key, dsaEncoding })
const pkcs1 = (digest: string): Signer => (input, key) => sign(digest, input, key)
const pss = (digest: string, saltLength: number): Signer => (input, key) => sign(digest, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
const eddsa: Signer = (input, key) => sign(null, input, key)

/** A token for `alg` over `header` (raw bytes, or alg and typ) and the usual claims, signed by hand. */
function handSigned (alg: string, key: KeyObject, signer: Signer, header: Buffer = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt' }))): string {
  const input = `${header.toString('base64url')}.${encode(claims())}`
  return `${input}.${signer(Buffer.from(input), key).toString('base64url')}`
}

const SUPPORTED: Array<[string, keyof typeof PAIRS, Signer]> = [
  ['ES256', 'p256', ecdsa('sha256')],
  ['ES384', 'p384', ecdsa('sha384')],
  ['ES512', 'p521', ecdsa('sha512')],
  ['RS256', 'rsa', pkcs1('sha256')],
  ['RS384', 'rsa', pkcs1('sha384')],
  ['RS512', 'rsa', pkcs1('sha512')],
  ['PS256', 'rsa', pss('sha256', 32)],
  ['PS384', 'rsa', pss('sha384', 48)],
  ['PS512', 'rsa', pss('sha512', 64)],
  ['EdDSA', 'ed25519', eddsa],
  ['Ed25519', 'ed25519', eddsa],
]

function verifierWith (alg: string, key: unknown): AsyncJwtVerifier {
  return verifierFor(resolver(async () => key as CryptoKey), { algorithms: new Set([alg]) })
}

t.test('RFC 7518 §3: every supported algorithm verifies a signature made by node:crypto and refuses a changed one', async (t) => {
  for (const [alg, pair, signer] of SUPPORTED) {
    const { privateKey, publicKey } = PAIRS[pair]
    const token = handSigned(alg, privateKey, signer)
    await t.resolves(verifierWith(alg, publicKey)(token), alg)
    const signature = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')
    signature[5] = (signature[5] as number) ^ 1
    const changed = `${token.slice(0, token.lastIndexOf('.'))}.${signature.toString('base64url')}`
    await t.rejects(verifierWith(alg, publicKey)(changed), invalid('token.signature'), `${alg}: one bit changed`)
  }
})

t.test('RFC 7518 §3.4, §3.5: only the JWS form of a signature verifies (ECDSA R || S, the PSS salt of the digest, the exact length)', async (t) => {
  const cases: Array<[string, string, KeyObject, KeyObject, Signer | ((input: Buffer, key: KeyObject) => Buffer)]> = [
    ['ES256 DER (ASN.1) signature', 'ES256', PAIRS.p256.privateKey, PAIRS.p256.publicKey, ecdsa('sha256', 'der')],
    ['ES256 signature one byte short', 'ES256', PAIRS.p256.privateKey, PAIRS.p256.publicKey, (input, key) => ecdsa('sha256')(input, key).subarray(1)],
    ['ES256 signature one byte long', 'ES256', PAIRS.p256.privateKey, PAIRS.p256.publicKey, (input, key) => Buffer.concat([ecdsa('sha256')(input, key), Buffer.alloc(1)])],
    ['ES512 signature of 130 bytes (R and S unpadded)', 'ES512', PAIRS.p521.privateKey, PAIRS.p521.publicKey, (input, key) => ecdsa('sha512')(input, key).subarray(2)],
    ['PS256 with no salt', 'PS256', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, pss('sha256', 0)],
    ['PS256 with the salt of PS512', 'PS256', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, pss('sha256', 64)],
    ['PS384 with the salt of PS256', 'PS384', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, pss('sha384', 32)],
    ['PS256 signed as RS256', 'PS256', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, pkcs1('sha256')],
    ['RS256 signature one byte short', 'RS256', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, (input, key) => pkcs1('sha256')(input, key).subarray(1)],
    ['EdDSA signature one byte short', 'EdDSA', PAIRS.ed25519.privateKey, PAIRS.ed25519.publicKey, (input, key) => eddsa(input, key).subarray(1)],
  ]
  for (const [name, alg, privateKey, publicKey, signer] of cases) {
    await t.rejects(verifierWith(alg, publicKey)(handSigned(alg, privateKey, signer)), invalid('token.signature'), name)
  }
})

t.test('RFC 8725 §3.1, RFC 7518 §3.3: jose refuses a key that does not fit the algorithm (type, curve, RSA size, public only) → token.alg', async (t) => {
  const cases: Array<[string, string, KeyObject, KeyObject, Signer]> = [
    ['ES256 with a P-384 key', 'ES256', PAIRS.p384.privateKey, PAIRS.p384.publicKey, ecdsa('sha256')],
    ['ES512 with a P-256 key', 'ES512', PAIRS.p256.privateKey, PAIRS.p256.publicKey, ecdsa('sha512')],
    ['ES256 with an RSA key', 'ES256', PAIRS.rsa.privateKey, PAIRS.rsa.publicKey, pkcs1('sha256')],
    ['RS256 with a 1024-bit RSA key', 'RS256', PAIRS.rsa1024.privateKey, PAIRS.rsa1024.publicKey, pkcs1('sha256')],
    ['PS256 with a 1024-bit RSA key', 'PS256', PAIRS.rsa1024.privateKey, PAIRS.rsa1024.publicKey, pss('sha256', 32)],
    ['PS256 with an Ed25519 key', 'PS256', PAIRS.ed25519.privateKey, PAIRS.ed25519.publicKey, eddsa],
    ['EdDSA with a P-256 key', 'EdDSA', PAIRS.p256.privateKey, PAIRS.p256.publicKey, ecdsa('sha256')],
    ['Ed25519 with an Ed448 key', 'Ed25519', PAIRS.ed448.privateKey, PAIRS.ed448.publicKey, eddsa],
    ['EdDSA with an Ed448 key (jose verifies Ed25519 only)', 'EdDSA', PAIRS.ed448.privateKey, PAIRS.ed448.publicKey, eddsa],
    ['ES256 with the private key', 'ES256', PAIRS.p256.privateKey, PAIRS.p256.privateKey, ecdsa('sha256')],
  ]
  for (const [name, alg, privateKey, verifyKey, signer] of cases) {
    await t.rejects(verifierWith(alg, verifyKey)(handSigned(alg, privateKey, signer)), invalid('token.alg'), name)
  }
})

t.test('a protected header jose cannot read (not strict UTF-8) → token.malformed, though its members are fine', async (t) => {
  const header = Buffer.concat([Buffer.from('{"alg":"ES256","typ":"at+jwt","x":"'), Buffer.from([0xff]), Buffer.from('"}')])
  const token = handSigned('ES256', PAIRS.p256.privateKey, ecdsa('sha256'), header)
  await t.rejects(verifierWith('ES256', PAIRS.p256.publicKey)(token), invalid('token.malformed'))
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

t.test('a key function is given the token as jose gives it: the protected header, payload and signature segments', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const local = createLocalJWKSet(issuer.jwks)
  const given: unknown[] = []
  const token = await issuer.mintAccessToken(claims())
  await verifierFor(resolver(async (header, input) => { given.push(input); return local(header, input) }))(token)
  const [protectedHeader, payload, signature] = token.split('.')
  t.same(given, [{ protected: protectedHeader, payload, signature }])
})

t.test('issue 15 item 2: a remote key set is told which of its keys verified the token, as a KeyObject; a key given as a JWK names none', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  const jwk = issuer.jwks.keys[0] as JWK
  const token = await issuer.mintAccessToken(claims())
  // The records a remote JWKS keeps of its keys (lib/signing-keys.ts), listing the issuer's key.
  const signingKeys = createSigningKeys()
  signingKeys.replace([jwk])
  const record = { kid: jwk.kid, thumbprint: jwkThumbprint(jwk as Record<string, unknown>), withdrawn: false }
  const verifyWith = async (key: unknown): Promise<{ signingKey: unknown, asked: unknown[] }> => {
    const asked: unknown[] = []
    const keys: KeyResolver = {
      keyFor: async () => ({ getKey: async () => key as CryptoKey, signerOf: (keyObject) => { asked.push(keyObject); return signingKeys.signerOf(keyObject) } }),
      status: () => [],
      warmUp: async () => [],
    }
    return { signingKey: (await verifierFor(keys)(token)).signingKey, asked }
  }
  const byCryptoKey = await verifyWith(await importJWK(jwk, 'ES256'))
  t.same(byCryptoKey.signingKey, record, 'a CryptoKey (what jose\'s key sets hand out)')
  t.type(byCryptoKey.asked[0], KeyObject, 'asked about as a KeyObject')
  t.same((await verifyWith(createPublicKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' }))).signingKey, record, 'a KeyObject')
  const byJwk = await verifyWith(jwk)
  t.equal(byJwk.signingKey, undefined, 'a JWK the key function returned itself')
  t.same(byJwk.asked, [], 'the set is not asked')
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

const RESOURCE = { uri: AUD, issuers: new Set([ISS]) } as unknown as ResolvedResource

type AsyncTokenVerifier = (...args: Parameters<ReturnType<typeof createTokenVerifier>>) => Promise<VerifiedToken>
const ctx = { resource: RESOURCE, request: {} }

function cachingVerifier (verify: (token: string) => Promise<VerifiedToken>, clock: () => number, overrides: Partial<TokenVerifierOptions> = {}): ReturnType<typeof createTokenVerifier> {
  return createTokenVerifier({
    verify: { kind: 'jwt', verify },
    cacheSize: 100,
    cacheTtl: Number.POSITIVE_INFINITY,
    maxAge: Number.POSITIVE_INFINITY,
    // The tests count seconds; the verifier's clock is Date.now's milliseconds.
    clock: () => clock() * 1000,
    clockTolerance: 5,
    ...overrides,
  })
}

function tokenVerifier (verify: (token: string) => Promise<VerifiedToken>, clock: () => number, overrides: Partial<TokenVerifierOptions> = {}): AsyncTokenVerifier {
  const v = cachingVerifier(verify, clock, overrides)
  return async (...args) => (await v(...args)).verified
}

t.test('verified-token cache: hits until exp, then re-verification (fixed clock, no sleeping)', async (t) => {
  const issuer = await createTestIssuer({ issuer: ISS, audience: AUD })
  let now = NOW
  let calls = 0
  const jwt = verifierFor(resolver(createLocalJWKSet(issuer.jwks)), { clock: () => now * 1000 })
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
  const verifier = cachingVerifier(async () => {
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

t.test('issue 15 item 2: an entry whose signing key is withdrawn is verified again at its next use', async (t) => {
  let calls = 0
  const key = { kid: 'k1', thumbprint: 'tp', withdrawn: false }
  const kept = { kid: 'k2', thumbprint: 'tp2', withdrawn: false }
  const verifier = cachingVerifier(async (token) => {
    calls++
    return Object.freeze({ binding: {}, expiresAt: NOW + 86_400, signingKey: token === 'by-kept' ? kept : key }) as unknown as VerifiedToken
  }, () => NOW)
  for (let i = 0; i < 3; i++) await verifier('by-k1', ctx)
  for (let i = 0; i < 3; i++) await verifier('by-kept', ctx)
  t.equal(calls, 2)
  key.withdrawn = true
  await verifier('by-k1', ctx)
  t.equal(calls, 3, 'the cache does not serve it')
  await verifier('by-kept', ctx)
  t.equal(calls, 3, 'a token by a key still listed stays cached')
  // Among many cached tokens too.
  for (let i = 0; i < 90; i++) await verifier(`other-${i}`, ctx)
  const before = calls
  await verifier('by-kept', ctx)
  t.equal(calls, before, 'still found')
  kept.withdrawn = true
  await verifier('by-kept', ctx)
  t.equal(calls, before + 1, 'withdrawn: verified again')
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
  const pastExp = cachingVerifier(slow(NOW + 11), () => now)
  await pastExp('token-a', ctx)
  await pastExp('token-a', ctx)
  t.equal(calls, 2, 'verified again: the first answer expired while it was being made')

  now = NOW
  calls = 0
  const pastTtl = cachingVerifier(async () => { calls++; now = NOW + 3; return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken }, () => now, { cacheTtl: 2 })
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
  const withExp = Object.freeze({ binding: {}, expiresAt: NOW + 60 }) as unknown as VerifiedToken
  const uncached = tokenVerifier(async () => { calls++; return withExp }, () => NOW, { cacheSize: 0 })
  await uncached('t', ctx)
  await uncached('t', ctx)
  t.equal(calls, 2, 'cacheSize 0: a token with exp is verified every time too')
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

t.test('verified-token cache: a hit answers the cached entry; every entry carries the token\'s SHA-256 (the ath)', async (t) => {
  const entry = Object.freeze({ binding: {}, expiresAt: NOW + 60 }) as unknown as VerifiedToken
  let calls = 0
  const v = cachingVerifier(async () => { calls++; return entry }, () => NOW)
  const miss = await v('t', ctx)
  t.equal(miss.verified, entry)
  const hit = await v('t', ctx)
  t.equal(hit, miss, 'the same immutable entry')
  t.equal(calls, 1)
  t.equal(hit.tokenHash, hashToken('t'), 'keyed by and carrying base64url(SHA-256(token))')
  t.ok(Object.isFrozen(hit))
  const a = await v('a', ctx)
  const b = await v('b', ctx)
  t.not(a, b, 'distinct tokens, distinct entries')
})

t.test('verified-token cache: bounded by cacheSize (least recently used goes first)', async (t) => {
  const perToken = new Map<string, number>()
  const v = cachingVerifier(async (token) => {
    perToken.set(token, (perToken.get(token) ?? 0) + 1)
    return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken
  }, () => NOW, { cacheSize: 3 })
  for (const token of ['a', 'b', 'c', 'a', 'd', 'a', 'b']) await v(token, ctx)
  t.same(Object.fromEntries(perToken), { a: 1, b: 2, c: 1, d: 1 }, 'b was the least recently used when d came')
})

t.test('verified-token cache: the cache is looked up before any syntax scan; a miss is scanned first', async (t) => {
  let calls = 0
  const v = cachingVerifier(async () => { calls++; return Object.freeze({ binding: {}, expiresAt: NOW + 600 }) as unknown as VerifiedToken }, () => NOW)
  await t.rejects(v('not*a!token', ctx), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.malformed' })
  t.equal(calls, 0, 'a malformed token is never verified (nor cached)')
  await v('abc.def~+/=', ctx)
  t.equal(calls, 1, 'any b64token is verified')
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
    clock: () => NOW * 1000,
    clockTolerance: 5,
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

t.test('verified-token cache: an entry is not served past exp (JWT and introspection alike)', async (t) => {
  for (const kind of ['jwt', 'introspection'] as const) {
    let now = NOW
    let calls = 0
    const verify = async (token: string) => {
      calls++
      return Object.freeze({ binding: {}, expiresAt: token === 'target' ? NOW + 10 : NOW + 600 }) as unknown as VerifiedToken
    }
    const v = tokenVerifier(verify, () => now, { verify: { kind, verify }, cacheSize: 300 })
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

t.test('verified-token cache: cacheTtl is a deadline on the monotonic clock: at exactly cacheTtl the entry is dead', async (t) => {
  // performance.now pinned to whole milliseconds, so the deadline and the clock can meet exactly.
  const realNow = performance.now
  let ms = Math.floor(realNow.call(performance))
  performance.now = () => ms
  t.teardown(() => { performance.now = realNow })
  let calls = 0
  const verify = async (): Promise<VerifiedToken> => { calls++; return Object.freeze({ binding: {}, expiresAt: undefined }) as unknown as VerifiedToken }
  const v = tokenVerifier(verify, () => NOW, { verify: { kind: 'introspection', verify }, cacheTtl: 2 })
  await v('t', ctx)
  ms += 1999
  await v('t', ctx)
  t.equal(calls, 1, 'one millisecond before cacheTtl: cached')
  ms += 1
  await v('t', ctx)
  t.equal(calls, 2, 'at cacheTtl: asked again')
})

t.test('tenant off-boarding: forgetAudiences drops every entry naming one of the audiences, and only those', async (t) => {
  const cache = createTokenCache(10)
  const perToken = new Map<string, number>()
  const audiencesOf: Record<string, string[]> = { a: ['aud-a'], b: ['aud-b'], ab: ['aud-a', 'aud-b'], none: [] }
  const v = cachingVerifier(async (token) => {
    perToken.set(token, (perToken.get(token) ?? 0) + 1)
    return Object.freeze({ binding: {}, expiresAt: NOW + 600, audiences: audiencesOf[token] }) as unknown as VerifiedToken
  }, () => NOW, { cache })
  const all = Object.keys(audiencesOf)
  for (const token of all) await v(token, ctx)
  cache.forgetAudiences(new Set(['aud-a', 'aud-c']))
  for (const token of all) await v(token, ctx)
  t.same(Object.fromEntries(perToken), { a: 2, b: 1, ab: 2, none: 1 }, 'a token naming aud-a among others is dropped too; one naming none stays')
})

t.test('RFC 8725 §3.1: an algorithm outside the allow-list is token.alg even when the issuer\'s own key would verify it', async (t) => {
  const rsa = await createTestIssuer({ issuer: ISS, audience: AUD, algorithm: 'RS256' })
  const keys = resolver(createLocalJWKSet(rsa.jwks))
  const token = await rsa.mintAccessToken(claims())
  await t.resolves(verifierFor(keys)(token), 'RS256 allowed: verified')
  await t.rejects(verifierFor(keys, { algorithms: new Set(['ES256']) })(token), invalid('token.alg'))
})

t.test('RFC 9068 §4: a token from an issuer the resource does not trust is token.issuer, with no key lookup', async (t) => {
  const other = await createTestIssuer({ issuer: 'https://other.test', audience: AUD })
  const keys = resolver(createLocalJWKSet(other.jwks)) // would hand out the other issuer's key
  await t.rejects(verifierFor(keys)(await other.mintAccessToken(claims({ iss: 'https://other.test' }))), invalid('token.issuer'))
  t.same(keys.asked, [], 'no key set asked for')
})

t.test('verifyToken: a token that is not b64token never reaches the user\'s verifier (400 credentials.malformed)', async (t) => {
  let calls = 0
  const custom = createTokenVerifier({
    verify: { kind: 'custom', verify: () => { calls++; return { aud: AUD } } },
    cacheSize: 100,
    cacheTtl: Number.POSITIVE_INFINITY,
    maxAge: 300,
    clock: () => NOW * 1000,
    clockTolerance: 5,
  })
  await t.rejects(custom('a"b', ctx), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.malformed' })
  t.equal(calls, 0)
})
