// Option validation: every bad option rejects `register` (ready() rejects with
// FST_MCP_AUTH_INVALID_OPTION and a message naming the option); nothing crashes
// the process. Valid shapes register and behave as documented.
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { McpAuthError } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { resolveOptions } from '../../lib/options.js'
import { MemoryReplayStore } from '../../lib/stores/memory-replay-store.js'
import { createTestIssuer } from '../../testing.js'
import { parseChallenges } from '../helpers/app.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const ISSUER = 'https://auth.example.com'
const BASE = { resource: RESOURCE, authorizationServers: [ISSUER], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } }

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

async function rejectsOption (t: Tap, options: unknown, message: RegExp, name?: string): Promise<void> {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(Promise.resolve(app.register(mcpAuth, options as McpAuthOptions).ready()), { code: 'FST_MCP_AUTH_INVALID_OPTION', message }, name ?? message.source)
}

async function registers (t: Tap, options: unknown): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, options as McpAuthOptions)
  app.get('/mcp', async (request) => ({ resource: request.mcp?.resource, issuer: request.mcp?.issuer }))
  app.get('/tenants/acme/mcp', async (request) => ({ resource: request.mcp?.resource, issuer: request.mcp?.issuer }))
  await app.ready()
  return app
}

t.test('the error is FST_MCP_AUTH_INVALID_OPTION, an McpAuthError that names the option', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const err = await app.register(mcpAuth, { ...BASE, resource: 'mcp.example.com' } as McpAuthOptions).ready().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof McpAuthError)
  t.match(err, {
    code: 'FST_MCP_AUTH_INVALID_OPTION',
    statusCode: 500,
    message: 'mcpAuth option "resource" must be an absolute https URI such as "https://mcp.example.com/mcp"; got "mcp.example.com"',
  })
})

t.test('"resource": required, absolute, https (http only on loopback), no fragment, no userinfo', async (t) => {
  await rejectsOption(t, { authorizationServers: [ISSUER] }, /"resource" is required/)
  await rejectsOption(t, undefined, /"resource" is required/, 'no options at all')
  await rejectsOption(t, { ...BASE, resource: '/mcp' }, /"resource" must be an absolute https URI such as "https:\/\/mcp\.example\.com\/mcp"; got "\/mcp"/)
  await rejectsOption(t, { ...BASE, resource: '' }, /"resource" must be a non-empty string/)
  await rejectsOption(t, { ...BASE, resource: 42 }, /"resource" must be a URI string or \{ resource, … \}; got 42/)
  await rejectsOption(t, { ...BASE, resource: 'http://mcp.example.com/mcp' }, /"resource" must use https \(http is allowed only for loopback hosts\)/)
  await rejectsOption(t, { ...BASE, resource: 'ftp://mcp.example.com/mcp' }, /"resource" must be an absolute https URI such as .*; got "ftp:\/\/mcp\.example\.com\/mcp"/)
  await rejectsOption(t, { ...BASE, resource: 'https://mcp.example.com/mcp#frag' }, /"resource" must not contain a fragment/)
  await rejectsOption(t, { ...BASE, resource: 'https://me:pw@mcp.example.com/mcp' }, /^mcpAuth option "resource" /, 'user information: refused')
  await rejectsOption(t, { ...BASE, resource: 'https://me:pw@mcp.example.com/mcp' }, /"resource" must not contain user information/, 'user information: the message names it')
  // Quotes, spaces and non-ASCII are refused (they would break the quoted-string in
  // WWW-Authenticate and the verbatim comparison): written unencoded, they are not in normalized form.
  await rejectsOption(t, { ...BASE, resource: 'https://mcp.example.com/m"cp' }, /"resource" must be written in normalized form \(no dot segments or backslashes; percent-encode other characters\); got "https:\/\/mcp\.example\.com\/m\\"cp"/)
  await rejectsOption(t, { ...BASE, resource: 'https://mcp.example.com/mcp ü' }, /"resource" must be written in RFC 3986 form \(UTF-8 percent-encoded, upper-case hex\): write "https:\/\/mcp\.example\.com\/mcp%20%C3%BC"/)
  await rejectsOption(t, { ...BASE, resource: 'https://mcp.example.com/mcp?a"b' }, /"resource" must be written in normalized form/, 'a quote in the query')
  await rejectsOption(t, { ...BASE, resource: [] }, /"resource" must list at least one resource URI/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, 'http://mcp.example.com/x'] }, /"resource\[1\]" must use https/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, { resource: '/x' }] }, /^mcpAuth option "resource\[1\]\.resource" must be an absolute https URI such as/)
  await rejectsOption(t, { ...BASE, resource: { resource: 'https://mcp.example.com/a/../mcp' } }, /^mcpAuth option "resource\.resource" must be written in normalized form/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, null] }, /"resource\[1\]" must be a URI string or \{ resource, … \}; got null/)
})

