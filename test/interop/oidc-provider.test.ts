// Interop with software nobody here wrote: oidc-provider (through the development
// authorization server in examples/) issues the tokens, oauth4webapi is the client,
// and our plugin finds the signing keys by itself (no `jwks` option: jwks_uri is
// discovered from the authorization server's metadata). Loopback only.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { DEMO_PASSWORD, startAuthorizationServer } from '../../examples/authorization-server.js'
import { completeAuthorization } from '../../testing.js'
import type { DevAuthorizationServer } from '../../examples/authorization-server.js'
import { parseChallenges } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const SCOPES = ['mcp:tools:read', 'mcp:tools:call']
const SERVICE = { client_id: 'mcp-service', client_secret: randomBytes(24).toString('base64url') }
const REDIRECT_URI = 'http://127.0.0.1/callback'
// oauth4webapi refuses plain http unless told: everything here is loopback.
const insecure = { [oauth.allowInsecureRequests]: true } as const

// Two MCP servers (a default one and one requiring DPoP nonces), each on its own port,
// and a third resource on the first one's origin that no server here accepts.
const [port, noncePort] = await Promise.all([freePort(), freePort()])
const RESOURCE = `http://127.0.0.1:${port}/mcp`
const NONCE_RESOURCE = `http://127.0.0.1:${noncePort}/mcp`
const OTHER_RESOURCE = `http://127.0.0.1:${port}/other/mcp`

const resources = [RESOURCE, NONCE_RESOURCE, OTHER_RESOURCE].map((uri) => ({ uri, scopes: SCOPES }))
const clients = [{
  ...SERVICE,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
}]

const authServer = await startAuthorizationServer({ quiet: true, resources, clients })
// The same, but requiring DPoP nonces at its token endpoint too.
const nonceAuthServer = await startAuthorizationServer({ quiet: true, resources, clients, nonces: true })
t.teardown(() => authServer.close())
t.teardown(() => nonceAuthServer.close())
const serverErrors: unknown[] = []
for (const server of [authServer, nonceAuthServer]) server.provider.on('server_error', (_ctx: unknown, err: unknown) => serverErrors.push(err))

const app = await startApp(port, RESOURCE, authServer)
t.teardown(() => app.close())
const nonceApp = await startApp(noncePort, NONCE_RESOURCE, nonceAuthServer, { dpop: { nonce: { secret: randomBytes(32) } } })
t.teardown(() => nonceApp.close())

interface RouteBody {
  subject: string
  clientId?: string
  issuer: string
  resource: string
  scopes: string[]
  sender: { binding: string, jkt?: string }
}

/** An MCP server on 127.0.0.1:port with POST /mcp (needs mcp:tools:call) behind mcpAuth, keys discovered. */
async function startApp (port: number, resource: string, as: DevAuthorizationServer, options: Partial<McpAuthOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(mcpAuth, { resource, authorizationServers: [as.issuer], ...options } as McpAuthOptions)
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, async (request) => {
    const { subject, clientId, issuer, resource, scopes, sender } = request.mcp!
    return { subject, clientId, issuer, resource, scopes, sender }
  })
  await app.listen({ port, host: '127.0.0.1' })
  return app
}

/** oauth4webapi's view of the authorization server, found through the RFC 8414 well-known URL. */
async function discover (as: DevAuthorizationServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(as.issuer)
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
}

const [metadata, nonceMetadata] = await Promise.all([discover(authServer), discover(nonceAuthServer)])

interface TokenRequest {
  resource: string
  DPoP?: oauth.DPoPHandle
  /** Counts use_dpop_nonce answers from the token endpoint. */
  nonceErrors?: { count: number }
}

