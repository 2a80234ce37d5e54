// Remote JWKS (lib/jwks.ts) and the outbound HTTP helper (lib/http.ts), against
// a real loopback server, with an injected clock and a recording logger:
// caching, stale-while-revalidate (at most one background refresh per cooldown),
// the staleIfError bound, coalescing, the unknown-kid cooldown (JWT-15), the
// fail-fast backoff after a failed fetch, and every way a fetch can fail (XC-06).
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { compactVerify, errors } from 'jose'
import t from 'tap'
import { McpAuthError } from '../../lib/errors.js'
import { FetchFailure } from '../../lib/fetch-failure.js'
import { fetchJson, isJsonObject } from '../../lib/http.js'
import { createRemoteJwks } from '../../lib/jwks.js'
import type { RemoteJwksOptions } from '../../lib/jwks.js'
import type { Logger } from '../../lib/logger.js'
import { createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]
type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface TestServer {
  readonly url: string
  /** Paths requested, in order. */
  readonly hits: string[]
  readonly headers: IncomingMessage['headers'][]
  handler: Handler
}

async function serve (t: Tap, handler: Handler): Promise<TestServer> {
  const hits: string[] = []
  const headers: IncomingMessage['headers'][] = []
  const state = { handler }
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    headers.push(req.headers)
    state.handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.defineProperty({ url, hits, headers } as unknown as TestServer, 'handler', {
    get: () => state.handler,
    set: (h: Handler) => { state.handler = h },
  })
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

/** Serves the issuer's current JWKS at /jwks; `mode` switches faults. */
function jwksHandler (issuer: TestIssuer, state: { mode: 'ok' | 'fail' | 'hang' | 'slow' }): Handler {
  return (_req, res) => {
    if (state.mode === 'hang') return
    if (state.mode === 'fail') return json(res, 503, { error: 'down' })
    if (state.mode === 'slow') {
      setTimeout(() => json(res, 200, issuer.jwks), 50)
      return
    }
    json(res, 200, issuer.jwks)
  }
}

interface LogLine { level: string, obj: object, msg: string }

function recordingLogger (): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const log = (level: string) => (obj: object, msg: string): void => { lines.push({ level, obj, msg }) }
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}

interface Clock { now: number }

function options (clock: Clock, logger: Logger, overrides: Partial<RemoteJwksOptions> = {}): RemoteJwksOptions {
  return {
    timeoutMs: 2000,
    cooldownMs: 30_000,
    maxAgeMs: 600_000,
    staleIfErrorMs: 86_400_000,
    nowMs: () => clock.now,
    logger,
    ...overrides,
  }
}

async function verify (token: string, getKey: Parameters<typeof compactVerify>[1]): Promise<unknown> {
  return compactVerify(token, getKey as never)
}

async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor (condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function unavailable (reason: string): { code: string, [k: string]: unknown } {
  return { name: 'McpAuthError', code: 'FST_MCP_AUTH_UNAVAILABLE', statusCode: 503, oauthError: 'temporarily_unavailable', reason }
}

t.test('JWT-15: keys are fetched once and cached until cacheMaxAge', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'ok' }))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger()))
  t.match(remote.status(), { uri: `${server.url}/jwks`, fetchedAt: undefined, cause: undefined })
  for (let i = 0; i < 5; i++) {
    await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
    clock.now += 60_000
  }
  t.same(server.hits, ['/jwks'], 'one fetch for five verifications within cacheMaxAge')
  t.match(server.headers[0], { accept: 'application/json' })
  t.match(remote.status(), { uri: `${server.url}/jwks`, fetchedAt: 1_000_000, cause: undefined })
})

t.test('concurrent first requests share one fetch (one request in flight)', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'slow' }))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger()))
  const tokens = await Promise.all(Array.from({ length: 10 }, () => issuer.mintAccessToken()))
  await Promise.all(tokens.map((token) => verify(token, remote.keySet.getKey)))
  t.same(server.hits, ['/jwks'])
})

