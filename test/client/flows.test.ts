// The request loop and the grants against a scripted MCP server and
// authorization server on one loopback origin, one behaviour per test: the
// grants and client authentication methods, registration priority and its
// binding to the issuer, the RFC 9207 and state checks, step-up limits,
// MCP 2025-03-26 discovery, and what the client never does.
import { createHash } from 'node:crypto'
import { inspect } from 'node:util'
import type { ServerResponse } from 'node:http'
import { exportPKCS8, generateKeyPair, jwtVerify } from 'jose'
import t from 'tap'
import { createMcpOAuthClient, memoryCredentialStore } from '../../client.js'
import type { McpOAuthClientOptions } from '../../client.js'
import { json, startFixture } from '../helpers/http-fixture.js'
import type { Fixture, SeenRequest } from '../helpers/http-fixture.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const REDIRECT_URI = 'http://127.0.0.1:9/callback'

interface Script {
  /** Changes to the authorization server metadata (undefined values remove a field). */
  metadata?: Record<string, unknown>
  /** What the authorization endpoint adds to the redirect (default: a code, the state, the right iss). */
  redirect?: (params: URLSearchParams, issuer: string) => Record<string, string | undefined>
  /** Answers a token request (default: a fresh token with the requested scope). */
  token?: (request: SeenRequest, res: ServerResponse, issue: (extra?: Record<string, unknown>) => void) => void
  /** Scopes each MCP method needs (default: none). */
  needs?: Record<string, string>
  /** The 401 challenge's scope. */
  challengeScope?: string
  /** No resource metadata at all (a 2025-03-26 server). */
  noResourceMetadata?: boolean
  /** No authorization server metadata either. */
  noServerMetadata?: boolean
}

interface Scripted extends Fixture {
  readonly mcp: string
  /** Tokens issued, with their scope. */
  readonly tokens: Map<string, string>
}

async function scripted (t: Test, script: Script = {}): Promise<Scripted> {
  const f = await startFixture(t)
  const issuer = f.origin
  const mcp = `${f.origin}/mcp`
  const tokens = new Map<string, string>()
  let issued = 0
  // A code grants what its authorization request asked for.
  let authorizedScope = ''
  if (script.noResourceMetadata !== true) {
    f.on('GET', '/.well-known/oauth-protected-resource/mcp', (_r, res) => json(res, 200, { resource: mcp, authorization_servers: [issuer] }))
  }
  const metadata = Object.fromEntries(Object.entries({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    ...script.metadata,
  }).filter(([, v]) => v !== undefined))
  if (script.noServerMetadata !== true) f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, metadata))
  f.on('GET', '/authorize', (r, res) => {
    authorizedScope = r.url.searchParams.get('scope') ?? ''
    const location = new URL(r.url.searchParams.get('redirect_uri') as string)
    const add = script.redirect?.(r.url.searchParams, issuer) ?? { code: 'the-code', state: r.url.searchParams.get('state') ?? undefined, iss: issuer }
    for (const [name, value] of Object.entries(add)) if (value !== undefined) location.searchParams.set(name, value)
    res.writeHead(302, { location: location.href }).end()
  })
  f.on('POST', '/register', (r, res) => json(res, 201, { ...JSON.parse(r.body) as object, client_id: `dynamic-${f.requests.filter((x) => x.path === '/register').length}` }))
  f.on('POST', '/revoke', (_r, res) => { res.writeHead(200).end() })
  f.on('POST', '/token', (r, res) => {
    const issue = (extra: Record<string, unknown> = {}): void => {
      const token = `token-${++issued}`
      const body = new URLSearchParams(r.body)
      const scope = body.get('scope') ?? (body.get('grant_type') === 'authorization_code' ? authorizedScope : '')
      tokens.set(token, scope)
      json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, ...extra })
    }
    if (script.token === undefined) issue()
    else script.token(r, res, issue)
  })
  f.on('POST', '/mcp', (r, res) => {
    const token = /^Bearer (.+)$/.exec(r.headers.authorization ?? '')?.[1]
    const granted = token === undefined ? undefined : tokens.get(token)
    const challenge = `Bearer resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"${script.challengeScope === undefined ? '' : `, scope="${script.challengeScope}"`}`
    if (granted === undefined) {
      json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': challenge })
      return
    }
    const method = (JSON.parse(r.body) as { method: string }).method
    const need = script.needs?.[method]
    if (need !== undefined && !granted.split(' ').includes(need)) {
      json(res, 403, { error: 'insufficient_scope' }, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${need}", resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` })
      return
    }
    json(res, 200, { jsonrpc: '2.0', id: 1, result: { token, scope: granted } })
  })
  return Object.assign(f, { mcp, tokens })
}