/** client_credentials for one resource, retrying once on use_dpop_nonce (RFC 9449 §8). */
async function serviceToken (as: oauth.AuthorizationServer, { resource, DPoP, nonceErrors }: TokenRequest): Promise<oauth.TokenEndpointResponse> {
  const client: oauth.Client = { client_id: SERVICE.client_id }
  const auth = oauth.ClientSecretBasic(SERVICE.client_secret)
  const request = async (): Promise<oauth.TokenEndpointResponse> => oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: SCOPES.join(' '), resource }, { DPoP, ...insecure }))
  try {
    return await request()
  } catch (err) {
    if (DPoP === undefined || !oauth.isDPoPNonceError(err)) throw err
    if (nonceErrors !== undefined) nonceErrors.count++
    return request() // the handle cached the DPoP-Nonce from the error response
  }
}

/** POST /mcp through oauth4webapi: a fresh DPoP proof per call when a handle is given. */
function callMcp (url: string, token: string, DPoP?: oauth.DPoPHandle): Promise<Response> {
  const headers = new Headers({ 'content-type': 'application/json' })
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } })
  return oauth.protectedResourceRequest(token, 'POST', new URL(url), headers, body, { DPoP, ...insecure })
}

/** The WWW-Authenticate challenge error oauth4webapi throws for a 401/403. */
async function challengeOf (promise: Promise<unknown>): Promise<oauth.WWWAuthenticateChallengeError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) return err
    throw err
  }
  throw new Error('expected a WWW-Authenticate challenge, the request succeeded')
}

function decode (jwt: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  const [header = '', payload = ''] = jwt.split('.')
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  }
}

async function errorBody (res: Response): Promise<{ error: string, error_description: string }> {
  return await res.json() as { error: string, error_description: string }
}

async function dpopHandle (): Promise<oauth.DPoPHandle> {
  return oauth.DPoP({}, await oauth.generateKeyPair('ES256'))
}

async function json (t: Test, res: Response, status = 200): Promise<RouteBody> {
  const text = await res.text()
  t.equal(res.status, status, `status ${status}${res.status === status ? '' : `: ${text}`}`)
  return JSON.parse(text) as RouteBody
}

t.test('oidc-provider client_credentials + DPoP → a DPoP-bound RFC 9068 JWT for the resource; fresh proofs → 200; as Bearer → 401 invalid_token', async (t) => {
  const DPoP = await dpopHandle()
  const tokens = await serviceToken(metadata, { resource: RESOURCE, DPoP })
  t.equal(tokens.token_type, 'dpop', 'the authorization server issued a DPoP token')
  const { header, payload } = decode(tokens.access_token)
  t.equal(header.typ, 'at+jwt', 'RFC 9068 typ')
  t.equal(header.alg, 'ES256')
  t.equal(payload.aud, RESOURCE, 'aud is the requested resource (RFC 8707)')
  t.equal(payload.iss, authServer.issuer)
  t.same((payload.scope as string).split(' ').sort(), [...SCOPES].sort())
  const jkt = await DPoP.calculateThumbprint()
  t.same(payload.cnf, { jkt }, 'cnf.jkt binds the token to the client\'s DPoP key')

  // Two calls, two fresh proofs (a reused proof would be a replay).
  for (const n of [1, 2]) {
    const body = await json(t, await callMcp(RESOURCE, tokens.access_token, DPoP))
    t.same(body.sender, { binding: 'dpop', jkt }, `call ${n}: request.mcp.sender`)
    t.equal(body.issuer, authServer.issuer, `call ${n}: issuer`)
    t.equal(body.resource, RESOURCE, `call ${n}: resource`)
    t.equal(body.clientId, SERVICE.client_id, `call ${n}: clientId from client_id`)
    t.equal(body.subject, SERVICE.client_id, `call ${n}: oidc-provider sets sub = client_id for client_credentials`)
  }

  // A stolen bound token replayed without proof of possession.
  const stolen = await challengeOf(callMcp(RESOURCE, tokens.access_token))
  t.equal(stolen.status, 401, 'bound token as Bearer → 401')
  t.equal(stolen.cause[0]?.scheme, 'bearer', 'Bearer challenge first')
  t.equal(stolen.cause.find((c) => c.parameters.error !== undefined)?.parameters.error, 'invalid_token')
  t.equal((await errorBody(stolen.response)).error, 'invalid_token')
})

