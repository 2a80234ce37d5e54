// DPoP units: htu normalization (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3),
// ath (RFC 9449 §4.2) and the proof verifier against the RFC's own example proof.
import { constants, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import type { JsonWebKeyInput, KeyObject } from 'node:crypto'
import { CompactSign } from 'jose'
import t from 'tap'
import { jwkThumbprint } from '../../lib/jwk-thumbprint.js'
import { createProofVerifier, normalizeHttpUri, replayKey } from '../../lib/dpop/proof.js'
import { hashToken } from '../../lib/verifier.js'
import type { ProofRequest } from '../../lib/dpop/proof.js'
import { isMcpAuthError } from '../../lib/errors.js'
import { createDpopKey, createDpopProof } from '../../lib/testing/dpop.js'

// RFC 9449 §7.1, Figures 13 and 14: a protected-resource request and its decoded proof.
const RFC_ACCESS_TOKEN = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU'
const RFC_ATH = 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo'
const RFC_JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
const RFC_PROOF =
  'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik' +
  'VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR' +
  'nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE' +
  'QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIj' +
  'oiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0Z' +
  'WRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNF' +
  'c05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71E' +
  'OptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA'
const RFC_REQUEST: ProofRequest = {
  method: 'GET',
  origin: 'https://resource.example.org',
  url: '/protectedresource',
  ath: RFC_ATH,
  jkt: RFC_JKT,
  now: 1562262618,
}

const verifier = createProofVerifier({
  algorithms: new Set(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']),
  iatWindow: 300,
  maxJtiLength: 256,
  maxProofLength: 8192,
})

async function reason (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (isMcpAuthError(err)) return `${err.oauthError ?? ''}:${err.reason}`
    throw err
  }
  return 'accepted'
}

t.test('normalizeHttpUri: RFC 3986 §6.2.2.1 case normalization of scheme and host, never of the path', async (t) => {
  t.equal(normalizeHttpUri('HTTPS://MCP.EXAMPLE.COM/mcp'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://Mcp.Example.Com/mcp'), 'https://mcp.example.com/mcp')
  t.not(normalizeHttpUri('https://mcp.example.com/MCP'), normalizeHttpUri('https://mcp.example.com/mcp'), 'path case is significant')
})

t.test('normalizeHttpUri: RFC 3986 §6.2.2.1 percent-encoding hex case (%2f ≡ %2F), never decoding reserved characters', async (t) => {
  t.equal(normalizeHttpUri('https://h.example/a%2fb'), 'https://h.example/a%2Fb')
  t.equal(normalizeHttpUri('https://h.example/a%2fb'), normalizeHttpUri('https://h.example/a%2Fb'))
  t.not(normalizeHttpUri('https://h.example/a%2Fb'), normalizeHttpUri('https://h.example/a/b'), '%2F is not /')
  t.equal(normalizeHttpUri('https://h.example/a%3ab'), 'https://h.example/a%3Ab')
})

t.test('normalizeHttpUri: RFC 3986 §6.2.2.2 percent-encoded unreserved characters are decoded (%7E ≡ ~, %6D ≡ m)', async (t) => {
  t.equal(normalizeHttpUri('https://h.example/%7Euser'), 'https://h.example/~user')
  t.equal(normalizeHttpUri('https://h.example/%7euser'), 'https://h.example/~user')
  t.equal(normalizeHttpUri('https://h.example/~user'), 'https://h.example/~user')
  t.equal(normalizeHttpUri('https://mcp.example.com/%6Dcp'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://h.example/%41%2D%2E%5F%30'), 'https://h.example/A-._0')
})

t.test('normalizeHttpUri: RFC 3986 §6.2.2.3 dot segments are removed', async (t) => {
  t.equal(normalizeHttpUri('https://mcp.example.com/x/../mcp'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com/./mcp'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com/a/b/../../mcp'), 'https://mcp.example.com/mcp')
})

t.test('normalizeHttpUri: RFC 3986 §6.2.3 scheme-based normalization drops only the scheme\'s own default port', async (t) => {
  t.equal(normalizeHttpUri('https://mcp.example.com:443/mcp'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('http://mcp.example.com:80/mcp'), 'http://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com:80/mcp'), 'https://mcp.example.com:80/mcp')
  t.equal(normalizeHttpUri('http://mcp.example.com:443/mcp'), 'http://mcp.example.com:443/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com:8443/mcp'), 'https://mcp.example.com:8443/mcp')
  t.not(normalizeHttpUri('http://mcp.example.com/mcp'), normalizeHttpUri('https://mcp.example.com/mcp'), 'scheme matters')
})

t.test('normalizeHttpUri: RFC 3986 §6.2.3 an empty path is "/"; a trailing slash is significant', async (t) => {
  t.equal(normalizeHttpUri('https://mcp.example.com'), 'https://mcp.example.com/')
  t.equal(normalizeHttpUri('https://mcp.example.com/'), 'https://mcp.example.com/')
  t.not(normalizeHttpUri('https://mcp.example.com/mcp/'), normalizeHttpUri('https://mcp.example.com/mcp'))
})

t.test('normalizeHttpUri: RFC 9449 §4.2 query and fragment are not part of the comparison', async (t) => {
  t.equal(normalizeHttpUri('https://mcp.example.com/mcp?x=1'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com/mcp#frag'), 'https://mcp.example.com/mcp')
  t.equal(normalizeHttpUri('https://mcp.example.com/mcp?x=1#frag'), 'https://mcp.example.com/mcp')
})

t.test('normalizeHttpUri: non-http(s) schemes, relative references, userinfo and junk → undefined', async (t) => {
  for (const value of [
    'ftp://mcp.example.com/mcp',
    'wss://mcp.example.com/mcp',
    'urn:example:mcp',
    'data:text/plain,x',
    'javascript:alert(1)',
    '/mcp',
    '//mcp.example.com/mcp',
    'mcp.example.com/mcp',
    '',
    'https://',
    'https://user@mcp.example.com/mcp',
    'https://user:pass@mcp.example.com/mcp',
    'https://:pass@mcp.example.com/mcp',
  ]) {
    t.equal(normalizeHttpUri(value), undefined, JSON.stringify(value))
  }
})

t.test('htu: the configured origin + the request path, never anything from the request Host; remembered within a bound', async (t) => {
  const key = await createDpopKey()
  const now = Math.floor(Date.now() / 1000)
  const check = async (htu: string, origin: string, url: string): Promise<string> => {
    const proof = await createDpopProof(key, { method: 'GET', url: htu, accessToken: 'tok' })
    return reason(verifier(proof, 1, { method: 'GET', origin, url, ath: hashToken('tok'), jkt: key.jkt, now }))
  }
  t.equal(await check('https://mcp.example.com/mcp', 'https://mcp.example.com', '/mcp'), 'accepted')
  t.equal(await check('https://mcp.example.com/mcp', 'https://mcp.example.com', '/mcp?x=1'), 'accepted', 'without the query')
  t.equal(await check('https://MCP.example.com:443/a%2Fb', 'https://mcp.example.com', '/a%2fb'), 'accepted', 'both sides in comparison form')
  t.equal(await check('https://mcp.example.com/mcp', 'https://mcp.example.com', '/x/../mcp'), 'accepted')
  t.equal(await check('https://mcp.example.com/mcp', 'https://mcp.example.com', 'mcp'), 'invalid_dpop_proof:dpop.htu', 'a path that does not start with "/" (e.g. "*" or an absolute-form target)')
  t.equal(await check('https://mcp.example.com*', 'https://mcp.example.com', '*'), 'invalid_dpop_proof:dpop.htu', 'OPTIONS *: no htu is expected, not even the origin followed by the target')
  t.equal(await check('https://evil.example/mcp', 'https://mcp.example.com', '@evil.example/mcp'), 'invalid_dpop_proof:dpop.htu', 'no authority smuggling through the path')
  t.equal(await check('https://mcp.example.com/mcp', 'https://other.example', '/mcp'), 'invalid_dpop_proof:dpop.htu', 'another origin, the same path')
  // Neither side has a comparison form: two "no URI" answers are not a match.
  for (const htu of ['not a uri', '', 'mcp', 'urn:x:mcp']) {
    for (const url of ['*', 'mcp', '/mcp']) {
      const proof = await createDpopProof(key, { method: 'GET', url: 'https://mcp.example.com/mcp', accessToken: 'tok', claims: { htu } })
      t.equal(await reason(verifier(proof, 1, { method: 'GET', origin: 'https://mcp.example.com', url, ath: hashToken('tok'), jkt: key.jkt, now })), 'invalid_dpop_proof:dpop.htu', `htu ${JSON.stringify(htu)}, request target ${url}`)
    }
  }
  t.equal(await reason(verifier(await createDpopProof(key, { method: 'GET', url: 'https://mcp.example.com/mcp', accessToken: 'tok', claims: { htu: 'not a uri' } }), 1, { method: 'GET', origin: 'not an origin', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now })), 'invalid_dpop_proof:dpop.htu', 'an origin that makes no URI expects none')
  // More distinct URLs than are remembered: every answer stays right.
  const many = createProofVerifier({ algorithms: new Set(['ES256']), iatWindow: 300, maxJtiLength: 256, maxProofLength: 8192 })
  const proof = await createDpopProof(key, { method: 'GET', url: 'https://mcp.example.com/mcp', accessToken: 'tok' })
  let refused = 0
  for (let i = 0; i < 1100; i++) {
    try {
      await many(proof, 1, { method: 'GET', origin: 'https://mcp.example.com', url: `/other-${i}`, ath: hashToken('tok'), jkt: key.jkt, now })
    } catch {
      refused++
    }
  }
  t.equal(refused, 1100)
  await t.resolves(many(proof, 1, { method: 'GET', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }))
})

t.test('RFC 9449 §4.2: ath is base64url(SHA-256(ASCII(token))) without padding (§7.1 example)', async (t) => {
  t.equal(hashToken(RFC_ACCESS_TOKEN), RFC_ATH)
  t.not(hashToken('DPoP ' + RFC_ACCESS_TOKEN), RFC_ATH, 'over the token only, not the header value')
})

t.test('replayKey: keyed by (jkt, jti), so one client\'s jti never blocks another\'s', async (t) => {
  t.not(replayKey('jkt-a', 'jti-1'), replayKey('jkt-b', 'jti-1'))
  t.equal(replayKey('jkt-a', 'jti-1'), replayKey('jkt-a', 'jti-1'))
  t.notOk(replayKey('jkt', 'x'.repeat(4096)).includes('x'), 'stored as a hash, never the raw jti')
  t.equal(replayKey('jkt-a', 'jti-1'), createHash('sha256').update('jkt-a.jti-1').digest('base64url'), 'base64url(SHA-256(jkt "." jti))')
})

t.test('RFC 9449 §7.1 Figure 13: the example resource proof verifies, with the §6.1 jkt', async (t) => {
  const proof = await verifier(RFC_PROOF, 1, RFC_REQUEST)
  t.same(proof, { jkt: RFC_JKT, jti: 'e1j3V_bKic8-LAEB', iat: 1562262618, nonce: undefined })
})

t.test('RFC 9449 §4.3: each step of the example proof check fails on its own mutation', async (t) => {
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, ath: hashToken('other') })), 'invalid_dpop_proof:dpop.ath', 'step 12: ath')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, method: 'POST' })), 'invalid_dpop_proof:dpop.htm', 'step 8: htm')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, url: '/other' })), 'invalid_dpop_proof:dpop.htu', 'step 9: htu')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, url: '*' })), 'invalid_dpop_proof:dpop.htu', 'no expected htu')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, now: 1562262618 + 301 })), 'invalid_dpop_proof:dpop.iat', 'step 11: too old')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, now: 1562262618 - 301 })), 'invalid_dpop_proof:dpop.iat', 'step 11: too far in the future')
  t.equal(await reason(verifier(RFC_PROOF, 1, { ...RFC_REQUEST, now: 1562262618 + 300 })), 'accepted', 'the window edge is inside')
  t.equal(await reason(verifier(RFC_PROOF, 2, RFC_REQUEST)), 'invalid_dpop_proof:dpop.duplicate', 'step 1: two DPoP field lines')
  t.equal(await reason(verifier(`${RFC_PROOF}, ${RFC_PROOF}`, 1, RFC_REQUEST)), 'invalid_dpop_proof:dpop.duplicate', 'step 1: a joined value')
  t.equal(await reason(verifier(undefined, 0, RFC_REQUEST)), 'invalid_dpop_proof:dpop.missing')
  t.equal(await reason(verifier('', 1, RFC_REQUEST)), 'invalid_dpop_proof:dpop.missing')
  const [h, p, s] = RFC_PROOF.split('.') as [string, string, string]
  const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11)
  t.equal(await reason(verifier(`${h}.${p}.${flipped}`, 1, RFC_REQUEST)), 'invalid_dpop_proof:dpop.signature', 'step 6: signature')
})

