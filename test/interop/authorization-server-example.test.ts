// The development authorization server (examples/, on oidc-provider) as MCP clients meet it:
// a request naming no scope gets the resource's default scopes instead of access_denied,
// and a client may use the HTTPS URL of its Client ID Metadata Document as its client_id,
// fetched through oidc-provider's SSRF guard (a loopback document needs the test override).
import { createHash, randomBytes } from 'node:crypto'
import tls from 'node:tls'
import t from 'tap'
import { decodeJwt } from 'jose'
import { completeDevAuthorization, startAuthorizationServer } from '../../examples/authorization-server.js'
import type { AuthorizationServerOptions, DevAuthorizationServer } from '../../examples/authorization-server.js'
import { startCimdServer } from '../helpers/https-cimd-server.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const RESOURCE = 'http://127.0.0.1:1/mcp'
const REDIRECT_URI = 'http://127.0.0.1:1/callback'
const PUBLIC_CLIENT = {
  client_id: 'public-app',
  token_endpoint_auth_method: 'none',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code'],
  response_types: ['code'],
}

async function start (t: Test, options: AuthorizationServerOptions): Promise<DevAuthorizationServer> {
  const as = await startAuthorizationServer({ quiet: true, clients: [PUBLIC_CLIENT], ...options })
  t.teardown(() => as.close())
  return as
}

/** Runs the code flow with PKCE; `parameters` go on the authorization request as given. */
async function authorize (as: DevAuthorizationServer, clientId: string, parameters: Record<string, string | string[]> = {}): Promise<Response> {
  const verifier = randomBytes(32).toString('base64url')
  const url = new URL('/authorize', as.issuer)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', clientId)
  url.searchParams.set('redirect_uri', REDIRECT_URI)
  url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'))
  url.searchParams.set('code_challenge_method', 'S256')
  for (const [name, value] of Object.entries(parameters)) {
    for (const one of [value].flat()) url.searchParams.append(name, one)
  }
  const callback = await completeDevAuthorization(url, REDIRECT_URI)
  const code = callback.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${callback.search}`)
  return await fetch(new URL('/token', as.issuer), {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: clientId }),
  })
}

async function accessToken (response: Response): Promise<{ aud: unknown, scope: unknown, client_id: unknown }> {
  const body = await response.json() as { access_token?: string }
  if (response.status !== 200 || body.access_token === undefined) throw new Error(`token request: ${response.status} ${JSON.stringify(body)}`)
  const { aud, scope, client_id: clientId } = decodeJwt(body.access_token)
  return { aud, scope, client_id: clientId }
}

t.test('MCP scope selection: a request naming the resource but no scope gets the resource\'s defaultScopes', async (t) => {
  const as = await start(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read', 'mcp:tools:call'], defaultScopes: ['mcp:tools:read'] }] })
  t.same(await accessToken(await authorize(as, 'public-app', { resource: RESOURCE })), { aud: RESOURCE, scope: 'mcp:tools:read', client_id: 'public-app' })
})

t.test('without defaultScopes a scope-less request gets every scope of the resource; naming no resource picks the only one', async (t) => {
  const as = await start(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read', 'mcp:tools:call'] }] })
  t.same(await accessToken(await authorize(as, 'public-app')), { aud: RESOURCE, scope: 'mcp:tools:read mcp:tools:call', client_id: 'public-app' })
})

t.test('a request with a scope keeps exactly that scope', async (t) => {
  const as = await start(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read', 'mcp:tools:call'], defaultScopes: ['mcp:tools:read'] }] })
  const token = await accessToken(await authorize(as, 'public-app', { resource: RESOURCE, scope: 'mcp:tools:call' }))
  t.equal(token.scope, 'mcp:tools:call')
})

t.test('CIMD: the client_id is the document\'s HTTPS URL; the document is fetched and the code flow completes', async (t) => {
  const cimd = await startCimdServer()
  t.teardown(() => cimd.close())
  const as = await start(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read'] }], unsafeFetch: cimd.fetch })
  const metadata = await (await fetch(new URL('/.well-known/oauth-authorization-server', as.issuer))).json() as Record<string, unknown>
  t.equal(metadata.issuer, as.issuer, 'RFC 8414 metadata is served at its own path')
  t.equal(metadata.client_id_metadata_document_supported, true)

  const clientId = cimd.host('/clients/app.json', {
    client_id: `${cimd.origin}/clients/app.json`,
    client_name: 'CIMD test app',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
  })
  t.same(await accessToken(await authorize(as, clientId, { resource: RESOURCE })), { aud: RESOURCE, scope: 'mcp:tools:read', client_id: clientId })
  t.ok(cimd.requests.includes('/clients/app.json'), 'the authorization server fetched the document')
})

// The guard is told apart from a mere untrusted certificate by trusting the test CA
// process-wide first: the only thing left to refuse the fetch is the guard.
const trustCa = (tls as { setDefaultCACertificates?: (certs: string[]) => void }).setDefaultCACertificates
t.test('CIMD SSRF guard: by default a client_id on a loopback address is refused before any request', { skip: trustCa === undefined && 'tls.setDefaultCACertificates needs Node 22.19 or later' }, async (t) => {
  const cimd = await startCimdServer()
  t.teardown(() => cimd.close())
  const defaults = tls.getCACertificates('default')
  trustCa?.([...defaults, cimd.caPem])
  t.teardown(() => trustCa?.(defaults))
  const as = await start(t, { resources: [{ uri: RESOURCE, scopes: ['mcp:tools:read'] }] })
  const errors: Error[] = []
  as.provider.on('authorization.error', (_ctx: unknown, err: Error) => errors.push(err))
  const clientId = cimd.host('/clients/app.json', { client_id: `${cimd.origin}/clients/app.json`, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' })
  const url = new URL('/authorize', as.issuer)
  url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).toString()
  const response = await fetch(url, { redirect: 'manual' })
  t.equal(response.status, 400)
  t.match(await response.json(), { error: 'invalid_client' })
  // The address policy refuses loopback before connecting (oidc-provider's own guard stays on behind it).
  t.match(String((errors[0]?.cause as Error | undefined)?.message), /not a public address/, 'the SSRF guard refused the address')
  t.same(cimd.requests, [], 'no request reached the loopback server')
})

t.test('unsafeFetch must be a function', async (t) => {
  await t.rejects(startAuthorizationServer({ quiet: true, unsafeFetch: 'yes' as never }), TypeError)
  await t.rejects(startAuthorizationServer({ quiet: true, resources: [{ uri: RESOURCE, scopes: [], defaultScopes: 'x' as never }] }), TypeError)
})
