// Behaviour at the edges: several resources (default scopes per resource,
// unknown resources, none named), OpenID claims on consent, an unknown
// interaction, declining through the host's pages, limits switched off, events
// and their failures, a store that fails (503, whatever the store), and the
// memory store's atomic single use.
import * as oauth from 'oauth4webapi'
import t from 'tap'
import type { InteractionsOptions } from '../../authorization-server.js'
import { createStore } from '../../lib/authorization-server/store.js'
import type { AdapterFactory } from '../../lib/authorization-server/provider-types.js'
import { completeAuthorization } from '../../testing.js'
import { authorizationUrl, insecure, REDIRECT_URI, registerPublicClient, RESOURCE, startAs } from '../helpers/authorization-server.js'

const OTHER = 'https://other.example.com/mcp'

async function redirectOf (url: URL): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' })
  return new URL(String(res.headers.get('location')), url)
}

t.test('several resources: defaults per named resource (union), invalid_scope when none is named, invalid_target for an unknown one', async (t) => {
  const running = await startAs(t, {
    resources: [{ uri: RESOURCE, scopes: ['a:read', 'a:write'], defaultScopes: ['a:read'] }, { uri: OTHER, scopes: ['b:read'], defaultScopes: ['b:read'] }],
    claims: { profile: ['name'] },
    clients: { cimd: false },
  })
  t.equal(running.as.client_id_metadata_document_supported, undefined, 'CIMD off: not advertised')
  const client = await registerPublicClient(running.as)
  const none = await authorizationUrl(running.as, client, { resource: undefined, scope: undefined })
  const noneRedirect = await redirectOf(none.url)
  t.equal(noneRedirect.searchParams.get('error'), 'invalid_scope')
  t.match(noneRedirect.searchParams.get('error_description') ?? '', /no resource was named/)
  const unknown = await authorizationUrl(running.as, client, { resource: 'https://unknown.example/mcp' })
  t.equal((await redirectOf(unknown.url)).searchParams.get('error'), 'invalid_target')

  // Two resource parameters and no scope: both resources' defaults.
  const both = await authorizationUrl(running.as, client, { scope: undefined })
  both.url.searchParams.append('resource', OTHER)
  const callback = await completeAuthorization(both.url, REDIRECT_URI)
  t.type(callback.searchParams.get('code'), 'string')
  // OpenID scopes and claims go through consent too.
  const openid = await authorizationUrl(running.as, client, { scope: 'openid profile a:read' })
  const done = await completeAuthorization(openid.url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, done, openid.url.searchParams.get('state') ?? undefined)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, openid.verifier, { additionalParameters: { resource: RESOURCE }, ...insecure })
  const tokens = await oauth.processAuthorizationCodeResponse(running.as, client, res, { requireIdToken: true })
  t.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, 'demo-user')
})

t.test('the interaction route: an unknown uid, the host declining, limits switched off', async (t) => {
  const interactions: InteractionsOptions = {
    async login (_request, _reply, details) { return details.complete({ accountId: 'demo-user' }) },
    async consent (_request, _reply, details) { return details.deny() },
  }
  const running = await startAs(t, { interactions, rateLimit: false, clients: { registration: false, static: [{ client_id: 'app', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }] } })
  const client = { client_id: 'app', token_endpoint_auth_method: 'none' }
  const { url } = await authorizationUrl(running.as, client)
  const denied = await completeAuthorization(url, REDIRECT_URI)
  t.equal(denied.searchParams.get('error'), 'access_denied')
  t.equal(denied.searchParams.get('error_description'), 'the request was denied')

  // The interaction cookie of one request sent to another uid's page.
  const start = await fetch((await authorizationUrl(running.as, client)).url, { redirect: 'manual' })
  const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ')
  const other = await fetch(new URL('/interaction/not-this-one', running.issuer), { headers: { cookie } })
  t.equal(other.status, 400)
  t.equal(other.headers.get('x-frame-options'), 'DENY')
})

t.test('the development login without the failed-login limit, and its cancel button', async (t) => {
  const running = await startAs(t, { rateLimit: false })
  const client = await registerPublicClient(running.as)
  const { url } = await authorizationUrl(running.as, client)
  await t.rejects(completeAuthorization(url, REDIRECT_URI, { password: 'wrong' }), /got 401/)
  const cancelled = await completeAuthorization((await authorizationUrl(running.as, client)).url, REDIRECT_URI, { password: 'wrong', maxSteps: 3 }).catch(() => undefined)
  t.equal(cancelled, undefined)
  // Cancel: the second form of the login page.
  const start = await fetch((await authorizationUrl(running.as, client)).url, { redirect: 'manual' })
  const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ')
  const page = new URL(String(start.headers.get('location')), running.issuer)
  const html = await (await fetch(page, { headers: { cookie } })).text()
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const cancel = await fetch(page, { method: 'POST', redirect: 'manual', headers: { cookie }, body: new URLSearchParams({ csrf, action: 'deny' }) })
  t.equal(cancel.status, 303)
  const resume = await fetch(new URL(String(cancel.headers.get('location')), page), { redirect: 'manual', headers: { cookie } })
  const back = new URL(String(resume.headers.get('location')))
  t.equal(back.searchParams.get('error'), 'access_denied')
})