t.test('"resource": a spelling WHATWG URL rewrites is refused, not silently turned into another resource', async (t) => {
  // 'https://mcp.example.com\mcp' parses as https://mcp.example.com/mcp, but the
  // verbatim parser keeps "" as the path, so the server would advertise the bare origin.
  const normalized = /^mcpAuth option "resource" must be written in normalized form \(no dot segments or backslashes; percent-encode other characters\); got /
  for (const resource of [
    'https://mcp.example.com\\mcp',
    'https://mcp.example.com/mcp\\x',
    'https://mcp.example.com/mcp?a\\b',
    'https://mcp.example.com/a/../mcp',
    'https://mcp.example.com/./mcp',
    'https://mcp.example.com/%2e%2e/mcp',
    'https://mcp.example.com/mcp?',
    'https://mcp.example.com/m\tcp',
  ]) {
    await rejectsOption(t, { ...BASE, resource }, normalized, JSON.stringify(resource))
  }
  for (const resource of ['https:/mcp.example.com/mcp', 'https:mcp.example.com/mcp', 'urn:example:mcp']) {
    await rejectsOption(t, { ...BASE, resource }, /^mcpAuth option "resource" must be an absolute https URI such as "https:\/\/mcp\.example\.com\/mcp"; got /, JSON.stringify(resource))
  }
})

t.test('"resource": duplicate paths and scope tokens', async (t) => {
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, 'https://other.example.com/mcp'] },
    /"resource\[1\]" has the same path as "resource\[0\]" \("\/mcp"\); the request path must pick one resource/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, { resource: RESOURCE }] }, /"resource\[1\]" has the same path/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopesSupported: ['mcp:tools:read', 'two words'] } },
    /^mcpAuth option "resource\.scopesSupported" has an invalid scope token "two words" \(RFC 6749 §3\.3/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopesSupported: ['a"b'] } }, /"resource\.scopesSupported" has an invalid scope token/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopesSupported: ['a\\b'] } }, /"resource\.scopesSupported" has an invalid scope token/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopesSupported: [''] } }, /"resource\.scopesSupported" must be an array of non-empty strings/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopesSupported: 'mcp:tools:read' } }, /"resource\.scopesSupported" must be an array/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, { resource: 'https://mcp.example.com/x', scopesSupported: ['a b'] }] },
    /^mcpAuth option "resource\[1\]\.scopesSupported" has an invalid scope token "a b"/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, audiences: ['https://mcp.example.com/mcp#x'] } }, /"resource\.audiences" must not contain a fragment/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, resourceName: '' } }, /"resource\.resourceName" must be a non-empty string/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, resourceDocumentation: 'docs' } }, /"resource\.resourceDocumentation" must be an absolute http\(s\) URL; got "docs"/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, resourceMetadataUrl: 'http://mcp.example.com/prm' } }, /"resource\.resourceMetadataUrl" must use https/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, metadata: { resource: 'x' } } }, /"resource\.metadata" must not set "resource"/)
})

