// Discovery, one rule per test: the challenge's parameters (RFC 6750 §3, RFC
// 9449 §7.1, RFC 9728 §5.1), resource metadata in MCP's order with the
// `resource` check and its one relaxation (RFC 9728 §3.3), authorization-server
// metadata in MCP's order with the exact `issuer` echo (RFC 8414 §3.3), and the
// PKCE refusal (MCP "Authorization Code Protection").
import t from 'tap'
import { assertPkceSupported, authorizationServerMetadataUrls, discoverAuthorizationServer } from '../../lib/client/as-discovery.js'
import { readChallenge } from '../../lib/client/challenge.js'
import { createOutbound } from '../../lib/client/outbound.js'
import { discoverResourceMetadata, resourceCovers, resourceMetadataUrls } from '../../lib/client/resource-metadata.js'
import { json, startFixture } from '../helpers/http-fixture.js'

const outbound = createOutbound({ fetch: (input, init) => fetch(input, init), timeoutMs: 2000, maxBytes: 1024 * 1024, allowUrl: undefined })

function challenge (header: string | undefined): ReturnType<typeof readChallenge> {
  return readChallenge(new Response(null, { status: 401, headers: header === undefined ? {} : { 'www-authenticate': header } }))
}

t.test('challenges: resource_metadata from any scheme, scope from the challenge carrying the error, malformed headers read as nothing', async (t) => {
  t.same(challenge(undefined), { resourceMetadata: undefined, scope: undefined, error: undefined })
  t.same(challenge('DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'), {
    resourceMetadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp', scope: undefined, error: undefined,
  }, 'a DPoP-only challenge (the suite\'s DPoP scenarios) still names the metadata')
  t.same(challenge('Bearer resource_metadata="https://a/m", scope="a b", DPoP algs="ES256", error="insufficient_scope", scope="c"'), {
    resourceMetadata: 'https://a/m', scope: ['c'], error: 'insufficient_scope',
  }, 'the scope of the challenge with the error wins')
  t.same(challenge('Bearer error="invalid_token", DPoP scope="x  y x"').scope, ['x', 'y'], 'else the first scope given, deduplicated')
  t.same(challenge('Basic realm="x", Negotiate abc=='), { resourceMetadata: undefined, scope: undefined, error: undefined }, 'other schemes are ignored')
  t.same(challenge('Bearer scope="'), { resourceMetadata: undefined, scope: undefined, error: undefined }, 'an unparsable header yields no facts')
  t.same(challenge('Bearer scope=""').scope, undefined, 'an empty scope is no scope')
})

t.test('resource metadata URLs: the challenge\'s, then path-inserted, then root (no path-inserted URL for a root server)', async (t) => {
  t.same(resourceMetadataUrls(new URL('https://mcp.example.com/tenant/mcp/'), 'https://mcp.example.com/custom.json'), [
    'https://mcp.example.com/custom.json',
    'https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp',
    'https://mcp.example.com/.well-known/oauth-protected-resource',
  ])
  t.same(resourceMetadataUrls(new URL('https://mcp.example.com/'), undefined), ['https://mcp.example.com/.well-known/oauth-protected-resource'])
  t.same(resourceMetadataUrls(new URL('https://mcp.example.com/mcp'), 'not a url'), [
    'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    'https://mcp.example.com/.well-known/oauth-protected-resource',
  ], 'an unusable challenge URL is skipped')
})

t.test('resourceCovers: the server itself, its origin or a path prefix on a segment boundary; never another origin, a sibling or a query', async (t) => {
  const server = new URL('https://mcp.example.com/tenant/mcp')
  for (const resource of ['https://mcp.example.com/tenant/mcp', 'https://mcp.example.com', 'https://mcp.example.com/', 'https://mcp.example.com/tenant', 'https://mcp.example.com/tenant/']) {
    t.ok(resourceCovers(resource, server), `${resource} covers ${server.href}`)
  }
  for (const resource of ['https://evil.example.com/tenant/mcp', 'http://mcp.example.com/tenant/mcp', 'https://mcp.example.com:8443/tenant/mcp', 'https://mcp.example.com/ten', 'https://mcp.example.com/tenant/mcp/more', 'https://mcp.example.com/tenant?x=1', 'https://mcp.example.com/#f', 'not a url']) {
    t.notOk(resourceCovers(resource, server), `${resource} does not cover ${server.href}`)
  }
})

