// Interop with the official MCP SDK: its client, starting with no token and no
// configuration beyond the server's URL, must discover everything from our 401
// (resource_metadata → protected-resource metadata → authorization-server metadata),
// register dynamically, complete authorization code + PKCE against oidc-provider
// (the development authorization server in examples/), then list and call tools on
// the example MCP server (the SDK's McpServer behind fastify-mcp-auth).
//
// The example server imports the built package: run `npm run build` first.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { completeDevAuthorization, startAuthorizationServer } from '../../examples/authorization-server.js'
import { startMcpServer, NOTES_SCOPES } from '../../examples/mcp-server.js'
import type { WhoamiResult } from '../../examples/mcp-server.js'
import { parseChallenges } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const REDIRECT_URI = 'http://127.0.0.1/callback'

// The MCP resource must be known to the authorization server before the MCP server
// (which needs the issuer) starts: pick the MCP port first.
const mcpPort = await freePort()
const RESOURCE = `http://127.0.0.1:${mcpPort}/mcp`
const authServer = await startAuthorizationServer({ quiet: true, resources: [{ uri: RESOURCE, scopes: NOTES_SCOPES }] })
t.teardown(() => authServer.close())
const serverErrors: unknown[] = []
authServer.provider.on('server_error', (_ctx: unknown, err: unknown) => serverErrors.push(err))
const mcp = await startMcpServer({ port: mcpPort, authorizationServer: authServer.issuer })
t.teardown(() => mcp.close())
const PRM_URL = `http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`

/**
 * An in-memory OAuthClientProvider. redirectToAuthorization plays the user's browser:
 * it follows the authorization URL through the development server's auto-approved
 * login and consent to the redirect URI and keeps the code for finishAuth().
 */
class TestOAuthProvider implements OAuthClientProvider {
  readonly authorizationUrls: URL[] = []
  readonly savedTokens: OAuthTokens[] = []
  discovery: OAuthDiscoveryState | undefined
  /** The scope the "user" consents to, given the scope the client asked for. Default: all of it. */
  consent: (requested: string) => string = (requested) => requested
  #client: OAuthClientInformationMixed | undefined
  #tokens: OAuthTokens | undefined
  #verifier: string | undefined
  #state: string | undefined
  #code: string | undefined

  readonly clientMetadata: OAuthClientMetadata

  constructor (clientMetadata: OAuthClientMetadata) {
    this.clientMetadata = clientMetadata
  }

