// Authorization-server metadata discovery (lib/discovery.ts) against real
// loopback servers, with an injected clock: RFC 8414 path insertion, the OIDC
// fallback, the exact-issuer rule (ASM-02), https endpoints (ASM-03), caching,
// stale-while-revalidate (at most one background refresh per cooldown),
// staleIfError, coalescing, the fail-fast backoff and failures (XC-06).
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createIssuerMetadataCache } from '../../lib/discovery.js'
import type { DiscoveryOptions } from '../../lib/discovery.js'
import type { Logger } from '../../lib/logger.js'
import { startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer, StartTestIssuerOptions } from '../../testing.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

interface LogLine { level: string, obj: Record<string, unknown>, msg: string }

function recordingLogger (): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const log = (level: string) => (obj: object, msg: string): void => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}

function options (clock: { now: number }, logger: Logger, overrides: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return { timeoutMs: 2000, maxAgeMs: 600_000, staleIfErrorMs: 86_400_000, cooldownMs: 30_000, nowMs: () => clock.now, logger, ...overrides }
}

async function issuerFor (t: Tap, opts: StartTestIssuerOptions = {}): Promise<ServedTestIssuer> {
  const issuer = await startTestIssuer(opts)
  t.teardown(() => issuer.close())
  return issuer
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor (condition: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(5)
  }
}

function paths (issuer: ServedTestIssuer): string[] {
  return issuer.requests.map((r) => `${r.method} ${r.path}`)
}

function unavailable (reason = 'discovery.failed'): { code: string, [k: string]: unknown } {
  return { name: 'McpAuthError', code: 'FST_MCP_AUTH_UNAVAILABLE', statusCode: 503, oauthError: 'temporarily_unavailable', reason }
}

async function serve (t: Tap, handler: (req: IncomingMessage, res: ServerResponse, base: string) => void): Promise<{ url: string, hits: string[] }> {
  const hits: string[] = []
  let base = ''
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    handler(req, res, base)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: base, hits }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

t.test('ASM-01 / RFC 8414 §3.1: an issuer without a path → /.well-known/oauth-authorization-server', async (t) => {
  const issuer = await issuerFor(t)
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  const metadata = await cache.get(issuer.issuer)
  t.match(metadata, { issuer: issuer.issuer, jwks_uri: issuer.jwksUri, introspection_endpoint: `${issuer.url}/introspect` })
  t.ok(Object.isFrozen(metadata))
  t.same(paths(issuer), ['GET /.well-known/oauth-authorization-server'])
})

t.test('ASM-01 / RFC 8414 §3.1: an issuer with a path → well-known inserted before the path', async (t) => {
  const issuer = await issuerFor(t, { path: '/tenant1' })
  t.equal(issuer.issuer, `${issuer.url}/tenant1`)
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer, jwks_uri: `${issuer.url}/jwks/tenant1` })
  t.same(paths(issuer), ['GET /.well-known/oauth-authorization-server/tenant1'])
})

t.test('ASM-01 / OIDC Discovery §4: RFC 8414 answers 404 → /.well-known/openid-configuration', async (t) => {
  const issuer = await issuerFor(t, { discovery: 'openid' })
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer, jwks_uri: issuer.jwksUri })
  t.same(paths(issuer), ['GET /.well-known/oauth-authorization-server', 'GET /.well-known/openid-configuration'])
})

t.test('ASM-01: with a path, the OIDC fallback appends to the issuer', async (t) => {
  const issuer = await issuerFor(t, { discovery: 'openid', path: '/realms/acme' })
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer })
  t.same(paths(issuer), ['GET /.well-known/oauth-authorization-server/realms/acme', 'GET /realms/acme/.well-known/openid-configuration'])
})

t.test('the OpenID insertion variant is the last resort for issuers with a path', async (t) => {
  const server = await serve(t, (req, res, base) => {
    if (req.url === '/.well-known/openid-configuration/tenant1') return json(res, 200, { issuer: `${base}/tenant1`, jwks_uri: `${base}/keys` })
    json(res, 404, {})
  })
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  t.match(await cache.get(`${server.url}/tenant1`), { jwks_uri: `${server.url}/keys` })
  t.same(server.hits, [
    '/.well-known/oauth-authorization-server/tenant1',
    '/tenant1/.well-known/openid-configuration',
    '/.well-known/openid-configuration/tenant1',
  ])
})