t.test('resource metadata discovery against a server', async (t) => {
  t.test('the challenge URL first, and nothing else once it answers', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/custom.json', (_r, res) => json(res, 200, { resource: `${f.origin}/mcp`, authorization_servers: ['https://as.example.com'], scopes_supported: ['a', 'b'] }))
    const found = await discoverResourceMetadata(new URL(`${f.origin}/mcp?x=1#y`), `${f.origin}/custom.json`, outbound)
    t.same(found, { resource: `${f.origin}/mcp`, authorizationServers: ['https://as.example.com'], scopesSupported: ['a', 'b'], url: `${f.origin}/custom.json` })
    t.same(f.paths(), ['GET /custom.json'])
  })

  t.test('a missing document at the challenge URL falls back to the path-inserted, then the root URL; the root may name the origin', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/.well-known/oauth-protected-resource', (_r, res) => json(res, 200, { resource: f.origin, authorization_servers: ['https://as.example.com'] }))
    const found = await discoverResourceMetadata(new URL(`${f.origin}/mcp`), `${f.origin}/gone.json`, outbound)
    t.equal(found?.resource, f.origin, 'the document\'s resource, verbatim')
    t.equal(found?.scopesSupported, undefined)
    t.same(f.paths(), ['GET /gone.json', 'GET /.well-known/oauth-protected-resource/mcp', 'GET /.well-known/oauth-protected-resource'])
  })

  t.test('no document anywhere → undefined (a server from before RFC 9728)', async (t) => {
    const f = await startFixture(t)
    t.equal(await discoverResourceMetadata(new URL(`${f.origin}/mcp`), undefined, outbound), undefined)
  })

  t.test('a document for another resource is refused, never skipped for the next location', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/.well-known/oauth-protected-resource/mcp', (_r, res) => json(res, 200, { resource: 'https://evil.example.com/mcp', authorization_servers: ['https://as.example.com'] }))
    f.on('GET', '/.well-known/oauth-protected-resource', (_r, res) => json(res, 200, { resource: f.origin, authorization_servers: ['https://as.example.com'] }))
    await t.rejects(discoverResourceMetadata(new URL(`${f.origin}/mcp`), undefined, outbound), { code: 'FST_MCP_CLIENT_DISCOVERY', reason: 'resource_metadata.resource_mismatch' })
    t.same(f.paths(), ['GET /.well-known/oauth-protected-resource/mcp'])
  })

  t.test('malformed documents and documents without an authorization server are refused', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/.well-known/oauth-protected-resource/a', (_r, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{') })
    f.on('GET', '/.well-known/oauth-protected-resource/b', (_r, res) => json(res, 200, { resource: `${f.origin}/b`, authorization_servers: [] }))
    f.on('GET', '/.well-known/oauth-protected-resource/c', (_r, res) => json(res, 200, { resource: `${f.origin}/c`, authorization_servers: [1] }))
    f.on('GET', '/.well-known/oauth-protected-resource/d', (_r, res) => json(res, 200, { authorization_servers: ['https://as.example.com'] }))
    await t.rejects(discoverResourceMetadata(new URL(`${f.origin}/a`), undefined, outbound), { name: 'McpClientError', reason: 'resource_metadata.invalid' })
    await t.rejects(discoverResourceMetadata(new URL(`${f.origin}/b`), undefined, outbound), { name: 'McpClientError', reason: 'resource_metadata.no_authorization_server' })
    await t.rejects(discoverResourceMetadata(new URL(`${f.origin}/c`), undefined, outbound), { name: 'McpClientError', reason: 'resource_metadata.no_authorization_server' })
    await t.rejects(discoverResourceMetadata(new URL(`${f.origin}/d`), undefined, outbound), { name: 'McpClientError', reason: 'resource_metadata.invalid' })
  })

  t.test('a refused or failing fetch stops discovery', async (t) => {
    await t.rejects(discoverResourceMetadata(new URL('https://mcp.example.com/mcp'), 'http://mcp.example.com/meta', outbound), { name: 'McpClientError', reason: 'outbound.scheme' }, 'plain http off loopback')
    await t.rejects(discoverResourceMetadata(new URL('http://127.0.0.1:1/mcp'), undefined, outbound), { code: 'FST_MCP_CLIENT_DISCOVERY', reason: 'resource_metadata.invalid' }, 'connection refused')
  })
})

