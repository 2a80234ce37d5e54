// assertTokenValidationEnforced: passes on mcpAuth (Bearer and DPoP, one or
// several resources, a discovered resource) and fails, naming the token it
// accepted and what to fix, on servers that skip a check.
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth from '../../index.js'
import { assertTokenValidationEnforced, createTestIssuer } from '../../testing.js'
import { RESOURCE, acceptAllApp, failsWith, firstFrame, goodApp, noSecrets } from './fixtures.js'

t.test('assertTokenValidationEnforced passes on mcpAuth: Bearer, DPoP with dpop.required and nonces, a POST with scopes, a discovered resource', async (t) => {
  const { app, issuer } = await goodApp(t)
  await assertTokenValidationEnforced(app, { url: '/mcp', issuer })
  await assertTokenValidationEnforced(app, { url: '/mcp', issuer, scheme: 'DPoP' })
  await assertTokenValidationEnforced(app, { url: '/mcp', method: 'POST', issuer, claims: { scope: 'mcp:tools:call' } })
  const required = await goodApp(t, { dpop: { required: true, nonce: { secret: 's'.repeat(32) } } })
  await assertTokenValidationEnforced(required.app, { url: '/mcp', issuer: required.issuer, scheme: 'DPoP' })
  const unnamed = await createTestIssuer()
  const discovered = await goodApp(t, {}, unnamed)
  await assertTokenValidationEnforced(discovered.app, { url: '/mcp', issuer: unnamed })
})

t.test('assertTokenValidationEnforced with several resources: a token for a sibling resource is refused; an aud alias works', async (t) => {
  const issuer = await createTestIssuer()
  const acme = 'https://mcp.example.com/tenants/acme/mcp'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [RESOURCE, { resource: acme, audiences: ['api://acme'] }], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.get('/mcp', async () => ({ ok: true }))
  app.get('/tenants/acme/mcp', async () => ({ ok: true }))
  await app.ready()
  await assertTokenValidationEnforced(app, { url: '/mcp', issuer, otherAudiences: [acme, 'api://acme'] })
  await assertTokenValidationEnforced(app, { url: '/tenants/acme/mcp', issuer, otherAudiences: [RESOURCE] })
  await assertTokenValidationEnforced(app, { url: '/tenants/acme/mcp', issuer, resource: 'api://acme' })
  await failsWith(t, () => assertTokenValidationEnforced(app, { url: '/tenants/acme/mcp', issuer, resource: 'api://acme', otherAudiences: [acme] }), [
    /a token for another audience \(aud https:\/\/mcp\.example\.com\/tenants\/acme\/mcp\) must be rejected/,
  ], 'naming the resource itself among the others is the test\'s mistake, and it shows')
})

t.test('assertTokenValidationEnforced fails on a server that checks no token, naming the first token it accepted', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app, seen } = await acceptAllApp(t)
  const err = await failsWith(t, () => assertTokenValidationEnforced(app, { url: '/mcp', issuer }), [
    /^assertTokenValidationEnforced: a token for another audience \(aud https:\/\/issuer\.test\) must be rejected with 401 invalid_token/,
    /fix: the server accepted a token for another audience \(aud https:\/\/issuer\.test\): accept only a token whose aud names this resource/,
    /authorization: Bearer eyJ[\w-]{9}…/,
  ], 'no checks at all')
  noSecrets(t, err, seen)
  t.match(firstFrame(err), /token-validation\.test\.ts:\d+/, 'the stack starts at the caller')
  await failsWith(t, () => assertTokenValidationEnforced(app, { url: '/mcp', issuer, scheme: 'DPoP' }), [
    /a token for another audience .* must be rejected/, /authorization: DPoP eyJ/, /dpop: eyJ/,
  ], 'no checks at all, under DPoP')
})

t.test('assertTokenValidationEnforced fails when the valid token is refused, with a hint; refuses an unknown scheme', async (t) => {
  const required = await goodApp(t, { dpop: { required: true } })
  await failsWith(t, () => assertTokenValidationEnforced(required.app, { url: '/mcp', issuer: required.issuer }), [
    /^assertTokenValidationEnforced: control: a valid token under Bearer must be accepted/,
    /status: expected 2xx, got 401/,
    /hint: if the app requires DPoP \(dpop\.required\), pass scheme: 'DPoP'/,
  ], 'Bearer on an app that requires DPoP')
  const untrusted = await createTestIssuer({ audience: RESOURCE })
  await failsWith(t, () => assertTokenValidationEnforced(required.app, { url: '/mcp', issuer: untrusted, scheme: 'DPoP' }), [
    /control: a valid token under DPoP must be accepted/, /hint: does the app trust the issuer/,
  ], 'an issuer the app does not trust')
  await t.rejects(assertTokenValidationEnforced(required.app, { url: '/mcp', issuer: untrusted, scheme: 'bearer' as 'Bearer' }), { name: 'TypeError', message: /scheme must be 'Bearer' or 'DPoP'/ })
})

t.test('assertTokenValidationEnforced sends a typ the app does not accept: JWT, or dpop+jwt when tokenTypes lists JWT', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app } = await goodApp(t, { tokenTypes: ['at+jwt', 'JWT'] }, issuer)
  await failsWith(t, () => assertTokenValidationEnforced(app, { url: '/mcp', issuer }), [/a token with typ JWT must be rejected/, /pass tokenTypes if your app accepts more/], 'JWT accepted, not declared')
  await assertTokenValidationEnforced(app, { url: '/mcp', issuer, tokenTypes: ['application/at+jwt', 'Application/JWT'] })
})

t.test('an app that cannot get the issuer\'s keys (503): the hint says to pass jwks, not that DPoP may be required', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  // The test issuer is trusted but its keys are never given: the JWKS cannot be fetched.
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: { uri: 'https://127.0.0.1:1/jwks', timeout: 0.5 } })
  app.get('/mcp', async () => ({ ok: true }))
  await app.ready()
  const error = await failsWith(t, () => assertTokenValidationEnforced(app, { url: '/mcp', issuer }), [
    /status: expected 2xx, got 503/, /hint: .*jwks: issuer\.jwks/,
  ], '503: the keys hint')
  t.notMatch(error?.message ?? '', /dpop\.required/, 'no DPoP hint for a 503')
})
