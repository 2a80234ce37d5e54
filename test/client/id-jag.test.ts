// Enterprise-managed authorization end to end (MCP SEP-990): a second
// oidc-provider plays the enterprise identity provider (the user signs in
// there for an ID token; its RFC 8693 token-exchange grant, registered here,
// applies the enterprise's policy and signs ID-JAGs with its published key),
// this package's mcpAuthorizationServer honours the ID-JAGs (its keys from the
// IdP's jwks_uri), and mcpAuth protects two MCP servers. The client
// (`grant: { type: 'id-jag' }`) exchanges, presents, and calls; every refusal
// comes back typed, after one exchange and at most one token request: no retry,
// no other grant.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT } from 'jose'
import * as oauth from 'oauth4webapi'
import { errors } from 'oidc-provider'
import t from 'tap'
import Fastify from 'fastify'
import { createMcpOAuthClient, isMcpClientError, McpAuthorizationRequiredError, mcpClient } from '../../client.js'
import type { IdJagGrantOptions, McpOAuthClientOptions } from '../../client.js'
import type { AuthorizationServerEvent } from '../../authorization-server.js'
import { startAs } from '../helpers/authorization-server.js'
import { rpc, SCOPES, startMcpServer } from '../helpers/mcp-resource-server.js'
import { freePort } from '../helpers/net.js'
import { browse, LOGIN, startOidcServer } from '../helpers/oidc-provider.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag'
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const IDP_CLIENT = { id: 'mcp-app-at-idp', secret: randomBytes(24).toString('base64url') }
const AS_CLIENT = { id: 'enterprise-app', secret: randomBytes(24).toString('base64url') }
const REDIRECT_URI = 'http://127.0.0.1:9/idp-callback'

/** What the enterprise decides at its identity provider, read at each exchange. */
interface Policy {
  revoked: Set<string>
  /** The MCP servers (resource identifiers) each user may use. */
  resources: Map<string, string[]>
  /** Scopes the identity provider grants, whatever is asked for. */
  scopes: string[]
  /** A misbehaving identity provider: another resource in the ID-JAG, another token type. */
  issue: { resource?: string, issuedTokenType?: string }
  /** What each token exchange asked for. */
  asked: Array<{ audience?: string, resource?: string, scope?: string }>
}

interface ExchangeContext {
  oidc: { params: Record<string, string | undefined>, client: { clientId: string } }
  body?: unknown
}