t.test('RFC 9449 §4.3: the verifier with freshly signed proofs (all default algorithms)', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  for (const alg of ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'] as const) {
    const key = await createDpopKey(alg)
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', iat: now, nonce: 'n1' })
    const verified = await verifier(proof, 1, { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now })
    t.equal(verified.jkt, key.jkt, alg)
    t.equal(verified.nonce, 'n1', alg)
  }
})

t.test('RFC 9449 §6.1: a proof by another key is refused before its signature is checked (binding.jkt)', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const other = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const byOther = await createDpopProof(other, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', flaw: 'bad-signature' })
  t.equal(await reason(verifier(byOther, 1, request)), 'invalid_token:binding.jkt', 'even a proof with a broken signature')
})

t.test('RSA proof keys with a huge modulus or exponent are refused (verification cost)', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey('RS256')
  // A modulus of `bytes` bytes, top bit and lowest bit set: an importable public key
  // (nobody can sign with it, so a key the size check lets through fails on its signature).
  const modulus = (bytes: number): string => {
    const n = randomBytes(bytes)
    n[0] = (n[0] as number) | 0x80
    n[bytes - 1] = (n[bytes - 1] as number) | 1
    return n.toString('base64url')
  }
  const cases: Array<[string, Record<string, string>, string]> = [
    ['an 8200-bit modulus', { n: modulus(1025) }, 'dpop.jwk'],
    ['a 16384-bit modulus', { n: modulus(2048) }, 'dpop.jwk'],
    ['an 8192-bit modulus (the largest allowed)', { n: modulus(1024) }, 'dpop.signature'],
    ['a 40-bit exponent', { e: Buffer.from([1, 0, 0, 0, 1]).toString('base64url') }, 'dpop.jwk'],
    ['a 48-bit exponent', { e: 'AQABAQAB' }, 'dpop.jwk'],
    ['a 32-bit exponent (the largest allowed)', { e: Buffer.from([1, 0, 0, 1]).toString('base64url') }, 'dpop.signature'],
    ['an all-zero modulus', { n: 'A'.repeat(1400) }, 'dpop.jwk'],
  ]
  for (const [name, members, expected] of cases) {
    const jwk = { ...key.publicJwk, ...members }
    if (members.n !== 'A'.repeat(1400)) t.doesNotThrow(() => createPublicKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' }), `${name}: an importable key, so only the size check can refuse it`)
    const jkt = jwkThumbprint(jwk as Record<string, unknown>) as string
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', header: { jwk } })
    t.equal(await reason(verifier(proof, 1, { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt, now })), `invalid_dpop_proof:${expected}`, name)
  }
})

