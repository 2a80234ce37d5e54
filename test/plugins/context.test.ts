// mcpContext(request): the verified context behind the plugin, and a 500 (never a
// handler running unauthorized) where the plugin does not authenticate.
import Fastify from 'fastify'
import t from 'tap'
import { mcpContext } from '../../index.js'
import { buildApp, RESOURCE } from '../helpers/app.js'

t.test('behind the plugin: the same object as request.mcp, with the verified claims', async (t) => {
  const { app, issuer } = await buildApp(t, {}, undefined, (app) => {
    app.get('/who', async (request) => {
      const context = mcpContext(request)
      return { same: context === request.mcp, subject: context.subject, resource: context.resource }
    })
  })
  const token = await issuer.mintAccessToken({ sub: 'alice' })
  const res = await app.inject({ method: 'GET', url: '/who', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { same: true, subject: 'alice', resource: RESOURCE })
  t.equal((await app.inject({ method: 'GET', url: '/who' })).statusCode, 401, 'without a token the handler never runs')
})

t.test('on an opted-out route: 500 FST_MCP_AUTH_NOT_REGISTERED, the handler does not go on', async (t) => {
  let reached = false
  const { app } = await buildApp(t, {}, undefined, (app) => {
    app.get('/open', { config: { mcpAuth: false } }, async (request) => {
      const context = mcpContext(request)
      reached = true
      return { subject: context.subject }
    })
  })
  const res = await app.inject({ method: 'GET', url: '/open' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_MCP_AUTH_NOT_REGISTERED')
  t.equal(reached, false)
})

t.test('in an app without the plugin: 500, never a pass', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.decorateRequest('mcp', null)
  app.get('/x', async (request) => mcpContext(request).subject ?? 'none')
  const res = await app.inject({ method: 'GET', url: '/x' })
  t.equal(res.statusCode, 500)
  t.match(res.json().message, /not authenticated/)
})
