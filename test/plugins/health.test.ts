// Issue 15 item 7: the health route tells the truth. It is 503 until every key
// set requests depend on (per issuer with discovery, the `{ uri }` set) has been
// fetched once, and while the replay store does not answer PING; its body names
// what failed with a cause code, never an error message. Real loopback issuers,
// a TLS issuer with an untrusted certificate, a closed port.
import { createServer as createHttpsServer } from 'node:https'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth, { MemoryReplayStore } from '../../index.js'
import type { McpAuthOptions, ReplayStore } from '../../index.js'
import { createTestCa, createTestIssuer, startTestIssuer } from '../../testing.js'
import type { ServedTestIssuer } from '../../testing.js'
import { freePort } from '../helpers/net.js'
import { until } from '../helpers/wait.js'

const RESOURCE = 'https://mcp.example.com/mcp'

interface HealthBody {
  status: string
  jwks: Array<{ issuer?: string, uri?: string, ageSeconds?: number, fresh: boolean, usable: boolean, cause?: string }>
  replayStore?: { reachable: boolean | null, cause?: string }
}

async function appWith (t: Test, options: Partial<McpAuthOptions>): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, healthRoute: '/health', ...options } as McpAuthOptions)
  app.get('/mcp', async () => 'ok')
  await app.ready()
  return app
}

async function served (t: Test): Promise<ServedTestIssuer> {
  const issuer = await startTestIssuer({ audience: RESOURCE })
  t.teardown(() => issuer.close())
  return issuer
}

async function health (app: FastifyInstance): Promise<{ res: LightMyRequestResponse, body: HealthBody }> {
  const res = await app.inject({ url: '/health' })
  return { res, body: res.json() as HealthBody }
}

const settled = (app: FastifyInstance) => async (): Promise<boolean> => (await health(app)).body.jwks.every((set) => set.usable || set.cause !== undefined)

function assertNoMessages (t: Test, res: LightMyRequestResponse): void {
  t.notMatch(res.body, /ECONN|ENOTFOUND|certificate|failed|unexpected|names issuer|https required|status \d/i, 'cause codes only, never an error message')
}

t.test('503 until the { uri } key set has been fetched once; then 200', async (t) => {
  const issuer = await served(t)
  const app = await appWith(t, { authorizationServers: [issuer.issuer], jwks: { uri: issuer.jwksUri, warmUp: false } })
  const before = await health(app)
  t.equal(before.res.statusCode, 503, 'never fetched: not ready')
  t.match(before.body, { status: 'unavailable', jwks: [{ uri: issuer.jwksUri, usable: false, fresh: false }] })
  t.equal(before.body.jwks[0]?.cause, undefined, 'not a failure either')
  t.equal(before.res.headers['cache-control'], 'no-store')
  t.equal((await app.inject({ url: '/mcp', headers: { authorization: `Bearer ${await issuer.mintAccessToken()}` } })).statusCode, 200)
  const after = await health(app)
  t.equal(after.res.statusCode, 200)
  t.match(after.body, { status: 'ok', jwks: [{ uri: issuer.jwksUri, usable: true, fresh: true, ageSeconds: 0 }], replayStore: { reachable: true } })
})

t.test('discovery: one entry per issuer; 200 once warm-up has fetched every issuer\'s keys', async (t) => {
  const a = await served(t)
  const b = await served(t)
  const app = await appWith(t, { authorizationServers: [a.issuer, b.issuer] })
  await until(settled(app))
  const { res, body } = await health(app)
  t.equal(res.statusCode, 200)
  t.match(body.jwks, [{ issuer: a.issuer, uri: a.jwksUri, usable: true }, { issuer: b.issuer, uri: b.jwksUri, usable: true }])
})

t.test('an unreachable issuer: 503 with a cause code per failure, never an error message', async (t) => {
  const good = await served(t)
  const down = await served(t)
  down.failure = true
  const mismatch = await served(t)
  mismatch.metadata = { issuer: 'https://elsewhere.example.com' }
  const insecure = await served(t)
  insecure.metadata = { jwks_uri: 'http://keys.example.com/jwks' }
  const noKeys = await served(t)
  noKeys.metadata = { jwks_uri: undefined }
  const refused = `http://127.0.0.1:${await freePort()}`
  const issuers = [good.issuer, down.issuer, mismatch.issuer, insecure.issuer, noKeys.issuer, refused]
  const app = await appWith(t, { authorizationServers: issuers })
  await until(settled(app))
  const { res, body } = await health(app)
  t.equal(res.statusCode, 503)
  t.same(body.jwks.map((set) => [set.issuer, set.usable, set.cause]), [
    [good.issuer, true, undefined],
    [down.issuer, false, 'http_503'],
    [mismatch.issuer, false, 'issuer_mismatch'],
    [insecure.issuer, false, 'insecure_jwks_uri'],
    [noKeys.issuer, false, 'no_jwks_uri'],
    [refused, false, 'refused'],
  ])
  assertNoMessages(t, res)
})