async function startEnterprise (t: Test) {
  const policy: Policy = { revoked: new Set(), resources: new Map(), scopes: [...SCOPES], issue: {}, asked: [] }
  const signingJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
  const idp = await startOidcServer(t, {
    resources: [],
    signingKey: signingJwk,
    clients: [{
      client_id: IDP_CLIENT.id,
      client_secret: IDP_CLIENT.secret,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', TOKEN_EXCHANGE],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
  })
  const idpKeys = createLocalJWKSet({ keys: [{ ...signingJwk, d: undefined, kid: 'as-key', alg: 'ES256' } as never] })
  const signingKey = await importJWK({ ...signingJwk, alg: 'ES256' } as never, 'ES256')

  const [portA, portB] = [await freePort(), await freePort()]
  const resourceA = `http://127.0.0.1:${portA}/mcp`
  const resourceB = `http://127.0.0.1:${portB}/mcp`
  const events: AuthorizationServerEvent[] = []
  const as = await startAs(t, {
    resources: [{ uri: resourceA, scopes: [...SCOPES] }, { uri: resourceB, scopes: [...SCOPES] }],
    accounts: { find: async (subject) => subject === LOGIN || subject === 'alice' ? { accountId: subject, claims: async () => ({ sub: subject }) } : undefined },
    clients: {
      static: [
        { client_id: AS_CLIENT.id, client_secret: AS_CLIENT.secret, grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
        { client_id: 'public-app', grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'none' },
      ],
    },
    idJag: { trustedIssuers: [{ issuer: idp.issuer, jwks: `${idp.issuer}/jwks` }] },
    onEvent: (event) => { events.push(event) },
  })
  const mcpA = await startMcpServer(t, { issuer: as.issuer, port: portA })
  const mcpB = await startMcpServer(t, { issuer: as.issuer, port: portB })

  // The identity provider's side of SEP-990 §4: validate the ID token for the
  // authenticated client, apply the enterprise's policy, sign an ID-JAG.
  async function tokenExchange (ctx: ExchangeContext): Promise<void> {
    const { params, client } = ctx.oidc
    policy.asked.push({ audience: params.audience, resource: params.resource, scope: params.scope })
    if (params.requested_token_type !== ID_JAG || params.subject_token_type !== ID_TOKEN) throw new errors.InvalidRequest('only ID tokens exchanged for ID-JAGs')
    let subject: string
    try {
      const { payload } = await jwtVerify(String(params.subject_token), idpKeys, { issuer: idp.issuer, audience: client.clientId })
      subject = String(payload.sub)
    } catch {
      throw new errors.InvalidGrant('the subject token is not an ID token issued to this client')
    }
    if (policy.revoked.has(subject)) throw new errors.InvalidGrant('the user may no longer use this application')
    // SEP-990 §7.6.1: the audience must be the authorization server of the resource.
    if (params.audience !== as.issuer || !(policy.resources.get(subject) ?? []).includes(String(params.resource))) {
      throw new errors.InvalidTarget('this user may not use that MCP server')
    }
    const asked = params.scope?.split(' ') ?? policy.scopes
    const scope = asked.filter((s) => policy.scopes.includes(s)).join(' ')
    const idJag = await new SignJWT({ sub: subject, client_id: AS_CLIENT.id, resource: policy.issue.resource ?? params.resource, scope })
      .setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt', kid: 'as-key' })
      .setIssuer(idp.issuer)
      .setAudience(String(params.audience))
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(signingKey)
    ctx.body = { access_token: idJag, issued_token_type: policy.issue.issuedTokenType ?? ID_JAG, token_type: 'N_A', expires_in: 300, scope }
  }
  idp.provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'])

  /** The user signs in to the application at the identity provider (OIDC, code + PKCE): the ID token. */
  async function signIn (): Promise<string> {
    const issuer = new URL(idp.issuer)
    const idpAs = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }))
    const client = { client_id: IDP_CLIENT.id }
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const url = new URL(idpAs.authorization_endpoint as string)
    for (const [name, value] of Object.entries({ client_id: IDP_CLIENT.id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) {
      url.searchParams.set(name, value)
    }
    const callback = oauth.validateAuthResponse(idpAs, client, await browse(url, REDIRECT_URI), state)
    const response = await oauth.authorizationCodeGrantRequest(idpAs, client, oauth.ClientSecretBasic(IDP_CLIENT.secret), callback, REDIRECT_URI, verifier, { [oauth.allowInsecureRequests]: true })
    const tokens = await oauth.processAuthorizationCodeResponse(idpAs, client, response, { requireIdToken: true })
    return tokens.id_token as string
  }

  /** An ID token the IdP issued to the application for another of its users (signed with its key). */
  async function idTokenFor (subject: string): Promise<string> {
    return await new SignJWT({ sub: subject }).setProtectedHeader({ alg: 'ES256', kid: 'as-key' }).setIssuer(idp.issuer).setAudience(IDP_CLIENT.id).setIssuedAt().setExpirationTime('10m').sign(signingKey)
  }

  function grant (idToken: IdJagGrantOptions['idToken']): IdJagGrantOptions {
    return {
      type: 'id-jag',
      idp: { issuer: idp.issuer, tokenEndpoint: `${idp.issuer}/token`, clientId: IDP_CLIENT.id, auth: { method: 'client_secret_basic', secret: IDP_CLIENT.secret } },
      idToken,
    }
  }

  function client (idToken: string, overrides: Partial<McpOAuthClientOptions> = {}) {
    return createMcpOAuthClient({
      preRegistered: { [as.issuer]: { clientId: AS_CLIENT.id, auth: { method: 'client_secret_basic', secret: AS_CLIENT.secret } } },
      grant: grant(() => idToken),
      ...overrides,
    })
  }

  const exchanges = (): number => idp.tokenRequests.filter((r) => r.grantType === TOKEN_EXCHANGE).length
  const presented = (): number => events.filter((e) => e.grantType === JWT_BEARER).length
  const otherGrants = (): number => events.filter((e) => e.grantType !== JWT_BEARER).length + idp.tokenRequests.filter((r) => r.grantType !== TOKEN_EXCHANGE && r.grantType !== 'authorization_code').length
  return { idp, as, mcpA, mcpB, policy, events, signIn, idTokenFor, grant, client, exchanges, presented, otherGrants }
}

/** The typed refusal, after exactly the requests given: no retry, no other grant. */
async function refusedOnce (t: Test, call: Promise<Response>, expected: { reason: string, oauthError?: string }, counts: { exchanges: () => number, presented: () => number, otherGrants: () => number }, expectedCounts: { exchanges: number, presented: number }): Promise<void> {
  const before = { exchanges: counts.exchanges(), presented: counts.presented() }
  const error = await call.then(() => undefined, (err: unknown) => err)
  t.ok(isMcpClientError(error), 'an McpClientError')
  t.match(error, { name: 'McpClientError', code: 'FST_MCP_CLIENT_TOKEN', ...expected })
  t.same({ exchanges: counts.exchanges() - before.exchanges, presented: counts.presented() - before.presented }, expectedCounts, 'one attempt, no retry')
  t.equal(counts.otherGrants(), 0, 'no other grant tried')
}

t.test('the user signs in at the enterprise IdP once; the client gets MCP tokens for the servers the enterprise allows, DPoP-bound', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url, e.mcpB.url])
  e.policy.scopes = ['mcp:tools:read', 'mcp:tools:call']
  const idToken = await e.signIn()
  const oauthClient = e.client(idToken, { dpop: { key: 'generate' } })

  const listed = await oauthClient.fetch(e.mcpA.url, rpc('tools/list'))
  t.equal(listed.status, 200, await listed.clone().text())
  const { result } = await listed.json() as { result: { subject: string, clientId: string, resource: string, scopes: string[], sender: { binding: string } } }
  t.match(result, { subject: LOGIN, clientId: AS_CLIENT.id, resource: e.mcpA.url, sender: { binding: 'dpop' } })
  t.ok(result.scopes.includes('mcp:tools:read'))
  t.equal((await oauthClient.fetch(e.mcpA.url, rpc('tools/call', { name: 'echo' }))).status, 200)
  const onB = await oauthClient.fetch(e.mcpB.url, rpc('tools/list'))
  t.equal(onB.status, 200, 'the second MCP server: its own exchange and token')
  t.equal(((await onB.json()) as { result: { resource: string } }).result.resource, e.mcpB.url)
  t.equal(e.exchanges(), e.presented(), 'one exchange per access token')
  t.match(e.policy.asked[0], { audience: e.as.issuer, resource: e.mcpA.url, scope: /^mcp:tools:read( |$)/ }, 'audience = the MCP authorization server, resource = the MCP server, the scope asked for')
  t.match(e.policy.asked.at(-1), { audience: e.as.issuer, resource: e.mcpB.url })
  t.equal(e.otherGrants(), 0)
  t.same(e.as.as.authorization_grant_profiles_supported, ['urn:ietf:params:oauth:grant-profile:id-jag'])
})

