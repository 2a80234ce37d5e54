// RFC 7638 JWK thumbprints (DPoP cnf.jkt) and RFC 8705 certificate thumbprints (cnf["x5t#S256"]).
import { createHash, generateKeyPairSync } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import t from 'tap'
import { jwkThumbprint } from '../../lib/jwk-thumbprint.js'
import { certificateThumbprint, thumbprintsEqual } from '../../lib/mtls/thumbprint.js'
import { createTestCa } from '../../testing.js'

// RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
const RFC7638_KEY = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
}
// RFC 9449 §4.1 / §6.1: the example P-256 proof key and its jkt.
const RFC9449_KEY = {
  kty: 'EC',
  x: 'l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs',
  y: '9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA',
  crv: 'P-256',
}

t.test('RFC 7638 §3.1: the example RSA key has thumbprint NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', async (t) => {
  t.equal(jwkThumbprint(RFC7638_KEY), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')
})

t.test('RFC 9449 §6.1: the example EC key has jkt 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', async (t) => {
  t.equal(jwkThumbprint(RFC9449_KEY), '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I')
})

t.test('RFC 7638 §3.2: only the required members count, in any input order (kid, alg, use, key_ops ignored)', async (t) => {
  const expected = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
  t.equal(jwkThumbprint({ y: RFC9449_KEY.y, x: RFC9449_KEY.x, kty: 'EC', crv: 'P-256' }), expected)
  t.equal(jwkThumbprint({ ...RFC9449_KEY, kid: 'k1', alg: 'ES256', use: 'sig', key_ops: ['verify'], ext: true }), expected)
})

t.test('RFC 7638 §3.1: agrees with jose for EC, OKP and RSA keys', async (t) => {
  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256'] as const) {
    const { publicKey } = await generateKeyPair(alg, { extractable: true })
    const jwk = await exportJWK(publicKey)
    t.equal(jwkThumbprint(jwk as Record<string, unknown>), await calculateJwkThumbprint(jwk, 'sha256'), alg)
  }
})

t.test('RFC 7638 §3.2: a JWK without a required member, with a non-string member, or of an unknown kty has no thumbprint', async (t) => {
  const { crv: _crv, ...noCrv } = RFC9449_KEY
  t.equal(jwkThumbprint(noCrv), undefined, 'missing crv')
  t.equal(jwkThumbprint({ ...RFC9449_KEY, x: 42 }), undefined, 'numeric x')
  t.equal(jwkThumbprint({ ...RFC9449_KEY, kty: 'XYZ' }), undefined, 'unknown kty')
  t.equal(jwkThumbprint({ ...RFC9449_KEY, kty: undefined }), undefined, 'no kty')
  t.equal(jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' }), undefined, 'symmetric keys are never proof keys')
})

t.test('RFC 8705 §3.1: certificateThumbprint is base64url(SHA-256(DER)), the same for DER and PEM input', async (t) => {
  const ca = await createTestCa()
  const client = await ca.issueClientCertificate()
  const expected = createHash('sha256').update(client.der).digest('base64url')
  t.equal(client.x5t, expected, 'the test helper computes x5t#S256 the same way')
  t.equal(certificateThumbprint(client.der), expected, 'DER (Uint8Array)')
  t.equal(certificateThumbprint(Buffer.from(client.der)), expected, 'DER (Buffer)')
  t.equal(certificateThumbprint(client.certificatePem), expected, 'PEM')
  t.equal(certificateThumbprint(client.certificatePem.replace(/\n/g, '\r\n')), expected, 'PEM with CRLF line ends')
  t.equal(certificateThumbprint('subject=CN=x\n' + client.certificatePem), expected, 'PEM with leading text (openssl x509 output)')
  t.notOk(expected.includes('='), 'no padding')
  // A DER view into a larger buffer (how a socket hands certificates over).
  const padded = new Uint8Array(client.der.byteLength + 8)
  padded.set(client.der, 4)
  t.equal(certificateThumbprint(padded.subarray(4, 4 + client.der.byteLength)), expected, 'DER subarray')
})

t.test('RFC 8705 §3.1: anything that is not an X.509 certificate has no thumbprint', async (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  t.equal(certificateThumbprint(''), undefined, 'empty string')
  t.equal(certificateThumbprint('not a certificate'), undefined, 'text')
  t.equal(certificateThumbprint(new Uint8Array(0)), undefined, 'empty DER')
  t.equal(certificateThumbprint(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), undefined, 'DER that is not a certificate')
  t.equal(certificateThumbprint(spkiPem), undefined, 'a public key PEM')
  t.equal(certificateThumbprint('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), undefined, 'a PEM block holding junk')
})

t.test('thumbprintsEqual: exact, constant-time comparison', async (t) => {
  const a = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
  t.equal(thumbprintsEqual(a, a), true)
  t.equal(thumbprintsEqual(a, a.slice(0, -1) + 'Y'), false, 'one character differs')
  t.equal(thumbprintsEqual(a, a + '='), false, 'padding is not ignored')
  t.equal(thumbprintsEqual(a, a.toLowerCase()), false, 'case-sensitive')
  t.equal(thumbprintsEqual(a, ''), false, 'empty')
  t.equal(thumbprintsEqual('', ''), true)
})

t.test('AKP keys (ML-DSA, draft-ietf-cose-dilithium §6): the thumbprint covers alg, kty and pub, in that order', async (t) => {
  const pub = Buffer.alloc(1312, 7).toString('base64url') // an ML-DSA-44 public key's length
  const expected = createHash('sha256').update(`{"alg":"ML-DSA-44","kty":"AKP","pub":"${pub}"}`).digest('base64url')
  t.equal(jwkThumbprint({ pub, kty: 'AKP', alg: 'ML-DSA-44', kid: 'ignored' }), expected)
  t.not(jwkThumbprint({ pub, kty: 'AKP', alg: 'ML-DSA-65' }), expected, 'the algorithm is part of the key')
  t.equal(jwkThumbprint({ kty: 'AKP', alg: 'ML-DSA-44' }), undefined, 'no pub')
  t.equal(jwkThumbprint({ kty: 'AKP', pub }), undefined, 'no alg')
})
