// The client's small pieces, each rule once: option validation (every refusal
// names the option and never echoes a secret), same-origin returnTo, stored
// records read back field by field, the caller's request, DPoP keys, client
// authentication, the CIMD document checks, and the error and fallback paths
// of the request loop the flow tests do not reach.
import { generateKeyPairSync } from 'node:crypto'
import Fastify from 'fastify'
import { exportJWK, generateKeyPair, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import type { CryptoKeyPair } from 'oauth4webapi'
import t from 'tap'
import { createMcpOAuthClient, isMcpClientError, McpAuthorizationRequiredError, mcpClient, memoryCredentialStore } from '../../client.js'
import type { CredentialStore, McpOAuthClientOptions } from '../../client.js'
import { checkClientMetadataDocument } from '../../lib/client/client-metadata-document.js'
import { clientAuthentication } from '../../lib/client/client-auth.js'
import { dpopKeyFromPair, generateDpopKey, importDpopKey } from '../../lib/client/dpop.js'
import { createOutbound } from '../../lib/client/outbound.js'
import { addressCheckingLookup } from '../../lib/client/public-fetch.js'
import { readCredential, readPending, readRegistration } from '../../lib/client/records.js'
import { prepareRequest } from '../../lib/client/request.js'
import { sendToResource } from '../../lib/client/resource-request.js'
import { sameOriginPath } from '../../lib/client/return-to.js'
import { isCredentialStore } from '../../lib/client/stores/credential-store.js'
import { json, startFixture } from '../helpers/http-fixture.js'

const authorize = async (): Promise<string> => 'http://127.0.0.1:9/callback?code=x'
const base: McpOAuthClientOptions = { authorize, redirectUri: 'http://127.0.0.1:9/callback' }

t.test('createMcpOAuthClient refuses unusable options with the option\'s name', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /options must be an object/],
    [{ ...base, autorize: authorize }, /"autorize" is not a known option; did you mean "authorize"\?/],
    [{ redirectUri: 'http://127.0.0.1/cb' }, /authorize is required for the authorization-code grant/],
    [{ authorize }, /no redirect URI/],
    [{ ...base, redirectUri: 'http://app.example.com/cb' }, /redirect URI must be/],
    [{ ...base, redirectUri: 'not a url' }, /redirect URI must be/],
    [{ ...base, grant: { type: 'password' } }, /grant must be/],
    [{ ...base, grant: { type: 'jwt-bearer' } }, /needs assertion/],
    [{ ...base, store: {} }, /store must be a CredentialStore/],
    [{ ...base, allowPrivateNetworks: 'no' }, /allowPrivateNetworks must be a boolean/],
    [{ ...base, allowPrivateNetworks: false, fetch: globalThis.fetch }, /custom fetch cannot enforce/],
    [{ ...base, fetch: 'x' }, /fetch must be a function/],
    [{ ...base, scopes: 1 }, /scopes must be/],
    [{ ...base, scopes: { maxAttempt: 2 } }, /"scopes.maxAttempt" is not a known option; did you mean "scopes.maxAttempts"\?/],
    [{ ...base, scopes: { maxAttempts: 0 } }, /scopes.maxAttempts must be a number between 1 and 10/],
    [{ ...base, scopes: { offlineAccess: 'yes' } }, /offlineAccess must be a boolean/],
    [{ ...base, pkce: 1 }, /pkce must be/],
    [{ ...base, pkce: { allowMissingMetadata: 'x' } }, /allowMissingMetadata must be an array/],
    [{ ...base, legacyDiscovery: 1 }, /legacyDiscovery must be a boolean/],
    [{ ...base, timeout: 0 }, /timeout \(seconds\) must be/],
    [{ ...base, maxResponseBytes: 10 }, /maxResponseBytes must be/],
    [{ ...base, allowUrl: true }, /allowUrl must be a function/],
    [{ ...base, clientMetadataUrl: 'http://client.example.com/c.json' }, /clientMetadataUrl must be an https URL with a path/],
    [{ ...base, clientMetadataUrl: 'https://client.example.com/' }, /clientMetadataUrl must be an https URL with a path/],
    [{ ...base, clientMetadataUrl: 'no' }, /clientMetadataUrl must be/],
    [{ ...base, clientMetadata: 'x' }, /clientMetadata must be an object/],
    [{ ...base, clientMetadata: { client_secret: 'x' } }, /must not contain client_secret/],
    [{ ...base, clientMetadata: { application_type: 'desktop' } }, /application_type must be 'native' or 'web'/],
    [{ ...base, clientMetadata: { redirect_uris: [] } }, /redirect_uris is required/],
    [{ ...base, dpop: true }, /dpop must be false or/],
    [{ ...base, dpop: { key: 'make' } }, /dpop.key must be 'generate' or a CryptoKeyPair/],
    [{ ...base, dpop: { key: 'generate', algorithm: 'HS256' } }, /dpop.algorithm must be one of/],
    [{ ...base, dpop: { key: 'generate', algorithms: 'ES256' } }, /"dpop.algorithms" is not a known option; did you mean "dpop.algorithm"\?/],
    [{ ...base, preRegistered: 'x' }, /preRegistered must be an object keyed by issuer/],
    [{ ...base, preRegistered: { 'not-an-issuer': { clientId: 'a' } } }, /preRegistered keys are issuer identifiers/],
    [{ ...base, preRegistered: { 'http://as.example.com': { clientId: 'a' } } }, /preRegistered keys are issuer identifiers/],
    [{ ...base, preRegistered: { 'https://as.example.com': {} } }, /must be \{ clientId, auth\? \}/],
    [{ ...base, preRegistered: { 'https://as.example.com': { clientId: 'a', auth: { method: 'tls_client_auth' } } } }, /auth must be \{ method:/],
    [{ ...base, preRegistered: { 'https://as.example.com': { clientId: 'a', auth: { method: 'client_secret_basic' } } } }, /needs a non-empty secret/],
    [{ ...base, preRegistered: { 'https://as.example.com': { clientId: 'a', auth: { method: 'private_key_jwt' } } } }, /needs a key/],
  ]
  for (const [options, message] of cases) {
    t.throws(() => createMcpOAuthClient(options as never), { code: 'FST_MCP_AUTH_INVALID_OPTION', message }, String(message))
  }
  t.ok(createMcpOAuthClient({ grant: { type: 'client_credentials' } }), 'a client-credentials client needs no authorizer or redirect URI')
  t.ok(createMcpOAuthClient({ ...base, clientMetadata: { client_name: 'x', redirect_uris: ['https://app.example.com/cb'] } }), 'web redirect URIs are fine')
})