t.test('concurrent failing first requests share one fetch and all get 503', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, (_req, res) => { setTimeout(() => json(res, 500, {}), 30) })
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, logger))
  const token = await issuer.mintAccessToken()
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => verify(token, remote.keySet.getKey)))
  t.same(server.hits, ['/jwks'])
  for (const result of results) {
    t.equal(result.status, 'rejected')
    t.match((result as PromiseRejectedResult).reason, unavailable('jwks.unreachable'))
  }
  t.ok(logger.lines.some((l) => l.level === 'error' && l.msg === 'mcp-auth: JWKS fetch failed'), 'the failure is logged at error level')
})

t.test('stale-while-revalidate: past cacheMaxAge the cached keys answer at once and a background fetch refreshes them', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, logger, { maxAgeMs: 60_000, timeoutMs: 300 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)

  clock.now += 60_001
  state.mode = 'hang'
  // A request waiting for the hanging fetch could only fail (503 at the timeout): resolving proves it did not wait.
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.pass('served from the stale keys without waiting for the hanging endpoint')
  await waitFor(() => server.hits.length >= 2)
  t.same(server.hits, ['/jwks', '/jwks'], 'a background refresh started')
  const refreshStartedAt = clock.now

  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  await sleep(30)
  t.equal(server.hits.length, 2, 'no second background fetch while one is in flight')

  await waitFor(() => logger.lines.some((l) => l.level === 'warn'))
  t.match(logger.lines.find((l) => l.level === 'warn'), { msg: 'mcp-auth: JWKS background refresh failed, keeping cached keys' })
  t.match(remote.status(), { fetchedAt: 1_000_000, cause: 'timeout' })

  // The endpoint is back, but the failed refresh started less than a cooldown ago:
  // the stale keys keep serving and no new refresh goes out yet.
  state.mode = 'ok'
  clock.now = refreshStartedAt + 30_000 - 1
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  await sleep(30)
  t.equal(server.hits.length, 2, 'no background refresh inside the cooldown after the failed one')

  clock.now = refreshStartedAt + 30_000
  await issuer.rotateKey({ keepOld: false })
  await verify(await issuer.mintAccessToken({}, { header: { kid: 'not-rotated-yet' } }), remote.keySet.getKey)
    .then(() => t.fail('an unknown kid must not verify'), () => t.pass('unknown kid rejected'))
  await waitFor(() => remote.status().fetchedAt === clock.now)
  t.match(remote.status(), { uri: `${server.url}/jwks`, fetchedAt: clock.now, cause: undefined }, 'the refresh succeeded')
  t.equal(server.hits.length, 3, 'exactly one background refresh once the cooldown has passed')
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.pass('the rotated key, fetched in the background, verifies')
})

t.test('staleIfError: keys serve while the endpoint is down, until cacheMaxAge + staleIfError, then 503', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, logger, { maxAgeMs: 60_000, staleIfErrorMs: 120_000 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  state.mode = 'fail'

  const bound = 1_000_000 + 60_000 + 120_000
  clock.now = bound - 1 // just inside the bound: still served
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.pass('served just inside maxAge + staleIfError')
  await waitFor(() => remote.status().cause !== undefined)
  t.equal(server.hits.length, 2, 'the stale keys triggered one background refresh, which failed')
  t.match(logger.lines, [{ level: 'warn', msg: 'mcp-auth: JWKS background refresh failed, keeping cached keys' }])

  clock.now += 1
  const token = await issuer.mintAccessToken()
  const err = await verify(token, remote.keySet.getKey).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof McpAuthError, 'keys dropped past the bound: an McpAuthError')
  t.match(err, unavailable('jwks.unreachable'), 'keys dropped past the bound')
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'), 'still 503 while the endpoint is down')
  t.equal(server.hits.length, 2, 'the refresh failed < min(cooldown, 2 s) ago: 503 at once, no new fetch')

  state.mode = 'ok'
  // The failure was at bound - 1: the backoff is counted from it.
  clock.now = bound - 1 + 1999
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'), 'still inside the 2 s failure backoff')
  t.equal(server.hits.length, 2, 'no fetch inside the failure backoff, even though the endpoint is back')

  clock.now = bound - 1 + 2000
  await verify(token, remote.keySet.getKey)
  t.equal(server.hits.length, 3, 'one fetch once the backoff has passed')
  t.same(remote.status().fetchedAt, clock.now, 'the endpoint recovers → service resumes')
})