t.test('DPoP nonces: the resource server requires one → 401 use_dpop_nonce + DPoP-Nonce; oauth4webapi retries with it → 200', async (t) => {
  const DPoP = await dpopHandle()
  const nonceErrors = { count: 0 }
  const tokens = await serviceToken(nonceMetadata, { resource: NONCE_RESOURCE, DPoP, nonceErrors })
  t.equal(nonceErrors.count, 1, 'the authorization server asked for a nonce once, and the retry succeeded')
  t.equal(tokens.token_type, 'dpop')

  const err = await challengeOf(callMcp(NONCE_RESOURCE, tokens.access_token, DPoP))
  t.equal(err.status, 401)
  t.ok(oauth.isDPoPNonceError(err), 'oauth4webapi recognizes use_dpop_nonce in our challenge')
  t.match(err.response.headers.get('dpop-nonce'), /^[\x21\x23-\x5B\x5D-\x7E]+$/, 'DPoP-Nonce header (RFC 9449 §8.1 syntax)')
  t.same(parseChallenges(err.response.headers.get('www-authenticate') ?? undefined).map((c) => c.scheme), ['Bearer', 'DPoP'])
  t.equal((await errorBody(err.response)).error, 'use_dpop_nonce')

  // The handle cached the nonce from the 401 (per origin): the retry carries it.
  const body = await json(t, await callMcp(NONCE_RESOURCE, tokens.access_token, DPoP))
  t.same(body.sender, { binding: 'dpop', jkt: await DPoP.calculateThumbprint() })
  // And keeps working with the nonce the 200 handed back.
  t.same((await json(t, await callMcp(NONCE_RESOURCE, tokens.access_token, DPoP))).sender.binding, 'dpop', 'the next call keeps working with the nonce the handle holds')
})

t.test('an unbound Bearer token from client_credentials (no DPoP) → 200 with sender.binding bearer', async (t) => {
  const tokens = await serviceToken(metadata, { resource: RESOURCE })
  t.equal(tokens.token_type, 'bearer')
  t.equal(decode(tokens.access_token).payload.cnf, undefined, 'no cnf claim')
  const body = await json(t, await callMcp(RESOURCE, tokens.access_token))
  t.same(body.sender, { binding: 'bearer' })
  t.same([...body.scopes].sort(), [...SCOPES].sort())
})

t.test('dynamic registration + authorization code + PKCE (S256) with the development login → a user token for the resource → 200', async (t) => {
  const client = await registerClient(metadata)
  t.type(client.client_id, 'string', 'registered')
  const { params, verifier } = await authorize(metadata, client, { scope: [...SCOPES, 'offline_access'].join(' '), prompt: 'consent', resource: RESOURCE })
  t.ok(params.get('code'), 'the development login and consent ended with a code')

  const DPoP = await dpopHandle()
  const tokens = await oauth.processAuthorizationCodeResponse(metadata, client,
    await oauth.authorizationCodeGrantRequest(metadata, client, oauth.None(), params, REDIRECT_URI, verifier, {
      additionalParameters: { resource: RESOURCE },
      DPoP,
      ...insecure,
    }))
  const { payload } = decode(tokens.access_token)
  t.equal(payload.aud, RESOURCE, 'aud is the MCP resource')
  t.equal(payload.sub, 'demo-user')
  t.same(payload.cnf, { jkt: await DPoP.calculateThumbprint() })
  t.ok(tokens.refresh_token, 'a refresh token: offline_access requested and consented')

  const body = await json(t, await callMcp(RESOURCE, tokens.access_token, DPoP))
  t.equal(body.subject, 'demo-user', 'request.mcp.subject is the demo user')
  t.equal(body.clientId, client.client_id)
  t.equal(body.sender.binding, 'dpop')

  // The refresh token yields another token for the same resource that the server accepts.
  const refreshed = await oauth.processRefreshTokenResponse(metadata, client,
    await oauth.refreshTokenGrantRequest(metadata, client, oauth.None(), tokens.refresh_token!, {
      additionalParameters: { resource: RESOURCE },
      DPoP,
      ...insecure,
    }))
  t.equal(decode(refreshed.access_token).payload.aud, RESOURCE, 'refreshed token: same audience')
  t.equal((await json(t, await callMcp(RESOURCE, refreshed.access_token, DPoP))).subject, 'demo-user', 'refreshed token accepted')
})

