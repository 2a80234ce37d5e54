// Certificate-bound access tokens (RFC 8705 §3) over real TLS on 127.0.0.1:
// app.inject has no TLS socket, so these tests run an HTTPS listener with
// requestCert and send requests with node:https and client certificates.
import { createHash, X509Certificate } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { Agent, request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import mcpAuth, { McpAuthError } from '../../index.js'
import type { McpAuthContext, McpAuthOptions } from '../../index.js'
import { createTestCa } from '../../testing.js'
import type { TestCa, TestClientCertificate, TestServerCertificate } from '../../testing.js'
import { createDpopKey, createDpopProof, createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import { parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

// One CA and a few certificates for the whole file: key generation is the slow part.
const ca: TestCa = await createTestCa()
const serverCert: TestServerCertificate = await ca.issueServerCertificate({ hosts: ['127.0.0.1', 'localhost'] })
const alice: TestClientCertificate = await ca.issueClientCertificate({ commonName: 'alice' })
const bob: TestClientCertificate = await ca.issueClientCertificate({ commonName: 'bob' })
const stranger: TestClientCertificate = await (await createTestCa({ commonName: 'another CA' })).issueClientCertificate({ commonName: 'alice' })

interface Server {
  app: FastifyInstance
  issuer: TestIssuer
  origin: string
}

/** An app with GET /mcp reporting request.mcp.sender (and keeping each request.mcp in `seen`), on HTTPS (requestCert) or plain HTTP. */
async function startServer (t: Test, options: Partial<McpAuthOptions> = {}, tls = true, seen: Array<McpAuthContext | null> = []): Promise<Server> {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  // rejectUnauthorized: false lets the handshake finish without a client certificate, so the plugin can answer 401.
  const https = { key: serverCert.keyPem, cert: serverCert.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false }
  const app = tls ? Fastify({ https }) as unknown as FastifyInstance : Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys }, ...options } as McpAuthOptions)
  app.get('/mcp', async (request) => {
    seen.push(request.mcp)
    return {
      sender: request.mcp?.sender,
      authSender: (request.raw as { auth?: { extra?: { sender?: unknown } } }).auth?.extra?.sender,
      sessionReused: (request.raw.socket as Partial<TLSSocket>).isSessionReused?.() ?? null,
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, issuer, origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}` }
}

interface Response { status: number, headers: IncomingHttpHeaders, body: Record<string, unknown> }

interface Call {
  authorization?: string
  headers?: Record<string, string>
  /** The client certificate to present in the TLS handshake. */
  cert?: TestClientCertificate
  /** An https.Agent (connection reuse, TLS session cache) instead of a fresh connection. */
  agent?: Agent
}

async function call (server: Server, { authorization, headers = {}, cert, agent }: Call): Promise<Response> {
  const url = new URL('/mcp', server.origin)
  const allHeaders = { ...headers, ...(authorization === undefined ? {} : { authorization }) }
  return new Promise((resolve, reject) => {
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { data += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(data) }))
      res.on('error', reject)
    }
    const req = url.protocol === 'https:'
      ? httpsRequest(url, agent !== undefined
        ? { headers: allHeaders, agent }
        : {
            headers: allHeaders,
            ca: ca.certificatePem,
            // A fresh connection per request: a pooled one would carry another test's certificate.
            agent: false,
            ...(cert === undefined ? {} : { cert: cert.certificatePem, key: cert.keyPem }),
          }, onResponse)
      : httpRequest(url, { headers: allHeaders, agent: false }, onResponse)
    req.on('error', reject)
    req.end()
  })
}

/** 401 invalid_token in the Bearer challenge (the scheme used), DPoP challenge without error. */
function assertBearerInvalidToken (t: Test, res: Response, description?: RegExp, message = 'invalid_token'): void {
  t.equal(res.status, 401, `${message}: status`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  const [bearer, dpop, ...rest] = parseChallenges(res.headers['www-authenticate'])
  t.equal(rest.length, 0)
  t.equal(bearer?.scheme, 'Bearer', `${message}: Bearer first`)
  t.equal(bearer?.params.error, 'invalid_token', `${message}: BC(invalid_token)`)
  t.equal(bearer?.params.resource_metadata, PRM)
  t.equal(dpop?.scheme, 'DPoP')
  t.equal(dpop?.params.error, undefined, `${message}: DC0`)
  t.equal(res.body.error, 'invalid_token', `${message}: body`)
  if (description !== undefined) t.match(res.body.error_description, description, `${message}: description`)
}

function bound (issuer: TestIssuer, x5t: string, claims: Record<string, unknown> = {}): Promise<string> {
  return issuer.mintAccessToken(claims, { bindTo: { x5t } })
}

t.test('RFC 8705 §3: a token bound to the presented client certificate → 200, sender { binding: mtls, x5t } (MTLS-01)', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  const res = await call(server, { authorization: `Bearer ${token}`, cert: alice })
  t.equal(res.status, 200)
  t.same(res.body.sender, { binding: 'mtls', x5t: alice.x5t })
  t.same(res.body.authSender, { binding: 'mtls', x5t: alice.x5t }, 'request.raw.auth carries the binding too')
  t.equal(res.headers['www-authenticate'], undefined)
})

t.test('RFC 8705 §3: keep-alive requests and resumed TLS sessions still carry the bound certificate', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  for (const keepAlive of [true, false]) {
    const agent = new Agent({ keepAlive, ca: ca.certificatePem, cert: alice.certificatePem, key: alice.keyPem })
    t.teardown(() => agent.destroy())
    const reused: unknown[] = []
    for (let i = 0; i < 3; i++) {
      const res = await call(server, { authorization: `Bearer ${token}`, agent })
      t.equal(res.status, 200, `keepAlive ${keepAlive}, request ${i + 1}`)
      t.same(res.body.sender, { binding: 'mtls', x5t: alice.x5t })
      reused.push(res.body.sessionReused)
    }
    if (!keepAlive) t.same(reused, [false, true, true], 'new connections resumed the TLS session')
  }
})

t.test('RFC 8705 §3: requests repeating a bound (and now cached) token each still need the certificate', async (t) => {
  const seen: Array<McpAuthContext | null> = []
  const server = await startServer(t, {}, true, seen)
  const token = await bound(server.issuer, alice.x5t)
  for (let i = 0; i < 3; i++) t.equal((await call(server, { authorization: `Bearer ${token}`, cert: alice })).status, 200, `request ${i + 1}`)
  // The token is now cached: a stranger's connection gets nothing from that.
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: bob }), /does not match/, 'bob, once cached')
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}` }), /not presented/, 'no certificate, once cached')
  t.equal(seen.length, 3, 'only the certificate holder\'s requests reached the handler')
  t.same(seen[2]?.sender, { binding: 'mtls', x5t: alice.x5t })
  t.ok(Object.isFrozen(seen[2]) && Object.isFrozen(seen[2]?.sender))
})