t.test('staleIfError: 0 drops keys right after cacheMaxAge when the refresh fails', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { maxAgeMs: 60_000, staleIfErrorMs: 0 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  state.mode = 'fail'
  clock.now += 60_001
  await t.rejects(verify(await issuer.mintAccessToken(), remote.keySet.getKey), unavailable('jwks.unreachable'))
  t.equal(server.hits.length, 2)
})

t.test('JWT-15: an unknown kid refetches at most once per cooldown; a rotated key is then accepted', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'ok' }))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { cooldownMs: 30_000 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)

  for (let i = 0; i < 20; i++) {
    await t.rejects(verify(await issuer.mintAccessToken({}, { header: { kid: `junk-${i}` } }), remote.keySet.getKey), errors.JWKSNoMatchingKey)
    clock.now += 1000
  }
  t.same(server.hits, ['/jwks'], 'twenty junk kids inside the cooldown: no refetch')

  clock.now = 1_000_000 + 30_000
  await t.rejects(verify(await issuer.mintAccessToken({}, { header: { kid: 'junk-after' } }), remote.keySet.getKey), errors.JWKSNoMatchingKey)
  t.equal(server.hits.length, 2, 'one refetch once the cooldown has passed')
  for (let i = 0; i < 20; i++) {
    await t.rejects(verify(await issuer.mintAccessToken({}, { header: { kid: `junk-b${i}` } }), remote.keySet.getKey), errors.JWKSNoMatchingKey)
  }
  t.equal(server.hits.length, 2, 'and none after it, inside the new cooldown')

  await issuer.rotateKey()
  clock.now += 30_000
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.equal(server.hits.length, 3, 'the rotated kid costs exactly one refetch')
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.equal(server.hits.length, 3)
})

t.test('JWT-15: concurrent requests with a new kid share one refetch', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'slow' }))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { cooldownMs: 0 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  await issuer.rotateKey()
  const tokens = await Promise.all(Array.from({ length: 10 }, () => issuer.mintAccessToken()))
  await Promise.all(tokens.map((token) => verify(token, remote.keySet.getKey)))
  t.same(server.hits, ['/jwks', '/jwks'])
})

t.test('JWT-15 + XC-06: an unknown kid whose refetch fails → 503, keys kept for known kids', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { cooldownMs: 10_000 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  state.mode = 'fail'
  clock.now += 10_000
  await t.rejects(verify(await issuer.mintAccessToken({}, { header: { kid: 'rotated?' } }), remote.keySet.getKey), unavailable('jwks.unreachable'))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  t.pass('known kid still verifies with the cached keys')
  await t.rejects(verify(await issuer.mintAccessToken({}, { header: { kid: 'again' } }), remote.keySet.getKey), errors.JWKSNoMatchingKey,
    'inside the cooldown after the failed attempt: no new fetch, plain unknown key')
  t.equal(server.hits.length, 2)
})

t.test('a failing endpoint is not hammered: stale keys with a failing refresh fetch at most once per cooldown', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const logger = recordingLogger()
  const warnings = (): number => logger.lines.filter((l) => l.level === 'warn').length
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, logger, { maxAgeMs: 60_000, cooldownMs: 30_000 }))
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  state.mode = 'fail'
  clock.now += 60_001
  const firstAttempt = clock.now
  for (let i = 0; i < 10; i++) {
    await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
    // Let any background refresh reach the endpoint and fail before the next request.
    await sleep(20)
    await settle()
    clock.now += 2_000 // 10 requests over 20 s: all inside one 30 s cooldown
  }
  await waitFor(() => warnings() >= 1)
  t.equal(server.hits.length, 2, `10 requests on stale keys against a failing endpoint caused ${server.hits.length - 1} refetches (want exactly 1 per cooldown)`)
  t.equal(warnings(), 1, 'one failed background refresh logged')

  clock.now = firstAttempt + 30_000
  await verify(await issuer.mintAccessToken(), remote.keySet.getKey)
  await waitFor(() => warnings() >= 2)
  await sleep(20)
  t.equal(server.hits.length, 3, 'the next refresh goes out once the cooldown since the failed attempt has passed')
  t.match(remote.status(), { fetchedAt: 1_000_000, cause: 'http_503' })
})

