// Enterprise-managed authorization on mcpAuthorizationServer (MCP SEP-990, the
// RFC 7523 jwt-bearer grant for Identity Assertion JWT Authorization Grants)
// over real HTTP on 127.0.0.1 with real keys: the grant profile in metadata,
// the access token it issues (aud = the ID-JAG's resource, scopes intersected),
// and one refusal per check of draft-ietf-oauth-identity-assertion-authz-grant
// §4.4.1 and the MCP profile §7, each with a request that differs from an
// accepted one in that one respect.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt, generateKeyPair, jwtVerify } from 'jose'
import t from 'tap'
import { createDpopKey, createDpopProof } from '../../testing.js'
import type { AuthorizationServerEvent, McpAuthorizationServerOptions } from '../../authorization-server.js'
import { resolveAsOptions } from '../../lib/authorization-server/options.js'
import { createStore } from '../../lib/authorization-server/store.js'
import { asOptions, RESOURCE, SCOPES, startAs } from '../helpers/authorization-server.js'
import { freePort } from '../helpers/net.js'
import type { RunningAs } from '../helpers/authorization-server.js'
import { createIdp, JWT_BEARER, presentIdJag } from '../helpers/id-jag.js'
import type { TestIdp } from '../helpers/id-jag.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const IDP = 'https://idp.example.com'
const OTHER_RESOURCE = 'https://other.example.com/mcp'
const SECRET = 'enterprise-app-secret-0123456789abcdef'
const CLIENT = { id: 'enterprise-app', secret: SECRET }
const STATIC_CLIENTS = [
  { client_id: CLIENT.id, client_secret: SECRET, grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'public-app', grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'none' },
  { client_id: 'read-only-app', client_secret: SECRET, grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:tools:read' },
  { client_id: 'dpop-app', client_secret: SECRET, grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', dpop_bound_access_tokens: true },
  { client_id: 'code-app', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
]

interface Fixture {
  running: RunningAs
  idp: TestIdp
  token: string
  events: AuthorizationServerEvent[]
  present (assertion: string | undefined, extra?: Record<string, string>, client?: { id: string, secret?: string }, headers?: Record<string, string>): ReturnType<typeof presentIdJag>
}

async function setUp (t: Test, overrides: Partial<McpAuthorizationServerOptions> = {}, idJag: Partial<NonNullable<McpAuthorizationServerOptions['idJag']>> = {}): Promise<Fixture> {
  const events: AuthorizationServerEvent[] = []
  // The issuer embeds the port: the IdP's defaults are filled once it is known.
  const defaults = { audience: '', clientId: CLIENT.id, resource: RESOURCE, scope: 'mcp:tools:read mcp:tools:call' }
  const idp = await createIdp(IDP, defaults)
  const running = await startAs(t, {
    resources: [
      { uri: RESOURCE, scopes: SCOPES, defaultScopes: ['mcp:tools:read'], accessTokenTtl: 120 },
      { uri: OTHER_RESOURCE, scopes: ['other:read'] },
    ],
    clients: { static: STATIC_CLIENTS },
    idJag: { trustedIssuers: [{ issuer: IDP, jwks: { keys: [idp.publicJwk] } }], ...idJag },
    onEvent: (event) => { events.push(event) },
    ...overrides,
  })
  defaults.audience = running.issuer
  const token = running.as.token_endpoint as string
  return {
    running,
    idp,
    token,
    events,
    present: (assertion, extra = {}, client = CLIENT, headers = {}) => presentIdJag(token, assertion, client, extra, headers),
  }
}

async function refused (t: Test, answer: Awaited<ReturnType<typeof presentIdJag>>, error: string, description: RegExp, status = 400): Promise<void> {
  t.equal(answer.status, status, `${error}: status`)
  t.equal(answer.body.error, error)
  t.match(String(answer.body.error_description), description)
  t.notOk(answer.body.access_token, 'no token')
}

t.test('metadata advertises the ID-JAG grant profile and the jwt-bearer grant; without idJag neither', async (t) => {
  const { running } = await setUp(t)
  t.same(running.as.authorization_grant_profiles_supported, ['urn:ietf:params:oauth:grant-profile:id-jag'])
  t.ok(running.as.grant_types_supported?.includes(JWT_BEARER))
  const plain = await startAs(t, { clients: { static: [STATIC_CLIENTS[4] as (typeof STATIC_CLIENTS)[number]] } })
  t.equal(plain.as.authorization_grant_profiles_supported, undefined)
  t.notOk(plain.as.grant_types_supported?.includes(JWT_BEARER))
  const idp = await createIdp(IDP, { audience: plain.issuer, clientId: 'code-app', resource: RESOURCE })
  const refusedThere = await presentIdJag(plain.as.token_endpoint as string, await idp.mint(), { id: 'code-app', secret: SECRET })
  t.equal(refusedThere.body.error, 'unsupported_grant_type', 'no idJag: no jwt-bearer grant at all')
})

t.test('an ID-JAG becomes an access token: aud = its resource, scopes = requested ∩ granted, the user as subject, no refresh token', async (t) => {
  const { running, idp, present, events } = await setUp(t)
  const answer = await present(await idp.mint(), { scope: 'mcp:tools:call other:read', resource: RESOURCE })
  t.equal(answer.status, 200, JSON.stringify(answer.body))
  t.equal(answer.body.token_type, 'Bearer')
  t.equal(answer.body.scope, 'mcp:tools:call', 'requested ∩ the ID-JAG ∩ the resource')
  t.equal(answer.body.expires_in, 120, 'the resource\'s access-token lifetime')
  t.notOk(answer.body.refresh_token)
  t.notOk(answer.body.id_token)
  const { payload, protectedHeader } = await jwtVerify(String(answer.body.access_token), running.app.mcpAuthorizationServer.keys, { issuer: running.issuer, audience: RESOURCE })
  t.equal(protectedHeader.typ, 'at+jwt')
  t.equal(payload.sub, 'demo-user')
  t.equal(payload.client_id, CLIENT.id)
  t.equal(payload.scope, 'mcp:tools:call')
  t.same(events.filter((e) => e.type === 'token.issued'), [{ type: 'token.issued', clientId: CLIENT.id, grantType: JWT_BEARER }])

  const scopeless = await present(await idp.mint())
  t.equal(scopeless.status, 200)
  t.equal(scopeless.body.scope, 'mcp:tools:read mcp:tools:call', 'no scope requested: what the ID-JAG grants for the resource')
  t.equal(decodeJwt(String(scopeless.body.access_token)).aud, RESOURCE, 'no resource requested: the ID-JAG\'s')
  const without = await present(await idp.mint({ scope: undefined }))
  t.equal(without.body.scope, 'mcp:tools:read', 'an ID-JAG without scope grants the resource\'s default scopes only')
  const array = await present(await idp.mint({ aud: [running.issuer] }))
  t.equal(array.status, 200, 'aud as an array of exactly our issuer')
  const other = await present(await idp.mint({ resource: [RESOURCE, OTHER_RESOURCE], scope: 'other:read' }), { resource: OTHER_RESOURCE })
  t.equal(other.status, 200, 'one of several resources named')
  t.equal(decodeJwt(String(other.body.access_token)).aud, OTHER_RESOURCE)
})

t.test('each ID-JAG check refuses alone (draft §4.4.1, MCP §7.4 and §7.6)', async (t) => {
  const { running, idp, present } = await setUp(t)
  const now = Math.floor(Date.now() / 1000)
  const { privateKey: stranger } = await generateKeyPair('ES256')

  await refused(t, await present(await idp.mint({}, { typ: 'JWT' })), 'invalid_grant', /"typ" header must be oauth-id-jag\+jwt/)
  await refused(t, await present(await idp.mint({}, { typ: undefined })), 'invalid_grant', /"typ" header/)
  await refused(t, await present(await idp.mint({}, {}, stranger)), 'invalid_grant', /signature does not verify/)
  await refused(t, await present(await idp.mint({}, { kid: 'unknown-kid' })), 'invalid_grant', /signature does not verify/)
  await refused(t, await present(await idp.mint({ iss: 'https://evil.example.com' })), 'invalid_grant', /not from a trusted identity provider/)
  await refused(t, await present(await idp.mint({ iss: `${IDP}/` })), 'invalid_grant', /not from a trusted identity provider/, 400)
  await refused(t, await present(await idp.mint({ aud: 'https://other-as.example.com' })), 'invalid_grant', /audience is not this authorization server/)
  await refused(t, await present(await idp.mint({ aud: `${running.issuer}/` })), 'invalid_grant', /audience/)
  await refused(t, await present(await idp.mint({ aud: [running.issuer, 'https://other-as.example.com'] })), 'invalid_grant', /audience/)
  await refused(t, await present(await idp.mint({ client_id: 'someone-else' })), 'invalid_grant', /issued for another client/)
  await refused(t, await present(await idp.mint({ exp: now - 60, iat: now - 300 })), 'invalid_grant', /has expired/)
  await refused(t, await present(await idp.mint({ iat: now + 120, exp: now + 300 })), 'invalid_grant', /issued in the future/)
  await refused(t, await present(await idp.mint({ iat: now, exp: now + 601 })), 'invalid_grant', /lives longer than 600 seconds/)
  await refused(t, await present(await idp.mint({ nbf: now + 120 })), 'invalid_grant', /not valid yet/)
  for (const claim of ['sub', 'jti', 'client_id', 'iat', 'exp', 'aud']) {
    await refused(t, await present(await idp.mint({ [claim]: undefined })), 'invalid_grant', new RegExp(`lacks its "${claim}" claim`))
  }
  await refused(t, await present(await idp.mint({ sub: '' })), 'invalid_grant', /"sub" claim must be a non-empty string/)
  await refused(t, await present(await idp.mint({ scope: ['mcp:tools:read'] })), 'invalid_grant', /"scope" claim must be a string/)
  await refused(t, await present(await idp.mint({ resource: [] })), 'invalid_grant', /"resource" claim must be a URI/)
  await refused(t, await present(await idp.mint({ iat: 'now' })), 'invalid_grant', /"iat" claim is invalid/)
  await refused(t, await present(await idp.mint({ resource: undefined })), 'invalid_grant', /names no resource/)
  await refused(t, await present(await idp.mint({ resource: 'https://elsewhere.example.com/mcp' })), 'invalid_grant', /not served by this authorization server/)
  await refused(t, await present(await idp.mint(), { resource: OTHER_RESOURCE }), 'invalid_target', /not one the ID-JAG grants/)
  await refused(t, await present(await idp.mint({ resource: [RESOURCE, OTHER_RESOURCE] })), 'invalid_target', /name one with "resource"/)
  await refused(t, await present(await idp.mint({ scope: 'mcp:tools:read' }), { scope: 'mcp:tools:call' }), 'invalid_scope', /none of the requested scopes/)
  await refused(t, await present(await idp.mint({ scope: 'other:read' })), 'invalid_scope', /grants no scope of this resource/)
  await refused(t, await present(await idp.mint({ sub: 'unknown-user' })), 'invalid_grant', /no account at this authorization server/)
  await refused(t, await present('not.a.jwt'), 'invalid_grant', /not a well-formed signed JWT/)
  await refused(t, await present(undefined), 'invalid_request', /assertion/)

  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'oauth-id-jag+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(decodeJwt(await idp.mint()))).toString('base64url')}.`
  await refused(t, await present(unsigned), 'invalid_grant', /algorithm not accepted|not a well-formed/)
})

t.test('the ID-JAG is single use, and a refused request does not spend it', async (t) => {
  const { idp, present, events } = await setUp(t)
  const assertion = await idp.mint()
  await refused(t, await present(assertion, { scope: 'other:read' }), 'invalid_scope', /none of the requested scopes/)
  t.equal((await present(assertion)).status, 200, 'first use after a refusal')
  await refused(t, await present(assertion), 'invalid_grant', /used before/)
  t.match(events.at(-1), { type: 'token.refused', clientId: CLIENT.id, grantType: JWT_BEARER, error: 'invalid_grant' })

  // The in-memory store claims the jti atomically too: two requests at once, one token.
  const racing = await idp.mint()
  const answers = await Promise.all([present(racing), present(racing), present(racing)])
  t.same(answers.map((a) => a.status).sort(), [200, 400, 400])
})

t.test('the memory store\'s replay detection: of concurrent find-then-save sequences for one id exactly one finds nothing', async (t) => {
  const replay = createStore(undefined, { clientIdleTtl: undefined })('ReplayDetection')
  // oidc-provider's ReplayDetection.unique: find, then save when nothing was found.
  const unique = async (id: string): Promise<boolean> => {
    if (await replay.find(id) !== undefined) return false
    const now = Math.floor(Date.now() / 1000)
    await replay.upsert(id, { jti: id, iat: now, exp: now + 60 }, 60)
    return true
  }
  t.same((await Promise.all([unique('a'), unique('a'), unique('a')])).sort(), [false, false, true])
  t.equal(await unique('a'), false, 'and later')
  t.equal(await unique('b'), true, 'another id is free')
  const found = await replay.find('a')
  t.equal(found?.jti, 'a', 'the saved record is found')
})

t.test('clients: authenticated only, held to their registered scope and grant types; DPoP binds the token', async (t) => {
  const { idp, present, token } = await setUp(t)
  await refused(t, await present(await idp.mint({ client_id: 'public-app' }), {}, { id: 'public-app' }), 'unauthorized_client', /needs a client that authenticates/)
  const readOnly = await present(await idp.mint({ client_id: 'read-only-app' }), {}, { id: 'read-only-app', secret: SECRET })
  t.equal(readOnly.body.scope, 'mcp:tools:read', 'the client\'s registered scope limits the grant')
  const notAllowed = await present(await idp.mint({ client_id: 'code-app' }), {}, { id: 'code-app', secret: SECRET })
  t.equal(notAllowed.status, 400, 'a client not registered for jwt-bearer')
  t.notOk(notAllowed.body.access_token)
  const wrongSecret = await present(await idp.mint(), {}, { id: CLIENT.id, secret: 'wrong-secret-0123456789' })
  t.equal(wrongSecret.status, 401)
  t.equal(wrongSecret.body.error, 'invalid_client')

  const key = await createDpopKey()
  const bound = await present(await idp.mint({ client_id: 'dpop-app' }), {}, { id: 'dpop-app', secret: SECRET }, { dpop: await createDpopProof(key, { method: 'POST', url: token }) })
  t.equal(bound.status, 200, JSON.stringify(bound.body))
  t.equal(bound.body.token_type, 'DPoP')
  t.same(decodeJwt(String(bound.body.access_token)).cnf, { jkt: key.jkt })
  const proofless = await present(await idp.mint({ client_id: 'dpop-app' }), {}, { id: 'dpop-app', secret: SECRET })
  t.equal(proofless.status, 400, 'a client registered for DPoP-bound tokens sends no proof')
  t.equal(proofless.body.error, 'invalid_grant')
  t.notOk(proofless.body.access_token)
})

t.test('trusted issuers: algorithms, account mapping, several issuers, and a jwks_uri that is down is 503', async (t) => {
  const second = await createIdp('https://idp-two.example.com', { audience: '', clientId: CLIENT.id, resource: RESOURCE }, 'ES384', 'two')
  const mapped: string[] = []
  const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [remote.publicJwk] })))
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
  t.teardown(() => jwks.close())
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`
  const remote = await createIdp('https://idp-remote.example.com', { audience: '', clientId: CLIENT.id, resource: RESOURCE }, 'RS256', 'r1')
  const { running, idp, present } = await setUp(t, {}, {
    trustedIssuers: [
      { issuer: IDP, jwks: { keys: [(await createIdp(IDP, { audience: '', clientId: '', resource: '' })).publicJwk] } },
      {
        issuer: second.issuer,
        jwks: { keys: [second.publicJwk] },
        algorithms: ['ES256'],
        accountId: (claims) => {
          mapped.push(claims.sub)
          return claims.sub === 'alice@idp-two' ? 'other-user' : undefined
        },
      },
      { issuer: remote.issuer, jwks: jwksUrl },
    ],
  })
  const aud = { aud: running.issuer }
  await refused(t, await present(await idp.mint()), 'invalid_grant', /signature does not verify/, 400)
  await refused(t, await present(await second.mint({ ...aud, sub: 'alice@idp-two' })), 'invalid_grant', /algorithm not accepted/)
  const secondAllowed = await setUp(t, {}, { trustedIssuers: [{ issuer: second.issuer, jwks: { keys: [second.publicJwk] }, accountId: (claims) => claims.sub === 'alice@idp-two' ? 'other-user' : undefined }] })
  const alice = await secondAllowed.present(await second.mint({ aud: secondAllowed.running.issuer, sub: 'alice@idp-two' }))
  t.equal(decodeJwt(String(alice.body.access_token)).sub, 'other-user', 'the mapped account')
  await refused(t, await secondAllowed.present(await second.mint({ aud: secondAllowed.running.issuer, sub: 'demo-user' })), 'invalid_grant', /no account/, 400)

  const fromRemote = await present(await remote.mint(aud))
  t.equal(fromRemote.status, 200, 'keys from the jwks_uri')
  await refused(t, await present(await remote.mint(aud, { kid: 'rotated' })), 'invalid_grant', /signature does not verify/, 400)
  t.equal(mapped.length, 0, 'the mapping is never asked for a refused ID-JAG')

  // The identity provider's jwks_uri unreachable, or answering 500: an outage, never a refusal or a token.
  const broken = createServer((_req, res) => res.writeHead(500).end())
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => broken.close())
  const brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/jwks`
  const closed = await freePort()
  const outage = await setUp(t, {}, { trustedIssuers: [{ issuer: remote.issuer, jwks: brokenUrl }, { issuer: second.issuer, jwks: `http://127.0.0.1:${closed}/jwks` }] })
  for (const from of [remote, second]) {
    const down = await outage.present(await from.mint({ aud: outage.running.issuer }))
    t.equal(down.status, 503, `${from.issuer}: 503`)
    t.equal(down.body.error, 'temporarily_unavailable')
  }

  const failing = await setUp(t, {}, { trustedIssuers: [{ issuer: second.issuer, jwks: { keys: [second.publicJwk] }, accountId: () => { throw new Error('directory down') } }] })
  const thrown = await failing.present(await second.mint({ aud: failing.running.issuer }))
  t.equal(thrown.status, 503, 'a mapping that throws is an outage, not a refusal')
  t.equal(thrown.body.error, 'temporarily_unavailable')
  t.notMatch(JSON.stringify(thrown.body), /directory down/, 'its message stays inside')
})