t.test('nested unknown keys name the option path cleanly, with a hint', async (t) => {
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopeSupported: ['a'] } },
    /is not a known option; did you mean .*scopesSupported/, 'resource.scopeSupported hint')
  // The option path is quoted once: "resource.scopeSupported", not ""resource".scopeSupported".
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, scopeSupported: ['a'] } },
    /^mcpAuth option "resource\.scopeSupported" is not a known option; did you mean "resource\.scopesSupported"\?$/, 'clean quoting')
  await rejectsOption(t, { ...BASE, jwks: { warmup: 'required' } }, /"jwks\.warmup" is not a known option; did you mean "jwks\.warmUp"\?/)
  for (const warmUp of [true, 'eager', 0, null]) {
    await rejectsOption(t, { ...BASE, jwks: { warmUp } }, /"jwks\.warmUp" must be 'background' \(fetch at ready\(\) without waiting\), 'required' \(ready\(\) fails without keys\) or false \(fetch at the first request\)/, `warmUp ${String(warmUp)}`)
  }
  for (const warmUp of ['background', 'required', false] as const) {
    t.equal(resolveOptions({ resource: RESOURCE, authorizationServers: [ISSUER], jwks: { warmUp } }).warmUp, warmUp)
  }
  t.equal(resolveOptions({ resource: RESOURCE, authorizationServers: [ISSUER] }).warmUp, 'background', 'the default')
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://auth.example.com/jwks', cooldowm: 5 } },
    /"jwks\.cooldowm" is not a known option; did you mean "jwks\.cooldown"\?/)
  await rejectsOption(t, { ...BASE, dpop: { nonces: { secret: 'x'.repeat(32) } } }, /"dpop\.nonces" is not a known option; did you mean "dpop\.nonce"\?/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: { secret: 'x'.repeat(32), stepp: 30 } } }, /"dpop\.nonce\.stepp" is not a known option; did you mean "dpop\.nonce\.step"\?/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, { resource: 'https://mcp.example.com/x', scopeSupported: ['a'] }] },
    /^mcpAuth option "resource\[1\]\.scopeSupported" is not a known option; did you mean "resource\[1\]\.scopesSupported"\?$/, 'array entries too')
  await rejectsOption(t, { ...BASE, mtls: { cert: () => null } }, /"mtls\.cert" is not a known option/)
  await rejectsOption(t, { ...BASE, tokenCache: { max: 5 } }, /"tokenCache\.max" is not a known option/)
  await rejectsOption(t, { ...BASE, tokenCache: { maxage: 5 } }, /"tokenCache\.maxage" is not a known option; did you mean "tokenCache\.maxAge"\?/)
})

t.test('unknown top-level options are refused with a "did you mean" hint', async (t) => {
  await rejectsOption(t, { resource: RESOURCE, authorisationServers: [ISSUER] },
    /"authorisationServers" is not a known option; did you mean "authorizationServers"\?/)
  await rejectsOption(t, { ...BASE, jwk: { keys: [] } }, /"jwk" is not a known option; did you mean "jwks"\?/)
  await rejectsOption(t, { ...BASE, algorithm: ['ES256'] }, /"algorithm" is not a known option; did you mean "algorithms"\?/)
  await rejectsOption(t, { ...BASE, dpopp: false }, /"dpopp" is not a known option; did you mean "dpop"\?/)
  await rejectsOption(t, { ...BASE, somethingElseEntirely: 1 }, /^mcpAuth option "somethingElseEntirely" is not a known option$/, 'no hint when nothing is close')
})

t.test('"authorizationServers": non-empty list of https issuers without query or fragment', async (t) => {
  await rejectsOption(t, { resource: RESOURCE }, /"authorizationServers" is required/)
  await rejectsOption(t, { ...BASE, authorizationServers: [] }, /"authorizationServers" must be a non-empty array of issuer identifiers/)
  await rejectsOption(t, { ...BASE, authorizationServers: ISSUER }, /"authorizationServers" must be a non-empty array/)
  await rejectsOption(t, { ...BASE, authorizationServers: ['http://auth.example.com'] }, /"authorizationServers" entries must use https \(http only for loopback hosts\); got "http:\/\/auth\.example\.com"/)
  await rejectsOption(t, { ...BASE, authorizationServers: ['auth.example.com'] }, /"authorizationServers" entries must be absolute https URLs/)
  await rejectsOption(t, { ...BASE, authorizationServers: [42] }, /"authorizationServers" entries must be strings; got 42/)
  await rejectsOption(t, { ...BASE, authorizationServers: ['https://auth.example.com?x=1'] }, /"authorizationServers" entries must not have a query or fragment/)
  await rejectsOption(t, { ...BASE, authorizationServers: ['https://auth.example.com#x'] }, /"authorizationServers" entries must not have a query or fragment/)
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, authorizationServers: [] } }, /^mcpAuth option "resource\.authorizationServers" must be a non-empty array/)
  await rejectsOption(t, { ...BASE, resource: [RESOURCE, { resource: 'https://mcp.example.com/x', authorizationServers: ['http://auth.example.com'] }] },
    /^mcpAuth option "resource\[1\]\.authorizationServers" entries must use https/)
})