t.test('no metadata anywhere (all 404) → 503 discovery.failed and an error log', async (t) => {
  const server = await serve(t, (_req, res) => json(res, 404, {}))
  const logger = recordingLogger()
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, logger))
  await t.rejects(cache.get(server.url), unavailable())
  t.same(server.hits, ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])
  t.match(logger.lines, [{ level: 'error', msg: 'mcp-auth: issuer metadata discovery failed', obj: { issuer: server.url, err: { message: /no authorization server metadata found/ } } }])
})

t.test('ASM-02 / RFC 8414 §3.3: a discovered issuer that differs → 503, not used, logged, no fallback', async (t) => {
  for (const wrong of ['https://auth.example.com', 'TRAILING-SLASH', 'UPPERCASE', undefined, 42]) {
    const issuer = await issuerFor(t)
    const value = wrong === 'TRAILING-SLASH' ? issuer.issuer + '/' : wrong === 'UPPERCASE' ? issuer.issuer.toUpperCase() : wrong
    issuer.metadata = { issuer: value }
    const logger = recordingLogger()
    const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, logger))
    await t.rejects(cache.get(issuer.issuer), unavailable(), `issuer ${JSON.stringify(value)}`)
    t.same(paths(issuer), ['GET /.well-known/oauth-authorization-server'], 'the OIDC location is not tried as a way around the mismatch')
    t.match(logger.lines, [{ level: 'error', msg: 'mcp-auth: issuer metadata discovery failed', obj: { issuer: issuer.issuer, err: { message: /names issuer/ } } }])
  }
})

t.test('ASM-03 / RFC 8414 §2: jwks_uri and introspection_endpoint must be https (http only on loopback)', async (t) => {
  const bad: Array<Record<string, unknown>> = [
    { jwks_uri: 'http://keys.example.com/jwks' },
    { jwks_uri: 'ftp://keys.example.com/jwks' },
    { jwks_uri: '/jwks' },
    { jwks_uri: 42 },
    { jwks_uri: null },
    { introspection_endpoint: 'http://auth.example.com/introspect' },
    // User info would reach log lines and the health route.
    { jwks_uri: 'https://id:secret@keys.example.com/jwks' },
  ]
  for (const override of bad) {
    const issuer = await issuerFor(t)
    issuer.metadata = override
    const logger = recordingLogger()
    const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, logger))
    await t.rejects(cache.get(issuer.issuer), unavailable(), JSON.stringify(override))
    t.match(logger.lines[0], { level: 'error', obj: { err: { message: /unacceptable (jwks_uri|introspection_endpoint) \(https required\)/ } } })
    t.notOk(JSON.stringify(logger.lines).includes('secret'), 'user info is never logged')
  }
  for (const ok of ['https://keys.example.com/jwks', 'http://localhost:9/jwks', 'http://127.0.0.1/jwks', 'http://[::1]/jwks']) {
    const issuer = await issuerFor(t)
    issuer.metadata = { jwks_uri: ok }
    const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
    t.match(await cache.get(issuer.issuer), { jwks_uri: ok }, ok)
  }
})

t.test('metadata is cached per issuer until cacheMaxAge, then refreshed in the background', async (t) => {
  const a = await issuerFor(t)
  const b = await issuerFor(t, { path: '/b' })
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const cache = createIssuerMetadataCache(options(clock, logger, { maxAgeMs: 60_000 }))
  const first = await cache.get(a.issuer)
  clock.now += 59_999
  t.equal(await cache.get(a.issuer), first, 'same document object')
  await cache.get(b.issuer)
  await sleep(20)
  t.equal(a.requests.length, 1, 'no fetch before cacheMaxAge')
  t.equal(b.requests.length, 1, 'one cache entry per issuer')
  clock.now += 1
  a.metadata = { service_documentation: 'https://docs.example.com' }
  t.equal(await cache.get(a.issuer), first, 'at cacheMaxAge the cached document still answers at once')
  await waitFor(async () => (await cache.get(a.issuer)) !== first)
  t.match(await cache.get(a.issuer), { issuer: a.issuer, service_documentation: 'https://docs.example.com' }, 'refreshed in the background at cacheMaxAge')
  t.equal(a.requests.length, 2, 'exactly one refresh')
  t.equal(b.requests.length, 1, 'the other issuer is untouched')
  t.same(logger.lines, [], 'nothing logged for a successful refresh')
})