t.test('RSA proof keys with an exponent of 1, an even one or a zero-padded one are refused: e = 1 signs without a private key', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey('RS256')
  const n = key.publicJwk.n as string
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  // The forgery: with e = 1 the EMSA-PKCS1-v1_5 encoded message verifies as its own signature.
  const jwk = { kty: 'RSA', n, e: 'AQ' }
  const jkt = jwkThumbprint(jwk) as string
  const input = `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk })}.${b64({ jti: 'forged-1', htm: 'POST', htu: 'https://mcp.example.com/mcp', iat: now, ath: hashToken('tok') })}`
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(input).digest()])
  const modulusOctets = Buffer.from(n, 'base64url').length
  const encoded = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(modulusOctets - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo])
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt, now }
  t.equal(await reason(verifier(`${input}.${encoded.toString('base64url')}`, 1, request)), 'invalid_dpop_proof:dpop.jwk', 'the forged proof')
  for (const e of ['Ag', 'AAEAAQ', 'AQAA', 'Aw']) {
    const other = { kty: 'RSA', n, e }
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', header: { jwk: other } })
    const verdict = await reason(verifier(proof, 1, { ...request, jkt: jwkThumbprint(other) as string }))
    // e = 3 is a usable exponent: refused here only because the key did not sign the proof.
    t.equal(verdict, e === 'Aw' ? 'invalid_dpop_proof:dpop.signature' : 'invalid_dpop_proof:dpop.jwk', `e = ${e}`)
  }
})