t.test('authorization server metadata URLs: three for an issuer with a path, two without (MCP order)', async (t) => {
  t.same(authorizationServerMetadataUrls('https://as.example.com/tenant1'), [
    'https://as.example.com/.well-known/oauth-authorization-server/tenant1',
    'https://as.example.com/.well-known/openid-configuration/tenant1',
    'https://as.example.com/tenant1/.well-known/openid-configuration',
  ])
  t.same(authorizationServerMetadataUrls('https://as.example.com/tenant1/'), authorizationServerMetadataUrls('https://as.example.com/tenant1'))
  t.same(authorizationServerMetadataUrls('https://as.example.com'), [
    'https://as.example.com/.well-known/oauth-authorization-server',
    'https://as.example.com/.well-known/openid-configuration',
  ])
})

t.test('authorization server metadata discovery against a server', async (t) => {
  const metadata = (issuer: string): Record<string, unknown> => ({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, code_challenge_methods_supported: ['S256'] })

  t.test('tries the locations in order until one answers 200', async (t) => {
    const f = await startFixture(t)
    const issuer = `${f.origin}/tenant1`
    f.on('GET', '/tenant1/.well-known/openid-configuration', (_r, res) => json(res, 200, metadata(issuer)))
    const found = await discoverAuthorizationServer(issuer, outbound)
    t.equal(found?.issuer, issuer)
    t.same(f.paths(), ['GET /.well-known/oauth-authorization-server/tenant1', 'GET /.well-known/openid-configuration/tenant1', 'GET /tenant1/.well-known/openid-configuration'])
    t.equal(await discoverAuthorizationServer(`${f.origin}/none`, outbound), undefined, 'no location answers → undefined')
  })

  t.test('an issuer that differs, even by a trailing slash, stops the search: its endpoints are never used', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, metadata(`${f.origin}/`)))
    f.on('GET', '/.well-known/openid-configuration', (_r, res) => json(res, 200, metadata(f.origin)))
    await t.rejects(discoverAuthorizationServer(f.origin, outbound), { name: 'McpClientError', reason: 'as_metadata.issuer_mismatch' })
    t.same(f.paths(), ['GET /.well-known/oauth-authorization-server'], 'the OIDC location is not tried after a mismatch')
    const g = await startFixture(t)
    g.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, metadata('https://other.example.com')))
    await t.rejects(discoverAuthorizationServer(g.origin, outbound), { name: 'McpClientError', reason: 'as_metadata.issuer_mismatch' })
  })

  t.test('an invalid document or a failed fetch is refused', async (t) => {
    const f = await startFixture(t)
    f.on('GET', '/.well-known/oauth-authorization-server', (_r, res) => json(res, 200, { token_endpoint: 'x' }))
    await t.rejects(discoverAuthorizationServer(f.origin, outbound), { name: 'McpClientError', reason: 'as_metadata.invalid' })
    await t.rejects(discoverAuthorizationServer('http://127.0.0.1:1', outbound), { name: 'McpClientError', reason: 'as_metadata.missing' })
    await t.rejects(discoverAuthorizationServer('http://as.example.com', outbound), { name: 'McpClientError', reason: 'outbound.scheme' })
  })
})

t.test('PKCE: S256 listed → proceed; absent or without S256 → refused; absent but named in allowMissingMetadata → proceed', async (t) => {
  const issuer = 'https://as.example.com'
  t.doesNotThrow(() => assertPkceSupported({ issuer, code_challenge_methods_supported: ['plain', 'S256'] }, []))
  t.throws(() => assertPkceSupported({ issuer }, []), { name: 'McpClientError', reason: 'as_metadata.pkce_unsupported', message: /does not publish code_challenge_methods_supported/ })
  t.throws(() => assertPkceSupported({ issuer, code_challenge_methods_supported: ['plain'] }, [issuer]), { name: 'McpClientError', reason: 'as_metadata.pkce_unsupported', message: /does not support PKCE with S256/ }, 'a list without S256 is refused even for an allowed issuer')
  t.doesNotThrow(() => assertPkceSupported({ issuer }, [issuer]))
  t.throws(() => assertPkceSupported({ issuer }, ['https://other.example.com']))
})
