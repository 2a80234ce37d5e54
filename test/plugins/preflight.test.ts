// Issue 15 item 3: a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is never authenticated and never reaches a
// route handler: the plugin answers any preflight still unanswered before the
// handler with 204, Cache-Control: no-store and no Access-Control-Allow-* of its own.
import cors from '@fastify/cors'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { Test } from 'tap'
import mcpAuth from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const PREFLIGHT = { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }

type RouteKind = 'all' | 'options' | 'catch-all'
type CorsPlacement = 'none' | 'before' | 'after'

interface Harness { app: FastifyInstance, issuer: TestIssuer, ran: () => number }

async function harness (t: Test, kind: RouteKind, placement: CorsPlacement, corsOptions: Record<string, unknown> = {}): Promise<Harness> {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  let ran = 0
  const secret = async (): Promise<unknown> => { ran++; return { secret: 'handler body' } }
  const registerCors = async (): Promise<void> => { await app.register(cors, { origin: 'https://app.example', methods: ['GET', 'POST', 'DELETE'], ...corsOptions }) }
  if (placement === 'before') await registerCors()
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  if (placement === 'after') await registerCors()
  if (kind === 'all') app.all('/mcp', secret)
  if (kind === 'options') {
    app.post('/mcp', secret)
    app.options('/mcp', secret)
  }
  // A proxy's catch-all under the MCP path (`/*` itself is @fastify/cors's OPTIONS route).
  if (kind === 'catch-all') app.all('/mcp*', secret)
  await app.ready()
  return { app, issuer, ran: () => ran }
}

for (const kind of ['all', 'options', 'catch-all'] as const) {
  for (const placement of ['none', 'before', 'after'] as const) {
    t.test(`${kind} route, @fastify/cors ${placement === 'none' ? 'absent' : `registered ${placement} mcpAuth`}: a preflight never runs the handler`, async (t) => {
      const { app, issuer, ran } = await harness(t, kind, placement)
      const res = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: PREFLIGHT })
      t.equal(res.statusCode, 204)
      t.equal(res.body, '', 'no body')
      t.equal(ran(), 0, 'the handler did not run')
      if (placement === 'none') {
        t.equal(res.headers['cache-control'], 'no-store')
        t.same(Object.keys(res.headers).filter((h) => h.startsWith('access-control-allow-')), [], 'no CORS grant of the plugin\'s own')
      } else {
        t.equal(res.headers['access-control-allow-origin'], 'https://app.example', 'the browser still gets its CORS headers')
        t.match(res.headers['access-control-allow-methods'], /POST/)
      }
      // Not a preflight: an OPTIONS request without Origin or without Access-Control-Request-Method is authenticated.
      for (const headers of [{ 'access-control-request-method': 'POST' }, { origin: 'https://app.example' }, {}]) {
        const plain = await app.inject({ method: 'OPTIONS', url: '/mcp', headers })
        // @fastify/cors (strictPreflight) refuses a half preflight itself when its hook runs first.
        const refused = plain.statusCode === 401 || (placement === 'before' && plain.statusCode === 400)
        t.ok(refused, `OPTIONS with ${JSON.stringify(Object.keys(headers))}: authenticated (${plain.statusCode})`)
      }
      t.equal(ran(), 0)
      const token = await issuer.mintAccessToken()
      const ok = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}`, origin: 'https://app.example' } })
      t.equal(ok.statusCode, 200, 'an authenticated request still reaches the handler')
      t.equal(ran(), 1)
    })
  }
}

t.test('@fastify/cors with preflightContinue: the plugin answers the preflight, keeping cors\'s headers', async (t) => {
  for (const placement of ['before', 'after'] as const) {
    const { app, ran } = await harness(t, 'all', placement, { preflightContinue: true })
    const res = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: PREFLIGHT })
    t.equal(res.statusCode, 204, placement)
    t.equal(ran(), 0, `${placement}: the handler did not run`)
    t.equal(res.headers['access-control-allow-origin'], 'https://app.example', `${placement}: cors's headers kept`)
    t.equal(res.headers['cache-control'], 'no-store')
  }
})

t.test('@fastify/cors with a preHandler hook: its preflight answer comes first', async (t) => {
  for (const placement of ['before', 'after'] as const) {
    const { app, ran } = await harness(t, 'all', placement, { hook: 'preHandler' })
    const res = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: PREFLIGHT })
    t.equal(res.statusCode, 204, placement)
    t.equal(ran(), 0, placement)
    t.equal(res.headers['access-control-allow-origin'], 'https://app.example', placement)
  }
})

t.test('a route registered before mcpAuth: a preflight is answered by the plugin too', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  let ran = 0
  app.all('/mcp', async () => { ran++; return 'secret' })
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  const res = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: PREFLIGHT })
  t.equal(res.statusCode, 204)
  t.equal(ran, 0)
  t.equal(res.headers['cache-control'], 'no-store')
})

t.test('a preflight to an opted-out route or an unknown path is left alone', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.options('/public', { config: { mcpAuth: false } }, async (_request, reply) => reply.header('access-control-allow-origin', '*').send('public preflight'))
  await app.ready()
  const open = await app.inject({ method: 'OPTIONS', url: '/public', headers: PREFLIGHT })
  t.equal(open.body, 'public preflight', 'a public route answers its own preflights')
  t.equal((await app.inject({ method: 'OPTIONS', url: '/nowhere', headers: PREFLIGHT })).statusCode, 404)
})