t.test('mcpClient: each app user\'s own ID token (idToken gets the partition), a user without one sent to sign in at the IdP', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url])
  e.policy.resources.set('alice', [e.mcpA.url])
  const idTokens = new Map([[LOGIN, await e.signIn()], ['alice', await e.idTokenFor('alice')]])
  const signInUrl = `${e.idp.issuer}/auth?client_id=${IDP_CLIENT.id}`
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpClient, {
    baseUrl: `http://127.0.0.1:${port}`,
    partition: (request) => String(request.headers['x-user']),
    preRegistered: { [e.as.issuer]: { clientId: AS_CLIENT.id, auth: { method: 'client_secret_basic', secret: AS_CLIENT.secret } } },
    grant: e.grant(({ partition }) => {
      const idToken = idTokens.get(partition)
      if (idToken === undefined) throw new McpAuthorizationRequiredError(signInUrl)
      return idToken
    }),
    allowPrivateNetworks: true,
  })
  app.get('/dashboard', async (request, reply) => {
    try {
      return await (await app.mcpClient.for(request).fetch(e.mcpA.url, rpc('tools/list'))).json()
    } catch (err) {
      if (err instanceof McpAuthorizationRequiredError) return await reply.redirect(err.authorizationUrl)
      throw err
    }
  })
  await app.listen({ port, host: '127.0.0.1' })
  for (const name of [LOGIN, 'alice']) {
    const res = await app.inject({ url: '/dashboard', headers: { 'x-user': name } })
    t.equal(res.json().result.subject, name, `${name} calls the MCP server as ${name}`)
  }
  const stranger = await app.inject({ url: '/dashboard', headers: { 'x-user': 'mallory' } })
  t.equal(stranger.statusCode, 302)
  t.equal(stranger.headers.location, signInUrl, 'no ID token: the user signs in at the IdP first')
  t.equal(e.exchanges(), 2, 'one exchange per user')
})

