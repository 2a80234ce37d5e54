// The placeholder client under test for the conformance suite's client scenarios: the MCP
// SDK v2 client with a small in-memory OAuth provider that completes the authorization step
// without a person. It proves the runner's plumbing end to end until the client toolkit's
// conformance adapter takes its place (docs/conformance.md says how to swap the command).
//
// The suite spawns it as `<command> <server URL>`, with the scenario in
// MCP_CONFORMANCE_SCENARIO, the wire revision in MCP_CONFORMANCE_PROTOCOL_VERSION and the
// scenario's credentials (if any) in MCP_CONFORMANCE_CONTEXT. It connects, lists the tools,
// calls each, and exits 0 on success, 1 on any error.
import { randomBytes } from 'node:crypto'
import {
  Client,
  ClientCredentialsProvider,
  DpopSession,
  PrivateKeyJwtProvider,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client'
import type {
  OAuthClientMetadata,
  OAuthClientProvider,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from '@modelcontextprotocol/client'

// The redirect URI is never listened on: the authorization endpoint's redirect is read,
// not followed (the suite's authorization server answers /authorize with that redirect).
const REDIRECT_URI = 'http://127.0.0.1:1/callback'
// Each authorization is one user prompt in a real client; three is the most a client
// should try before giving up (the suite's auth/scope-retry-limit checks it).
const MAX_AUTHORIZATIONS = 3
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json'

interface Context {
  name?: string
  client_id?: string
  client_secret?: string
  private_key_pem?: string
  signing_algorithm?: string
}

/** An OAuth provider that keeps everything in memory and plays the browser itself. */
class HeadlessProvider implements OAuthClientProvider {
  #client: StoredOAuthClientInformation | undefined
  #tokens: StoredOAuthTokens | undefined
  #verifier = ''
  #state = ''
  #dpop = DpopSession.create()
  callback: URL | undefined
  authorizations = 0
  // The client's Client ID Metadata Document URL, used wherever the authorization server
  // supports CIMD (the suite's auth/basic-cimd expects this identity; it fetches nothing).
  clientMetadataUrl = CLIENT_METADATA_URL

  constructor (client?: StoredOAuthClientInformation) {
    this.#client = client
  }

  get redirectUrl (): string {
    return REDIRECT_URI
  }

  get clientMetadata (): OAuthClientMetadata {
    return {
      client_name: 'fastify-mcp-auth conformance placeholder',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }

  dpop (): Promise<DpopSession> {
    return this.#dpop
  }

  state (): string {
    this.#state = randomBytes(16).toString('base64url')
    return this.#state
  }

  clientInformation (): StoredOAuthClientInformation | undefined {
    return this.#client
  }

  saveClientInformation (client: StoredOAuthClientInformation): void {
    this.#client = client
  }

  tokens (): StoredOAuthTokens | undefined {
    return this.#tokens
  }

  saveTokens (tokens: StoredOAuthTokens): void {
    this.#tokens = tokens
  }

  saveCodeVerifier (verifier: string): void {
    this.#verifier = verifier
  }

  codeVerifier (): string {
    return this.#verifier
  }

  // The browser step: the authorization endpoint answers with a redirect to the callback
  // at once; keep the whole callback URL (its `iss` matters, not only `code`).
  async redirectToAuthorization (url: URL): Promise<void> {
    if (++this.authorizations > MAX_AUTHORIZATIONS) throw new Error('too many authorization attempts')
    const response = await fetch(url, { redirect: 'manual' })
    await response.body?.cancel()
    const location = response.headers.get('location')
    if (location === null) throw new Error(`the authorization endpoint answered ${response.status} without a redirect`)
    const callback = new URL(location, url)
    if (callback.searchParams.get('state') !== this.#state) throw new Error('the callback state does not match')
    this.callback = callback
  }

  // The callback is used once: the code it carries is single use.
  takeCallback (): URL | undefined {
    const callback = this.callback
    this.callback = undefined
    return callback
  }
}

function providerFor (context: Context): OAuthClientProvider {
  const { name, client_id: clientId, client_secret: clientSecret, private_key_pem: privateKey } = context
  if (name === 'auth/client-credentials-basic' && clientId !== undefined && clientSecret !== undefined) {
    return new ClientCredentialsProvider({ clientId, clientSecret })
  }
  if (name === 'auth/client-credentials-jwt' && clientId !== undefined && privateKey !== undefined) {
    return new PrivateKeyJwtProvider({ clientId, privateKey, algorithm: context.signing_algorithm ?? 'ES256' })
  }
  // Pre-registered credentials (auth/pre-registration); otherwise the SDK registers.
  return new HeadlessProvider(clientId === undefined ? undefined : { client_id: clientId, client_secret: clientSecret })
}

/** Runs `operation` on a connected client, authorizing (again) whenever the server asks. */
async function withAuthorization<T> (
  serverUrl: URL,
  provider: OAuthClientProvider,
  options: ConstructorParameters<typeof Client>[1],
  operation: (client: Client) => Promise<T>
): Promise<T> {
  for (;;) {
    const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider })
    const client = new Client({ name: 'fastify-mcp-auth-placeholder', version: '0.0.0' }, options)
    try {
      await client.connect(transport)
      return await operation(client)
    } catch (err) {
      const callback = provider instanceof HeadlessProvider ? provider.takeCallback() : undefined
      if (!(err instanceof UnauthorizedError) || callback === undefined) throw err
      await transport.finishAuth(callback.searchParams)
    } finally {
      await client.close().catch(() => {})
    }
  }
}

async function main (): Promise<void> {
  const serverUrl = new URL(process.argv.at(-1) ?? '')
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Context
  const version = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION
  // The 2026-07-28 revision is the stateless wire (no initialize); earlier ones keep the
  // 2025 handshake, which is the SDK's default.
  const options = version === '2026-07-28' ? { versionNegotiation: { mode: { pin: version } } } : {}
  await withAuthorization(serverUrl, providerFor(context), options, async (client) => {
    const { tools } = await client.listTools()
    for (const tool of tools) await client.callTool({ name: tool.name, arguments: {} })
  })
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err))
  process.exit(1)
})