t.test('concurrent lookups share one fetch', async (t) => {
  const server = await serve(t, (_req, res, base) => { setTimeout(() => json(res, 200, { issuer: base, jwks_uri: `${base}/jwks` }), 50) })
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  const results = await Promise.all(Array.from({ length: 10 }, () => cache.get(server.url)))
  t.ok(results.every((r) => r === results[0]))
  t.same(server.hits, ['/.well-known/oauth-authorization-server'])
})

t.test('staleIfError: a stale document serves while the issuer is down, up to cacheMaxAge + staleIfError', async (t) => {
  const issuer = await issuerFor(t)
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const cache = createIssuerMetadataCache(options(clock, logger, { maxAgeMs: 60_000, staleIfErrorMs: 120_000 }))
  const warnings = (): LogLine[] => logger.lines.filter((l) => l.level === 'warn')
  const first = await cache.get(issuer.issuer)
  issuer.failure = true
  clock.now += 60_000
  t.equal(await cache.get(issuer.issuer), first, 'stale document served')
  await waitFor(() => warnings().length >= 1)
  t.match(logger.lines, [{ level: 'warn', msg: 'mcp-auth: issuer metadata refresh failed, using the cached document', obj: { issuer: issuer.issuer, err: { message: /unexpected response 503/ } } }])
  t.equal(issuer.requests.length, 2, 'one background refresh')

  const bound = 1_000_000 + 60_000 + 120_000
  clock.now = bound - 1
  t.equal(await cache.get(issuer.issuer), first, 'still served just inside the bound')
  await waitFor(() => warnings().length >= 2) // a cooldown has passed: another background refresh, which fails
  t.equal(issuer.requests.length, 3)

  clock.now = bound
  await t.rejects(cache.get(issuer.issuer), unavailable(), 'dropped at cacheMaxAge + staleIfError')
  t.equal(issuer.requests.length, 3, 'the last fetch failed < 2 s ago: 503 at once, no new fetch')
  t.notOk(logger.lines.some((l) => l.level === 'error'), 'the fast 503 does not log again')

  issuer.failure = false
  clock.now = bound - 1 + 1999
  await t.rejects(cache.get(issuer.issuer), unavailable(), 'still inside the failure backoff although the issuer is back')
  t.equal(issuer.requests.length, 3)
  clock.now = bound - 1 + 2000
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer }, 'recovers once min(cooldown, 2 s) has passed')
  t.equal(issuer.requests.length, 4)
})

t.test('a down issuer is not hammered: a stale document is refreshed at most once per cooldown', async (t) => {
  const issuer = await issuerFor(t)
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const warnings = (): number => logger.lines.filter((l) => l.level === 'warn').length
  const cache = createIssuerMetadataCache(options(clock, logger, { maxAgeMs: 60_000, cooldownMs: 30_000 }))
  const first = await cache.get(issuer.issuer)
  issuer.failure = true
  clock.now += 60_001
  const firstAttempt = clock.now
  for (let i = 0; i < 10; i++) {
    t.equal(await cache.get(issuer.issuer), first, `lookup ${i}: the stale document`)
    await sleep(20) // let any background refresh reach the issuer and fail before the next lookup
    clock.now += 2_000 // 10 lookups over 20 s: all inside one 30 s cooldown
  }
  await waitFor(() => warnings() >= 1)
  const refetches = issuer.requests.length - 1
  t.equal(refetches, 1, `10 lookups with a stale document and a down issuer caused ${refetches} refetches (want exactly 1 per cooldown)`)
  t.equal(warnings(), 1)

  clock.now = firstAttempt + 30_000
  t.equal(await cache.get(issuer.issuer), first)
  await waitFor(() => warnings() >= 2)
  t.equal(issuer.requests.length, 3, 'the next refresh goes out once the cooldown since the failed attempt has passed')
})

t.test('a stale document is served without waiting for a hanging issuer (refresh off the request path)', async (t) => {
  const issuer = await issuerFor(t)
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const cache = createIssuerMetadataCache(options(clock, logger, { maxAgeMs: 60_000, timeoutMs: 60_000 }))
  const first = await cache.get(issuer.issuer)
  issuer.failure = 'hang'
  clock.now += 60_001
  t.equal(await cache.get(issuer.issuer), first)
  await waitFor(() => issuer.requests.length === 2)
  // The refresh hangs for up to 60 s and has not ended: the lookup did not wait for it.
  t.same(logger.lines, [], 'answered while the refresh is still in flight')
  t.equal(cache.status(issuer.issuer).cause, undefined)
})