t.test('a function in preRegistered answers per issuer; its answer is checked too', async (t) => {
  const f = await startFixture(t)
  f.on('GET', '/.well-known/oauth-protected-resource/mcp', (_r, res) => json(res, 200, { resource: `${f.origin}/mcp`, authorization_servers: [f.origin] }))
  f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, { issuer: f.origin, token_endpoint: `${f.origin}/token` }))
  f.on('POST', '/mcp', (_r, res) => json(res, 401, {}, { 'www-authenticate': 'Bearer' }))
  const oauth = createMcpOAuthClient({ grant: { type: 'client_credentials' }, preRegistered: async () => ({ nope: true }) as never })
  await t.rejects(oauth.fetch(`${f.origin}/mcp`, { method: 'POST' }), { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /must be \{ clientId, auth\? \}/ })
  const none = createMcpOAuthClient({ grant: { type: 'client_credentials' }, preRegistered: () => null as never })
  await t.rejects(none.fetch(`${f.origin}/mcp`, { method: 'POST' }), { name: 'McpClientError', reason: 'registration.unavailable' })
})

t.test('sameOriginPath: a path on this origin, else /', async (t) => {
  for (const [value, expected] of [
    ['/a/b?c=d', '/a/b?c=d'], ['/', '/'], ['/a#frag', '/a'], ['/a/../b', '/b'],
    ['https://evil.example/', '/'], ['//evil.example', '/'], ['//evil.example/steal', '/'], ['/.//evil.example', '/'], ['/a/..//evil.example/x', '/'], ['/\\evil.example', '/'], ['/a\\b', '/a/b'], ['/a\nb', '/'], ['/a\u0000', '/'],
    ['relative', '/'], ['', '/'], [undefined, '/'], [42, '/'], ['javascript:alert(1)', '/'],
  ] as const) {
    t.equal(sameOriginPath(value), expected, JSON.stringify(value))
  }
})