t.test('a revoked user gets no ID-JAG: invalid_grant from the IdP, typed, nothing presented', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url])
  const idToken = await e.signIn()
  e.policy.revoked.add(LOGIN)
  await refusedOnce(t, e.client(idToken).fetch(e.mcpA.url, rpc('tools/list')), { reason: 'token.exchange_error', oauthError: 'invalid_grant' }, e, { exchanges: 1, presented: 0 })
  e.policy.revoked.delete(LOGIN)
  t.equal((await e.client(idToken).fetch(e.mcpA.url, rpc('tools/list'))).status, 200, 'reinstated: the same sign-in works again')
})

t.test('a resource outside the ID-JAG: refused by the IdP\'s policy, or by the authorization server when the ID-JAG names another', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url])
  const idToken = await e.signIn()
  await refusedOnce(t, e.client(idToken).fetch(e.mcpB.url, rpc('tools/list')), { reason: 'token.exchange_error', oauthError: 'invalid_target' }, e, { exchanges: 1, presented: 0 })

  // An IdP that answers with an ID-JAG for server A when asked for server B.
  e.policy.resources.set(LOGIN, [e.mcpA.url, e.mcpB.url])
  e.policy.issue.resource = e.mcpA.url
  await refusedOnce(t, e.client(idToken).fetch(e.mcpB.url, rpc('tools/list')), { reason: 'token.error', oauthError: 'invalid_target' }, e, { exchanges: 1, presented: 1 })
  t.equal(e.mcpB.authorizations.filter((a) => a !== undefined).length, 0, 'no token ever reached server B')
})

t.test('invalid_scope and unauthorized_client at the authorization server are typed errors, not retried', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url])
  const idToken = await e.signIn()
  e.policy.scopes = ['calendar:read']
  await refusedOnce(t, e.client(idToken).fetch(e.mcpA.url, rpc('tools/list')), { reason: 'token.error', oauthError: 'invalid_scope' }, e, { exchanges: 1, presented: 1 })
  e.policy.scopes = [...SCOPES]
  // A public client: the authorization server needs one that authenticates.
  const unauthenticated = e.client(idToken, { preRegistered: { [e.as.issuer]: { clientId: 'public-app' } } })
  await refusedOnce(t, unauthenticated.fetch(e.mcpA.url, rpc('tools/list')), { reason: 'token.error', oauthError: 'unauthorized_client' }, e, { exchanges: 1, presented: 1 })
})

