// Credential extraction and the no-credentials / invalid_request rows of the wire table.
import t from 'tap'
import type { McpAuthOptions } from '../../index.js'
import { buildApp, parseChallenges, PRM, rejectedReasons } from '../helpers/app.js'
import type { Teardown } from '../helpers/app.js'

/** buildApp, and the reason each rejection logged (docs/errors.md). */
async function appWithReasons (t: Teardown, options: Partial<McpAuthOptions> = {}) {
  const logs: string[] = []
  const built = await buildApp(t, options, undefined, undefined, logs)
  return { ...built, lastReason: () => rejectedReasons(logs).at(-1) }
}

t.test('RFC 6750 §3.1: no credentials → 401, Bearer then DPoP challenge, no error param', async (t) => {
  const { app, lastReason } = await appWithReasons(t)
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(res.statusCode, 401)
  t.equal(lastReason(), 'credentials.missing')
  t.equal(res.headers['cache-control'], 'no-store')
  const [bearer, dpop, ...rest] = parseChallenges(res.headers['www-authenticate'])
  t.equal(rest.length, 0)
  t.equal(bearer?.scheme, 'Bearer')
  t.same(bearer?.params, { resource_metadata: PRM })
  t.equal(dpop?.scheme, 'DPoP')
  t.same(dpop?.params, { algs: 'ES256 ES384 PS256 RS256 EdDSA', resource_metadata: PRM })
  t.same(res.json(), { error: 'unauthorized', error_description: 'An access token is required' })
  t.match(res.headers['content-type'], /^application\/json/)
})

t.test('the 401 names the scopes the route declares through requireScopes', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'POST', url: '/mcp' })
  t.equal(res.statusCode, 401)
  const challenges = parseChallenges(res.headers['www-authenticate'])
  t.equal(challenges[0]?.params.scope, 'mcp:tools:call')
  t.equal(challenges[0]?.params.error, undefined)
})

t.test('routes without declared scopes fall back to the resource scopesSupported', async (t) => {
  const { app } = await buildApp(t, {
    resource: { resource: 'https://mcp.example.com/mcp', scopesSupported: ['mcp:tools:read', 'offline_access'] },
  })
  const res = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.scope, 'mcp:tools:read', 'offline_access is never advertised')
})

t.test('RFC 9110 §11.1: the scheme is case-insensitive; several spaces are allowed', async (t) => {
  const { app, issuer } = await buildApp(t)
  const token = await issuer.mintAccessToken()
  for (const header of [`bearer ${token}`, `BEARER ${token}`, `bEaReR ${token}`, `Bearer   ${token}`]) {
    const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: header } })
    t.equal(res.statusCode, 200, header.slice(0, 9))
  }
})

t.test('RFC 6750 §3.1: an unsupported scheme is no credentials (401 without error)', async (t) => {
  const { app, lastReason } = await appWithReasons(t, { dpop: false })
  for (const header of ['Basic dXNlcjpwYXNz', 'Token abc', 'Digest x', 'DPoP abc', 'Beaver abc', 'Bearerx abc', 'Bear abc']) {
    const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: header } })
    t.equal(res.statusCode, 401, header)
    t.equal(lastReason(), 'credentials.unsupported_scheme', header)
    const [bearer, ...rest] = parseChallenges(res.headers['www-authenticate'])
    t.equal(bearer?.params.error, undefined, header)
    t.equal(rest.length, 0, 'dpop: false offers only Bearer')
  }
})

t.test('RFC 6750 §2.1: a malformed Bearer credential → 400 invalid_request', async (t) => {
  const { app, issuer, lastReason } = await appWithReasons(t)
  const token = await issuer.mintAccessToken()
  // A scheme ends at any whitespace; only a space may follow it (credentials = auth-scheme 1*SP token68).
  const cases = ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer "abc"', `Bearer\t${token}`, 'Bearer\u00a0abc', 'Bearer\u2003abc', 'Bearer ab=c', 'Bearer é']
  for (const header of cases) {
    const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: header } })
    t.equal(res.statusCode, 400, JSON.stringify(header))
    t.equal(lastReason(), 'credentials.malformed', JSON.stringify(header))
    t.equal(res.json().error, 'invalid_request')
    const [bearer, dpop] = parseChallenges(res.headers['www-authenticate'])
    t.equal(bearer?.params.error, 'invalid_request')
    t.equal(dpop?.params.error, 'invalid_request', 'RFC 9449 Figure 19: both challenges')
    t.equal(bearer?.params.resource_metadata, PRM)
  }
})