t.test('"algorithms" and "secret": no none, HS* only with a ≥ 32-byte secret, known names only', async (t) => {
  await rejectsOption(t, { ...BASE, algorithms: ['ES256', 'none'] }, /"algorithms" must not contain "none"/)
  await rejectsOption(t, { ...BASE, algorithms: ['NONE'] }, /"algorithms" must not contain "none"/)
  await rejectsOption(t, { ...BASE, algorithms: ['HS256'] }, /"algorithms" lists HS256, which needs a shared key: set "secret"/)
  await rejectsOption(t, { ...BASE, algorithms: ['HS256'], secret: 'x'.repeat(31) }, /"secret" must be at least 32 bytes/)
  await rejectsOption(t, { ...BASE, algorithms: ['HS256'], secret: new Uint8Array(16) }, /"secret" must be at least 32 bytes/)
  await rejectsOption(t, { ...BASE, algorithms: ['HS256'], secret: 12345 }, /"secret" must be a string, Uint8Array or secret KeyObject/)
  await rejectsOption(t, { ...BASE, algorithms: ['XS256'] }, /"algorithms" has unknown algorithm "XS256"; supported: RS256/)
  await rejectsOption(t, { ...BASE, algorithms: ['es256'] }, /"algorithms" has unknown algorithm "es256"/, 'algorithm names are case-sensitive')
  await rejectsOption(t, { ...BASE, algorithms: [] }, /"algorithms" must list at least one algorithm/)
  await rejectsOption(t, { ...BASE, algorithms: 'ES256' }, /"algorithms" must be an array of non-empty strings/)
  await rejectsOption(t, { ...BASE, tokenTypes: 'at+jwt' }, /"tokenTypes" must be an array of non-empty strings/)
  await rejectsOption(t, { ...BASE, clockTolerance: -1 }, /"clockTolerance" must be a number of seconds between 0 and 600; got -1/)
  await rejectsOption(t, { ...BASE, clockTolerance: '5' }, /"clockTolerance" must be a number of seconds/)
  await rejectsOption(t, { ...BASE, clockTolerance: Number.NaN }, /"clockTolerance" must be a number of seconds/)
  await rejectsOption(t, { ...BASE, scopeMatching: 'fuzzy' }, /"scopeMatching" must be "hierarchical" or "exact"; got "fuzzy"/)
  await rejectsOption(t, { ...BASE, maxTokenLength: 10 }, /"maxTokenLength" must be an integer between 256 and 65536; got 10/)
  await rejectsOption(t, { ...BASE, retryAfter: 1.5 }, /"retryAfter" must be an integer/)
  await rejectsOption(t, { ...BASE, tokenCache: true }, /"tokenCache" must be false or \{ maxEntries, maxAge \}/)
  for (const maxAge of [0, -1, 86401, '300', Number.NaN]) {
    await rejectsOption(t, { ...BASE, tokenCache: { maxAge } }, /"tokenCache\.maxAge" must be a number of seconds between 1 and 86400/, `maxAge ${String(maxAge)}`)
  }
  await registers(t, { ...BASE, tokenCache: { maxAge: 60, maxEntries: 10 } })
})

