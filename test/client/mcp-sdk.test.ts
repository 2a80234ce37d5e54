// The MCP SDK's own transports with `fetch: oauth.fetch`: v1
// (@modelcontextprotocol/sdk) and v2 (@modelcontextprotocol/client), against
// the example MCP server (the SDK's McpServer behind mcpAuth) and oidc-provider,
// with DPoP. The SDKs get no OAuth provider: every OAuth step is the client's.
// The example server imports the built package: `npm run build` first.
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import t from 'tap'
import { createMcpOAuthClient } from '../../client.js'
import { freePort, NOTES_SCOPES, startMcpServer } from '../../examples/mcp-server.js'
import type { WhoamiResult } from '../../examples/mcp-server.js'
import { browse, startOidcServer } from '../helpers/oidc-provider.js'

const REDIRECT_URI = 'http://127.0.0.1:9/callback'

const port = await freePort()
const resource = `http://127.0.0.1:${port}/mcp`
const as = await startOidcServer(t, { resources: [{ uri: resource, scopes: NOTES_SCOPES }], scopes: NOTES_SCOPES, dpopNonces: true })
const mcp = await startMcpServer({ port, authorizationServer: as.issuer })
t.teardown(() => mcp.close())

function oauthClient (): { fetch: ReturnType<typeof createMcpOAuthClient>['fetch'], authorizations: number } {
  const counter = { authorizations: 0 }
  const oauth = createMcpOAuthClient({
    clientMetadata: { client_name: 'sdk transport test' },
    redirectUri: REDIRECT_URI,
    authorize: async (url) => {
      counter.authorizations++
      return await browse(url, REDIRECT_URI)
    },
    dpop: { key: 'generate' },
  })
  return Object.assign(counter, { fetch: oauth.fetch })
}

interface SdkClient {
  connect (transport: never): Promise<void>
  listTools (): Promise<{ tools: Array<{ name: string }> }>
  callTool (request: { name: string, arguments: Record<string, unknown> }): Promise<{ structuredContent?: unknown }>
  close (): Promise<void>
}

for (const [version, makeClient, makeTransport] of [
  ['v1', () => new ClientV1({ name: 'v1', version: '1.0.0' }), (url: URL, fetch: typeof globalThis.fetch) => new TransportV1(url, { fetch })],
  ['v2', () => new ClientV2({ name: 'v2', version: '1.0.0' }), (url: URL, fetch: typeof globalThis.fetch) => new TransportV2(url, { fetch })],
] as const) {
  t.test(`SDK ${version} StreamableHTTPClientTransport with oauth.fetch: connect, list and call tools on a DPoP-bound token`, async (t) => {
    const oauth = oauthClient()
    const client = makeClient() as unknown as SdkClient
    await client.connect(makeTransport(new URL(mcp.url), oauth.fetch) as never)
    t.teardown(() => client.close())
    const { tools } = await client.listTools()
    t.same(tools.map((tool) => tool.name).sort(), ['read_notes', 'whoami', 'write_note'])
    const whoami = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as WhoamiResult
    t.equal(whoami.subject, 'test-user')
    t.equal(whoami.binding, 'dpop')
    t.equal(whoami.issuer, as.issuer)
    await client.callTool({ name: 'write_note', arguments: { text: `from ${version}` } })
    await client.callTool({ name: 'read_notes', arguments: {} })
    t.equal(oauth.authorizations, 1, 'one authorization for the whole session')
  })
}
