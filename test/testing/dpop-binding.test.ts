// assertDpopBoundBearerRejected and assertDpopProofAccepted: pass on mcpAuth,
// fail with a message naming the step on servers that violate what they check.
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth from '../../index.js'
import { assertDpopBoundBearerRejected, assertDpopProofAccepted, createTestIssuer } from '../../testing.js'
import { RESOURCE, PRM, firstFrame, goodApp, acceptAllApp, droppingCnf, fixedApp, invalidToken, failsWith, noSecrets } from './fixtures.js'

t.test('assertDpopBoundBearerRejected passes on mcpAuth (Bearer and DPoP offered, dpop.required, nonces, POST with scopes)', async (t) => {
  const { app, issuer } = await goodApp(t)
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer })
  await assertDpopBoundBearerRejected(app, { url: '/mcp', method: 'POST', issuer, claims: { scope: 'mcp:tools:call' }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
  const required = await goodApp(t, { dpop: { required: true } })
  await assertDpopBoundBearerRejected(required.app, { url: '/mcp', issuer: required.issuer })
  const nonce = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  await assertDpopBoundBearerRejected(nonce.app, { url: '/mcp', issuer: nonce.issuer })
})

t.test('assertDpopBoundBearerRejected fails when a bound token is accepted as a Bearer token', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app, seen } = await acceptAllApp(t)
  const err = await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /^assertDpopBoundBearerRejected: a DPoP-bound token sent as a Bearer token \(no DPoP header\) must be rejected with 401 invalid_token/,
    /status: expected 401, got 200/,
    /request: GET \/mcp\n {4}authorization: Bearer eyJ[\w-]{9}…\[\d+ chars\]/,
    /response: status 200/,
  ], 'a server with no authentication')
  noSecrets(t, err, seen)

  const broken = await goodApp(t, droppingCnf(issuer), issuer)
  await failsWith(t, () => assertDpopBoundBearerRejected(broken.app, { url: '/mcp', issuer, expectAcceptedWithProof: false }), [
    /sent as a Bearer token \(no DPoP header\)/, /status: expected 401, got 200/,
  ], 'a verifier that drops cnf')
})

t.test('assertDpopBoundBearerRejected fails when a DPoP header makes a Bearer request acceptable', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = await fixedApp(t, (headers, reply) => headers.dpop === undefined ? invalidToken(reply) : { ok: true })
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /under the Bearer scheme must be rejected with 401 invalid_token even with a valid DPoP proof/,
    /status: expected 401, got 200/,
    /dpop: eyJ[\w-]{9}…\[\d+ chars\]/,
  ], 'a server trusting any DPoP header')
})

t.test('assertDpopBoundBearerRejected fails on a wrong or incomplete rejection', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const wrongError = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : invalidToken(reply, 'Bearer error="invalid_request"'))
  await failsWith(t, () => assertDpopBoundBearerRejected(wrongError, { url: '/mcp', issuer }), [/expected error="invalid_token", got "invalid_request"/], 'invalid_request instead of invalid_token')
  const cacheable = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({}))
  await failsWith(t, () => assertDpopBoundBearerRejected(cacheable, { url: '/mcp', issuer }), [/Cache-Control: expected no-store on a 401/], 'no Cache-Control: no-store')
  const malformed = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ') ? { ok: true } : invalidToken(reply, 'Bearer error="invalid_token'))
  await failsWith(t, () => assertDpopBoundBearerRejected(malformed, { url: '/mcp', issuer }), [/WWW-Authenticate: expected "," between challenges at character 8/, /status: expected|- WWW-Authenticate/], 'a malformed challenge')
})

t.test('assertDpopBoundBearerRejected fails when the same token with a valid proof is not accepted (unless expectAcceptedWithProof: false)', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /the DPoP-bound token with a valid proof under the DPoP scheme must be accepted/,
    /status: expected 2xx, got 401/,
    /authorization: DPoP eyJ/,
  ], 'DPoP turned off')
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
})

// ——— assertDpopProofAccepted ———

t.test('assertDpopProofAccepted passes on mcpAuth and returns the response', async (t) => {
  const { app, issuer } = await goodApp(t)
  const res = await assertDpopProofAccepted(app, { url: '/mcp', issuer })
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).sender.binding, 'dpop')
  const post = await assertDpopProofAccepted(app, { url: '/mcp?x=1', method: 'post', issuer, claims: { scope: 'mcp:tools:call' }, headers: { 'x-test': '1', 'content-type': 'application/json' }, payload: '{"jsonrpc":"2.0"}' })
  t.equal(JSON.parse(post.body).sender.binding, 'dpop', 'POST, a query string, a string payload and extra headers')
  t.equal((await assertDpopProofAccepted(app, { url: RESOURCE, issuer })).statusCode, 200, 'an absolute url is its own htu')
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer, publicUrl: RESOURCE })).statusCode, 200, 'an explicit publicUrl')
})

