// assertMtlsBindingEnforced over real TLS: passes on mcpAuth, fails on servers
// that accept a certificate-bound token without its certificate.
import { createHash } from 'node:crypto'
import { decodeJwt } from 'jose'
import t from 'tap'
import { assertMtlsBindingEnforced, createTestCa, createTestIssuer } from '../../testing.js'
import { RESOURCE, droppingCnf, failsWith, firstFrame, headerOrSocket, httpsApp, fixedHttps, ca } from './fixtures.js'

t.test('assertMtlsBindingEnforced passes on mcpAuth over real TLS and returns the accepted response', async (t) => {
  const { url, issuer } = await httpsApp(t)
  const res = await assertMtlsBindingEnforced({ url, issuer, ca })
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).sender.binding, 'mtls')
  const post = await assertMtlsBindingEnforced({ url, issuer, ca, method: 'POST', payload: { jsonrpc: '2.0', id: 1 }, serverCa: [ca.certificatePem], headers: { 'x-test': '1' } })
  t.equal(post.statusCode, 200, 'POST with a JSON payload')
  const withString = await assertMtlsBindingEnforced({ url, issuer, ca, method: 'POST', payload: 'text', headers: { 'content-type': 'text/plain' } })
  t.equal(withString.statusCode, 200, 'POST with a string payload')

  const unnamed = await createTestIssuer()
  const discovered = await httpsApp(t, { issuer: unnamed })
  t.equal((await assertMtlsBindingEnforced({ url: discovered.url, issuer: unnamed, ca })).statusCode, 200, 'the resource found from the 401, over TLS')
})

t.test('assertMtlsBindingEnforced fails when a certificate-bound token is accepted without or with another certificate', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const broken = await httpsApp(t, { auth: droppingCnf(issuer), issuer })
  const err = await failsWith(t, () => assertMtlsBindingEnforced({ url: broken.url, issuer, ca }), [
    /^assertMtlsBindingEnforced: a certificate-bound token presented with no client certificate must be rejected with 401 invalid_token/,
    /status: expected 401, got 200/,
    /client certificate: no client certificate/,
    /authorization: Bearer eyJ[\w-]{9}…/,
  ], 'a verifier that drops cnf')
  t.notMatch(err?.message, /eyJ[\w-]{20,}\.eyJ/)

  // Checks only that some certificate is present: the third step must catch it.
  const onlyPresence = await fixedHttps(t, (request) => request.socket.getPeerCertificate?.()?.raw === undefined ? 'reject' : 'accept')
  await failsWith(t, () => assertMtlsBindingEnforced({ url: onlyPresence, issuer, ca }), [
    /presented with another client certificate from the same CA must be rejected/, /status: expected 401, got 200/,
  ], 'a server that accepts any client certificate')
})

t.test('assertMtlsBindingEnforced fails when the bound certificate is refused, with a hint', async (t) => {
  const untrusted = await createTestIssuer({ audience: RESOURCE })
  const { url } = await httpsApp(t)
  await failsWith(t, () => assertMtlsBindingEnforced({ url, issuer: untrusted, ca }), [
    /presented with the bound client certificate must be accepted/, /status: expected 2xx, got 401/, /hint: does the app trust the issuer/,
  ], 'an issuer the app does not trust')
  const open = await httpsApp(t, { auth: false })
  await failsWith(t, () => assertMtlsBindingEnforced({ url: open.url, issuer: untrusted, ca }), [/no client certificate must be rejected/, /status: expected 401, got 200/], 'no authentication')
})

t.test('assertMtlsBindingEnforced reports TLS failures and refuses a non-https url', async (t) => {
  const strict = await httpsApp(t, { rejectUnauthorized: true })
  await failsWith(t, () => assertMtlsBindingEnforced({ url: strict.url, issuer: strict.issuer, ca }), [
    /no client certificate must be rejected/, /the request failed: /, /hint: a server with rejectUnauthorized: true ends the TLS handshake/,
  ], 'a server that ends the handshake without a certificate')
  const other = await createTestCa()
  await failsWith(t, () => assertMtlsBindingEnforced({ url: strict.url, issuer: strict.issuer, ca, serverCa: other.certificatePem }), [
    /the bound client certificate must be accepted/, /the request failed: /, /hint: does the server trust the CA/,
  ], 'a server certificate the client cannot verify')
  await t.rejects(assertMtlsBindingEnforced({ url: 'http://127.0.0.1:1/mcp', issuer: strict.issuer, ca }), TypeError)
})