t.test('stored records are read field by field: anything malformed is absent', async (t) => {
  const credential = { kind: 'credential', rev: 'r', issuer: 'i', clientId: 'c', resource: 'r', accessToken: 'a', tokenType: 'bearer', updatedAt: 1 }
  t.ok(readCredential(credential))
  for (const broken of [undefined, { ...credential, kind: 'other' }, { ...credential, rev: 1 }, { ...credential, expiresAt: 'soon' }, { ...credential, updatedAt: 'x' }, { ...credential, refreshToken: 1 }, { ...credential, dpopKey: 'x' }]) {
    t.equal(readCredential(broken), undefined, JSON.stringify(broken))
  }
  const registration = { kind: 'registration', issuer: 'i', clientId: 'c', method: 'none' }
  t.ok(readRegistration(registration))
  t.equal(readRegistration({ ...registration, clientSecret: 1 }), undefined)
  t.equal(readRegistration({ ...registration, kind: 'credential' }), undefined)
  const pending = { kind: 'pending', state: 's', codeVerifier: 'v', issuer: 'i', clientId: 'c', resource: 'r', serverUrl: 'u', redirectUri: 'x', partition: 'p', returnTo: '/', authorizationServer: { issuer: 'i' } }
  t.ok(readPending(pending))
  t.equal(readPending({ ...pending, authorizationServer: { issuer: 'other' } }), undefined, 'the metadata must be the issuer\'s')
  t.equal(readPending({ ...pending, authorizationServer: undefined }), undefined)
  t.equal(readPending({ ...pending, scope: 1 }), undefined)
  t.equal(readPending({ ...pending, state: undefined }), undefined)
  t.equal(readPending({ ...pending, kind: 'x' }), undefined)
  t.notOk(isCredentialStore(null))
  t.notOk(isCredentialStore({ get () {} }))
})