t.test('assertDpopProofAccepted retries once with the server\'s nonce (use_dpop_nonce)', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  const res = await assertDpopProofAccepted(app, { url: '/mcp', issuer })
  t.equal(res.statusCode, 200)

  const never = await goodApp(t, { dpop: { nonce: { issue: () => 'fresh-nonce', check: () => 'invalid' } } })
  await failsWith(t, () => assertDpopProofAccepted(never.app, { url: '/mcp', issuer: never.issuer }), [
    /status: expected 2xx, got 401/, /error="use_dpop_nonce"/, /dpop-nonce: fresh-nonce/, /hint: the server asked for a DPoP nonce again/,
  ], 'a server that refuses every nonce')
})

t.test('assertDpopProofAccepted finds the resource (aud and htu origin) from the app when not given', async (t) => {
  const issuer = await createTestIssuer()
  const { app } = await goodApp(t, {}, issuer)
  t.equal(issuer.audience, undefined)
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer })).statusCode, 200)
  t.equal((await assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: RESOURCE })).statusCode, 200)

  const { app: open } = await acceptAllApp(t)
  await failsWith(t, () => assertDpopProofAccepted(open, { url: '/mcp', issuer }), [
    /finding the resource URI/, /expected a 401 with an absolute resource_metadata challenge parameter/, /response: status 200/, /hint: pass `resource`/,
  ], 'an app that does not answer 401')
  const noMetadata = await fixedApp(t, (_headers, reply) => invalidToken(reply, `Bearer resource_metadata="${PRM}"`))
  await failsWith(t, () => assertDpopProofAccepted(noMetadata, { url: '/mcp', issuer }), [
    /expected a 200 JSON metadata document with "resource" at https:\/\/mcp.example.com\/.well-known\/oauth-protected-resource\/mcp/, /status 404/,
  ], 'a resource_metadata nobody serves')
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: 'api://mcp' }), [/invalid_token/, /is api:\/\/mcp \(the token's aud\)/], 'an aud alias the app does not accept (htu origin discovered)')

  // A resource that is not a URL: the public URL cannot be derived.
  const urn = Fastify()
  t.teardown(() => urn.close())
  urn.get('/mcp', async (_request, reply) => invalidToken(reply, 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"'))
  urn.get('/.well-known/oauth-protected-resource', async () => ({ resource: 'urn:example:mcp' }))
  await t.rejects(assertDpopProofAccepted(urn, { url: '/mcp', issuer }), { name: 'TypeError', message: /cannot tell the public URL of \/mcp; pass publicUrl/ })
})

t.test('assertDpopProofAccepted with several resources: the request path picks the resource; an aud alias is accepted', async (t) => {
  const issuer = await createTestIssuer()
  const acme = 'https://mcp.example.com/tenants/acme/mcp'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: [RESOURCE, { resource: acme, audiences: ['api://acme'] }], authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  app.get('/mcp', async (request) => ({ resource: request.mcp?.resource }))
  app.get('/tenants/acme/mcp', async (request) => ({ resource: request.mcp?.resource }))
  await app.ready()
  for (const [url, expected] of [['/mcp', RESOURCE], ['/tenants/acme/mcp', acme]] as const) {
    const res = await assertDpopProofAccepted(app, { url, issuer })
    t.equal(JSON.parse(res.body).resource, expected, `${url}: the discovered resource`)
  }
  const alias = await assertDpopProofAccepted(app, { url: '/tenants/acme/mcp', issuer, resource: 'api://acme' })
  t.equal(JSON.parse(alias.body).resource, acme, 'aud api://acme; htu origin from discovery')
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer, resource: acme }), [/invalid_token/], 'another resource\'s aud')
})

t.test('assertDpopProofAccepted: an absolute url on another host is not the public URL (mcpAuth never trusts Host)', async (t) => {
  const { app, issuer } = await goodApp(t)
  await failsWith(t, () => assertDpopProofAccepted(app, { url: 'https://evil.example/mcp', issuer }), [/error="invalid_dpop_proof"/, /htu was https:\/\/evil.example\/mcp/], 'htu on the Host header\'s origin')
})

t.test('assertDpopProofAccepted fails when a valid proof is refused, with a hint', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertDpopProofAccepted(app, { url: '/mcp', issuer }), [
    /^assertDpopProofAccepted: a DPoP-bound token with a valid proof must be accepted/, /status: expected 2xx, got 401/, /www-authenticate: Bearer/,
    /hint: no DPoP challenge: is DPoP turned off \(dpop: false\)\?/,
  ], 'DPoP turned off')

  const good = await goodApp(t)
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', method: 'POST', issuer: good.issuer }), [
    /status: expected 2xx, got 403/, /hint: the token's scope was the issuer default; pass claims: \{ scope/,
  ], 'insufficient scope')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', method: 'POST', issuer: good.issuer, claims: { scope: 'other' } }), [/the token's scope was "other"/], 'insufficient scope, with claims')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: good.issuer, publicUrl: 'https://elsewhere.example/mcp' }), [
    /error="invalid_dpop_proof"/, /hint: the proof's htu was https:\/\/elsewhere.example\/mcp; .*pass `publicUrl`/,
  ], 'a wrong publicUrl')
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: good.issuer, resource: 'https://mcp.example.com/other' }), [
    /error="invalid_token"/, /hint: does the app trust the issuer .* is https:\/\/mcp.example.com\/other \(the token's aud\) its configured resource/,
  ], 'a wrong resource')
  const untrusted = await createTestIssuer({ audience: RESOURCE })
  await failsWith(t, () => assertDpopProofAccepted(good.app, { url: '/mcp', issuer: untrusted }), [/invalid_token/, /authorizationServers: \[issuer.issuer\]/], 'an issuer the app does not trust')
  const teapot = await fixedApp(t, (headers, reply) => headers.authorization === undefined ? invalidToken(reply, `Bearer resource_metadata="${PRM}"`) : reply.code(418).send(''))
  await failsWith(t, () => assertDpopProofAccepted(teapot, { url: '/mcp', issuer: good.issuer }), [/status: expected 2xx, got 418/, /body: \(empty\)/], 'no hint for an unknown answer')
})