t.test('nothing usable after a failed fetch: 503 at once, without a fetch, for min(cooldown, 2 s); then a new fetch', async (t) => {
  const issuer = await createTestIssuer()
  const token = await issuer.mintAccessToken()
  const cases: Array<[number, number]> = [[30_000, 2000], [2000, 2000], [500, 500], [1, 1]]
  for (const [cooldownMs, backoff] of cases) {
    const state = { mode: 'fail' as 'ok' | 'fail' | 'hang' | 'slow' }
    const server = await serve(t, jwksHandler(issuer, state))
    const clock = { now: 1_000_000 }
    const logger = recordingLogger()
    const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, logger, { cooldownMs }))
    await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'), `cooldown ${cooldownMs}: first fetch fails`)
    t.equal(server.hits.length, 1)
    t.equal(logger.lines.filter((l) => l.level === 'error').length, 1, `cooldown ${cooldownMs}: the failed fetch is logged`)

    state.mode = 'ok'
    clock.now += backoff - 1
    const err = await verify(token, remote.keySet.getKey).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof McpAuthError, `cooldown ${cooldownMs}: fail fast is an McpAuthError`)
    t.match(err, unavailable('jwks.unreachable'), `cooldown ${cooldownMs}: 503 ${backoff - 1} ms after the failure`)
    t.equal(server.hits.length, 1, `cooldown ${cooldownMs}: no fetch inside the ${backoff} ms backoff`)

    clock.now += 1
    await verify(token, remote.keySet.getKey)
    t.equal(server.hits.length, 2, `cooldown ${cooldownMs}: a fetch once ${backoff} ms have passed`)
    t.match(remote.status(), { uri: `${server.url}/jwks`, fetchedAt: clock.now, cause: undefined })
  }
})

t.test('cooldown 0: no failure backoff, every request with nothing usable fetches again', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'fail' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const remote = createRemoteJwks(`${server.url}/jwks`, options({ now: 1_000_000 }, recordingLogger(), { cooldownMs: 0 }))
  const token = await issuer.mintAccessToken()
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'))
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'))
  t.equal(server.hits.length, 2)
  state.mode = 'ok'
  await verify(token, remote.keySet.getKey)
  t.equal(server.hits.length, 3, 'recovers on the very next request')
})

t.test('issue 15 item 8: after the backoff one request retries; others arriving while it is in flight get 503 at once', async (t) => {
  const issuer = await createTestIssuer()
  const state = { mode: 'fail' as 'ok' | 'fail' | 'hang' | 'slow' }
  const server = await serve(t, jwksHandler(issuer, state))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger()))
  const token = await issuer.mintAccessToken()
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'))
  state.mode = 'slow'
  clock.now += 2000
  // The first request starts a fetch; the others arrive while it is in flight.
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => verify(token, remote.keySet.getKey)))
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected'])
  for (const result of results.slice(1)) t.match((result as PromiseRejectedResult).reason, unavailable('jwks.unreachable'))
  t.equal(server.hits.length, 2, 'one retry')
  await verify(token, remote.keySet.getKey)
  t.equal(server.hits.length, 2, 'recovered: the keys are cached')
})

t.test('issue 15 item 8: the first fetch ever is joined, not refused', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'slow' }))
  const remote = createRemoteJwks(`${server.url}/jwks`, options({ now: 1_000_000 }, recordingLogger()))
  const token = await issuer.mintAccessToken()
  const warm = remote.warmUp()
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => verify(token, remote.keySet.getKey)))
  await warm
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
  t.same(server.hits, ['/jwks'], 'the warm-up fetch, shared')
})