t.test('"dpop": false or an object; asymmetric algorithms; nonce secret ≥ 32 bytes; a real replay store', async (t) => {
  await rejectsOption(t, { ...BASE, dpop: true }, /"dpop" must be false or \{ required, algorithms, iatWindow, replayStore, nonce \}/)
  await rejectsOption(t, { ...BASE, dpop: 'on' }, /"dpop" must be false or/)
  await rejectsOption(t, { ...BASE, dpop: { algorithms: ['ES256', 'HS256'] } }, /"dpop\.algorithms" allows asymmetric algorithms only \(RFC 9449 §4\.2\); got "HS256"/)
  await rejectsOption(t, { ...BASE, dpop: { algorithms: ['none'] } }, /"dpop\.algorithms" allows asymmetric algorithms only/)
  await rejectsOption(t, { ...BASE, dpop: { algorithms: [] } }, /"dpop\.algorithms" must list at least one algorithm/)
  await rejectsOption(t, { ...BASE, dpop: { required: 'yes' } }, /"dpop\.required" must be a boolean; got "yes"/)
  await rejectsOption(t, { ...BASE, dpop: { iatWindow: 0 } }, /"dpop\.iatWindow" must be a number of seconds between 1 and 3600/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: { secret: 'short' } } }, /"dpop\.nonce\.secret" must be a string or Uint8Array of at least 32 bytes/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: { secret: Buffer.alloc(31) } } }, /"dpop\.nonce\.secret" must be/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: {} } }, /"dpop\.nonce\.secret" must be/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: 'secret' } }, /"dpop\.nonce" must be \{ secret \} or a provider/)
  await rejectsOption(t, { ...BASE, dpop: { nonce: { secret: 'x'.repeat(32), step: 0 } } }, /"dpop\.nonce\.step" must be a number of seconds/)
  await rejectsOption(t, { ...BASE, dpop: { replayStore: {} } }, /"dpop\.replayStore" must have a claim\(key, ttlSeconds\) method/)
  await rejectsOption(t, { ...BASE, dpop: { replayStore: new Map() } }, /"dpop\.replayStore" must have a claim/)
  await rejectsOption(t, { ...BASE, dpop: { replayStore: null } }, /"dpop\.replayStore" must have a claim/)
  await rejectsOption(t, { ...BASE, dpop: { replayStore: true } }, /"dpop\.replayStore" must have a claim/)
})