t.test('RFC 8705 §3: an unbound Bearer token over mTLS stays a bearer request', async (t) => {
  const server = await startServer(t)
  const token = await server.issuer.mintAccessToken()
  const res = await call(server, { authorization: `Bearer ${token}`, cert: alice })
  t.equal(res.status, 200)
  t.same(res.body.sender, { binding: 'bearer' })
})

t.test('RFC 8705 §3: the bound token without a client certificate → 401 invalid_token (MTLS-02)', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}` }), /not presented/)
})

t.test('RFC 8705 §3: the bound token with a different client certificate → 401 invalid_token (MTLS-03)', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: bob }), /does not match/, 'bob')
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: stranger }), /does not match/, 'same subject, another CA')
})

t.test('RFC 8705 §3.1: x5t#S256 computed over anything but the DER, or padded → 401 invalid_token (MTLS-04)', async (t) => {
  const server = await startServer(t)
  const variants: Record<string, string> = {
    'SHA-256 over the PEM text': createHash('sha256').update(alice.certificatePem).digest('base64url'),
    'SHA-256 as hex': createHash('sha256').update(alice.der).digest('hex'),
    'SHA-1 (x5t)': createHash('sha1').update(alice.der).digest('base64url'),
    'with = padding': alice.x5t + '=',
    'standard base64': createHash('sha256').update(alice.der).digest('base64'),
  }
  for (const [name, x5t] of Object.entries(variants)) {
    t.not(x5t, alice.x5t, name)
    const token = await bound(server.issuer, x5t)
    assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: alice }), /does not match/, name)
  }
})

t.test('RFC 8705 §3: a client-controlled certificate header is ignored by default (MTLS-05)', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  const escaped = encodeURIComponent(alice.certificatePem)
  const headers = {
    'x-ssl-client-cert': escaped,
    'x-forwarded-client-cert': `Hash=${createHash('sha256').update(alice.der).digest('hex')};Cert="${escaped}"`,
    'x-client-cert': Buffer.from(alice.der).toString('base64'),
  }
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers }), /not presented/, 'no certificate on the socket')
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers, cert: bob }), /does not match/, 'the socket certificate wins over the header')
})

t.test('RFC 8705 §3 / contract: mtls.certificate(request) reads a trusted terminator\'s header (PEM, sync)', async (t) => {
  const server = await startServer(t, { mtls: { certificate: (request) => decodeURIComponent(String(request.headers['x-ssl-client-cert'] ?? '')) || null } }, false)
  const token = await bound(server.issuer, alice.x5t)
  const ok = await call(server, { authorization: `Bearer ${token}`, headers: { 'x-ssl-client-cert': encodeURIComponent(alice.certificatePem) } })
  t.equal(ok.status, 200)
  t.same(ok.body.sender, { binding: 'mtls', x5t: alice.x5t })
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}` }), /not presented/, 'no header')
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers: { 'x-ssl-client-cert': encodeURIComponent(bob.certificatePem) } }), /does not match/, 'another certificate')
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers: { 'x-ssl-client-cert': 'garbage' } }), /not presented/, 'a header that is not a certificate')
})

