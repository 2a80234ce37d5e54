// The interaction route and the development pages: headers that keep pages out
// of frames and caches, the CSRF token bound to the interaction, cookie flags,
// the failed-login limit, the host's own login and consent callbacks, and the
// development shortcuts refused under NODE_ENV=production.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { developmentInteractions, mcpAuthorizationServer } from '../../authorization-server.js'
import type { InteractionsOptions } from '../../authorization-server.js'
import { completeAuthorization } from '../../testing.js'
import { asOptions, authorizationUrl, COOKIE_KEYS, insecure, openInteraction, REDIRECT_URI, registerPublicClient, RESOURCE, startAs } from '../helpers/authorization-server.js'
import { resolveAsOptions } from '../../lib/authorization-server/options.js'

t.test('interaction pages: frame, cache and sniffing protection on every answer, an escaped, accessible form', async (t) => {
  const { as } = await startAs(t)
  const client = await registerPublicClient(as, { client_name: '<script>alert(1)</script>' })
  const { page, html, post, csrf } = await openInteraction(as, client)
  for (const res of [page, await post({ csrf: 'wrong' }), await post({ csrf, username: 'demo-user', password: 'nope' })]) {
    t.equal(res.headers.get('x-frame-options'), 'DENY')
    t.equal(res.headers.get('content-security-policy'), "frame-ancestors 'none'; default-src 'self'")
    t.equal(res.headers.get('cache-control'), 'no-store')
    t.equal(res.headers.get('access-control-allow-origin'), null)
  }
  t.notMatch(html, /<script>/, 'the client name is escaped')
  t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  t.match(html, /<label for="username">/)
  t.match(html, /<html lang="en">/)
})

t.test('CSRF: a POST without the token, with a wrong one or with another interaction\'s is refused (403)', async (t) => {
  const { as } = await startAs(t)
  const client = await registerPublicClient(as)
  const first = await openInteraction(as, client)
  const second = await openInteraction(as, client)
  t.not(first.csrf, second.csrf, 'bound to the interaction')
  const fields = { username: 'demo-user', password: 'demo', action: 'login' }
  t.equal((await first.post(fields)).status, 403, 'missing')
  t.equal((await first.post({ ...fields, csrf: 'x'.repeat(43) })).status, 403, 'wrong')
  t.equal((await first.post({ ...fields, csrf: second.csrf })).status, 403, 'another interaction\'s')
  t.equal((await first.post({ ...fields, csrf: first.csrf })).status, 303, 'its own')
})

t.test('an interaction opened without its cookie (another browser) is refused', async (t) => {
  const { as } = await startAs(t)
  const client = await registerPublicClient(as)
  const { url } = await openInteraction(as, client)
  const res = await fetch(url)
  t.equal(res.status, 400)
})

t.test('cookies are HttpOnly and SameSite=Lax, and Secure for an https issuer', async (t) => {
  const issuer = 'https://auth.example.com'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, asOptions(issuer))
  const registration = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' } })
  const clientId = registration.json().client_id
  const res = await app.inject({ url: `/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: 'https://app.example/cb', response_type: 'code', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', resource: RESOURCE })}` })
  t.equal(res.statusCode, 303)
  t.ok(String(res.headers.location).startsWith('/interaction/'))
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  t.ok(cookies.length > 0)
  for (const cookie of cookies) {
    t.match(cookie, /;\s*httponly/i, cookie.split('=')[0] ?? '')
    t.match(cookie, /;\s*secure/i)
    t.match(cookie, /;\s*samesite=lax/i)
  }
})

t.test('failed sign-ins are limited per account (10 a minute by default); other accounts are not locked out', async (t) => {
  const { as } = await startAs(t)
  const client = await registerPublicClient(as)
  const { post, csrf } = await openInteraction(as, client)
  for (let i = 0; i < 10; i++) t.equal((await post({ csrf, username: 'demo-user', password: 'wrong' })).status, 401)
  const locked = await post({ csrf, username: 'demo-user', password: 'demo' })
  t.equal(locked.status, 429, 'even the right password waits')
  t.ok(locked.headers.get('retry-after'))
  t.equal((await post({ csrf, username: 'other-user', password: 'other' })).status, 303, 'another account signs in')
})

t.test('the host\'s own login and consent: complete, grant with narrowed scopes, and fail closed on an unknown account', async (t) => {
  const interactions: InteractionsOptions = {
    async login (request, reply, details) {
      if (request.method === 'GET') return reply.type('text/html').send(`<form method="post"><input type="hidden" name="csrf" value="${details.csrfToken}"><input name="username"><input type="password" name="password"><button name="action" value="login">Go</button></form>`)
      const { username } = request.body as { username: string }
      return details.complete({ accountId: username })
    },
    async consent (request, reply, details) {
      t.equal(details.accountId, 'demo-user')
      t.same(details.scopes, ['mcp:tools:read', 'mcp:tools:call'])
      t.same(details.resources, [RESOURCE])
      t.equal(details.client.redirectHost, '127.0.0.1')
      if (request.method === 'GET') return reply.type('text/html').send(`<form method="post"><input type="hidden" name="csrf" value="${details.csrfToken}"><button name="action" value="approve">Allow</button></form>`)
      return details.grant({ scopes: ['mcp:tools:read'] })
    },
  }
  const running = await startAs(t, { interactions })
  const client = await registerPublicClient(running.as)
  const { url, verifier } = await authorizationUrl(running.as, client, { scope: 'mcp:tools:read mcp:tools:call' })
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback, url.searchParams.get('state') ?? undefined)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, { additionalParameters: { resource: RESOURCE }, ...insecure })
  const tokens = await oauth.processAuthorizationCodeResponse(running.as, client, res)
  t.equal(tokens.scope, 'mcp:tools:read', 'only what the user granted')

  // An account accounts.find does not know is never signed in, and the reason stays in the log.
  const { csrf, post } = await openInteraction(running.as, client)
  const unknown = await post({ csrf, username: 'nobody', password: 'x' })
  t.equal(unknown.status, 500)
  t.equal(unknown.headers.get('location'), null)
  t.notMatch(await unknown.text(), /nobody|accounts\.find/)
})

t.test('NODE_ENV=production refuses the development shortcuts at register', async (t) => {
  const base = asOptions('https://auth.example.com')
  const signingKeys = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }] }
  t.throws(() => resolveAsOptions({ ...base, signingKeys }, 'production'), /development login and consent pages/)
  const host = { login: async () => {}, consent: async () => {} }
  t.throws(() => resolveAsOptions({ ...base, interactions: host }, 'production'), /signingKeys/)
  t.throws(() => resolveAsOptions({ ...base, interactions: host, signingKeys, cookies: undefined }, 'production'), /cookies\.keys/)
  t.ok(resolveAsOptions({ ...base, interactions: host, signingKeys, cookies: { keys: COOKIE_KEYS } }, 'production'))
  // Through register too: ready() rejects.
  const previous = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = previous })
  const app: FastifyInstance = Fastify()
  app.register(mcpAuthorizationServer, { ...base, interactions: developmentInteractions(), signingKeys })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_MCP_AUTH_INVALID_OPTION' })
})
