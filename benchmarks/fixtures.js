// Keys, tokens, DPoP proofs and certificates for the benchmarks, built in the
// parent before each run so the load generator only hands out strings.
//
// The issuer key is a node:crypto ES256 key pair (the testing issuer keeps its
// private key private, and its jose/WebCrypto signer mints ~4k tokens/s, too
// slow for pools of tens of thousands). Tokens and proofs are signed with
// node:crypto (~20k/s) and carry exactly the claims and headers of
// `issuer.mintAccessToken()` and `createDpopProof()` from
// 'fastify-mcp-auth/testing'; the helpers themselves are used for the DPoP
// key, the test CA and the one-off sanity request of every scenario.
import { createHash, generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto'
import { createHmacNonceProvider } from 'fastify-mcp-auth'
import { createDpopKey, createDpopProof, createTestCa } from 'fastify-mcp-auth/testing'

export const ISSUER = 'https://issuer.bench.test'
/** The plugin's resource: the configured public origin, never the Host header (so no port). */
export const RESOURCE_HTTP = 'http://127.0.0.1/mcp'
export const RESOURCE_TLS = 'https://127.0.0.1/mcp'
export const PATH = '/mcp'
export const NONCE_SECRET = 'benchmark nonce secret, 32 bytes or more, not secret'

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')

function signCompact (headerB64, payload, privateKey) {
  const input = headerB64 + '.' + b64(payload)
  return input + '.' + sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
}

export function accessTokenHash (token) {
  return createHash('sha256').update(token).digest('base64url')
}

/** Everything a run needs; the public parts go to the servers as JSON. */
export async function createFixtures () {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const kid = 'bench-es256'
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' })
  const tokenHeader = b64({ alg: 'ES256', typ: 'at+jwt', kid })

  // The DPoP client key, from the testing helper (a CryptoKey), and a node:crypto handle on it.
  const dpopKey = await createDpopKey('ES256')
  const dpopSigningKey = KeyObject.from(dpopKey.privateKey)
  const proofHeader = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: dpopKey.publicJwk })

  // mTLS: a throwaway CA, a server certificate for 127.0.0.1 and one client certificate.
  const ca = await createTestCa()
  const server = await ca.issueServerCertificate({ hosts: ['127.0.0.1', 'localhost'] })
  const client = await ca.issueClientCertificate({ commonName: 'bench-client' })

  const nonces = createHmacNonceProvider({ secret: NONCE_SECRET })

  /** An RFC 9068 access token with the claims of TestIssuer.mintAccessToken(). */
  function mintAccessToken ({ audience, bindTo, expiresIn = 900 } = {}) {
    const now = Math.floor(Date.now() / 1000)
    const payload = {
      iss: ISSUER,
      sub: 'user-123',
      client_id: 'client-abc',
      iat: now,
      exp: now + expiresIn,
      jti: randomUUID(),
      scope: 'mcp:tools:read',
      aud: audience,
    }
    if (bindTo !== undefined) payload.cnf = 'jkt' in bindTo ? { jkt: bindTo.jkt } : { 'x5t#S256': bindTo.x5t }
    return signCompact(tokenHeader, payload, privateKey)
  }

  /** `count` distinct tokens (distinct jti), for cache-miss scenarios. */
  function mintTokenPool (count, options) {
    const pool = new Array(count)
    for (let i = 0; i < count; i++) pool[i] = mintAccessToken(options)
    return pool
  }

  /** `count` unique DPoP proofs (fresh jti, iat now) with the claims of createDpopProof(). */
  function proofPool (count, { method = 'GET', htu, accessToken, nonce }) {
    const ath = accessTokenHash(accessToken)
    const iat = Math.floor(Date.now() / 1000)
    const pool = new Array(count)
    for (let i = 0; i < count; i++) {
      const payload = { jti: randomUUID(), htm: method, htu, iat, ath }
      if (nonce !== undefined) payload.nonce = nonce
      pool[i] = signCompact(proofHeader, payload, dpopSigningKey)
    }
    return pool
  }

  /** One proof from the testing helper itself (the sanity request). */
  function helperProof ({ method = 'GET', htu, accessToken, nonce }) {
    return createDpopProof(dpopKey, { method, url: htu, accessToken, nonce })
  }

  return {
    issuer: ISSUER,
    jwks: { keys: [publicJwk] },
    publicPem,
    dpopKey,
    tls: { key: server.keyPem, cert: server.certificatePem, ca: ca.certificatePem },
    client: { key: client.keyPem, cert: client.certificatePem, x5t: client.x5t },
    currentNonce: () => nonces.issue(),
    mintAccessToken,
    mintTokenPool,
    proofPool,
    helperProof,
  }
}