t.test('XC-06: issuer failures are outages (503)', async (t) => {
  const cases: Array<[string, (req: IncomingMessage, res: ServerResponse, base: string) => void]> = [
    ['503 at the RFC 8414 location', (_q, r) => json(r, 503, {})],
    ['500 at the RFC 8414 location', (_q, r) => json(r, 500, {})],
    ['200 with HTML', (_q, r) => { r.writeHead(200, { 'content-type': 'text/html' }); r.end('<html></html>') }],
    ['200 with a JSON array', (_q, r) => json(r, 200, [])],
    ['a redirect', (_q, r, base) => { r.writeHead(302, { location: `${base}/elsewhere` }); r.end() }],
    ['a connection reset', (q) => { q.socket.destroy() }],
  ]
  for (const [name, handler] of cases) {
    const server = await serve(t, handler)
    const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
    await t.rejects(cache.get(server.url), unavailable(), name)
    t.notOk(server.hits.includes('/elsewhere'), `${name}: no redirect followed`)
  }
})

t.test('XC-06: a hanging issuer → 503 within the timeout; recovery resumes service', async (t) => {
  const issuer = await issuerFor(t)
  issuer.failure = 'hang'
  const clock = { now: 1_000_000 }
  // 1 s: the hang ends by the timeout, and the recovery fetch has room on a busy machine.
  const cache = createIssuerMetadataCache(options(clock, recordingLogger(), { timeoutMs: 1000 }))
  await t.rejects(cache.get(issuer.issuer), unavailable())
  t.equal(cache.status(issuer.issuer).cause, 'timeout', 'the timeout ended the wait')
  issuer.failure = false
  await t.rejects(cache.get(issuer.issuer), unavailable(), 'right after the failure: 503 without a new fetch')
  t.equal(issuer.requests.length, 1)
  clock.now += 2000
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer }, 'after the failure backoff: recovered')
  t.equal(issuer.requests.length, 2)
})

t.test('nothing usable after a failed fetch: 503 at once, without a fetch, for min(cooldown, 2 s); then a new fetch', async (t) => {
  const cases: Array<[number, number]> = [[30_000, 2000], [2000, 2000], [500, 500], [1, 1]]
  for (const [cooldownMs, backoff] of cases) {
    const issuer = await issuerFor(t)
    issuer.failure = true
    const clock = { now: 1_000_000 }
    const logger = recordingLogger()
    const cache = createIssuerMetadataCache(options(clock, logger, { cooldownMs }))
    await t.rejects(cache.get(issuer.issuer), unavailable(), `cooldown ${cooldownMs}: the first fetch fails`)
    t.equal(issuer.requests.length, 1)
    t.match(logger.lines, [{ level: 'error', msg: 'mcp-auth: issuer metadata discovery failed', obj: { issuer: issuer.issuer } }])

    issuer.failure = false
    clock.now += backoff - 1
    await t.rejects(cache.get(issuer.issuer), unavailable(), `cooldown ${cooldownMs}: 503 ${backoff - 1} ms after the failure`)
    t.equal(issuer.requests.length, 1, `cooldown ${cooldownMs}: no fetch inside the ${backoff} ms backoff`)

    clock.now += 1
    t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer }, `cooldown ${cooldownMs}: fetched once ${backoff} ms have passed`)
    t.equal(issuer.requests.length, 2)
  }
})

t.test('cooldown 0: no failure backoff, every lookup with nothing usable fetches again', async (t) => {
  const issuer = await issuerFor(t)
  issuer.failure = true
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger(), { cooldownMs: 0 }))
  await t.rejects(cache.get(issuer.issuer), unavailable())
  await t.rejects(cache.get(issuer.issuer), unavailable())
  t.equal(issuer.requests.length, 2)
  issuer.failure = false
  t.match(await cache.get(issuer.issuer), { issuer: issuer.issuer }, 'recovers on the very next lookup')
})

t.test('issue 15 item 8: after the backoff one lookup retries; others arriving while it is in flight get 503 at once', async (t) => {
  let fail = true
  const server = await serve(t, (_req, res, base) => {
    if (fail) return json(res, 503, {})
    setTimeout(() => json(res, 200, { issuer: base, jwks_uri: `${base}/jwks` }), 50)
  })
  const clock = { now: 1_000_000 }
  const cache = createIssuerMetadataCache(options(clock, recordingLogger()))
  await t.rejects(cache.get(server.url), unavailable())
  t.equal(cache.status(server.url).cause, 'http_503')
  fail = false
  clock.now += 2000
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.get(server.url)))
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected'])
  t.equal(server.hits.length, 2, 'one retry')
  t.match(cache.status(server.url), { fetchedAt: clock.now, cause: undefined, metadata: { issuer: server.url } })
})

