// lib/jws.ts: node:crypto JWS verification: every algorithm against a real
// signature, and every key that does not fit the algorithm refused.
import { createSecretKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { CompactSign, generateKeyPair, importJWK } from 'jose'
import t from 'tap'
import { createKeyConverter, toKeyObject, verifyJws } from '../../lib/jws.js'

const enc = new TextEncoder()

async function signed (alg: string, key: KeyObject | Uint8Array): Promise<{ input: string, signature: Buffer }> {
  if (!(key instanceof Uint8Array) && key.asymmetricKeyType === 'ed448') {
    // WebCrypto (jose) has no Ed448 on Node 20: sign the JWS input by hand.
    const input = `${Buffer.from(JSON.stringify({ alg })).toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}`
    return { input, signature: sign(null, Buffer.from(input), key) }
  }
  const jws = await new CompactSign(enc.encode('{"sub":"x"}')).setProtectedHeader({ alg }).sign(key as never)
  const dot = jws.lastIndexOf('.')
  return { input: jws.slice(0, dot), signature: Buffer.from(jws.slice(dot + 1), 'base64url') }
}

const pairs = {
  ec256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ec384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ec521: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  rsaSmall: generateKeyPairSync('rsa', { modulusLength: 1024 }),
  ed25519: generateKeyPairSync('ed25519'),
  ed448: generateKeyPairSync('ed448'),
}

t.test('RFC 7518: each algorithm verifies a real signature and rejects a flipped one', async (t) => {
  const cases: Array<[string, KeyObject, KeyObject]> = [
    ['ES256', pairs.ec256.privateKey, pairs.ec256.publicKey],
    ['ES384', pairs.ec384.privateKey, pairs.ec384.publicKey],
    ['ES512', pairs.ec521.privateKey, pairs.ec521.publicKey],
    ['RS256', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['RS384', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['RS512', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['PS256', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['PS384', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['PS512', pairs.rsa.privateKey, pairs.rsa.publicKey],
    ['EdDSA', pairs.ed25519.privateKey, pairs.ed25519.publicKey],
    ['EdDSA', pairs.ed448.privateKey, pairs.ed448.publicKey],
    ['Ed25519', pairs.ed25519.privateKey, pairs.ed25519.publicKey],
  ]
  for (const [alg, privateKey, publicKey] of cases) {
    const { input, signature } = await signed(alg, privateKey)
    t.equal(verifyJws(alg, publicKey, input, signature), 'valid', alg)
    const flipped = Buffer.from(signature)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1
    t.equal(verifyJws(alg, publicKey, input, flipped), 'invalid', `${alg}: flipped bit`)
    t.equal(verifyJws(alg, publicKey, input + 'x', signature), 'invalid', `${alg}: other input`)
  }
})

t.test('HS*: secret bytes or a secret KeyObject; wrong MAC or length is invalid', async (t) => {
  const secret = randomBytes(32)
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    const { input, signature } = await signed(alg, secret)
    t.equal(verifyJws(alg, secret, input, signature), 'valid', alg)
    t.equal(verifyJws(alg, createSecretKey(secret), input, signature), 'valid', `${alg} KeyObject`)
    t.equal(verifyJws(alg, randomBytes(32), input, signature), 'invalid', `${alg}: other secret`)
    t.equal(verifyJws(alg, secret, input, signature.subarray(1)), 'invalid', `${alg}: short`)
    t.equal(verifyJws(alg, pairs.ec256.publicKey, input, signature), 'key-mismatch', `${alg}: a public key is never an HMAC secret`)
  }
})

t.test('RFC 8725 §3.1: a key that does not fit the algorithm is a mismatch, never a pass', async (t) => {
  const sig = Buffer.alloc(64)
  t.equal(verifyJws('ES256', pairs.ec384.publicKey, 'a.b', sig), 'key-mismatch', 'curve must match')
  t.equal(verifyJws('ES256', pairs.rsa.publicKey, 'a.b', sig), 'key-mismatch')
  t.equal(verifyJws('ES256', pairs.ec256.privateKey, 'a.b', sig), 'key-mismatch', 'private keys are refused')
  t.equal(verifyJws('ES256', pairs.ec256.publicKey, 'a.b', Buffer.alloc(70)), 'invalid', 'DER-length signatures are not JWS')
  t.equal(verifyJws('RS256', pairs.ec256.publicKey, 'a.b', sig), 'key-mismatch')
  t.equal(verifyJws('RS256', pairs.rsaSmall.publicKey, 'a.b', sig), 'key-mismatch', 'RSA below 2048 bits')
  t.equal(verifyJws('PS256', pairs.rsaSmall.publicKey, 'a.b', sig), 'key-mismatch')
  t.equal(verifyJws('PS256', pairs.ed25519.publicKey, 'a.b', sig), 'key-mismatch')
  t.equal(verifyJws('Ed25519', pairs.ed448.publicKey, 'a.b', sig), 'key-mismatch', 'Ed25519 means Ed25519')
  t.equal(verifyJws('EdDSA', pairs.ec256.publicKey, 'a.b', sig), 'key-mismatch')
  t.equal(verifyJws('ES256', randomBytes(32), 'a.b', sig), 'key-mismatch', 'bytes are not a public key')
  t.equal(verifyJws('none', pairs.ec256.publicKey, 'a.b', sig), 'unsupported')
  t.equal(verifyJws('ML-DSA-44', pairs.ec256.publicKey, 'a.b', sig), 'unsupported', 'left to jose')
  t.equal(verifyJws('toString', pairs.ec256.publicKey, 'a.b', sig), 'unsupported', 'own table entries only')
})

t.test('toKeyObject: KeyObject, WebCrypto CryptoKey and public JWK; anything else is undefined', async (t) => {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true })
  const fromCrypto = toKeyObject(publicKey)
  t.equal(fromCrypto?.asymmetricKeyType, 'ec')
  const convert = createKeyConverter()
  const converted = convert(publicKey)
  t.equal(converted?.asymmetricKeyType, 'ec')
  t.equal(convert(publicKey), converted, 'a converter converts each key object once')
  t.equal(convert(pairs.rsa.publicKey), pairs.rsa.publicKey)
  t.equal(convert(randomBytes(8)), undefined)
  t.equal(convert(null), undefined)
  t.equal(toKeyObject(pairs.rsa.publicKey), pairs.rsa.publicKey)
  const jwk = pairs.ed25519.publicKey.export({ format: 'jwk' })
  t.equal(toKeyObject(jwk)?.asymmetricKeyType, 'ed25519')
  t.equal(toKeyObject(pairs.ed25519.privateKey.export({ format: 'jwk' })), undefined, 'a private JWK is refused')
  t.equal(toKeyObject({ kty: 'EC', crv: 'P-256', x: 'bad' }), undefined, 'a broken JWK')
  t.equal(toKeyObject(randomBytes(8)), undefined)
  t.equal(toKeyObject('key'), undefined)
  t.equal(toKeyObject(null), undefined)
  t.equal(toKeyObject(await importJWK({ kty: 'oct', k: 'AAAA' }, 'HS256').catch(() => ({}))), undefined)
})