t.test('issue 15 item 8: the fail-fast window is counted from the failure, not from the start of the fetch', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, () => {})
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { timeoutMs: 100 }))
  const token = await issuer.mintAccessToken()
  // The fetch hangs until its timeout; meanwhile 5 s pass on the clock.
  const first = verify(token, remote.keySet.getKey)
  clock.now += 5000
  await t.rejects(first, unavailable('jwks.unreachable'))
  clock.now += 1999
  await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'))
  t.equal(server.hits.length, 1, 'inside 2 s of the failure: refused at once, no new fetch')
})

t.test('XC-06: every kind of bad response is an outage (503), never a verification failure', async (t) => {
  const issuer = await createTestIssuer()
  const token = await issuer.mintAccessToken()
  const big = JSON.stringify({ keys: issuer.jwks.keys, pad: 'x'.repeat(1024 * 1024) })
  const cases: Array<[string, Handler, string]> = [
    ['404', (_q, r) => json(r, 404, { error: 'nope' }), 'http_404'],
    ['500', (_q, r) => json(r, 500, {}), 'http_500'],
    ['204', (_q, r) => { r.writeHead(204); r.end() }, 'http_204'],
    ['HTML', (_q, r) => { r.writeHead(200, { 'content-type': 'text/html' }); r.end('<html>login</html>') }, 'invalid_response'],
    ['JSON without keys', (_q, r) => json(r, 200, { issuer: 'x' }), 'invalid_response'],
    ['keys not an array', (_q, r) => json(r, 200, { keys: { kty: 'EC' } }), 'invalid_response'],
    ['a JSON array', (_q, r) => json(r, 200, [issuer.jwks.keys[0]]), 'invalid_response'],
    ['JSON null', (_q, r) => json(r, 200, 'null'), 'invalid_response'],
    ['keys with non-objects', (_q, r) => json(r, 200, { keys: [1, 'x'] }), 'failed'],
    ['oversized (content-length)', (_q, r) => { r.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }); r.end(big) }, 'too_large'],
    ['oversized (chunked)', (_q, r) => { r.writeHead(200, { 'content-type': 'application/json' }); r.write(big.slice(0, 600_000)); r.end(big.slice(600_000)) }, 'too_large'],
    ['redirect', (_q, r) => { r.writeHead(302, { location: '/elsewhere' }); r.end() }, 'redirect'],
    ['connection reset', (q) => { q.socket.destroy() }, 'reset'],
  ]
  for (const [name, handler, cause] of cases) {
    const server = await serve(t, handler)
    const logger = recordingLogger()
    const remote = createRemoteJwks(`${server.url}/jwks`, options({ now: 1_000_000 }, logger))
    await t.rejects(verify(token, remote.keySet.getKey), unavailable('jwks.unreachable'), name)
    t.match(remote.status(), { fetchedAt: undefined, cause }, `${name}: cause ${cause}`)
    t.match(logger.lines.find((l) => l.level === 'error')?.obj, { cause }, `${name}: logged with its cause`)
    t.notOk(server.hits.includes('/elsewhere'), `${name}: redirects are not followed`)
  }
})

t.test('a hanging endpoint → 503 when the timeout ends the fetch', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, () => {})
  const remote = createRemoteJwks(`${server.url}/jwks`, options({ now: 1_000_000 }, recordingLogger(), { timeoutMs: 200 }))
  await t.rejects(verify(await issuer.mintAccessToken(), remote.keySet.getKey), unavailable('jwks.unreachable'))
  t.equal(remote.status().cause, 'timeout', 'the timeout, not the endpoint, ended it')
})

t.test('a connection refused → 503', async (t) => {
  const issuer = await createTestIssuer()
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const remote = createRemoteJwks(`http://127.0.0.1:${port}/jwks`, options({ now: 1_000_000 }, recordingLogger()))
  const err = await verify(await issuer.mintAccessToken(), remote.keySet.getKey).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof McpAuthError)
  t.match(err, unavailable('jwks.unreachable'))
  t.equal(remote.status().cause, 'refused')
})

// ——— lib/http.ts ———