const base64Der = (value: string): Buffer => Buffer.from(value, 'base64')
/** Each usual proxy header, read the way the proxy that sets it encodes the certificate. */
const PROXY_HEADERS: Array<[string, (value: string) => string | Buffer]> = [
  ['x-client-cert', decodeURIComponent],
  ['x-ssl-client-cert', decodeURIComponent],
  ['ssl-client-cert', decodeURIComponent],
  ['x-forwarded-client-cert', (value) => decodeURIComponent(/Cert="([^"]+)"/.exec(value)?.[1] ?? '')],
  ['client-cert', (value) => base64Der(value.slice(1, -1))],
  ['x-amzn-mtls-clientcert', decodeURIComponent],
  ['x-arr-clientcert', base64Der],
  ['x-client-certificate', base64Der],
]

t.test('assertMtlsBindingEnforced fails when the app takes the bound certificate from any usual proxy header (RFC 8705 §3: from the TLS layer)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  for (const [name, decode] of PROXY_HEADERS) {
    const { url } = await httpsApp(t, { issuer, auth: { mtls: { certificate: headerOrSocket(name, decode) } } })
    await failsWith(t, () => assertMtlsBindingEnforced({ url, issuer, ca }), [
      /^assertMtlsBindingEnforced: a certificate-bound token with the bound certificate only in proxy headers \(no client certificate\) must be rejected with 401 invalid_token/,
      new RegExp(`client certificate: none on the connection; headers sent: .*${name}`),
      /fix: the server took the client certificate from a request header any client can set: read it from the TLS connection .* name that header in trustedProxyHeader/,
      new RegExp(`${name}: \\S{1,60}…`),
    ], `${name}, in its usual encoding`)
    // The trusted proxy's own header is not sent; the others still must not help.
    await assertMtlsBindingEnforced({ url, issuer, ca, trustedProxyHeader: name.toUpperCase() })
  }
})

t.test('assertMtlsBindingEnforced fails when a certificate-bound token is accepted under the DPoP scheme (MTLS-06)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  // Checks the certificate under Bearer, and nothing under DPoP.
  const dpopAlways = await fixedHttps(t, (request) => {
    const [scheme, token = ''] = String(request.headers.authorization).split(' ')
    if (scheme === 'DPoP') return 'accept'
    const raw = request.socket.getPeerCertificate?.()?.raw
    const bound = (decodeJwt(token).cnf as Record<string, string> | undefined)?.['x5t#S256']
    return raw !== undefined && createHash('sha256').update(raw).digest('base64url') === bound ? 'accept' : 'reject'
  })
  const err = await failsWith(t, () => assertMtlsBindingEnforced({ url: dpopAlways, issuer, ca, timeout: 5000 }), [
    /^assertMtlsBindingEnforced: a certificate-bound token under the DPoP scheme with a valid proof \(no client certificate\) must be rejected with 401/,
    /authorization: DPoP eyJ/, /dpop: eyJ/,
    /fix: the server accepted a certificate-bound token under the DPoP scheme/,
  ], 'the DPoP scheme with a valid proof')
  t.match(firstFrame(err), /mtls-binding\.test\.ts:\d+/, 'the stack starts at the caller')
  // mcpAuth refuses it with invalid_token in the DPoP challenge; with DPoP off, DPoP is an unsupported scheme (401, no error).
  const { url } = await httpsApp(t, { issuer })
  await assertMtlsBindingEnforced({ url, issuer, ca, publicUrl: RESOURCE })
  const off = await httpsApp(t, { issuer, auth: { dpop: false } })
  await assertMtlsBindingEnforced({ url: off.url, issuer, ca })
  const urn = await createTestIssuer({ audience: 'urn:example:mcp' })
  await t.rejects(assertMtlsBindingEnforced({ url, issuer: urn, ca }), /status: expected 2xx, got 401/, 'a non-URL resource fails first where the app refuses its aud')
})