t.test('"jwks": { uri } | { keys } | function; public keys only; not beside verifyToken or introspection', async (t) => {
  await rejectsOption(t, { ...BASE, jwks: 'https://auth.example.com/jwks' }, /"jwks" must be \{ uri \}, \{ keys \}, a jose key function/)
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://a.example/jwks', keys: [] } }, /"jwks" takes either "uri" or "keys", not both/)
  await rejectsOption(t, { ...BASE, jwks: { uri: 'http://auth.example.com/jwks' } }, /"jwks\.uri" must use https \(http only for loopback hosts\)/)
  await rejectsOption(t, { ...BASE, jwks: { uri: '/jwks' } }, /"jwks\.uri" must be an absolute https URL \(printable ASCII, no quotes\); got "\/jwks"/)
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://x.example/a"b, error="x' } }, /"jwks\.uri" must be an absolute https URL/, 'a quote could inject challenge parameters')
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://x.example/a\nb' } }, /"jwks\.uri" must be an absolute https URL/, 'a newline would break every header')
  await rejectsOption(t, { ...BASE, resource: { resource: RESOURCE, resourceMetadataUrl: 'https://x.example/a"b' } }, /resourceMetadataUrl/)
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://id:secret@x.example/jwks' } }, /"jwks\.uri" must not contain user information/)
  await rejectsOption(t, { ...BASE, jwks: { uri: 'https://id:secret@x.example/jwks' } }, /^(?!.*secret).*$/s, 'the password is never echoed')
  await rejectsOption(t, { ...BASE, jwks: { keys: [] } }, /"jwks\.keys" must be a non-empty array of public JWKs/)
  await rejectsOption(t, { ...BASE, jwks: { keys: [{ crv: 'P-256' }] } }, /"jwks\.keys" entries must be JWK objects with a "kty"/)
  const issuer = await createTestIssuer()
  const [pub] = issuer.jwks.keys
  await rejectsOption(t, { ...BASE, jwks: { keys: [{ ...pub, d: 'AAAA' }] } }, /"jwks\.keys" must hold public keys only/, 'EC private member d')
  await rejectsOption(t, { ...BASE, jwks: { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', p: 'AA' }] } }, /"jwks\.keys" must hold public keys only/, 'RSA private member p')
  await rejectsOption(t, { ...BASE, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /"jwks\.keys" must hold public keys only; remove private or symmetric members/)
  await rejectsOption(t, { ...BASE, jwks: { timeout: 0 } }, /"jwks\.timeout" must be a number of seconds between 0\.001 and 60; got 0/)
  await rejectsOption(t, { ...BASE, jwks: { cacheMaxAge: 0.5 } }, /"jwks\.cacheMaxAge" must be a number of seconds between 1 and 604800/)
  await rejectsOption(t, { ...BASE, jwks: { staleIfError: -1 } }, /"jwks\.staleIfError" must be a number of seconds/)

  const verifyToken = async (): Promise<Record<string, unknown>> => ({})
  const introspection = { endpoint: 'https://auth.example.com/introspect', clientId: 'rs', clientSecret: 'hunter2-secret' }
  await rejectsOption(t, { ...BASE, verifyToken, introspection }, /"verifyToken" and "introspection" are alternatives: configure one of them/)
  await rejectsOption(t, { ...BASE, verifyToken }, /"jwks" has no effect with "verifyToken": remove one of them/)
  await rejectsOption(t, { ...BASE, introspection }, /"jwks" has no effect with "introspection"/)
  await rejectsOption(t, { ...BASE, jwks: () => undefined, verifyToken }, /"jwks" has no effect with "verifyToken"/, 'a key function too')
  await rejectsOption(t, { ...BASE, jwks: undefined, verifyToken: 'yes' }, /"verifyToken" must be a function; got "yes"/)
})

t.test('"introspection", "mtls", "principal", "errorRenderer" shapes', async (t) => {
  const noJwks = { resource: RESOURCE, authorizationServers: [ISSUER] }
  await rejectsOption(t, { ...noJwks, introspection: true }, /"introspection" must be \{ endpoint, clientId, clientSecret, cacheTtl \}/)
  await rejectsOption(t, { ...noJwks, introspection: { clientSecret: 's' } }, /"introspection\.clientId" must be a non-empty string/)
  await rejectsOption(t, { ...noJwks, introspection: { clientId: 'rs' } }, /"introspection\.clientSecret" must be a non-empty string/)
  await rejectsOption(t, { ...noJwks, introspection: { clientId: 'rs', clientSecret: 's', endpoint: 'http://auth.example.com/i' } }, /"introspection\.endpoint" must use https/)
  await rejectsOption(t, { ...noJwks, authorizationServers: [ISSUER, 'https://auth2.example.com'], introspection: { clientId: 'rs', clientSecret: 's' } },
    /"introspection\.endpoint" is required when more than one authorization server is configured/)
  await rejectsOption(t, { ...noJwks, introspection: { clientId: 'rs', clientSecret: 's', cacheTtl: -5 } }, /"introspection\.cacheTtl" must be a number of seconds/)
  await rejectsOption(t, { ...noJwks, introspection: { clientId: 'rs', clientSecret: 's', endpiont: 'https://a.example/i' } }, /"introspection\.endpiont" is not a known option; did you mean "introspection\.endpoint"\?/)
  const limits: Array<[Record<string, unknown>, RegExp]> = [
    [{ negativeCacheTtl: -1 }, /"introspection\.negativeCacheTtl" must be a number of seconds between 0 and 3600; got -1/],
    [{ negativeCacheTtl: '10' }, /"introspection\.negativeCacheTtl" must be a number of seconds/],
    [{ negativeCacheMaxEntries: 0 }, /"introspection\.negativeCacheMaxEntries" must be an integer between 1 and 10000000; got 0/],
    [{ negativeCacheMaxEntries: 1.5 }, /"introspection\.negativeCacheMaxEntries" must be an integer/],
    [{ maxConcurrent: 0 }, /"introspection\.maxConcurrent" must be an integer between 1 and 10000; got 0/],
    [{ maxConcurrent: Number.POSITIVE_INFINITY }, /"introspection\.maxConcurrent" must be an integer/],
    [{ maxConcurent: 5 }, /"introspection\.maxConcurent" is not a known option; did you mean "introspection\.maxConcurrent"\?/],
    [{ negativeCacheTTL: 5 }, /"introspection\.negativeCacheTTL" is not a known option; did you mean "introspection\.negativeCacheTtl"\?/],
  ]
  for (const [extra, message] of limits) {
    await rejectsOption(t, { ...noJwks, introspection: { clientId: 'rs', clientSecret: 's', ...extra } }, message, JSON.stringify(extra))
  }
  await registers(t, { ...noJwks, introspection: { clientId: 'rs', clientSecret: 's', negativeCacheTtl: 0, negativeCacheMaxEntries: 5, maxConcurrent: 1 } })
  await rejectsOption(t, { ...BASE, mtls: true }, /"mtls" must be \{ certificate\?: \(request\) => DER \| PEM \| null \}/)
  await rejectsOption(t, { ...BASE, mtls: { certificate: 'pem' } }, /"mtls\.certificate" must be a function; got "pem"/)
  await rejectsOption(t, { ...BASE, principal: { id: 1 } }, /"principal" must be a function/)
  await rejectsOption(t, { ...BASE, errorRenderer: 'json' }, /"errorRenderer" must be a function/)
})

t.test('option messages never echo secrets', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ ...BASE, algorithms: ['HS256'], secret: 'tiny-secret-value' }, 'tiny-secret-value'],
    [{ ...BASE, dpop: { nonce: { secret: 'nonce-secret-too-short' } } }, 'nonce-secret-too-short'],
    [{ resource: RESOURCE, authorizationServers: [ISSUER], introspection: { clientId: 'rs', clientSecret: 'client-secret-value', cacheTtl: 'x' } }, 'client-secret-value'],
  ]
  for (const [options, secret] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    const err = await app.register(mcpAuth, options as McpAuthOptions).ready().then(() => undefined, (e: unknown) => e as Error)
    t.equal((err as { code?: string } | undefined)?.code, 'FST_MCP_AUTH_INVALID_OPTION')
    t.notMatch(err?.message ?? '', secret, `message does not contain ${secret}`)
  }
})