t.test('RFC 9449 §4.3 (7) / RFC 7517 §4: the proof jwk must be a verification key for the proof alg', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const cases: Array<[string, Record<string, unknown>]> = [
    ['use enc', { use: 'enc' }],
    ['alg of another algorithm', { alg: 'ES384' }],
    ['key_ops without verify', { key_ops: ['sign'] }],
    ['key_ops not an array', { key_ops: 'verify' }],
  ]
  for (const [name, extra] of cases) {
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', header: { jwk: { ...key.publicJwk, ...extra } } })
    t.equal(await reason(verifier(proof, 1, request)), 'invalid_dpop_proof:dpop.jwk', name)
  }
  const fine = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', header: { jwk: { ...key.publicJwk, use: 'sig', alg: 'ES256', key_ops: ['verify'] } } })
  t.equal((await verifier(fine, 1, request)).jkt, key.jkt, 'consistent members are fine')
})

t.test('a proof signature in a non-canonical base64url form is malformed (one proof, one encoding)', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok' })
  // An ES256 signature is 64 bytes: 86 characters whose last one carries 4 unused bits.
  const last = proof.at(-1) as string
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string
  t.equal(await reason(verifier(proof.slice(0, -1) + sibling, 1, request)), 'invalid_dpop_proof:dpop.malformed')
})