t.test('fetchJson: status and parsed JSON; non-JSON bodies give json undefined', async (t) => {
  const server = await serve(t, (req, res) => {
    if (req.url === '/json') return json(res, 201, { a: 1 })
    if (req.url === '/text') { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('hello'); return }
    if (req.url === '/post') {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => json(res, 200, { method: req.method, body, type: req.headers['content-type'], accept: req.headers.accept }))
      return
    }
    res.writeHead(200)
    res.end()
  })
  t.same(await fetchJson(`${server.url}/json`, { timeoutMs: 1000 }), { status: 201, json: { a: 1 } })
  t.same(await fetchJson(`${server.url}/text`, { timeoutMs: 1000 }), { status: 200, json: undefined })
  t.same(await fetchJson(`${server.url}/empty`, { timeoutMs: 1000 }), { status: 200, json: undefined })
  t.same(await fetchJson(`${server.url}/post`, {
    timeoutMs: 1000, method: 'POST', body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }), { status: 200, json: { method: 'POST', body: 'token=x', type: 'application/x-www-form-urlencoded', accept: 'application/json' } })
})

t.test('fetchJson: maxBytes caps declared and streamed bodies; at the limit is fine', async (t) => {
  const body = JSON.stringify({ pad: 'x'.repeat(90) })
  t.equal(Buffer.byteLength(body), 100)
  const server = await serve(t, (req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write(body.slice(0, 50))
    setTimeout(() => res.end(body.slice(50)), 10)
  })
  await t.rejects(fetchJson(`${server.url}/declared`, { timeoutMs: 1000, maxBytes: 99 }), { name: 'FetchFailure', failure: 'too_large', cause: { message: 'response larger than 99 bytes' } } as never)
  await t.rejects(fetchJson(`${server.url}/chunked`, { timeoutMs: 1000, maxBytes: 99 }), { name: 'FetchFailure', failure: 'too_large', cause: { message: 'response larger than 99 bytes' } } as never)
  t.same((await fetchJson(`${server.url}/declared`, { timeoutMs: 1000, maxBytes: 100 })).json, { pad: 'x'.repeat(90) })
  t.same((await fetchJson(`${server.url}/chunked`, { timeoutMs: 1000, maxBytes: 100 })).json, { pad: 'x'.repeat(90) })
})

t.test('fetchJson: redirects are refused, never followed', async (t) => {
  for (const status of [301, 302, 303, 307, 308]) {
    const server = await serve(t, (req, res) => {
      if (req.url === '/target') return json(res, 200, { keys: [] })
      res.writeHead(status, { location: '/target' })
      res.end()
    })
    const err = await fetchJson(`${server.url}/start`, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof FetchFailure && err.failure === 'redirect', `${status}: a FetchFailure, cause redirect`)
    t.same(server.hits, ['/start'], `${status}: the target is never requested`)
  }
})

t.test('fetchJson: the timeout covers a body that never finishes', async (t) => {
  const server = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"keys": [')
  })
  const err = await fetchJson(`${server.url}/slow-body`, { timeoutMs: 200 }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof FetchFailure && err.failure === 'timeout', 'ended by the timeout')
})

t.test('isJsonObject', async (t) => {
  t.ok(isJsonObject({}))
  t.notOk(isJsonObject([]))
  t.notOk(isJsonObject(null))
  t.notOk(isJsonObject('x'))
})

t.test('a refreshed set that no longer lists a kid refuses its tokens (stale keys serve while the refresh runs)', async (t) => {
  const issuer = await createTestIssuer()
  const server = await serve(t, jwksHandler(issuer, { mode: 'ok' }))
  const clock = { now: 1_000_000 }
  const remote = createRemoteJwks(`${server.url}/jwks`, options(clock, recordingLogger(), { maxAgeMs: 60_000 }))
  const token = await issuer.mintAccessToken()
  await verify(token, remote.keySet.getKey)
  clock.now += 60_001
  await issuer.rotateKey({ keepOld: false })
  await verify(token, remote.keySet.getKey) // stale keys still serve, and a refresh starts
  await waitFor(() => server.hits.length >= 2)
  await settle()
  await t.rejects(verify(token, remote.keySet.getKey), 'the refreshed set no longer has the kid')
})