t.test('the exchange\'s own failures: a broken idToken callback, an IdP that issues no ID-JAG, an unreachable IdP', async (t) => {
  const e = await startEnterprise(t)
  e.policy.resources.set(LOGIN, [e.mcpA.url])
  const idToken = await e.signIn()
  const preRegistered = { [e.as.issuer]: { clientId: AS_CLIENT.id, auth: { method: 'client_secret_basic' as const, secret: AS_CLIENT.secret } } }
  const seen: unknown[] = []
  const withIdToken = (idTokenOf: IdJagGrantOptions['idToken']) => createMcpOAuthClient({ preRegistered, grant: e.grant(idTokenOf) })
  await t.rejects(withIdToken(() => { throw new Error('session store down') }).fetch(e.mcpA.url, rpc('tools/list')), { code: 'FST_MCP_CLIENT_TOKEN', reason: 'token.id_token_failed' })
  await t.rejects(withIdToken(() => '').fetch(e.mcpA.url, rpc('tools/list')), { name: 'McpClientError', reason: 'token.id_token_failed' })
  // A web app without a live ID token sends the user to sign in at the IdP: its error reaches the caller as thrown.
  const signInFirst = new McpAuthorizationRequiredError(`${e.idp.issuer}/auth?client_id=${IDP_CLIENT.id}`)
  await t.rejects(withIdToken(() => { throw signInFirst }).fetch(e.mcpA.url, rpc('tools/list')), signInFirst)
  t.equal(e.exchanges(), 0, 'no exchange without an ID token')

  const context = await withIdToken((c) => {
    seen.push(c)
    return idToken
  }).fetch(e.mcpA.url, rpc('tools/list'))
  t.equal(context.status, 200)
  t.match(seen[0], { issuer: e.as.issuer, tokenEndpoint: `${e.as.issuer}/token`, clientId: AS_CLIENT.id, resource: e.mcpA.url })

  e.policy.issue.issuedTokenType = 'urn:ietf:params:oauth:token-type:access_token'
  await refusedOnce(t, e.client(idToken).fetch(e.mcpA.url, rpc('tools/list')), { reason: 'token.exchange_invalid_response' }, e, { exchanges: 1, presented: 0 })
  e.policy.issue = {}

  const wrongSecret = createMcpOAuthClient({ preRegistered, grant: { ...e.grant(() => idToken), idp: { ...e.grant(() => idToken).idp, auth: { method: 'client_secret_basic', secret: 'not-the-secret' } } } })
  await t.rejects(wrongSecret.fetch(e.mcpA.url, rpc('tools/list')), { name: 'McpClientError', reason: 'token.exchange_error', oauthError: 'invalid_client' })

  const closed = await freePort()
  const unreachable = createMcpOAuthClient({ preRegistered, grant: { ...e.grant(() => idToken), idp: { ...e.grant(() => idToken).idp, tokenEndpoint: `http://127.0.0.1:${closed}/token` } } })
  await t.rejects(unreachable.fetch(e.mcpA.url, rpc('tools/list')), { code: 'FST_MCP_CLIENT_OUTBOUND' })
  const refused = createMcpOAuthClient({ preRegistered, grant: e.grant(() => idToken), allowUrl: (url) => url.origin !== new URL(e.idp.issuer).origin })
  await t.rejects(refused.fetch(e.mcpA.url, rpc('tools/list')), { code: 'FST_MCP_CLIENT_OUTBOUND', reason: 'outbound.url_refused' }, 'the IdP request goes through allowUrl too')
})

t.test('grant { type: \'id-jag\' } options are validated when the client is made', async (t) => {
  const idp = { issuer: 'https://idp.example.com', tokenEndpoint: 'https://idp.example.com/token', clientId: 'app' }
  const make = (grant: unknown) => () => createMcpOAuthClient({ grant } as McpOAuthClientOptions)
  t.throws(make({ type: 'id-jag', idp }), /needs idToken/)
  t.throws(make({ type: 'id-jag', idToken: () => 'x' }), /needs idp: \{ issuer, tokenEndpoint, clientId/)
  t.throws(make({ type: 'id-jag', idp: { ...idp, tokenEndpoint: 'http://idp.example.com/token' }, idToken: () => 'x' }), /grant.idp.tokenEndpoint must be an https URL/)
  t.throws(make({ type: 'id-jag', idp: { ...idp, issuer: 'not a url' }, idToken: () => 'x' }), /grant.idp.issuer must be an https URL/)
  t.throws(make({ type: 'id-jag', idp: { ...idp, clientId: '' }, idToken: () => 'x' }), /grant.idp.clientId/)
  t.throws(make({ type: 'id-jag', idp: { ...idp, auth: { method: 'client_secret_basic' } }, idToken: () => 'x' }), /grant.idp.auth with method client_secret_basic needs a non-empty secret/)
  t.throws(make({ type: 'id-jag', idp: { ...idp, tokenEndpiont: 'x' }, idToken: () => 'x' }), /"grant.idp.tokenEndpiont" is not a known option; did you mean "grant.idp.tokenEndpoint"/)
  t.throws(make({ type: 'id-jag', idp, idToken: () => 'x', assertion: () => 'x' }), /"grant.assertion" is not a known option/)
  t.throws(make({ type: 'saml' }), /or \{ type: 'id-jag', idp, idToken \}/)
  t.doesNotThrow(make({ type: 'id-jag', idp: { ...idp, tokenEndpoint: 'http://127.0.0.1:8080/token' }, idToken: () => 'x' }), 'http on loopback')
})