// Proofs signed by hand with node:crypto, over exactly the segments given, with a key
// of any type: what jose's verification of a proof must refuse.
function segment (value: Record<string, unknown> | Buffer | string): string {
  if (typeof value === 'string') return value
  return (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url')
}

interface HandProof { proof: string, request: ProofRequest }

function handProof (
  alg: string,
  pair: { privateKey: KeyObject, publicKey: KeyObject },
  signer: (input: Buffer, key: KeyObject) => Buffer,
  parts: { header?: Buffer, payload?: Record<string, unknown> | string } = {}
): HandProof {
  const now = Math.floor(Date.now() / 1000)
  const jwk = pair.publicKey.export({ format: 'jwk' })
  const jkt = jwkThumbprint(jwk as Record<string, unknown>) as string
  const claims = { jti: `j-${Math.random()}`, htm: 'POST', htu: 'https://mcp.example.com/mcp', iat: now, ath: hashToken('tok') }
  const input = `${segment(parts.header ?? { typ: 'dpop+jwt', alg, jwk })}.${segment(parts.payload ?? claims)}`
  const proof = `${input}.${signer(Buffer.from(input), pair.privateKey).toString('base64url')}`
  return { proof, request: { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt, now } }
}

const PAIRS = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  ed25519: generateKeyPairSync('ed25519'),
  ed448: generateKeyPairSync('ed448'),
}
const es256 = (input: Buffer, key: KeyObject): Buffer => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
const rs256 = (input: Buffer, key: KeyObject): Buffer => sign('sha256', input, key)
const ps256 = (saltLength: number) => (input: Buffer, key: KeyObject): Buffer => sign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
const eddsa = (input: Buffer, key: KeyObject): Buffer => sign(null, input, key)

async function check (hand: HandProof): Promise<string> {
  return reason(verifier(hand.proof, 1, hand.request))
}

t.test('RFC 9449 §4.3: proofs signed by node:crypto verify for every default algorithm (jose agrees)', async (t) => {
  t.equal(await check(handProof('ES256', PAIRS.p256, es256)), 'accepted', 'ES256')
  t.equal(await check(handProof('RS256', PAIRS.rsa, rs256)), 'accepted', 'RS256')
  t.equal(await check(handProof('PS256', PAIRS.rsa, ps256(32))), 'accepted', 'PS256')
  t.equal(await check(handProof('EdDSA', PAIRS.ed25519, eddsa)), 'accepted', 'EdDSA')
})

