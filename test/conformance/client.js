// The client under test for the official MCP conformance suite: the MCP SDK v2
// client whose transport sends every request through this package's
// `oauth.fetch` (fastify-mcp-auth/client, from dist/: `npm run build` first).
// The suite starts it as `<command> <server URL>` with the scenario, the
// protocol version and the scenario's credentials in MCP_CONFORMANCE_* variables;
// it connects, lists the tools, calls the first one, and exits 0, or 1 on any error.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { createMcpOAuthClient } from '../../dist/client.js'

// The CIMD client ID auth/basic-cimd expects (the suite does not fetch it).
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json'
// Never listened on: the authorizer reads the redirect from the authorization endpoint's answer.
const REDIRECT_URI = 'http://127.0.0.1:1/callback'

const serverUrl = process.argv.at(-1)
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? ''
const protocolVersion = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION
/** @type {{ client_id?: string, client_secret?: string, private_key_pem?: string, signing_algorithm?: string, valid_jwt?: string, idp_issuer?: string, idp_token_endpoint?: string, idp_client_id?: string, idp_id_token?: string }} */
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}')

/**
 * The "browser": the suite's authorization endpoint redirects at once, so one
 * GET without following redirects yields the callback URL (code, state, iss).
 * @param {URL} url
 */
async function followAuthorization (url) {
  const response = await fetch(url, { redirect: 'manual' })
  await response.body?.cancel()
  const location = response.headers.get('location')
  if (location === null) throw new Error(`the authorization endpoint answered ${response.status} without a redirect`)
  return new URL(location, url).href
}

/** The scenario's own client, if its context names one. */
function preRegisteredClient () {
  const clientId = context.client_id
  if (clientId === undefined) return undefined
  if (context.private_key_pem !== undefined) {
    return { clientId, auth: { method: 'private_key_jwt', key: context.private_key_pem, algorithm: context.signing_algorithm ?? 'ES256' } }
  }
  if (context.client_secret !== undefined) return { clientId, auth: { method: 'client_secret_basic', secret: context.client_secret } }
  return { clientId }
}

function grant () {
  if (scenario.startsWith('auth/client-credentials-')) return { type: 'client_credentials' }
  if (scenario === 'auth/wif-jwt-bearer') return { type: 'jwt-bearer', assertion: () => context.valid_jwt ?? '' }
  if (scenario === 'auth/enterprise-managed-authorization') {
    // The suite's IdP: exchange the ID token it signed for an ID-JAG, then jwt-bearer at its AS.
    return {
      type: 'id-jag',
      idp: { issuer: context.idp_issuer ?? '', tokenEndpoint: context.idp_token_endpoint ?? '', clientId: context.idp_client_id ?? '' },
      idToken: () => context.idp_id_token ?? '',
    }
  }
  return undefined
}

async function main () {
  if (serverUrl === undefined) throw new Error('usage: client.js <server URL>')
  const registered = preRegisteredClient()
  const oauth = createMcpOAuthClient({
    // The suite's issuers live on random ports: the context's client answers for whichever one it names.
    preRegistered: registered === undefined ? undefined : () => registered,
    clientMetadataUrl: CLIENT_METADATA_URL,
    clientMetadata: { client_name: 'fastify-mcp-auth conformance client', redirect_uris: [REDIRECT_URI] },
    redirectUri: REDIRECT_URI,
    authorize: followAuthorization,
    grant: grant(),
    dpop: { key: 'generate' },
    // backcompat: MCP 2025-03-26 servers publish no resource metadata.
    legacyDiscovery: true,
  })
  const options = protocolVersion === '2026-07-28' ? { versionNegotiation: { mode: { pin: protocolVersion } } } : {}
  const client = new Client({ name: 'fastify-mcp-auth-conformance', version: '1.0.0' }, options)
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { fetch: oauth.fetch }))
  try {
    const { tools } = await client.listTools()
    const tool = tools[0]
    if (tool !== undefined) await client.callTool({ name: tool.name, arguments: {} })
  } finally {
    await client.close()
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err)
  process.exit(1)
})