t.test('a token the same authorization server issued for another resource → 401 invalid_token', async (t) => {
  const tokens = await serviceToken(metadata, { resource: OTHER_RESOURCE })
  const { payload } = decode(tokens.access_token)
  t.equal(payload.aud, OTHER_RESOURCE, 'a genuine token, for a different audience')
  t.equal(payload.iss, authServer.issuer, 'from the trusted issuer')

  const err = await challengeOf(callMcp(RESOURCE, tokens.access_token))
  t.equal(err.status, 401)
  const bearer = err.cause.find((c) => c.scheme === 'bearer')
  t.equal(bearer?.parameters.error, 'invalid_token')
  t.equal(bearer?.parameters.resource_metadata, `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)
  const body = await errorBody(err.response)
  t.equal(body.error, 'invalid_token')
  t.match(body.error_description, /not issued for this resource/)
})

t.test('oauth4webapi resource discovery (RFC 9728) accepts our protected-resource metadata and finds the authorization server', async (t) => {
  const resource = new URL(RESOURCE)
  const rs = await oauth.processResourceDiscoveryResponse(resource, await oauth.resourceDiscoveryRequest(resource, insecure))
  t.equal(rs.resource, RESOURCE)
  t.same(rs.authorization_servers, [authServer.issuer])
  t.same(rs.bearer_methods_supported, ['header'])
  t.ok(rs.dpop_signing_alg_values_supported?.includes('ES256'), 'advertises DPoP with ES256')

  // The 401 without credentials points at the document oauth4webapi just read.
  const res = await fetch(RESOURCE, { method: 'POST' })
  t.equal(res.status, 401)
  const [first] = parseChallenges(res.headers.get('www-authenticate') ?? undefined)
  t.equal(first?.params.resource_metadata, `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)

  // And the authorization server it names is discoverable as-is.
  const issuer = new URL(rs.authorization_servers![0]!)
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
  t.equal(as.issuer, authServer.issuer)
})