  get redirectUrl (): string { return REDIRECT_URI }
  state (): string { return (this.#state = randomBytes(16).toString('base64url')) }
  clientInformation (): OAuthClientInformationMixed | undefined { return this.#client }
  saveClientInformation (info: OAuthClientInformationMixed): void { this.#client = info }
  tokens (): OAuthTokens | undefined { return this.#tokens }
  saveTokens (tokens: OAuthTokens): void {
    this.#tokens = tokens
    this.savedTokens.push(tokens)
  }

  saveCodeVerifier (verifier: string): void { this.#verifier = verifier }
  codeVerifier (): string {
    if (this.#verifier === undefined) throw new Error('no code verifier saved')
    return this.#verifier
  }

  saveDiscoveryState (state: OAuthDiscoveryState): void { this.discovery = state }
  discoveryState (): OAuthDiscoveryState | undefined { return this.discovery }

  async redirectToAuthorization (url: URL): Promise<void> {
    this.authorizationUrls.push(new URL(url))
    const target = new URL(url)
    const scope = this.consent(url.searchParams.get('scope') ?? '')
    target.searchParams.set('scope', scope)
    const callback = await completeDevAuthorization(target, REDIRECT_URI)
    if (callback.searchParams.get('state') !== this.#state) throw new Error('state mismatch')
    const code = callback.searchParams.get('code')
    if (code === null) throw new Error(`no code: ${callback.search}`)
    this.#code = code
  }

  /** The code from the last redirect, once (what the app's callback handler would receive). */
  takeCode (): string {
    const code = this.#code
    if (code === undefined) throw new Error('redirectToAuthorization was not called')
    this.#code = undefined
    return code
  }
}

interface Exchange { method: string, url: string, status: number, wwwAuthenticate: string | null }

/** fetch that records every request the SDK makes (MCP, discovery, registration, token). */
function recordingFetch (log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const res = await fetch(input, init)
    log.push({ method: request.method, url: request.url, status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') })
    return res
  }
}

function clientMetadata (grantTypes: string[]): OAuthClientMetadata {
  return {
    client_name: 'MCP SDK interop test',
    redirect_uris: [REDIRECT_URI],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }
}

interface Connection { client: Client, transport: StreamableHTTPClientTransport }

/**
 * Connects the way an SDK app does: the first attempt ends in UnauthorizedError after
 * redirectToAuthorization; the app finishes with the code and connects a new transport.
 */
async function connectWithOAuth (t: Test, provider: TestOAuthProvider, log: Exchange[]): Promise<Connection> {
  const first = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider, fetch: recordingFetch(log) })
  const refused = await rejection(new Client({ name: 'interop', version: '1.0.0' }).connect(first))
  if (!(refused instanceof UnauthorizedError)) throw refused // discovery, registration or the redirect failed
  t.pass('no token: the SDK sends the user to authorize')
  await first.finishAuth(provider.takeCode())
  await first.close()
  const transport = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider, fetch: recordingFetch(log) })
  const client = new Client({ name: 'interop', version: '1.0.0' })
  await client.connect(transport)
  return { client, transport }
}

/** What a promise rejected with (tap's t.rejects(p, Class) also compares `name`, which SDK errors leave as 'Error'). */
async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

function text (result: Awaited<ReturnType<Client['callTool']>>): string | undefined {
  const [first] = (result as CallToolResult).content
  return first?.type === 'text' ? first.text : undefined
}

function decodePayload (jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
}

t.test('the SDK client discovers, registers, authorizes (code + PKCE) from our 401, then lists and calls tools; the handler sees the verified identity', async (t) => {
  const log: Exchange[] = []
  const provider = new TestOAuthProvider(clientMetadata(['authorization_code']))
  // The user grants read access only, so that writing later needs a step-up.
  provider.consent = () => 'notes:read'
  const { client, transport } = await connectWithOAuth(t, provider, log)
  t.teardown(() => client.close())

  t.test('discovery came from the 401 alone', async (t) => {
    const [unauthorized] = log
    t.equal(unauthorized?.method, 'POST')
    t.equal(unauthorized?.url, mcp.url)
    t.equal(unauthorized?.status, 401, 'first request: 401')
    const [bearer] = parseChallenges(unauthorized?.wwwAuthenticate ?? undefined)
    t.equal(bearer?.scheme, 'Bearer', 'Bearer challenge first (the SDK reads only the first)')
    t.equal(bearer?.params.resource_metadata, PRM_URL)

    const urls = log.map((e) => `${e.method} ${e.url} ${e.status}`)
    const prm = urls.indexOf(`GET ${PRM_URL} 200`)
    const asMetadata = urls.indexOf(`GET ${authServer.issuer}/.well-known/oauth-authorization-server 200`)
    const registration = urls.findIndex((u) => u.startsWith(`POST ${authServer.issuer}/register `))
    const token = urls.findIndex((u) => u.startsWith(`POST ${authServer.issuer}/token `))
    t.ok(prm > 0, 'then the protected-resource metadata named in resource_metadata')
    t.ok(asMetadata > prm, 'then the authorization server it names (RFC 8414)')
    t.ok(registration > asMetadata, 'then dynamic client registration')
    t.ok(token > registration, 'then the token endpoint (after the authorization redirect)')
    t.equal(log[registration]?.status, 201)
    t.equal(log[token]?.status, 200)

    t.equal(provider.discovery?.authorizationServerUrl, authServer.issuer)
    t.equal(provider.discovery?.resourceMetadata?.resource, RESOURCE)
    t.same(provider.discovery?.resourceMetadata?.scopes_supported, NOTES_SCOPES)
    t.equal(provider.discovery?.resourceMetadata?.resource_name, 'Notes (fastify-mcp-auth example)')

    const [authorization] = provider.authorizationUrls
    t.equal(authorization?.origin, authServer.issuer)
    t.equal(authorization?.searchParams.get('resource'), RESOURCE, 'resource indicator (RFC 8707) = our metadata\'s resource')
    t.equal(authorization?.searchParams.get('code_challenge_method'), 'S256', 'PKCE S256')
    t.equal(authorization?.searchParams.get('scope'), NOTES_SCOPES.join(' '), 'the SDK asked for the 401 challenge\'s scope')
  })

  t.test('the token: a Bearer JWT for our resource, granted scope notes:read', async (t) => {
    const tokens = provider.tokens()
    t.equal(tokens?.token_type.toLowerCase(), 'bearer', 'the SDK does not use DPoP: an unbound token')
    const claims = decodePayload(tokens?.access_token ?? '')
    t.equal(claims.aud, RESOURCE)
    t.equal(claims.iss, authServer.issuer)
    t.equal(claims.sub, 'demo-user')
    t.equal(claims.scope, 'notes:read')
    t.equal(claims.cnf, undefined)
    t.equal(tokens?.refresh_token, undefined, 'no refresh token (the client did not register that grant)')
  })

  t.test('listTools and callTool', async (t) => {
    const { tools } = await client.listTools()
    t.same(tools.map((tool) => tool.name).sort(), ['read_notes', 'whoami', 'write_note'])
    t.equal(text(await client.callTool({ name: 'read_notes', arguments: {} })), 'No notes yet.')

    const whoami = await client.callTool({ name: 'whoami', arguments: {} })
    const identity = whoami.structuredContent as WhoamiResult
    t.same(identity, {
      subject: 'demo-user',
      clientId: provider.clientInformation()?.client_id,
      scopes: ['notes:read'],
      issuer: authServer.issuer,
      binding: 'bearer',
    }, 'the tool handler\'s authInfo holds the verified identity')
  })

  t.test('a write without notes:write → 403 insufficient_scope; the SDK steps up with the challenge\'s scope', async (t) => {
    provider.consent = (requested) => requested // this time the user grants what is asked
    const before = log.length
    t.type(await rejection(client.callTool({ name: 'write_note', arguments: { text: 'from the SDK' } })), UnauthorizedError,
      'the SDK answers the 403 by sending the user to authorize again')

    const forbidden = log.slice(before).find((e) => e.status === 403)
    t.ok(forbidden, 'our server answered 403')
    const [bearer] = parseChallenges(forbidden?.wwwAuthenticate ?? undefined)
    t.equal(bearer?.scheme, 'Bearer')
    t.equal(bearer?.params.error, 'insufficient_scope')
    t.equal(bearer?.params.scope, 'notes:write', 'naming the scope the tool needs')
    t.equal(bearer?.params.resource_metadata, PRM_URL)

    const stepUp = provider.authorizationUrls.at(-1)
    t.equal(provider.authorizationUrls.length, 2, 'a second authorization request')
    // SDK 1.x replaces its scope with the challenge's (it does not add the scopes it
    // already had, as MCP 2026-07-28 / SEP-2350 asks clients to): the new token
    // will only hold notes:write.
    t.equal(stepUp?.searchParams.get('scope'), 'notes:write', 'the step-up asks for the challenge\'s scope (SDK 1.x: replacing, not accumulating)')
    t.equal(stepUp?.searchParams.get('resource'), RESOURCE)

    await transport.finishAuth(provider.takeCode())
    t.equal(decodePayload(provider.tokens()?.access_token ?? '').scope, 'notes:write')
    t.match(text(await client.callTool({ name: 'write_note', arguments: { text: 'from the SDK' } })), /^Saved note \d+\.$/, 'the retried call succeeds')
    t.type(await rejection(client.callTool({ name: 'whoami', arguments: {} })), UnauthorizedError, 'and since the SDK dropped notes:read, reading now needs another step-up')
    t.equal(provider.authorizationUrls.at(-1)?.searchParams.get('scope'), 'notes:read')
  })
})

t.test('SDK 1.x with a refresh token: the 403 step-up refreshes without the new scope and gives up (typescript-sdk#2255)', async (t) => {
  const log: Exchange[] = []
  const provider = new TestOAuthProvider(clientMetadata(['authorization_code', 'refresh_token']))
  // The user grants read access and a refresh token (offline_access).
  provider.consent = () => 'notes:read offline_access'
  const { client } = await connectWithOAuth(t, provider, log)
  t.teardown(() => client.close())
  t.ok(provider.tokens()?.refresh_token, 'a refresh token')

  const before = { tokens: provider.savedTokens.length, authorizations: provider.authorizationUrls.length, log: log.length }
  const err = await rejection(client.callTool({ name: 'write_note', arguments: { text: 'x' } }))
  t.type(err, StreamableHTTPError)
  t.equal((err as StreamableHTTPError).code, 403)
  t.match((err as Error).message, /403 after trying upscoping/)
  t.equal(provider.savedTokens.length, before.tokens + 1, 'the SDK refreshed the token…')
  t.equal(provider.authorizationUrls.length, before.authorizations, '…and never asked the user for the new scope')
  t.equal(decodePayload(provider.tokens()?.access_token ?? '').scope, 'notes:read', 'so the refreshed token still lacks notes:write')
  const posts = log.slice(before.log).filter((e) => e.method === 'POST' && e.url === mcp.url)
  t.same(posts.map((e) => e.status), [403, 403], 'two 403s…')
  t.equal(posts[0]?.wwwAuthenticate, posts[1]?.wwwAuthenticate, '…with the same challenge')
})

t.test('GET and DELETE /mcp: 401 without a token; 405 with one (stateless: no SSE stream, no session)', async (t) => {
  const log: Exchange[] = []
  const provider = new TestOAuthProvider(clientMetadata(['authorization_code']))
  const { client } = await connectWithOAuth(t, provider, log)
  t.teardown(() => client.close())
  // After `initialized` the SDK opens the standalone SSE stream in the background.
  for (let i = 0; i < 50 && !log.some((e) => e.method === 'GET' && e.url === mcp.url); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(log.some((e) => e.method === 'GET' && e.url === mcp.url && e.status === 405), 'the SDK\'s GET for a standalone SSE stream got 405, which it accepts')
  const authorization = `Bearer ${provider.tokens()?.access_token}`
  for (const method of ['GET', 'DELETE']) {
    const anonymous = await fetch(mcp.url, { method })
    t.equal(anonymous.status, 401, `${method} without a token`)
    await anonymous.body?.cancel()
    const res = await fetch(mcp.url, { method, headers: { authorization, accept: 'text/event-stream' } })
    t.equal(res.status, 405, `${method} with a token`)
    t.equal(res.headers.get('allow'), 'POST')
    await res.body?.cancel()
  }
})

t.test('oidc-provider reported no server errors along the way', async (t) => {
  t.same(serverErrors.map(String), [])
})