t.test('route config mcpAuth must be false or absent', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, BASE as McpAuthOptions)
  await t.rejects(async () => {
    app.get('/x', { config: { mcpAuth: true } } as never, async () => 'x')
    await app.ready()
  }, { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /route config "mcpAuth" must be false .*GET \/x.*got true/ })
})

t.test('a failed registration does not crash the process and the app still closes', async (t) => {
  const app = Fastify()
  let unhandled: unknown
  const onUnhandled = (err: unknown): void => { unhandled = err }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  await t.rejects(Promise.resolve(app.register(mcpAuth, { resource: 'nope' } as McpAuthOptions).ready()), { code: 'FST_MCP_AUTH_INVALID_OPTION' })
  await app.close()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(unhandled, undefined, 'no unhandled rejection')
})

// ——— valid shapes ———

t.test('valid: dpop: false offers only Bearer; dpop: {} keeps the defaults', async (t) => {
  const off = await registers(t, { ...BASE, dpop: false })
  const offRes = await off.inject({ method: 'GET', url: '/mcp' })
  t.equal(offRes.statusCode, 401)
  t.same(parseChallenges(offRes.headers['www-authenticate']).map((c) => c.scheme), ['Bearer'])

  const empty = await registers(t, { ...BASE, dpop: {} })
  const emptyRes = await empty.inject({ method: 'GET', url: '/mcp' })
  const challenges = parseChallenges(emptyRes.headers['www-authenticate'])
  t.same(challenges.map((c) => c.scheme), ['Bearer', 'DPoP'])
  t.equal(challenges[1]?.params.algs, 'ES256 ES384 PS256 RS256 EdDSA', 'default DPoP algorithms')

  const required = await registers(t, { ...BASE, dpop: { required: true, algorithms: ['ES256'], nonce: { secret: 'n'.repeat(32) }, replayStore: new MemoryReplayStore() } })
  const requiredRes = await required.inject({ method: 'GET', url: '/mcp' })
  t.same(parseChallenges(requiredRes.headers['www-authenticate']).map((c) => [c.scheme, c.params.algs]), [['DPoP', 'ES256']], 'dpop.required offers only DPoP')

  await registers(t, { ...BASE, dpop: { replayStore: false } })
  await registers(t, { ...BASE, dpop: { nonce: { secret: Buffer.alloc(32, 1), step: 30 } } })
  await registers(t, { ...BASE, dpop: { nonce: { issue: () => 'n', check: () => 'valid' } } })
})