t.test('contract: mtls.certificate may return DER (Buffer or Uint8Array)', async (t) => {
  for (const [name, der] of [['Buffer', Buffer.from(alice.der)], ['Uint8Array', new Uint8Array(alice.der)]] as const) {
    const server = await startServer(t, { mtls: { certificate: () => der } }, false)
    const token = await bound(server.issuer, alice.x5t)
    const res = await call(server, { authorization: `Bearer ${token}` })
    t.equal(res.status, 200, name)
    t.same(res.body.sender, { binding: 'mtls', x5t: alice.x5t }, name)
  }
})

t.test('contract: mtls.certificate returning a PEM bundle uses its first certificate (the leaf)', async (t) => {
  const server = await startServer(t, { mtls: { certificate: (request) => request.headers['x-order'] === 'leaf-first' ? alice.certificatePem + ca.certificatePem : ca.certificatePem + alice.certificatePem } }, false)
  const token = await bound(server.issuer, alice.x5t)
  const leafFirst = await call(server, { authorization: `Bearer ${token}`, headers: { 'x-order': 'leaf-first' } })
  t.equal(leafFirst.status, 200)
  t.same(leafFirst.body.sender, { binding: 'mtls', x5t: alice.x5t })
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers: { 'x-order': 'ca-first' } }), /does not match/, 'CA first')
})

t.test('contract: mtls.certificate may be async', async (t) => {
  const server = await startServer(t, { mtls: { certificate: async () => { await new Promise((resolve) => setImmediate(resolve)); return alice.certificatePem } } }, false)
  const token = await bound(server.issuer, alice.x5t)
  const res = await call(server, { authorization: `Bearer ${token}` })
  t.equal(res.status, 200)
  t.same(res.body.sender, { binding: 'mtls', x5t: alice.x5t })
})

t.test('contract: mtls.certificate returning null (or undefined) → 401 invalid_token, even with a TLS client certificate', async (t) => {
  for (const value of [null, undefined]) {
    const server = await startServer(t, { mtls: { certificate: () => value } })
    const token = await bound(server.issuer, alice.x5t)
    assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: alice }), /not presented/, String(value))
  }
})

t.test('contract: mtls.certificate is only called for certificate-bound tokens', async (t) => {
  let calls = 0
  const server = await startServer(t, { mtls: { certificate: () => { calls++; return alice.der } } }, false)
  const unbound = await server.issuer.mintAccessToken()
  t.equal((await call(server, { authorization: `Bearer ${unbound}` })).status, 200)
  t.equal(calls, 0)
})