/** A browser for the scripted server: one GET, the redirect's Location is the callback. */
async function follow (url: URL): Promise<string> {
  const response = await fetch(url, { redirect: 'manual' })
  return new URL(response.headers.get('location') as string, url).href
}

function options (extra: Partial<McpOAuthClientOptions> = {}): McpOAuthClientOptions {
  return { clientMetadata: { client_name: 'flows' }, redirectUri: REDIRECT_URI, authorize: follow, ...extra }
}

const call = (method = 'tools/list'): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { name: 'x' } }) })
const form = (request: SeenRequest | undefined): URLSearchParams => new URLSearchParams(request?.body ?? '')
const tokenRequests = (f: Fixture): SeenRequest[] => f.requests.filter((r) => r.path === '/token')

t.test('client credentials with client_secret_basic: form-encoded id and secret (RFC 6749 §2.3.1), resource and scope sent', async (t) => {
  const f = await scripted(t, { challengeScope: 'read' })
  const oauth = createMcpOAuthClient({ grant: { type: 'client_credentials' }, preRegistered: { [f.origin]: { clientId: 'svc-1', auth: { method: 'client_secret_basic', secret: 's3cret:+/' } } } })
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  const request = tokenRequests(f)[0]
  t.equal(form(request).get('grant_type'), 'client_credentials')
  t.equal(form(request).get('resource'), f.mcp)
  t.equal(form(request).get('scope'), 'read')
  t.equal(Buffer.from((request?.headers.authorization ?? '').slice(6), 'base64').toString(), 'svc-1:s3cret%3A%2B%2F', 'hyphens stay, reserved characters are escaped')
  t.notOk(f.paths().includes('POST /register'), 'a pre-registered client never registers')
  t.notOk(f.paths().includes('GET /authorize'))
})