t.test('past cacheMaxAge + staleIfError a lookup waits for the fetch, joining a background refresh in flight', async (t) => {
  let version = 1
  const server = await serve(t, (_req, res, base) => {
    const body = { issuer: base, jwks_uri: `${base}/jwks`, version }
    setTimeout(() => json(res, 200, body), 50)
  })
  const clock = { now: 1_000_000 }
  const cache = createIssuerMetadataCache(options(clock, recordingLogger(), { maxAgeMs: 60_000, staleIfErrorMs: 60_000 }))
  const first = await cache.get(server.url)
  version = 2
  clock.now += 60_000
  t.equal(await cache.get(server.url), first, 'stale: answered at once, a background refresh starts')
  clock.now += 60_000 // past the bound while that refresh is still in flight
  const second = await cache.get(server.url)
  t.not(second, first, 'an expired document is never returned')
  t.match(second, { version: 2 }, 'the lookup waited for the fetch')
  t.same(server.hits, ['/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server'], 'it joined the refresh in flight')
})

t.test('XC-06: connection refused → 503', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  await t.rejects(cache.get(`http://127.0.0.1:${port}`), unavailable())
})

t.test('an oversized metadata document → 503', async (t) => {
  const server = await serve(t, (_req, res, base) => json(res, 200, { issuer: base, jwks_uri: `${base}/jwks`, pad: 'x'.repeat(1024 * 1024) }))
  const cache = createIssuerMetadataCache(options({ now: 1_000_000 }, recordingLogger()))
  await t.rejects(cache.get(server.url), unavailable())
})

t.test('tenants\' issuers share a bounded LRU (maxIssuers); configured issuers are never evicted; fetches go through the shared limit', async (t) => {
  const server = await serve(t, (req, res, base) => {
    const issuer = base + (req.url ?? '').replace('/.well-known/oauth-authorization-server', '')
    json(res, 200, { issuer, jwks_uri: `${issuer}/jwks` })
  })
  const clock = { now: 1_000_000 }
  let limited = 0
  const limit = { run: <T>(fetch: () => Promise<T>): Promise<T> => { limited++; return fetch() } }
  const configured = `${server.url}/configured`
  const cache = createIssuerMetadataCache(options(clock, recordingLogger(), { pinned: new Set([configured]), maxIssuers: 2, limit }))
  await cache.get(configured)
  for (const tenant of ['a', 'b', 'c']) await cache.get(`${server.url}/${tenant}`)
  t.same(cache.tenantIssuers().sort(), [`${server.url}/b`, `${server.url}/c`], 'two tenants\' issuers held; a evicted; the configured one apart')
  t.equal(cache.status(`${server.url}/a`).metadata, undefined)
  t.equal(cache.status(configured).metadata?.issuer, configured)
  t.equal(cache.status(`${server.url}/c`).attemptedAt, 1_000_000, 'when it was last fetched (health reports recent ones)')
  await cache.get(`${server.url}/a`)
  t.equal(server.hits.filter((h) => h.endsWith('/a')).length, 2, 'an evicted issuer is fetched again')
  await cache.get(configured)
  t.equal(server.hits.filter((h) => h.endsWith('/configured')).length, 1, 'the configured issuer never was evicted')
  t.equal(limited, 5, 'every fetch went through the limit')
})

t.test('the key resolver reports tenants\' issuers fetched within recentMs, then no more', async (t) => {
  const { createKeyResolver } = await import('../../lib/key-resolver.js')
  const issuer = await issuerFor(t)
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const discovery = createIssuerMetadataCache(options(clock, logger))
  const keys = createKeyResolver({
    source: { kind: 'discovery' },
    remote: { timeoutMs: 2000, cooldownMs: 30_000, maxAgeMs: 600_000, staleIfErrorMs: 86_400_000, nowMs: () => clock.now, logger },
    discovery,
    issuers: new Set(),
    recentMs: 60_000,
  })
  await keys.keyFor(issuer.issuer)
  clock.now += 60_000
  t.match(keys.status(), [{ issuer: issuer.issuer, uri: issuer.jwksUri, tenant: true }], 'its metadata fetched cacheTtl ago: reported')
  clock.now += 1
  t.same(keys.status(), [], 'longer ago: no longer reported')
})
