// The official MCP SDK clients against one Fastify app that is the authorization
// server (mcpAuthorizationServer), the protected resource (mcpAuth, keys from
// fastify.mcpAuthorizationServer.keys) and an MCP server (the SDK's McpServer).
// v1 (@modelcontextprotocol/sdk): discovery, dynamic registration, PKCE, a tool
// call. v2 (@modelcontextprotocol/client): a Client ID Metadata Document, DPoP
// with nonces required by both servers, and step-up from mcp:tools:read (the
// default scope of a scope-less request) to mcp:tools:call after a 403.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import { z } from 'zod'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError as UnauthorizedV1 } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientProvider as ProviderV1 } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { Client as ClientV2, DpopSession, StreamableHTTPClientTransport as TransportV2, UnauthorizedError as UnauthorizedV2 } from '@modelcontextprotocol/client'
import type { OAuthClientProvider as ProviderV2, StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client'
import mcpAuth, { mcpOperationScopes, requireScopes } from '../../index.js'
import { mcpAuthorizationServer } from '../../authorization-server.js'
import { completeAuthorization } from '../../testing.js'
import { asOptions } from '../helpers/authorization-server.js'
import { startDocumentServer } from '../helpers/document-server.js'
import { freePort } from '../helpers/net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const READ = 'mcp:tools:read'
const CALL = 'mcp:tools:call'

/** One app: authorization server, protected resource and MCP server; nonces required on both sides when `nonces`. */
async function startApp (t: Test, { nonces = false, configure }: { nonces?: boolean, configure?: (configuration: Record<string, unknown>) => void } = {}) {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const resource = `${issuer}/mcp`
  const secret = randomBytes(32)
  const app = Fastify()
  t.teardown(() => app.close())
  const events: string[] = []
  await app.register(mcpAuthorizationServer, asOptions(issuer, {
    resources: [{ uri: resource, scopes: [READ, CALL], defaultScopes: [READ] }],
    ...(nonces ? { dpop: { nonce: { secret } } } : {}),
    onEvent: (event) => { events.push(event.type) },
    ...(configure === undefined ? {} : { configure }),
  }))
  await app.register(mcpAuth, {
    resource,
    authorizationServers: [issuer],
    jwks: app.mcpAuthorizationServer.keys,
    dpop: nonces ? { nonce: { secret } } : {},
  })
  const scopes = mcpOperationScopes({ tools: { whoami: [READ], write: [CALL] }, default: [READ] })
  app.post('/mcp', { preHandler: requireScopes(scopes) }, async (request, reply) => {
    const server = new McpServer({ name: 'referee', version: '1.0.0' })
    server.registerTool('whoami', { description: 'who' }, async (extra) => {
      const info = extra.authInfo
      return { content: [{ type: 'text', text: JSON.stringify({ subject: info?.extra?.subject, scopes: info?.scopes, binding: (info?.extra?.sender as { binding?: string } | undefined)?.binding }) }] }
    })
    server.registerTool('write', { description: 'write', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text: `wrote ${text}` }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    reply.hijack()
    reply.raw.on('close', () => { transport.close().catch(() => {}); server.close().catch(() => {}) })
    await server.connect(transport)
    await transport.handleRequest(request.raw, reply.raw, request.body)
  })
  await app.listen({ port, host: '127.0.0.1' })
  return { app, issuer, resource, events }
}

const textOf = (result: unknown): string => ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text

/** Plays the user's browser through the development pages and keeps the callback URL. */
class Browser {
  callback: URL | undefined
  authorizations: URL[] = []
  async visit (url: URL, redirectUri: string): Promise<void> {
    this.authorizations.push(url)
    this.callback = await completeAuthorization(url, redirectUri)
  }

  take (): URL {
    const callback = this.callback
    this.callback = undefined
    if (callback === undefined) throw new Error('no authorization happened')
    return callback
  }
}

/** What both SDKs' providers keep between calls (in memory), and the browser they send users to. */
class Remembered<Client, Tokens> {
  readonly browser = new Browser()
  #client: Client | undefined
  #tokens: Tokens | undefined
  #verifier = ''
  readonly redirectUrl: string
  constructor (redirectUrl: string) { this.redirectUrl = redirectUrl }
  clientInformation () { return this.#client }
  saveClientInformation (client: Client) { this.#client = client }
  tokens () { return this.#tokens }
  saveTokens (tokens: Tokens) { this.#tokens = tokens }
  saveCodeVerifier (verifier: string) { this.#verifier = verifier }
  codeVerifier () { return this.#verifier }
  async redirectToAuthorization (url: URL) { await this.browser.visit(url, this.redirectUrl) }
}

const metadataOf = (name: string, redirectUrl: string) => ({ client_name: name, redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' })

class ProviderOne extends Remembered<OAuthClientInformationMixed, OAuthTokens> implements ProviderV1 {
  readonly clientMetadata: OAuthClientMetadata = metadataOf('SDK v1', this.redirectUrl)
  constructor () { super('http://127.0.0.1/v1-callback') }
}

class ProviderTwo extends Remembered<StoredOAuthClientInformation, StoredOAuthTokens> implements ProviderV2 {
  readonly #dpop = DpopSession.create()
  readonly clientMetadata = metadataOf('SDK v2', this.redirectUrl)
  readonly clientMetadataUrl: string
  constructor (clientMetadataUrl: string) {
    super('http://127.0.0.1/v2-callback')
    this.clientMetadataUrl = clientMetadataUrl
  }

  dpop () { return this.#dpop }
  state () { return randomBytes(16).toString('base64url') }
}

t.test('MCP SDK v1 client: discovery from the 401, dynamic registration, PKCE, then a tool call through mcpAuth', async (t) => {
  const { resource, events } = await startApp(t)
  const provider = new ProviderOne()
  const first = new TransportV1(new URL(resource), { authProvider: provider })
  const client = new ClientV1({ name: 'v1', version: '1.0.0' })
  const refused: unknown = await client.connect(first).then(() => undefined, (err: unknown) => err)
  t.ok(refused instanceof UnauthorizedV1, 'the first connection asks for authorization')
  await first.finishAuth(provider.browser.take().searchParams.get('code') as string)
  const transport = new TransportV1(new URL(resource), { authProvider: provider })
  const connected = new ClientV1({ name: 'v1', version: '1.0.0' })
  await connected.connect(transport)
  t.teardown(() => connected.close())
  const who = JSON.parse(textOf(await connected.callTool({ name: 'whoami', arguments: {} })))
  t.same(who, { subject: 'demo-user', scopes: [READ], binding: 'bearer' }, 'the default scope, for the signed-in user')
  t.equal(provider.browser.authorizations[0]?.searchParams.get('code_challenge_method'), 'S256')
  t.ok(events.includes('client.registered') && events.includes('token.issued'))
})

t.test('MCP SDK v2 client: CIMD, DPoP with nonces on both servers, step-up from mcp:tools:read to mcp:tools:call', async (t) => {
  const documents = new Map<string, unknown>()
  const cimd = await startDocumentServer(t, undefined, documents)
  const clientId = `${cimd.origin}/sdk-v2.json`
  const provider = new ProviderTwo(clientId)
  documents.set('/sdk-v2.json', { client_id: clientId, client_name: 'SDK v2', redirect_uris: [provider.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' })
  const { resource } = await startApp(t, { nonces: true, configure: (configuration) => { configuration.fetch = cimd.fetch } })

  // Connect, authorizing (again) whenever a call needs it, as an application would.
  const run = async <T>(operation: (client: ClientV2) => Promise<T>): Promise<T> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const transport = new TransportV2(new URL(resource), { authProvider: provider })
      const client = new ClientV2({ name: 'v2', version: '1.0.0' })
      try {
        await client.connect(transport)
        return await operation(client)
      } catch (err) {
        if (!(err instanceof UnauthorizedV2) || provider.browser.callback === undefined) throw err
        await transport.finishAuth(provider.browser.take().searchParams)
      } finally {
        await client.close().catch(() => {})
      }
    }
    throw new Error('gave up after three authorizations')
  }

  const who = JSON.parse(textOf(await run((client) => client.callTool({ name: 'whoami', arguments: {} }))))
  t.same(who, { subject: 'demo-user', scopes: [READ], binding: 'dpop' }, 'a DPoP-bound token with the default scope')
  const first = provider.browser.authorizations[0] as URL
  t.equal(first.searchParams.get('client_id'), clientId, 'identified by its metadata document (CIMD)')
  t.ok(cimd.requests() >= 1, 'the authorization server fetched the document')

  const wrote = textOf(await run((client) => client.callTool({ name: 'write', arguments: { text: 'hello' } })))
  t.equal(wrote, 'wrote hello', 'after stepping up')
  t.equal(provider.browser.authorizations.length, 2, 'one more authorization for the step-up')
  const second = provider.browser.authorizations[1] as URL
  t.match(second.searchParams.get('scope') ?? '', new RegExp(CALL), 'the step-up asks for mcp:tools:call')
})