t.test('RFC 7518 §3.4, §3.5: only the JWS form of a proof signature verifies → dpop.signature', async (t) => {
  const der = (input: Buffer, key: KeyObject): Buffer => sign('sha256', input, { key, dsaEncoding: 'der' })
  t.equal(await check(handProof('ES256', PAIRS.p256, der)), 'invalid_dpop_proof:dpop.signature', 'ES256 DER (ASN.1)')
  t.equal(await check(handProof('ES256', PAIRS.p256, (input, key) => es256(input, key).subarray(1))), 'invalid_dpop_proof:dpop.signature', 'ES256 one byte short')
  t.equal(await check(handProof('PS256', PAIRS.rsa, ps256(0))), 'invalid_dpop_proof:dpop.signature', 'PS256 with no salt')
  t.equal(await check(handProof('PS256', PAIRS.rsa, ps256(64))), 'invalid_dpop_proof:dpop.signature', 'PS256 with the salt of PS512')
  t.equal(await check(handProof('PS256', PAIRS.rsa, rs256)), 'invalid_dpop_proof:dpop.signature', 'PS256 signed as RS256')
  t.equal(await check(handProof('EdDSA', PAIRS.ed25519, (input, key) => eddsa(input, key).subarray(1))), 'invalid_dpop_proof:dpop.signature', 'EdDSA one byte short')
})

t.test('RFC 8725 §3.1, RFC 7518 §3.3: a proof key that does not fit the proof alg → dpop.jwk, never a pass', async (t) => {
  t.equal(await check(handProof('ES256', PAIRS.p384, es256)), 'invalid_dpop_proof:dpop.jwk', 'ES256 with a P-384 key')
  t.equal(await check(handProof('RS256', PAIRS.rsa1024, rs256)), 'invalid_dpop_proof:dpop.jwk', 'RS256 with a 1024-bit key')
  t.equal(await check(handProof('PS256', PAIRS.rsa1024, ps256(32))), 'invalid_dpop_proof:dpop.jwk', 'PS256 with a 1024-bit key')
  t.equal(await check(handProof('PS256', PAIRS.ed25519, eddsa)), 'invalid_dpop_proof:dpop.jwk', 'PS256 with an Ed25519 key')
  t.equal(await check(handProof('EdDSA', PAIRS.p256, es256)), 'invalid_dpop_proof:dpop.jwk', 'EdDSA with a P-256 key')
  t.equal(await check(handProof('EdDSA', PAIRS.ed448, eddsa)), 'invalid_dpop_proof:dpop.jwk', 'EdDSA with an Ed448 key (jose verifies Ed25519 only)')
  t.equal(await check(handProof('ES256', PAIRS.rsa, rs256)), 'invalid_dpop_proof:dpop.jwk', 'ES256 with an RSA key')
})

t.test('what jose cannot decode, or claims that are not a JSON object, are dpop.malformed', async (t) => {
  const jwk = PAIRS.p256.publicKey.export({ format: 'jwk' })
  const notUtf8 = Buffer.concat([Buffer.from(`{"typ":"dpop+jwt","alg":"ES256","jwk":${JSON.stringify(jwk)},"x":"`), Buffer.from([0xff]), Buffer.from('"}')])
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: notUtf8 })), 'invalid_dpop_proof:dpop.malformed', 'a header that is not strict UTF-8')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { payload: 'e30AB' })), 'invalid_dpop_proof:dpop.malformed', 'a payload that is not base64url (5 characters)')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { payload: Buffer.from('abc').toString('base64url') })), 'invalid_dpop_proof:dpop.malformed', 'not JSON')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { payload: segment(Buffer.from('[1]')) })), 'invalid_dpop_proof:dpop.malformed', 'an array')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { payload: segment(Buffer.from('null')) })), 'invalid_dpop_proof:dpop.malformed', 'null')
})

t.test('a proof header that is not a JSON object is dpop.malformed, before any key is read', async (t) => {
  for (const header of ['[1]', 'null', 'not json']) {
    t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: Buffer.from(header) })), 'invalid_dpop_proof:dpop.malformed', header)
  }
})