t.test('prepareRequest: the MCP operation, Request inputs and credentials removed', async (t) => {
  const op = async (body: string | undefined, method = 'POST'): Promise<string> => (await prepareRequest('https://mcp.example.com/mcp', { method, body })).operation
  t.equal(await op(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search' } })), 'POST tools/call:search')
  t.equal(await op(JSON.stringify([{ method: 'tools/list' }, { method: 'tools/call', params: {} }, 7, null])), 'POST tools/list,tools/call', 'a batch')
  t.equal(await op('not json'), 'POST')
  t.equal(await op(JSON.stringify({ result: 1 })), 'POST', 'a response has no method')
  t.equal(await op(undefined, 'get'), 'GET')
  const request = new Request('https://mcp.example.com/mcp?x=1', { method: 'POST', body: '{"method":"ping"}', headers: { authorization: 'Bearer x' } })
  const prepared = await prepareRequest(request, { headers: { 'x-a': '1', cookie: 'c' } })
  t.equal(prepared.operation, 'POST ping')
  t.equal(prepared.url.href, 'https://mcp.example.com/mcp?x=1')
  t.same([...prepared.headers.keys()], ['x-a'], 'init headers replace the Request\'s; credentials dropped')
  const bytes = await prepareRequest('https://mcp.example.com/mcp', { method: 'POST', body: new TextEncoder().encode('{"method":"m"}') })
  t.equal(bytes.operation, 'POST m')
})

t.test('sendToResource: no token over plain http off loopback; one retry on use_dpop_nonce; other failures propagate', async (t) => {
  const outbound = createOutbound({ fetch: (input, init) => fetch(input, init), timeoutMs: 1000, maxBytes: 4096, allowUrl: undefined })
  const request = await prepareRequest('http://mcp.example.com/mcp', { method: 'POST', body: '{}' })
  await t.rejects(sendToResource(request, { accessToken: 'secret', dpop: undefined }, outbound), { name: 'McpClientError', reason: 'token.insecure_resource' })

  const f = await startFixture(t)
  let calls = 0
  f.on('POST', '/mcp', (r, res) => {
    calls++
    const nonce = JSON.parse(Buffer.from((r.headers.dpop as string).split('.')[1] ?? '', 'base64url').toString()).nonce as string | undefined
    if (nonce === 'n1' || calls > 2) json(res, 200, { nonce })
    else json(res, 401, { error: 'use_dpop_nonce' }, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n1' })
  })
  const key = await generateDpopKey('ES256')
  const handles = { authorizationServer: oauth.DPoP({}, key.keyPair), resourceServer: oauth.DPoP({}, key.keyPair) }
  const local = await prepareRequest(`${f.origin}/mcp`, { method: 'POST', body: '{}' })
  const ok = await sendToResource(local, { accessToken: 'tok', dpop: handles }, outbound)
  t.same(await ok.json(), { nonce: 'n1' }, 'retried once with the nonce')
  t.equal(calls, 2)
  f.on('POST', '/always', (_r, res) => json(res, 401, {}, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n2' }))
  const again = await sendToResource(await prepareRequest(`${f.origin}/always`, { method: 'POST', body: '{}' }), { accessToken: 'tok', dpop: handles }, outbound)
  t.equal(again.status, 401, 'a second use_dpop_nonce is the answer (one retry only)')
  await t.rejects(sendToResource(await prepareRequest('http://127.0.0.1:1/mcp'), { accessToken: 'tok', dpop: handles }, outbound), 'a failed connection propagates')
})

t.test('DPoP keys: every supported algorithm, caller key pairs, refusals', async (t) => {
  for (const algorithm of ['ES256', 'ES384', 'PS256', 'RS256', 'Ed25519'] as const) {
    const key = await generateDpopKey(algorithm)
    t.equal(key.algorithm, algorithm)
    t.equal((await importDpopKey(key.privateJwk as never)).jkt, key.jkt, `${algorithm}: the stored JWK gives the same key back`)
    const pair = await generateKeyPair(algorithm === 'Ed25519' ? 'EdDSA' : algorithm, { extractable: false })
    t.equal((await dpopKeyFromPair(pair)).algorithm, algorithm)
  }
  await t.rejects(importDpopKey({ kty: 'oct', k: 'x', alg: 'HS256' }), /unsupported DPoP key algorithm/)
  const ecdh = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])
  await t.rejects(dpopKeyFromPair(ecdh as CryptoKeyPair), /unsupported DPoP key/)
  const client = createMcpOAuthClient({ ...base, dpop: { key: ecdh as CryptoKeyPair } })
  t.ok(client, 'a bad key pair surfaces on first use, not as an unhandled rejection')
})

t.test('client authentication: a JWK private key with its alg and kid', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES384', kid: 'jwk-kid' }
  const auth = await clientAuthentication({ method: 'private_key_jwt', key: jwk as never })
  const body = new URLSearchParams()
  await auth({ issuer: 'https://as.example.com' }, { client_id: 'c' }, body, new Headers())
  const { protectedHeader } = await jwtVerify(body.get('client_assertion') as string, await exportJWK(privateKey).then((k) => ({ ...k, d: undefined })) as never, { audience: 'https://as.example.com' }).catch(() => ({ protectedHeader: JSON.parse(Buffer.from((body.get('client_assertion') as string).split('.')[0] ?? '', 'base64url').toString()) as { alg: string, kid: string } }))
  t.same([protectedHeader.alg, protectedHeader.kid], ['ES384', 'jwk-kid'])
  const none = new URLSearchParams()
  await (await clientAuthentication({ method: 'none' }))({ issuer: 'x' }, { client_id: 'c' }, none, new Headers())
  t.equal(none.get('client_id'), 'c')
})

t.test('the CIMD document checks: path, document and cache lifetime', async (t) => {
  const url = 'https://app.example.com/c.json'
  const document = { client_id: url, client_name: 'App', redirect_uris: ['https://app.example.com/cb'] }
  const served = checkClientMetadataDocument({ path: '/c.json', document, cacheMaxAge: 60 }, 'https://app.example.com', 'https://app.example.com/cb')
  t.same(JSON.parse(served.body), { ...document, token_endpoint_auth_method: 'none' }, 'a public client unless it says private_key_jwt')
  t.equal(served.cacheControl, 'public, max-age=60')
  const kept = checkClientMetadataDocument({ path: '/c.json', document: { ...document, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } } }, 'https://app.example.com', 'https://app.example.com/cb')
  t.equal(JSON.parse(kept.body).token_endpoint_auth_method, 'private_key_jwt')
  for (const [options, message] of [
    [undefined, /must be \{ path, document/],
    [{ path: 'c.json', document }, /path must be a path/],
    [{ path: '/', document }, /path must be a path/],
    [{ path: '/c.json' }, /document must be the client metadata object/],
    [{ path: '/c.json', document, cacheMaxAge: -1 }, /cacheMaxAge must be whole seconds/],
    [{ path: '/c.json', document: { ...document, redirect_uris: [1] } }, /redirect_uris must list/],
  ] as const) {
    t.throws(() => checkClientMetadataDocument(options as never, 'https://app.example.com', 'https://app.example.com/cb'), { code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  }
})

t.test('the checked DNS lookup answers both lookup forms and passes resolver errors on', async (t) => {
  const lookup = addressCheckingLookup((address) => address === '10.0.0.1')
  const one = await new Promise<unknown[]>((resolve) => lookup('localhost', { family: 4 }, (...args: unknown[]) => resolve(args)))
  t.same(one, [null, '127.0.0.1', 4])
  const all = await new Promise<unknown[]>((resolve) => lookup('localhost', { family: 4, all: true }, (...args: unknown[]) => resolve(args)))
  t.same(all, [null, [{ address: '127.0.0.1', family: 4 }]])
  const missing = await new Promise<unknown[]>((resolve) => lookup('name.invalid', {}, (...args: unknown[]) => resolve(args)))
  t.match(missing[0], { code: 'ENOTFOUND' })
})

t.test('the plugin: a partition that names nobody, a store that fails, sign-out for the request\'s user', async (t) => {
  const inner = memoryCredentialStore()
  const failing: CredentialStore = { ...inner, take: async () => { throw new Error('store down') } }
  const app = Fastify()
  await app.register(mcpClient, { baseUrl: 'https://app.example.com', partition: (request) => String(request.headers['x-user'] ?? ''), clientMetadata: { client_name: 'x' }, store: failing })
  app.get('/out', async (request) => await app.mcpClient.for(request).signOut())
  await app.ready()
  t.equal((await app.inject({ method: 'GET', url: '/oauth/mcp/callback?state=s&code=c' })).statusCode, 500, 'no user → an error for the app\'s handler, never a completion')
  t.equal((await app.inject({ method: 'GET', url: '/oauth/mcp/callback?state=s&code=c', headers: { 'x-user': 'u' } })).statusCode, 500, 'a store failure that is not the client\'s own error goes to the app\'s error handler')
  t.same((await app.inject({ method: 'GET', url: '/out', headers: { 'x-user': 'u' } })).json(), { deleted: 0, revoked: 0, failures: [] })
  t.equal(app.mcpClient.redirectUri, 'https://app.example.com/oauth/mcp/callback')
  t.equal(app.mcpClient.clientMetadataUrl, undefined)
})

t.test('the request loop\'s edges: a stored DPoP token without its key, no authorizer in a custom session, errors that are not the client\'s', async (t) => {
  const f = await startFixture(t)
  f.on('GET', '/.well-known/oauth-protected-resource/mcp', (_r, res) => json(res, 200, { resource: `${f.origin}/mcp`, authorization_servers: [f.origin] }))
  f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, { issuer: f.origin, authorization_endpoint: 'http://as.example.com/authorize', token_endpoint: `${f.origin}/token`, code_challenge_methods_supported: ['S256'] }))
  f.on('POST', '/mcp', (_r, res) => json(res, 401, {}, { 'www-authenticate': `Bearer resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` }))
  const oauth = createMcpOAuthClient({ ...base, preRegistered: { [f.origin]: { clientId: 'c' } } })
  await t.rejects(oauth.fetch(`${f.origin}/mcp`, { method: 'POST', body: '{}' }), { name: 'McpClientError', reason: 'as_metadata.invalid', message: /authorization endpoint is not https/ })
  f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, { issuer: f.origin, token_endpoint: `${f.origin}/token`, code_challenge_methods_supported: ['S256'] }))
  await t.rejects(oauth.fetch(`${f.origin}/mcp`, { method: 'POST', body: '{}' }), { name: 'McpClientError', reason: 'as_metadata.endpoint_missing' })
  f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 404, {}))
  await t.rejects(oauth.fetch(`${f.origin}/mcp`, { method: 'POST', body: '{}' }), { name: 'McpClientError', reason: 'as_metadata.missing' })

  // A custom authorizer may itself ask the app to send the user elsewhere.
  f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, { issuer: f.origin, authorization_endpoint: `${f.origin}/authorize`, token_endpoint: `${f.origin}/token`, code_challenge_methods_supported: ['S256'] }))
  const deferring = createMcpOAuthClient({ ...base, preRegistered: { [f.origin]: { clientId: 'c' } }, authorize: async (url) => { throw new McpAuthorizationRequiredError(url.href) } })
  const err = await deferring.fetch(`${f.origin}/mcp`, { method: 'POST', body: '{}' }).catch((e: unknown) => e)
  t.ok(isMcpClientError(err) && err instanceof McpAuthorizationRequiredError && err.authorizationUrl.startsWith(`${f.origin}/authorize?`))

  // A stored DPoP-bound token whose key is gone (the configuration changed): refused, not sent as Bearer.
  const store = memoryCredentialStore()
  const plain = createMcpOAuthClient({ ...base, store, preRegistered: { [f.origin]: { clientId: 'c' } }, authorize: async (url) => `${base.redirectUri as string}?code=x&state=${url.searchParams.get('state') ?? ''}&iss=${encodeURIComponent(f.origin)}` })
  f.on('POST', '/token', (_r, res) => json(res, 200, { access_token: 'bound', token_type: 'DPoP', expires_in: 3600 }))
  f.on('POST', '/mcp', (r, res) => {
    if (r.headers.authorization !== undefined) json(res, 200, {})
    else json(res, 401, {}, { 'www-authenticate': `Bearer resource_metadata="${f.origin}/.well-known/oauth-protected-resource/mcp"` })
  })
  await t.rejects(plain.fetch(`${f.origin}/mcp`, { method: 'POST', body: '{}' }), { name: 'McpClientError', message: /DPoP-bound but no DPoP key/ })
})