t.test('a JWKS endpoint answering an error status, and an untrusted TLS certificate: http_<status>, tls', async (t) => {
  const issuer = await served(t)
  issuer.failure = true
  const ca = await createTestCa()
  const certificate = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })
  const tls = createHttpsServer({ cert: certificate.certificatePem, key: certificate.keyPem }, (_req, res) => { res.end('{}') })
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { tls.closeAllConnections(); tls.close(() => resolve()) }))
  const tlsUri = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/jwks`
  for (const [uri, cause] of [[issuer.jwksUri, 'http_503'], [tlsUri, 'tls']] as const) {
    const app = await appWith(t, { authorizationServers: [issuer.issuer], jwks: { uri } })
    await until(settled(app))
    const { res, body } = await health(app)
    t.equal(res.statusCode, 503, cause)
    t.match(body.jwks, [{ uri, usable: false, cause }])
    assertNoMessages(t, res)
  }
})

t.test('an unknown host: dns', async (t) => {
  const issuer = await createTestIssuer({ issuer: 'https://issuer.invalid' })
  const app = await appWith(t, { authorizationServers: [issuer.issuer] })
  await until(settled(app))
  const { res, body } = await health(app)
  t.equal(res.statusCode, 503)
  t.match(body.jwks, [{ issuer: 'https://issuer.invalid', usable: false, cause: 'dns' }])
})

t.test('static keys and key functions count as fetched', async (t) => {
  const issuer = await createTestIssuer()
  for (const jwks of [{ keys: issuer.jwks.keys }, async () => { throw new Error('never asked') }] as const) {
    const app = await appWith(t, { authorizationServers: [issuer.issuer], jwks: jwks as McpAuthOptions['jwks'] })
    const { res, body } = await health(app)
    t.equal(res.statusCode, 200)
    t.same(body.jwks, [])
  }
})

t.test('replay store: ping() decides; a store without ping() cannot tell; the default store is in-process', async (t) => {
  const issuer = await createTestIssuer()
  let failure: Error | 'hang' | undefined
  const store: ReplayStore = {
    claim: () => true,
    ping: () => failure === 'hang' ? new Promise(() => {}) : failure === undefined ? undefined : Promise.reject(failure),
  }
  const app = await appWith(t, { authorizationServers: [issuer.issuer], jwks: issuer.jwks, dpop: { replayStore: store } })
  t.match((await health(app)).body, { status: 'ok', replayStore: { reachable: true } })
  failure = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
  const refused = await health(app)
  t.equal(refused.res.statusCode, 503)
  t.same(refused.body.replayStore, { reachable: false, cause: 'refused' })
  assertNoMessages(t, refused.res)

  const hanging = await appWith(t, { authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys, timeout: 0.05 }, dpop: { replayStore: store } })
  failure = 'hang'
  t.same((await health(hanging)).body.replayStore, { reachable: false, cause: 'timeout' }, 'a ping that never answers is bounded by jwks.timeout')

  const blind = await appWith(t, { authorizationServers: [issuer.issuer], jwks: issuer.jwks, dpop: { replayStore: { claim: () => true } } })
  const unknown = await health(blind)
  t.equal(unknown.res.statusCode, 200)
  t.same(unknown.body.replayStore, { reachable: null }, 'no ping(): reported as unknown, not as reachable')

  const memory = await appWith(t, { authorizationServers: [issuer.issuer], jwks: issuer.jwks, dpop: { replayStore: new MemoryReplayStore() } })
  t.same((await health(memory)).body.replayStore, { reachable: true })
  const none = await appWith(t, { authorizationServers: [issuer.issuer], jwks: issuer.jwks, dpop: false })
  t.equal((await health(none)).body.replayStore, undefined)
})

t.test('a closed HTTP server as the JWKS: refused', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const app = await appWith(t, { authorizationServers: ['https://issuer.example'], jwks: { uri } })
  await until(settled(app))
  t.match((await health(app)).body.jwks, [{ uri, cause: 'refused' }])
})