t.test('RFC 7517: a proof jwk that is no public key of its type is dpop.jwk, before the binding and the signature are checked', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const y = Buffer.from(key.publicJwk.y as string, 'base64url')
  y[31] = (y[31] as number) ^ 1
  const cases: Array<[string, Record<string, unknown>]> = [
    // Every member is there (it has a thumbprint), but node:crypto cannot import it.
    ['an EC point that is not on its curve', { ...key.publicJwk, y: y.toString('base64url') }],
    // No thumbprint: nothing to bind, nothing to size or import.
    ['an RSA key without its modulus', { kty: 'RSA', e: 'AQAB' }],
  ]
  for (const [name, jwk] of cases) {
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', header: { jwk } })
    t.equal(await reason(verifier(proof, 1, request)), 'invalid_dpop_proof:dpop.jwk', name)
  }
})

t.test('RFC 7515 §4.1.11, RFC 7797: a proof header naming an extension (crit) or an unencoded payload (b64) is refused before jose is asked', async (t) => {
  const jwk = PAIRS.p256.publicKey.export({ format: 'jwk' })
  const header = (extra: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk, ...extra }))
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: header({ crit: ['urn:x-unknown'], 'urn:x-unknown': 1 }) })), 'invalid_dpop_proof:dpop.crit', 'an extension we do not implement')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: header({ crit: ['b64'], b64: true }) })), 'invalid_dpop_proof:dpop.crit', 'b64 named critical')
  // Without crit, jose ignores b64 and would verify: the proof is refused all the same.
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: header({ b64: false }) })), 'invalid_dpop_proof:dpop.malformed', 'b64 false')
  t.equal(await check(handProof('ES256', PAIRS.p256, es256, { header: header({ b64: true }) })), 'invalid_dpop_proof:dpop.malformed', 'b64 true')
})

t.test('proof limits are inclusive: a proof of exactly maxProofLength and a jti of exactly maxJtiLength pass', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const proofWithJti = (jti: string) => createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', jti })
  t.equal(await reason(verifier(await proofWithJti('j'.repeat(256)), 1, request)), 'accepted', 'jti of 256 characters')
  t.equal(await reason(verifier(await proofWithJti('j'.repeat(257)), 1, request)), 'invalid_dpop_proof:dpop.jti', 'jti of 257')
  const proof = await proofWithJti('j-1')
  const sized = (maxProofLength: number) => createProofVerifier({ algorithms: new Set(['ES256']), iatWindow: 300, maxJtiLength: 256, maxProofLength })
  t.equal(await reason(sized(proof.length)(proof, 1, request)), 'accepted', 'exactly maxProofLength')
  t.equal(await reason(sized(proof.length - 1)(proof, 1, request)), 'invalid_dpop_proof:dpop.malformed', 'one character more')
})

t.test('a signed payload that is not a JSON object is dpop.malformed; an iat that is not finite (1e400) is dpop.claims', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now }
  const signed = (payload: string) => new CompactSign(Buffer.from(payload)).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }).sign(key.privateKey)
  for (const payload of ['5', '[]', 'null', '"jti"']) {
    t.equal(await reason(verifier(await signed(payload), 1, request)), 'invalid_dpop_proof:dpop.malformed', payload)
  }
  const claims = `{"jti":"j-2","htm":"POST","htu":"https://mcp.example.com/mcp","iat":1e400,"ath":"${hashToken('tok')}"}`
  t.equal(await reason(verifier(await signed(claims), 1, request)), 'invalid_dpop_proof:dpop.claims', 'iat 1e400')
  const notJson = await verifier(await signed('{"jti":'), 1, request).then(() => undefined, (err: unknown) => err as Error)
  t.match(notJson, { reason: 'dpop.malformed' }, 'a payload that is not JSON')
  t.type(notJson?.cause, SyntaxError, 'the parse error is kept as its cause')
})

t.test('RFC 9449 §4.2: htm is a string, and so is nonce when present: anything else is dpop.claims', async (t) => {
  const key = await createDpopKey()
  const request = { method: 'POST', origin: 'https://mcp.example.com', url: '/mcp', ath: hashToken('tok'), jkt: key.jkt, now: Math.floor(Date.now() / 1000) }
  for (const claims of [{ htm: 1 }, { htm: ['POST'] }, { nonce: 5 }, { nonce: null }]) {
    const proof = await createDpopProof(key, { method: 'POST', url: 'https://mcp.example.com/mcp', accessToken: 'tok', claims })
    t.equal(await reason(verifier(proof, 1, request)), 'invalid_dpop_proof:dpop.claims', JSON.stringify(claims))
  }
})