t.test('assertDpopProofAccepted fails on an open route: the same request without credentials must get a 401 challenge', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app: open } = await acceptAllApp(t)
  const err = await failsWith(t, () => assertDpopProofAccepted(open, { url: '/mcp', issuer }), [
    /^assertDpopProofAccepted: the same request without credentials must be refused with 401 and a Bearer or DPoP challenge/,
    /- status: expected 401, got 200/,
    /- WWW-Authenticate: expected a Bearer or DPoP challenge/,
    /fix: the route answered a request without credentials: register mcpAuth for it/,
  ], 'an open route')
  t.match(firstFrame(err), /dpop-binding\.test\.ts:\d+/, 'the stack starts at the caller\'s line, after the helper\'s awaits')

  const basic = await fixedApp(t, (headers, reply) => headers.authorization === undefined ? reply.code(401).header('www-authenticate', 'Basic realm="x"').send() : { ok: true })
  await failsWith(t, () => assertDpopProofAccepted(basic, { url: '/mcp', issuer }), [/expected a Bearer or DPoP challenge/, /www-authenticate: Basic realm="x"/], 'a 401 that offers only Basic')
  const { app } = await goodApp(t, {}, issuer)
  const optOut = Fastify()
  t.teardown(() => optOut.close())
  await optOut.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
  optOut.get('/mcp', { config: { mcpAuth: false } }, async () => ({ ok: true }))
  await failsWith(t, () => assertDpopProofAccepted(optOut, { url: '/mcp', issuer }), [/config: \{ mcpAuth: false \}/], 'a route that opted out')
  await assertDpopProofAccepted(app, { url: '/mcp', issuer })
})

t.test('assertDpopBoundBearerRejected with expectAcceptedWithProof: false sends an unbound Bearer control request that must reach the route', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
  const closed = await fixedApp(t, (_headers, reply) => invalidToken(reply))
  await failsWith(t, () => assertDpopBoundBearerRejected(closed, { url: '/mcp', issuer, expectAcceptedWithProof: false }), [
    /control: the same request with an unbound token under Bearer must be accepted \(expectAcceptedWithProof: false\)/,
    /status: expected 2xx, got 401/,
    /hint: does the app trust the issuer/,
  ], 'a server that answers 401 to everything')
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mpc', issuer, expectAcceptedWithProof: false }), [
    /status: expected 2xx, got 404/, /hint: no route answers this method and url: check `url` and `method`/,
  ], 'a mistyped url')
  const teapot = await fixedApp(t, (_headers, reply) => reply.code(418).send(''))
  await failsWith(t, () => assertDpopBoundBearerRejected(teapot, { url: '/mcp', issuer, expectAcceptedWithProof: false }), [
    /status: expected 2xx, got 418/, /this control shows the url, method and resource reach a route that accepts the issuer's tokens; if the app requires DPoP \(dpop\.required\), leave expectAcceptedWithProof on/,
  ], 'an unknown answer: the control\'s own hint')
  const required = await goodApp(t, { dpop: { required: true } })
  await failsWith(t, () => assertDpopBoundBearerRejected(required.app, { url: '/mcp', issuer: required.issuer, expectAcceptedWithProof: false }), [/status: expected 2xx, got 401/], 'dpop.required with expectAcceptedWithProof: false')
})

t.test('assertDpopBoundBearerRejected fails when the error is in a challenge an OAuth client does not read (Basic)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const app = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ')
    ? { ok: true }
    : invalidToken(reply, `Basic realm="x", error="invalid_token", Bearer resource_metadata="${PRM}"`))
  await failsWith(t, () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }), [
    /Bearer challenge: expected error="invalid_token", got none/,
    /error="invalid_token" is in a Basic challenge: OAuth clients read it only from the Bearer or DPoP challenge/,
  ], 'the error in a Basic challenge')
  const dpopOnly = await fixedApp(t, (headers, reply) => headers.authorization?.toString().startsWith('DPoP ')
    ? { ok: true }
    : invalidToken(reply, `DPoP algs="ES256", error="invalid_token", resource_metadata="${PRM}"`))
  await assertDpopBoundBearerRejected(dpopOnly, { url: '/mcp', issuer })
})