t.test('client credentials with client_secret_post and with private_key_jwt (the issuer as audience, RFC 7523bis)', async (t) => {
  const f = await scripted(t)
  await createMcpOAuthClient({ grant: { type: 'client_credentials' }, preRegistered: () => ({ clientId: 'svc-2', auth: { method: 'client_secret_post', secret: 'p' } }) }).fetch(f.mcp, call())
  t.same([form(tokenRequests(f)[0]).get('client_id'), form(tokenRequests(f)[0]).get('client_secret')], ['svc-2', 'p'])

  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  for (const key of [await exportPKCS8(privateKey), privateKey]) {
    const g = await scripted(t)
    const oauth = createMcpOAuthClient({ grant: { type: 'client_credentials' }, preRegistered: { [g.origin]: { clientId: 'svc-3', auth: { method: 'private_key_jwt', key, kid: 'k1' } } } })
    t.equal((await oauth.fetch(g.mcp, call())).status, 200)
    const body = form(tokenRequests(g)[0])
    t.equal(body.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    const { payload, protectedHeader } = await jwtVerify(body.get('client_assertion') as string, publicKey, { audience: g.origin, issuer: 'svc-3', subject: 'svc-3' })
    t.ok(payload.jti, 'a fresh jti')
    t.equal(protectedHeader.kid, 'k1')
  }
})

t.test('the jwt-bearer grant: the assertion callback gets the issuer, token endpoint and resource; a rejected assertion is surfaced, never retried', async (t) => {
  const f = await scripted(t, {
    token: (r, res, issue) => {
      if (form(r).get('assertion') === 'good-jwt') issue()
      else json(res, 400, { error: 'invalid_grant', error_description: 'bad assertion' })
    },
  })
  const contexts: unknown[] = []
  let jwt = 'good-jwt'
  const oauth = createMcpOAuthClient({
    grant: { type: 'jwt-bearer', assertion: async (context) => { contexts.push(context); return jwt } },
    preRegistered: { [f.origin]: { clientId: 'workload' } },
  })
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  t.equal(form(tokenRequests(f)[0]).get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer')
  t.equal(form(tokenRequests(f)[0]).get('client_id'), 'workload')
  t.same(contexts, [{ issuer: f.origin, tokenEndpoint: `${f.origin}/token`, clientId: 'workload', resource: f.mcp, scope: undefined, partition: '' }])

  const g = await scripted(t, { token: (_r, res) => json(res, 400, { error: 'invalid_grant' }) })
  jwt = 'bad-jwt'
  const failing = createMcpOAuthClient({ grant: { type: 'jwt-bearer', assertion: () => jwt }, preRegistered: { [g.origin]: { clientId: 'workload' } } })
  await t.rejects(failing.fetch(g.mcp, call()), { name: 'McpClientError', code: 'FST_MCP_CLIENT_TOKEN', oauthError: 'invalid_grant' })
  t.equal(tokenRequests(g).length, 1, 'one attempt, no retry, no other grant')
  await t.rejects(createMcpOAuthClient({ grant: { type: 'jwt-bearer', assertion: () => { throw new Error('no workload identity') } }, preRegistered: { [g.origin]: { clientId: 'w' } } }).fetch(g.mcp, call()), { name: 'McpClientError', reason: 'token.assertion_failed' })
  await t.rejects(createMcpOAuthClient({ grant: { type: 'jwt-bearer', assertion: () => '' }, preRegistered: { [g.origin]: { clientId: 'w' } } }).fetch(g.mcp, call()), { name: 'McpClientError', reason: 'token.assertion_failed' })
  t.equal(tokenRequests(g).length, 1, 'no request without an assertion')
})

t.test('registration priority: pre-registered for that exact issuer, else CIMD when supported, else DCR (kept per issuer); never a client from another issuer', async (t) => {
  const cimd = 'https://client.example.com/client.json'
  const f = await scripted(t, { metadata: { client_id_metadata_document_supported: true } })
  const store = memoryCredentialStore()
  const urls: URL[] = []
  const authorize = async (url: URL): Promise<string> => { urls.push(url); return await follow(url) }
  await createMcpOAuthClient(options({ authorize, store, clientMetadataUrl: cimd, preRegistered: { [f.origin]: { clientId: 'pre' } } })).fetch(f.mcp, call())
  await createMcpOAuthClient(options({ authorize, store, clientMetadataUrl: cimd, preRegistered: { [`${f.origin}/`]: { clientId: 'other-issuer' } } })).fetch(f.mcp, call())
  t.same(urls.map((u) => u.searchParams.get('client_id')), ['pre', cimd], 'pre-registered first; one for a different issuer string is not used')
  t.notOk(f.paths().includes('POST /register'))

  const g = await scripted(t)
  const dcr = createMcpOAuthClient(options({ store, clientMetadataUrl: cimd }))
  await dcr.fetch(g.mcp, call())
  await createMcpOAuthClient(options({ store, clientMetadataUrl: cimd })).fetch(g.mcp, call())
  t.equal(g.paths().filter((p) => p === 'POST /register').length, 1, 'no CIMD support → DCR, once: the registration is kept in the store')
  const registration = JSON.parse(g.requests.find((r) => r.path === '/register')?.body ?? '{}') as Record<string, unknown>
  t.same(registration, { client_name: 'flows', redirect_uris: [REDIRECT_URI], application_type: 'native', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' })

  const h = await scripted(t, { metadata: { registration_endpoint: undefined } })
  await t.rejects(createMcpOAuthClient(options()).fetch(h.mcp, call()), { name: 'McpClientError', code: 'FST_MCP_CLIENT_REGISTRATION', reason: 'registration.unavailable' })
  const i = await scripted(t)
  i.on('POST', '/register', (_r, res) => json(res, 400, { error: 'invalid_redirect_uri' }))
  await t.rejects(createMcpOAuthClient(options()).fetch(i.mcp, call()), { name: 'McpClientError', reason: 'registration.failed' })
  const j = await scripted(t)
  j.on('POST', '/register', (_r, res) => json(res, 201, { client_id: 'x', token_endpoint_auth_method: 'private_key_jwt' }))
  await t.rejects(createMcpOAuthClient(options()).fetch(j.mcp, call()), { name: 'McpClientError', reason: 'registration.failed', message: /cannot use/ })
})

t.test('a registration that came with a secret authenticates with it (client_secret_basic unless the server said otherwise)', async (t) => {
  const f = await scripted(t)
  f.on('POST', '/register', (_r, res) => json(res, 201, { client_id: 'dyn', client_secret: 'dyn-secret', client_secret_expires_at: 0 }))
  await createMcpOAuthClient(options()).fetch(f.mcp, call())
  t.equal(Buffer.from((tokenRequests(f)[0]?.headers.authorization ?? '').slice(6), 'base64').toString(), 'dyn:dyn-secret')
  const g = await scripted(t)
  g.on('POST', '/register', (_r, res) => json(res, 201, { client_id: 'dyn', client_secret: 'dyn-secret', token_endpoint_auth_method: 'client_secret_post' }))
  await createMcpOAuthClient(options()).fetch(g.mcp, call())
  t.equal(form(tokenRequests(g)[0]).get('client_secret'), 'dyn-secret', 'a missing client_secret_expires_at is read as 0 (never expires)')
})

t.test('RFC 9207 and state: a wrong, missing-but-advertised or normalized iss, or a wrong state, stops before the token request; an error answer is surfaced', async (t) => {
  const cases: Array<[string, Script['redirect'], string, Record<string, unknown>?]> = [
    ['wrong iss', (p) => ({ code: 'c', state: p.get('state') ?? '', iss: 'https://evil.example.com' }), 'authorization.issuer'],
    ['normalized iss', (p, issuer) => ({ code: 'c', state: p.get('state') ?? '', iss: `${issuer}/` }), 'authorization.issuer'],
    ['missing iss while advertised', (p) => ({ code: 'c', state: p.get('state') ?? '' }), 'authorization.issuer'],
    ['unexpected iss when not advertised', (p) => ({ code: 'c', state: p.get('state') ?? '', iss: 'https://evil.example.com' }), 'authorization.issuer', { authorization_response_iss_parameter_supported: undefined }],
    ['wrong state', (_p, issuer) => ({ code: 'c', state: 'forged', iss: issuer }), 'authorization.state'],
    ['an error from the server', (p, issuer) => ({ error: 'access_denied', state: p.get('state') ?? '', iss: issuer }), 'authorization.error'],
    ['no code, no error', (p, issuer) => ({ state: p.get('state') ?? '', iss: issuer, id_token: 'x' }), 'authorization.invalid_response'],
  ]
  for (const [name, redirect, reason, metadata] of cases) {
    const f = await scripted(t, { redirect, metadata })
    await t.rejects(createMcpOAuthClient(options()).fetch(f.mcp, call()), { name: 'McpClientError', code: 'FST_MCP_CLIENT_AUTHORIZATION', reason }, name)
    t.same(tokenRequests(f), [], `${name}: no token request`)
  }
  const g = await scripted(t, { metadata: { authorization_response_iss_parameter_supported: undefined }, redirect: (p) => ({ code: 'c', state: p.get('state') ?? '' }) })
  t.equal((await createMcpOAuthClient(options()).fetch(g.mcp, call())).status, 200, 'not advertised and absent: proceed (RFC 9207 §2.4)')
})

t.test('errors never carry a token, a code or a client secret, however deep one looks', async (t) => {
  const deep = (err: unknown): string => inspect(err, { depth: Infinity, showHidden: true })
  const f = await scripted(t, { token: (_r, res) => json(res, 200, { access_token: 'SECRET-ACCESS-TOKEN', token_type: 'weird', refresh_token: 'SECRET-REFRESH' }) })
  const invalid = await createMcpOAuthClient(options()).fetch(f.mcp, call()).catch((e: unknown) => e)
  t.match(invalid, { name: 'McpClientError', reason: 'token.invalid_response' })
  t.notMatch(deep(invalid), /SECRET-|the-code/, 'no token and no code in the error or its causes')
  const g = await scripted(t, { redirect: () => ({ code: 'SECRET-CODE', state: 'forged', iss: 'x' }) })
  const badCallback = await createMcpOAuthClient(options()).fetch(g.mcp, call()).catch((e: unknown) => e)
  t.notMatch(deep(badCallback), /SECRET-CODE/)
  const h = await scripted(t)
  h.on('POST', '/register', (_r, res) => json(res, 201, { client_secret: 'SECRET-CLIENT-SECRET' }))
  const badRegistration = await createMcpOAuthClient(options()).fetch(h.mcp, call()).catch((e: unknown) => e)
  t.match(badRegistration, { name: 'McpClientError', reason: 'registration.failed' })
  t.notMatch(deep(badRegistration), /SECRET-CLIENT-SECRET/)
})

t.test('the authorizer: its failure, a non-URL answer, and its context', async (t) => {
  const f = await scripted(t)
  await t.rejects(createMcpOAuthClient(options({ authorize: async () => { throw new Error('user closed the window') } })).fetch(f.mcp, call()), { name: 'McpClientError', reason: 'authorization.authorizer_failed' })
  await t.rejects(createMcpOAuthClient(options({ authorize: async () => 'not a url' })).fetch(f.mcp, call()), { name: 'McpClientError', reason: 'authorization.invalid_response' })
  const seen: unknown[] = []
  await createMcpOAuthClient(options({ authorize: async (url, context) => { seen.push(context); return await follow(url) } })).fetch(f.mcp, call())
  const context = seen[0] as { state: string, redirectUri: string, issuer: string, resource: string }
  t.same({ ...context, state: typeof context.state }, { state: 'string', redirectUri: REDIRECT_URI, issuer: f.origin, resource: f.mcp })
})

t.test('step-up: the union of scopes; after 3 authorizations for one resource and operation the server\'s 403 is the answer', async (t) => {
  const f = await scripted(t, { challengeScope: 'read', needs: { 'tools/call': 'write', 'tools/list': 'read', 'admin/x': 'admin' } })
  const urls: URL[] = []
  const oauth = createMcpOAuthClient(options({ authorize: async (url) => { urls.push(url); return await follow(url) }, scopes: { maxAttempts: 3 } }))
  t.equal((await oauth.fetch(f.mcp, call('tools/list'))).status, 200)
  t.equal((await oauth.fetch(f.mcp, call('tools/call'))).status, 200)
  t.same(urls.map((u) => u.searchParams.get('scope')), ['read', 'read write'])
  // This server never grants admin: read write admin is asked, refused, asked again…
  f.on('POST', '/token', (_r, res) => {
    const token = `t-${f.requests.length}`
    const asked = new URLSearchParams(f.requests.filter((r) => r.path === '/authorize').at(-1)?.url.search).get('scope') ?? ''
    f.tokens.set(token, asked.replace('admin', ''))
    json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 })
  })
  const denied = await oauth.fetch(f.mcp, call('admin/x'))
  t.equal(denied.status, 403, 'the last 403 is returned, not thrown')
  t.equal(urls.length, 2 + 3, 'three authorizations for admin/x, then no more')
  t.equal((await oauth.fetch(f.mcp, call('admin/x'))).status, 403)
  t.equal(urls.length, 5, 'the budget is spent for this operation')
  t.equal((await oauth.fetch(f.mcp, call('tools/list'))).status, 200, 'other operations are unaffected')
})

t.test('a 401 answered after a fresh authorization is retried within the same budget, then returned', async (t) => {
  const f = await scripted(t)
  f.on('POST', '/mcp', (_r, res) => json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': `Bearer resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` }))
  let authorizations = 0
  const response = await createMcpOAuthClient(options({ authorize: async (url) => { authorizations++; return await follow(url) } })).fetch(f.mcp, call())
  t.equal(response.status, 401)
  t.equal(authorizations, 3)
})

t.test('MCP 2025-03-26 servers only with legacyDiscovery: metadata at the MCP origin, else the default endpoints; resource still sent', async (t) => {
  const f = await scripted(t, { noResourceMetadata: true })
  await t.rejects(createMcpOAuthClient(options()).fetch(f.mcp, call()), { name: 'McpClientError', reason: 'resource_metadata.missing' })
  t.notOk(f.paths().includes('GET /.well-known/oauth-authorization-server'), 'without the option no authorization server is guessed')
  t.equal((await createMcpOAuthClient(options({ legacyDiscovery: true })).fetch(f.mcp, call())).status, 200)
  t.equal(new URLSearchParams(f.requests.find((r) => r.path === '/authorize')?.url.search).get('resource'), f.mcp)

  const g = await scripted(t, { noResourceMetadata: true, noServerMetadata: true, redirect: (p) => ({ code: 'c', state: p.get('state') ?? '' }) })
  t.equal((await createMcpOAuthClient(options({ legacyDiscovery: true })).fetch(g.mcp, call())).status, 200)
  t.same(g.paths().filter((p) => !p.includes('well-known')), ['POST /mcp', 'POST /register', 'GET /authorize', 'POST /token', 'POST /mcp'], '/register, /authorize and /token at the origin')
  t.equal(form(tokenRequests(g)[0]).get('resource'), g.mcp)
})

t.test('authorization-server changes: a new issuer means a new registration and never the old client ID (SEP-2352)', async (t) => {
  const as1 = await scripted(t)
  const as2 = await scripted(t)
  const f = await scripted(t)
  let current = as1
  f.on('GET', '/.well-known/oauth-protected-resource/mcp', (_r, res) => json(res, 200, { resource: f.mcp, authorization_servers: [current.origin] }))
  // The MCP server accepts the tokens of whichever authorization server is current.
  f.on('POST', '/mcp', (r, res) => {
    const token = /^Bearer (.+)$/.exec(r.headers.authorization ?? '')?.[1] ?? ''
    if (current.tokens.has(token)) json(res, 200, { jsonrpc: '2.0', id: 1, result: {} })
    else json(res, 401, {}, { 'www-authenticate': `Bearer resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` })
  })
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient(options({ store }))
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  current = as2
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  t.equal(as2.paths().filter((p) => p === 'POST /register').length, 1, 'registered at the new authorization server')
  const clientIds = as2.requests.filter((r) => r.path === '/authorize').map((r) => r.url.searchParams.get('client_id'))
  t.same(clientIds, ['dynamic-1'], 'the new server saw only its own client ID')
  t.equal((await store.keys('cred:')).length, 2, 'credentials are kept per issuer')
})

t.test('refresh: a dead refresh token (invalid_grant) leads to a new authorization; a failing one keeps the credential', async (t) => {
  let refreshAnswer: 'dead' | 'down' | 'ok' = 'dead'
  const f = await scripted(t, {
    token: (r, res, issue) => {
      if (form(r).get('grant_type') !== 'refresh_token') { issue({ refresh_token: 'rt-1' }); return }
      if (refreshAnswer === 'dead') json(res, 400, { error: 'invalid_grant' })
      else if (refreshAnswer === 'down') json(res, 503, { error: 'temporarily_unavailable' })
      else issue()
    },
  })
  const store = memoryCredentialStore()
  let authorizations = 0
  const oauth = createMcpOAuthClient(options({ store, authorize: async (url) => { authorizations++; return await follow(url) } }))
  await oauth.fetch(f.mcp, call())
  const expire = async (): Promise<void> => {
    for (const key of await store.keys('cred:')) await store.set(key, { ...await store.get(key), expiresAt: 1 })
  }
  await expire()
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  t.equal(authorizations, 2, 'invalid_grant → the credential is dropped and the user authorizes again')
  await expire()
  refreshAnswer = 'down'
  await t.rejects(oauth.fetch(f.mcp, call()), { name: 'McpClientError', code: 'FST_MCP_CLIENT_TOKEN' })
  t.equal((await store.keys('cred:')).length, 1, 'an unavailable server does not cost the credential')
  refreshAnswer = 'ok'
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  t.equal(authorizations, 2, 'the kept refresh token works once the server is back')
  // The stored refresh token is kept when a refresh response carries none (RFC 6749 §6).
  const [key] = await store.keys('cred:')
  t.equal((await store.get(key ?? ''))?.refreshToken, 'rt-1')
})

t.test('sign-out: by resource; a revocation failure is reported and the credential is deleted anyway', async (t) => {
  const f = await scripted(t, { token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  const g = await scripted(t, { token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient(options({ store }))
  await oauth.fetch(f.mcp, call())
  await oauth.fetch(g.mcp, call())
  g.on('POST', '/revoke', (_r, res) => json(res, 400, { error: 'invalid_request' }))
  const first = await oauth.signOut({ resource: f.mcp })
  t.same({ deleted: first.deleted, revoked: first.revoked }, { deleted: 1, revoked: 2 })
  const revocation = form(f.requests.filter((r) => r.path === '/revoke')[0])
  t.same([revocation.get('token'), revocation.get('token_type_hint'), revocation.get('client_id')], ['rt', 'refresh_token', 'dynamic-1'], 'the refresh token first')
  const second = await oauth.signOut()
  t.equal(second.deleted, 1)
  t.equal(second.failures.length, 1)
  t.equal(second.failures[0]?.resource, g.mcp)
  t.same(await store.keys('cred:'), [])
  t.same(await oauth.signOut(), { deleted: 0, revoked: 0, failures: [] })
})

t.test('sign-out without revocation: no endpoint, a changed registration, or the authorization server gone: deleted, nothing revoked', async (t) => {
  const noEndpoint = await scripted(t, { metadata: { revocation_endpoint: undefined }, token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  const changed = await scripted(t, { token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  const gone = await scripted(t, { token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient(options({ store }))
  for (const server of [noEndpoint, changed, gone]) await oauth.fetch(server.mcp, call())
  for (const key of await store.keys('client:')) {
    const record = await store.get(key)
    if (record?.issuer === changed.origin) await store.delete(key)
  }
  gone.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 404, {}))
  const result = await oauth.signOut()
  t.same({ deleted: result.deleted, revoked: result.revoked, failures: result.failures.length }, { deleted: 3, revoked: 0, failures: 0 })
  t.same([noEndpoint, changed, gone].map((f) => f.paths().includes('POST /revoke')), [false, false, false])
  const down = await scripted(t, { token: (_r, _res, issue) => issue({ refresh_token: 'rt' }) })
  await oauth.fetch(down.mcp, call())
  down.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => { res.destroy() })
  const failed = await oauth.signOut()
  t.equal(failed.failures.length, 1, 'an unreachable server is a reported failure')
  t.equal(failed.deleted, 1)
})

t.test('the caller\'s request: Request objects, any body type, credentials and framing headers dropped, streaming bodies replayed', async (t) => {
  const f = await scripted(t)
  const oauth = createMcpOAuthClient(options())
  const seen: SeenRequest[] = []
  f.on('POST', '/echo', (r, res) => { seen.push(r); json(res, 200, {}) })
  const request = new Request(`${f.origin}/echo`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"ping"}', headers: { authorization: 'Bearer user-token', cookie: 'session=1', dpop: 'x', 'x-keep': 'yes' } })
  await oauth.fetch(request)
  await oauth.fetch(`${f.origin}/echo`, { method: 'POST', body: new Blob(['blob body']) })
  await oauth.fetch(`${f.origin}/echo`, { method: 'POST', body: new URLSearchParams({ a: 'b' }) })
  await oauth.fetch(`${f.origin}/echo`, { method: 'POST', body: new TextEncoder().encode('bytes').buffer })
  await oauth.fetch(`${f.origin}/echo`, { method: 'POST', body: new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('stream')); c.close() } }), duplex: 'half' } as RequestInit)
  t.same(seen.map((r) => r.body), ['{"jsonrpc":"2.0","method":"ping"}', 'blob body', 'a=b', 'bytes', 'stream'])
  t.same([seen[0]?.headers.authorization, seen[0]?.headers.cookie, seen[0]?.headers.dpop, seen[0]?.headers['x-keep']], [undefined, undefined, undefined, 'yes'])
  t.match(seen[2]?.headers['content-type'], /application\/x-www-form-urlencoded/)
})

t.test('DPoP with the caller\'s own key pair: proofs signed with it, nothing stored', async (t) => {
  const keyPair = await generateKeyPair('ES256', { extractable: false })
  const publicJwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey)
  const f = await scripted(t, { token: (r, _res, issue) => { t.ok(r.headers.dpop, 'a proof at the token endpoint'); issue({ token_type: 'DPoP' }) } })
  f.on('POST', '/mcp', (r, res) => {
    const token = /^DPoP (.+)$/.exec(r.headers.authorization ?? '')?.[1]
    if (token === undefined || !f.tokens.has(token)) {
      json(res, 401, {}, { 'www-authenticate': `DPoP resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` })
      return
    }
    const header = JSON.parse(Buffer.from((r.headers.dpop as string).split('.')[0] ?? '', 'base64url').toString()) as { jwk: { x?: string, y?: string } }
    t.same({ x: header.jwk.x, y: header.jwk.y }, { x: publicJwk.x, y: publicJwk.y }, 'signed with the caller\'s key')
    const ath = JSON.parse(Buffer.from((r.headers.dpop as string).split('.')[1] ?? '', 'base64url').toString()).ath as string
    t.equal(ath, createHash('sha256').update(token).digest('base64url'), 'ath binds the proof to the token')
    json(res, 200, { jsonrpc: '2.0', id: 1, result: {} })
  })
  const store = memoryCredentialStore()
  const oauth = createMcpOAuthClient(options({ store, dpop: { key: keyPair } }))
  t.equal((await oauth.fetch(f.mcp, call())).status, 200)
  const [key] = await store.keys('cred:')
  t.equal((await store.get(key ?? ''))?.dpopKey, undefined, 'a caller-supplied key is never written to the store')
  t.equal(new URL(f.requests.find((r) => r.path === '/authorize')?.url ?? '').searchParams.has('dpop_jkt'), true, 'dpop_jkt binds the code to the key (RFC 9449 §10)')
})