t.test('events: onEvent failures never change a decision; server errors are logged and reported', async (t) => {
  const seen: string[] = []
  let calls = 0
  const running = await startAs(t, {
    accounts: { find: async (subject) => { if (subject === 'boom') throw new Error('directory down'); return subject === 'demo-user' ? { accountId: subject, claims: async () => ({ sub: subject }) } : undefined } },
    onEvent: (event) => {
      seen.push(event.type)
      calls++
      if (calls % 2 === 0) throw new Error('audit sink down')
      return Promise.reject(new Error('audit sink down (async)'))
    },
  })
  const client = await registerPublicClient(running.as)
  const { url, verifier } = await authorizationUrl(running.as, client)
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback, url.searchParams.get('state') ?? undefined)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, { additionalParameters: { resource: RESOURCE }, ...insecure })
  t.ok((await oauth.processAuthorizationCodeResponse(running.as, client, res)).access_token, 'a token despite a failing onEvent')
  const again = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, { additionalParameters: { resource: RESOURCE }, ...insecure })
  t.equal(again.status, 400)
  const denied = await completeAuthorization((await authorizationUrl(running.as, client)).url, REDIRECT_URI, { consent: 'deny' })
  t.equal(denied.searchParams.get('error'), 'access_denied')
  for (const type of ['client.registered', 'authorization.granted', 'token.issued', 'token.refused', 'grant.revoked', 'authorization.denied']) t.ok(seen.includes(type), type)
})

t.test('a store that fails is 503 temporarily_unavailable, whatever the store', async (t) => {
  const broken: AdapterFactory = () => {
    const fail = async () => { throw new Error('connection refused') }
    return { upsert: fail, find: fail, findByUid: fail, findByUserCode: fail, consume: fail, destroy: fail, revokeByGrantId: fail }
  }
  const running = await startAs(t, { store: broken })
  const res = await fetch(`${running.issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }) })
  t.equal(res.status, 503)
  t.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable')
  t.same((await running.app.mcpAuthorizationServer.health()).store, { reachable: true }, 'no ping for a store that has none')
})

t.test('the memory store claims single use atomically and expires idle clients', async (t) => {
  const store = createStore(undefined, { clientIdleTtl: 1000 })
  const codes = store('AuthorizationCode')
  const now = Math.floor(Date.now() / 1000)
  await codes.upsert('c1', { grantId: 'g1', iat: now, exp: now + 60 }, 60)
  await codes.upsert('c2', { grantId: 'g2', iat: now, exp: now + 60 }, 60)
  await codes.consume('c2')
  const found = await codes.find('c2')
  t.type(found?.consumed, 'number', 'marked consumed')
  if (found !== undefined) found.consumed = undefined
  t.type((await codes.find('c2'))?.consumed, 'number', 'a found record is a copy')
  const outcomes = await Promise.allSettled([codes.consume('c1'), codes.consume('c1')])
  t.same(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'], 'one claim wins')
  t.equal(((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason as { error?: string }).error, 'invalid_grant')
  t.equal(await codes.find('c1'), undefined, 'the loser revoked the grant: the code is gone')
  t.equal(await codes.consume('missing').then(() => 'won', (err: { error?: string }) => err.error), 'invalid_grant', 'a missing record loses too')
  const pars = store('PushedAuthorizationRequest')
  await pars.upsert('p1', { iat: now, exp: now + 60 }, 60)
  await pars.consume('p1')
  t.equal(await pars.consume('p1').then(() => 'won', (err: { error?: string }) => err.error), 'invalid_request_uri')

  const clients = store('Client')
  await clients.upsert('client-1', { client_id: 'client-1' }, undefined)
  t.ok(await clients.find('client-1'))
  t.ok(await clients.find('client-1'), 'touched at most once per tenth of the idle time')
  t.equal(store('Client'), clients, 'one adapter per model')
})

t.test('the decoration: jwks() is the served JWKS (public members only, a fresh copy), health() lists the keys', async (t) => {
  const running = await startAs(t)
  const decoration = running.app.mcpAuthorizationServer
  const jwks = decoration.jwks()
  const served = await (await fetch(running.as.jwks_uri as string)).json() as { keys: Array<Record<string, unknown>> }
  t.same(jwks.keys.map((k) => k.kid), served.keys.map((k) => k.kid), 'the keys served at jwks_uri')
  t.ok(jwks.keys.every((k) => k.d === undefined && k.p === undefined), 'no private member')
  ;(jwks.keys[0] as Record<string, unknown>).kid = 'changed'
  t.not(decoration.jwks().keys[0]?.kid, 'changed', 'a copy: changing it changes nothing')
  const health = await decoration.health()
  t.same(health, { store: { reachable: true }, keys: { count: served.keys.length, kids: served.keys.map((k) => String(k.kid)) } })
  t.equal(decoration.provider.issuer, running.issuer, 'provider: the oidc-provider instance')
})
