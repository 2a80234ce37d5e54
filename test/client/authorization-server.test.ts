// The client against this package's own authorization server (on the
// `mcpAuthorizationServer` plugin, as the development server runs it) and its
// own resource server: dynamic registration without a scope restriction, so a
// step-up after it goes through (DESIGN "Step-up must survive dynamic
// registration"); DPoP with nonces required by both; re-authorization with the
// stored scope union; sign-out.
import t from 'tap'
import { createMcpOAuthClient, memoryCredentialStore } from '../../client.js'
import type { CredentialStore } from '../../client.js'
import { completeDevAuthorization, startAuthorizationServer } from '../../examples/authorization-server.js'
import { rpc, SCOPES, startMcpServer } from '../helpers/mcp-resource-server.js'
import { freePort } from '../helpers/net.js'

const REDIRECT_URI = 'http://127.0.0.1:9/callback'

async function expireAll (store: CredentialStore): Promise<void> {
  for (const key of await store.keys('cred:')) await store.set(key, { ...await store.get(key), expiresAt: 1 })
}

t.test('register, authorize, step up, re-authorize and sign out against mcpAuthorizationServer and mcpAuth, DPoP nonces on both', async (t) => {
  const port = await freePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const as = await startAuthorizationServer({ quiet: true, resources: [{ uri: resource, scopes: [...SCOPES] }], nonces: true })
  t.teardown(() => as.close())
  const registrations: unknown[] = []
  as.provider.on('registration_create.success', (_ctx: unknown, client: { metadata (): unknown }) => registrations.push(client.metadata()))
  const refreshes: string[] = []
  as.provider.on('grant.success', (ctx: { oidc: { params: { grant_type: string } } }) => refreshes.push(ctx.oidc.params.grant_type))
  // The MCP server's challenge asks for the read scope only: calling a tool needs a step-up.
  const mcp = await startMcpServer(t, { issuer: as.issuer, port, dpopNonces: true, scopesSupported: ['mcp:tools:read'] })

  const store = memoryCredentialStore()
  const authorizations: URL[] = []
  const oauth = createMcpOAuthClient({
    clientMetadata: { client_name: 'client ↔ authorization server' },
    redirectUri: REDIRECT_URI,
    authorize: async (url) => {
      authorizations.push(url)
      return await completeDevAuthorization(url, REDIRECT_URI)
    },
    store,
    dpop: { key: 'generate' },
  })

  const listed = await oauth.fetch(mcp.url, rpc('tools/list'))
  t.equal(listed.status, 200, await listed.clone().text())
  const called = await oauth.fetch(mcp.url, rpc('tools/call', { name: 'echo' }))
  t.equal(called.status, 200, 'the step-up went through')
  const { result } = await called.json() as { result: { subject: string, scopes: string[], sender: { binding: string } } }
  t.equal(result.subject, 'demo-user')
  t.same([...result.scopes].sort(), ['mcp:tools:call', 'mcp:tools:read'])
  t.equal(result.sender.binding, 'dpop')
  t.equal(registrations.length, 1, 'one registration served both authorizations')
  t.notOk((registrations[0] as { scope?: string }).scope, 'registered without a scope restriction')
  t.same(authorizations.map((u) => u.searchParams.get('scope')), ['mcp:tools:read offline_access', 'mcp:tools:read offline_access mcp:tools:call'])

  // The server keeps offline_access for an OAuth request without prompt=consent (what an
  // MCP client sends), so the expired token is refreshed, with no new authorization.
  await expireAll(store)
  const asked = authorizations.length
  t.equal((await oauth.fetch(mcp.url, rpc('tools/call', { name: 'echo' }))).status, 200)
  t.same(refreshes.filter((g) => g === 'refresh_token'), ['refresh_token'], 'refreshed')
  t.equal(authorizations.length, asked, 'no new authorization')

  const out = await oauth.signOut()
  t.same({ deleted: out.deleted, failures: out.failures.length }, { deleted: 1, failures: 0 })
})