t.test('a token ending in "=" padding is well-formed and reaches verification', async (t) => {
  const { app, lastReason } = await appWithReasons(t)
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer abc==' } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_token')
  t.equal(lastReason(), 'token.malformed', 'refused by the JWT verifier, not the credential syntax')
})

t.test('the token size cap → 400 invalid_request', async (t) => {
  const { app, lastReason } = await appWithReasons(t, { maxTokenLength: 1000 })
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer ' + 'a'.repeat(1001) } })
  t.equal(res.statusCode, 400)
  t.match(res.json().error_description, /size limit/)
  t.equal(lastReason(), 'credentials.too_large')
  const limit = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: 'Bearer ' + 'a'.repeat(1000) } })
  t.equal(limit.statusCode, 401, 'the limit itself is allowed')
  t.equal(lastReason(), 'token.malformed')
})

t.test('MCP: a token in the query string → 400 invalid_request, alone or beside a header', async (t) => {
  const { app, issuer, lastReason } = await appWithReasons(t)
  const token = await issuer.mintAccessToken()
  const alone = await app.inject({ method: 'GET', url: `/mcp?access_token=${token}` })
  t.equal(alone.statusCode, 400)
  t.match(alone.json().error_description, /query/)
  t.equal(lastReason(), 'credentials.in_query')
  const beside = await app.inject({ method: 'GET', url: `/mcp?x=1&access_token=${token}`, headers: { authorization: `Bearer ${token}` } })
  t.equal(beside.statusCode, 400)
  t.equal(lastReason(), 'credentials.in_query')
  t.equal(parseChallenges(beside.headers['www-authenticate'])[0]?.params.error, 'invalid_request')
  const other = await app.inject({ method: 'GET', url: '/mcp?token=1', headers: { authorization: `Bearer ${token}` } })
  t.equal(other.statusCode, 200, 'other query parameters are fine')
})

t.test('RFC 6750 §2.2: a token only in a form body is not a credential → 401 without error', async (t) => {
  const { app, issuer, lastReason } = await appWithReasons(t)
  const token = await issuer.mintAccessToken({ scope: 'mcp:tools:call' })
  const res = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${token}`,
  })
  t.equal(res.statusCode, 401)
  t.equal(lastReason(), 'credentials.missing')
  t.equal(parseChallenges(res.headers['www-authenticate'])[0]?.params.error, undefined)
})

t.test('two Authorization field lines → 400 invalid_request (Node keeps only the first in req.headers)', async (t) => {
  const { app, issuer, lastReason } = await appWithReasons(t)
  const token = await issuer.mintAccessToken()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const net = await import('node:net')
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET /mcp HTTP/1.1\r\nHost: mcp.example.com\r\nAuthorization: Bearer ${token}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`)
    })
    let data = ''
    socket.on('data', (chunk) => { data += chunk.toString() })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
  t.match(raw, /^HTTP\/1\.1 400 /)
  t.match(raw, /error="invalid_request"/)
  t.equal(lastReason(), 'credentials.duplicate')
})

t.test('OPTIONS (CORS preflight) and opted-out routes are never authenticated', async (t) => {
  const { app } = await buildApp(t)
  app.log.level = 'silent'
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/mcp',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, dpop' },
  })
  t.not(preflight.statusCode, 401)
  const pub = await app.inject({ method: 'GET', url: '/public' })
  t.equal(pub.statusCode, 200)
  t.same(pub.json(), { mcp: null }, 'request.mcp is null on public routes')
})

t.test('unknown paths need credentials (401), except unknown well-known paths (404)', async (t) => {
  const { app, lastReason } = await appWithReasons(t)
  const unknown = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(unknown.statusCode, 401)
  t.equal(lastReason(), 'credentials.missing')
  const wellKnown = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(wellKnown.statusCode, 404)
})

t.test('a 401 answering a CORS request exposes WWW-Authenticate and DPoP-Nonce', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/mcp', headers: { origin: 'https://app.example' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce')
  const noOrigin = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(noOrigin.headers['access-control-expose-headers'], undefined)
})