t.test('mtls.certificate throwing → 401 invalid_token (never 500, never 200)', async (t) => {
  const server = await startServer(t, { mtls: { certificate: () => { throw new Error('bad header') } } }, false)
  server.app.log.level = 'silent'
  const token = await bound(server.issuer, alice.x5t)
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}` }), /not presented/)
})

t.test('mtls.certificate throwing an McpAuthError: that is the answer (a 503 stays a 503, Retry-After, no challenge)', async (t) => {
  const server = await startServer(t, { mtls: { certificate: () => { throw new McpAuthError('FST_MCP_AUTH_UNAVAILABLE', 'verifier.unavailable') } } }, false)
  const token = await bound(server.issuer, alice.x5t)
  const res = await call(server, { authorization: `Bearer ${token}` })
  t.equal(res.status, 503)
  t.equal(res.headers['www-authenticate'], undefined)
  t.match(res.headers['retry-after'], /^\d+$/)
  t.same(res.body, { error: 'temporarily_unavailable', error_description: 'The token could not be verified, retry later' })
})

t.test('RFC 8705 §3 / RFC 9449 §6 (MTLS-06): a token with both cnf.jkt and cnf["x5t#S256"] → 401 invalid_token', async (t) => {
  const server = await startServer(t)
  const key = await createDpopKey()
  const token = await server.issuer.mintAccessToken({ cnf: { jkt: key.jkt, 'x5t#S256': alice.x5t } })
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, cert: alice }), /conflicting/, 'certificate only')
  const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
  const res = await call(server, { authorization: `DPoP ${token}`, headers: { dpop: proof }, cert: alice })
  t.equal(res.status, 401, 'certificate and DPoP proof')
  const [bearer, dpop] = parseChallenges(res.headers['www-authenticate'])
  t.equal(bearer?.params.error, undefined)
  t.equal(dpop?.params.error, 'invalid_token', 'the error sits in the DPoP challenge (the scheme used)')
  t.equal(res.body.error, 'invalid_token')
})

t.test('RFC 8705 §3 (MTLS-06): an mTLS-bound token under the DPoP scheme with a valid proof → 401 invalid_token', async (t) => {
  const server = await startServer(t)
  const token = await bound(server.issuer, alice.x5t)
  const key = await createDpopKey()
  for (const cert of [undefined, alice]) {
    const proof = await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token })
    const res = await call(server, { authorization: `DPoP ${token}`, headers: { dpop: proof }, cert })
    t.equal(res.status, 401, cert === undefined ? 'no certificate' : 'with the matching certificate')
    const [bearer, dpop] = parseChallenges(res.headers['www-authenticate'])
    t.equal(bearer?.params.error, undefined)
    t.equal(dpop?.params.error, 'invalid_token')
    t.equal(res.body.error, 'invalid_token')
    t.notSame(res.body.sender, { binding: 'dpop', jkt: key.jkt })
  }
})

t.test('RFC 8705 §3: a cert-bound token on a plain HTTP listener (no TLS socket) → 401 invalid_token', async (t) => {
  const server = await startServer(t, {}, false)
  const token = await bound(server.issuer, alice.x5t)
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}` }), /not presented/)
  assertBearerInvalidToken(t, await call(server, { authorization: `Bearer ${token}`, headers: { 'x-ssl-client-cert': encodeURIComponent(alice.certificatePem) } }), /not presented/, 'a certificate header does not help')
})

t.test('createTestCa: the TLS layer accepts the issued client certificate (chain validation is the TLS layer\'s job)', async (t) => {
  const issuerCa = await createTestCa()
  const serverCertificate = await issuerCa.issueServerCertificate({ hosts: ['127.0.0.1'] })
  const client = await issuerCa.issueClientCertificate()
  const app = Fastify({ https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: issuerCa.certificatePem, requestCert: true, rejectUnauthorized: true } })
  t.teardown(() => app.close())
  app.get('/', async (request) => ({ authorized: (request.raw.socket as TLSSocket).authorized }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', ca: issuerCa.certificatePem, cert: client.certificatePem, key: client.keyPem, agent: false }, (res) => {
      let data = ''
      res.on('data', (chunk) => { data += String(chunk) })
      res.on('end', () => resolve(data))
    })
    req.on('error', reject)
    req.end()
  })
  t.same(JSON.parse(body), { authorized: true }, 'a strict server (rejectUnauthorized: true) accepts it, and the client accepted the server certificate')
})

t.test('createTestCa: an X.509 v3 CA, a client certificate (clientAuth) and a server certificate with IP and DNS names', async (t) => {
  const testCa = await createTestCa({ commonName: 'unit CA', days: 2 })
  const caCert = new X509Certificate(testCa.certificatePem)
  const client = await testCa.issueClientCertificate({ commonName: 'carol' })
  const clientCert = new X509Certificate(client.certificatePem)
  const server = new X509Certificate((await testCa.issueServerCertificate({ hosts: ['127.0.0.1', 'localhost', '::1'] })).certificatePem)
  t.equal(caCert.subject, 'CN=unit CA')
  t.equal(caCert.ca, true)
  t.equal(caCert.verify(caCert.publicKey), true, 'self-signed')
  t.equal(clientCert.subject, 'CN=carol')
  t.equal(clientCert.ca, false)
  t.ok(clientCert.checkIssued(caCert) && clientCert.verify(caCert.publicKey), 'issued and signed by the CA')
  t.same(clientCert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extendedKeyUsage clientAuth')
  t.same(Buffer.from(clientCert.raw), Buffer.from(client.der), 'der is the certificate')
  t.equal(client.x5t, createHash('sha256').update(clientCert.raw).digest('base64url'))
  t.ok(new Date(clientCert.validTo).getTime() - Date.now() > 1.9 * 86_400_000, 'days sets the validity')
  t.ok(new Date(clientCert.validFrom).getTime() <= Date.now(), 'already valid')
  t.equal(server.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1')
  t.same(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extendedKeyUsage serverAuth')
  t.not(client.x5t, (await testCa.issueClientCertificate({ commonName: 'carol' })).x5t, 'every certificate is new')
  await t.rejects(testCa.issueServerCertificate({ hosts: [] }), TypeError)
  await t.rejects(testCa.issueServerCertificate({ hosts: ['::ffff:127.0.0.1'] }), TypeError)
  await t.rejects(createTestCa({ days: 0 }), TypeError)
})