t.test('valid: loopback http resources and issuers', async (t) => {
  for (const resource of ['http://localhost:3000/mcp', 'http://127.0.0.1/mcp', 'http://[::1]:8080/mcp']) {
    await registers(t, { resource, authorizationServers: ['http://127.0.0.1:9000', 'http://localhost/realms/x'], jwks: BASE.jwks })
    t.pass(resource)
  }
})

t.test('valid: several resources; the request path picks the resource (longest prefix)', async (t) => {
  const app = await registers(t, {
    ...BASE,
    resource: [RESOURCE, { resource: 'https://mcp.example.com/tenants/acme/mcp', scopesSupported: ['acme:read'] }],
  })
  const first = await app.inject({ method: 'GET', url: '/mcp' })
  t.equal(parseChallenges(first.headers['www-authenticate'])[0]?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp')
  const second = await app.inject({ method: 'GET', url: '/tenants/acme/mcp' })
  const [bearer] = parseChallenges(second.headers['www-authenticate'])
  t.equal(bearer?.params.resource_metadata, 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp')
  t.equal(bearer?.params.scope, 'acme:read')
})

t.test('valid: per-resource authorizationServers without a top-level list', async (t) => {
  const a = await createTestIssuer({ issuer: 'https://a.example.com' })
  const b = await createTestIssuer({ issuer: 'https://b.example.com' })
  const app = await registers(t, {
    resource: [
      { resource: RESOURCE, authorizationServers: [a.issuer] },
      { resource: 'https://mcp.example.com/tenants/acme/mcp', authorizationServers: [b.issuer] },
    ],
    jwks: { keys: [...a.jwks.keys, ...b.jwks.keys] },
  })
  const ok = await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `Bearer ${await a.mintAccessToken({ aud: RESOURCE })}` } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { resource: RESOURCE, issuer: a.issuer })
  const okB = await app.inject({ method: 'GET', url: '/tenants/acme/mcp', headers: { authorization: `Bearer ${await b.mintAccessToken({ aud: 'https://mcp.example.com/tenants/acme/mcp' })}` } })
  t.equal(okB.statusCode, 200)
  t.same(okB.json(), { resource: 'https://mcp.example.com/tenants/acme/mcp', issuer: b.issuer })
  const wrong = await app.inject({ method: 'GET', url: '/tenants/acme/mcp', headers: { authorization: `Bearer ${await a.mintAccessToken({ aud: 'https://mcp.example.com/tenants/acme/mcp' })}` } })
  t.equal(wrong.statusCode, 401, 'issuer A is not trusted for the second resource')
  t.equal(wrong.json().error, 'invalid_token')
  t.equal(parseChallenges(wrong.headers['www-authenticate'])[0]?.params.error, 'invalid_token')
})

t.test('valid: jwks tuning without uri/keys keeps discovery; a key function; HS256 with a secret', async (t) => {
  await registers(t, { resource: RESOURCE, authorizationServers: [ISSUER], jwks: { timeout: 1, cooldown: 0, cacheMaxAge: 1, staleIfError: 0 } })
  await registers(t, { resource: RESOURCE, authorizationServers: [ISSUER], jwks: () => { throw new Error('unused') } })
  await registers(t, { resource: RESOURCE, authorizationServers: [ISSUER], algorithms: ['HS256', 'ES256'], secret: 's'.repeat(32) })
  await registers(t, { resource: RESOURCE, authorizationServers: [ISSUER], verifyToken: async () => ({}) })
  await registers(t, { resource: RESOURCE, authorizationServers: [ISSUER], introspection: { clientId: 'rs', clientSecret: 's' } })
  await registers(t, { ...BASE, tokenCache: false, scopeMatching: 'exact', tokenTypes: ['at+jwt', 'JWT'], clockTolerance: 0, prefix: undefined })
  t.pass('all registered')
})