t.test('the development authorization server itself (examples/authorization-server.js)', async (t) => {
  t.test('listens on loopback only and checks its resources', async (t) => {
    await t.rejects(startAuthorizationServer({ host: '0.0.0.0', quiet: true }), /loopback only/)
    await t.rejects(startAuthorizationServer({ quiet: true, resources: [{ uri: RESOURCE }] as never }), /resources must be/)
    const named = await startAuthorizationServer({ quiet: true, host: 'localhost', resources })
    t.teardown(() => named.close())
    t.match(named.issuer, /^http:\/\/localhost:\d+$/, 'the issuer keeps the loopback name it was given')
    t.equal((await fetch(`${named.issuer}/.well-known/openid-configuration`)).status, 200)
  })

  t.test('says loudly, once, that it is for development only (unless quiet)', async (t) => {
    const warnings: string[] = []
    const { warn } = console
    console.warn = (...args: unknown[]) => { warnings.push(args.map(String).join(' ')) }
    let server: DevAuthorizationServer
    try {
      server = await startAuthorizationServer({ resources })
    } finally {
      console.warn = warn
    }
    t.teardown(() => server.close())
    const ours = warnings.filter((w) => w.includes('NOT FOR PRODUCTION'))
    t.equal(ours.length, 1, 'one development warning')
    t.match(ours[0], server.issuer, 'naming the issuer')
  })

  t.test('unknown resources → invalid_target; protocol errors are JSON; CORS * for browser-based tools', async (t) => {
    const err = await t.rejects(serviceToken(metadata, { resource: 'https://unknown.example/mcp' })) as oauth.ResponseBodyError
    t.equal(err.error, 'invalid_target')

    const interaction = await fetch(`${authServer.issuer}/interaction/unknown`)
    t.equal(interaction.status, 400, 'an interaction without its cookie')
    t.match(interaction.headers.get('content-type'), /text\/plain/, 'a page for a person, not JSON')

    const unknownClient = await fetch(`${metadata.authorization_endpoint}?client_id=nobody&response_type=code`)
    t.equal(unknownClient.status, 400)
    t.match(unknownClient.headers.get('content-type'), /json/, 'renderError answers JSON')
    t.equal((await errorBody(unknownClient)).error, 'invalid_client')

    const token = await fetch(metadata.token_endpoint!, {
      method: 'POST',
      headers: {
        origin: 'http://localhost:6274',
        authorization: `Basic ${Buffer.from(`${SERVICE.client_id}:${SERVICE.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE }),
    })
    t.equal(token.status, 200)
    t.equal(token.headers.get('access-control-allow-origin'), '*', 'CORS allowed for any origin, without credentials')
  })

  t.test('authorization code without PKCE → invalid_request, confidential clients included', async (t) => {
    const client = await registerClient(metadata, 'client_secret_basic')
    const url = new URL(metadata.authorization_endpoint!)
    url.search = new URLSearchParams({ client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'mcp:tools:call', resource: RESOURCE }).toString()
    const res = await fetch(url, { redirect: 'manual' })
    const location = new URL(res.headers.get('location') ?? 'about:blank')
    t.equal(location.origin + location.pathname, REDIRECT_URI)
    t.equal(location.searchParams.get('error'), 'invalid_request')
    t.match(location.searchParams.get('error_description'), /PKCE/)
  })

  t.test('one resource: the default when the client names none, even beside openid; the ID token names the demo user', async (t) => {
    const single = await startAuthorizationServer({ quiet: true, resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read'] }], demoUser: { sub: 'ada', name: 'Ada' } })
    t.teardown(() => single.close())
    const as = await discover(single)
    const client = await registerClient(as)
    const { params, verifier } = await authorize(as, client, { scope: 'openid profile mcp:tools:read mcp:tools:call', nonce: 'n-1' }, 'ada')
    const tokens = await oauth.processAuthorizationCodeResponse(as, client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, insecure),
      { expectedNonce: 'n-1' })
    const { payload } = decode(tokens.access_token)
    t.equal(payload.aud, RESOURCE, 'the only resource is the audience')
    t.equal(payload.sub, 'ada')
    t.equal(payload.scope, 'mcp:tools:read', 'scope limited to what the resource allows')
    t.match(oauth.getValidatedIdTokenClaims(tokens), { sub: 'ada', name: 'Ada' })
  })
})

t.test('oidc-provider reported no server errors along the way', async (t) => {
  t.same(serverErrors.map(String), [])
})

/** Open dynamic client registration (RFC 7591), as MCP clients do: a public client by default. */
async function registerClient (as: oauth.AuthorizationServer, authMethod = 'none'): Promise<oauth.Client> {
  return oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, {
    client_name: 'interop test client',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: authMethod,
  }, insecure))
}

/** An authorization request with PKCE (S256), through login and consent, to the callback's parameters. */
async function authorize (as: oauth.AuthorizationServer, client: oauth.Client, extra: Record<string, string>, username = 'demo-user'): Promise<{ params: URLSearchParams, verifier: string }> {
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  }).toString()
  const callback = await completeAuthorization(url, REDIRECT_URI, { username, password: DEMO_PASSWORD })
  return { params: oauth.validateAuthResponse(as, client, callback, state), verifier }
}