t.test('idJag options are validated at register', async (t) => {
  const idp = await createIdp(IDP, { audience: '', clientId: '', resource: '' })
  const base = asOptions('http://127.0.0.1:9')
  const resolve = (idJag: unknown) => () => resolveAsOptions({ ...base, idJag } as McpAuthorizationServerOptions)
  const issuer = { issuer: IDP, jwks: { keys: [idp.publicJwk] } }
  t.throws(resolve('yes'), /"idJag" must be \{ trustedIssuers/)
  t.throws(resolve({ trustedIssuers: [] }), /must list at least one/)
  t.throws(resolve({ trustedIssuers: [issuer], trustedIssuer: [] }), /"idJag.trustedIssuer" is not a known option; did you mean "idJag.trustedIssuers"/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, issuer: 'http://idp.example.com' }] }), /issuer" must be the identity provider's issuer identifier/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, jwks: 'http://idp.example.com/jwks' }] }), /jwks" must be an https URL/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, jwks: 'not a url' }] }), /jwks" must be an https URL/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, jwks: { keys: [] } }] }), /jwks" must be \{ keys/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }] }), /asymmetric public JWK/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, jwks: { keys: [{ ...idp.publicJwk, d: 'private' }] } }] }), /is a private key/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, algorithms: ['HS256'] }] }), /asymmetric JWS algorithms/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, accountId: 'sub' }] }), /accountId" must be a function/)
  t.throws(resolve({ trustedIssuers: [{ ...issuer, issuers: [] }] }), /did you mean "idJag.trustedIssuers\[0\].issuer"/)
  t.throws(resolve({ trustedIssuers: [issuer, issuer] }), /twice/)
  t.throws(resolve({ trustedIssuers: [issuer], maxLifetime: 0 }), /at least 1 second/)
  t.throws(resolve({ trustedIssuers: [issuer], maxLifetime: 7200 }), /between 0 and 3600/)
  t.throws(resolve({ trustedIssuers: [issuer], clockTolerance: -1 }), /clockTolerance/)
  t.throws(resolve({ trustedIssuers: [null] }), /must be \{ issuer, jwks/)
  const resolved = resolveAsOptions({ ...base, idJag: { trustedIssuers: [issuer, { issuer: 'https://idp-two.example.com', jwks: 'https://idp-two.example.com/jwks' }] } })
  t.same([...resolved.idJag?.issuers.keys() ?? []], [IDP, 'https://idp-two.example.com'])
  t.same({ maxLifetime: resolved.idJag?.maxLifetime, clockTolerance: resolved.idJag?.clockTolerance }, { maxLifetime: 600, clockTolerance: 30 })
  t.equal(resolveAsOptions(base).idJag, undefined)
})
