// Pure units: resource URIs, well-known URLs, challenges, credential
// extraction, scope matching and the error table. No Fastify, no network.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildChallenge, placeError, sanitizeChallengeValue } from '../../lib/challenge.js'
import type { ChallengeSetup } from '../../lib/challenge.js'
import { checkTokenSyntax, countCredentialLines, extractCredentials, schemeOf } from '../../lib/credentials.js'
import type { CredentialInput } from '../../lib/credentials.js'
import { CODE_TABLE, invalidOption, invalidRegistration, invalidSetting, isMcpAuthError, McpAuthError, metadataMissing, notRegistered, reject, warmUpFailed } from '../../lib/errors.js'
import { McpHeaderMismatchError } from '../../lib/mcp-operations.js'
import { ReplayStoreFullError } from '../../lib/stores/replay-store.js'
import type { McpAuthErrorCode, McpAuthRejectReason } from '../../lib/errors.js'
import { audienceKey, audienceKeys, isLoopbackHost, parseResource, requestPath } from '../../lib/resource.js'
import { isPathWithin } from '../../lib/route-resource.js'
import type { ParsedResource } from '../../lib/resource.js'
import { McpScopes, scopeGrants, scopesSatisfy } from '../../lib/scopes.js'
import {
  authorizationServerMetadataUrls,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
} from '../../lib/well-known.js'

// RFC 6750 §3: error / error_description values.
const DESCRIPTION_SET = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/

function parsed (uri: string): ParsedResource {
  const result = parseResource(uri)
  if (typeof result === 'string') throw new Error(`test fixture ${uri}: ${result}`)
  return result
}

// ——— lib/resource.ts ———

t.test('parseResource keeps path and query verbatim and canonicalizes scheme, host and default port', async (t) => {
  t.same(parseResource('https://mcp.example.com/mcp'), {
    uri: 'https://mcp.example.com/mcp', origin: 'https://mcp.example.com', path: '/mcp', query: '',
  })
  t.same(parseResource('HTTPS://MCP.Example.COM:443/Mcp/A%20B?Tenant=X&y=%2F'), {
    uri: 'https://mcp.example.com/Mcp/A%20B?Tenant=X&y=%2F',
    origin: 'https://mcp.example.com',
    path: '/Mcp/A%20B',
    query: '?Tenant=X&y=%2F',
  }, 'path and query case and percent-encoding untouched')
  t.same(parseResource('https://mcp.example.com'), {
    uri: 'https://mcp.example.com', origin: 'https://mcp.example.com', path: '', query: '',
  }, 'EDGE-20: a bare origin gets no trailing slash')
  t.same(parseResource('https://mcp.example.com/'), {
    uri: 'https://mcp.example.com/', origin: 'https://mcp.example.com', path: '/', query: '',
  })
  t.same(parseResource('https://mcp.example.com/mcp/'), {
    uri: 'https://mcp.example.com/mcp/', origin: 'https://mcp.example.com', path: '/mcp/', query: '',
  }, 'EDGE-04: a trailing slash is kept')
  t.same(parseResource('https://mcp.example.com?t=a'), {
    uri: 'https://mcp.example.com?t=a', origin: 'https://mcp.example.com', path: '', query: '?t=a',
  })
  t.same(parseResource('https://mcp.example.com:8443/mcp'), {
    uri: 'https://mcp.example.com:8443/mcp', origin: 'https://mcp.example.com:8443', path: '/mcp', query: '',
  }, 'a non-default port is kept')
  t.same(parseResource('http://localhost:80/mcp'), {
    uri: 'http://localhost/mcp', origin: 'http://localhost', path: '/mcp', query: '',
  }, 'http default port dropped')
  t.equal((parsed('https://mcp.example.com:443')).uri, 'https://mcp.example.com')
})

t.test('parseResource: http only for loopback (RFC 8707 §2, MCP canonical URI)', async (t) => {
  for (const uri of ['http://localhost/mcp', 'http://127.0.0.1:3000/mcp', 'http://127.10.20.30/mcp', 'http://[::1]:8080/mcp', 'http://LOCALHOST/mcp']) {
    t.type(parseResource(uri), 'object', uri)
  }
  for (const uri of ['http://mcp.example.com/mcp', 'http://10.0.0.5/mcp', 'http://localhost.example.com/mcp', 'http://128.0.0.1/mcp']) {
    t.match(parseResource(uri), /must use https \(http is allowed only for loopback hosts\)/, uri)
  }
  t.ok(isLoopbackHost('127.0.0.1'))
  t.ok(isLoopbackHost('[::1]'))
  t.notOk(isLoopbackHost('::1'), 'WHATWG hostnames of IPv6 keep their brackets')
  t.notOk(isLoopbackHost('127.0.0.1.example.com'))
})

t.test('AUD-07: parseResource refuses relative, fragment, userinfo and non-http(s) URIs', async (t) => {
  t.equal(parseResource(undefined), 'must be a non-empty string')
  t.equal(parseResource(''), 'must be a non-empty string')
  t.equal(parseResource(42), 'must be a non-empty string')
  const absolute = (value: string): string => `must be an absolute https URI such as "https://mcp.example.com/mcp"; got ${JSON.stringify(value)}`
  for (const value of ['/mcp', 'mcp.example.com/mcp', 'ftp://mcp.example.com/mcp', 'urn:example:mcp', 'wss://mcp.example.com/mcp',
    'https:/mcp.example.com/mcp', 'https:mcp.example.com/mcp', 'https://', 'https:///mcp', 'https://mcp.example.com:99999/mcp', ' https://mcp.example.com/mcp']) {
    t.equal(parseResource(value), absolute(value), JSON.stringify(value))
  }
  t.match(parseResource('https://mcp.example.com/mcp#x'), /must not contain a fragment/)
  t.match(parseResource('https://mcp.example.com/mcp#'), /must not contain a fragment/, 'an empty fragment too')
  for (const value of ['https://user@mcp.example.com/mcp', 'https://user:pw@mcp.example.com/mcp', 'https://:pw@mcp.example.com/mcp']) {
    t.type(parseResource(value), 'string', `${value}: refused`)
    // An absolute https URI with user info is neither non-http(s) nor unparsable, so the
    // "must be an absolute https URI" message would send the user looking for the wrong fix.
    t.match(parseResource(value), /^must not contain user information/, `${value}: the message names user information`)
    t.notMatch(parseResource(value), /pw|user@/, `${value}: the message never echoes user info (it may hold a password)`)
  }
})

t.test('parseResource never silently changes the path WHATWG URL reinterprets (backslash, missing slashes)', async (t) => {
  // WHATWG URL reads "\" as "/" and repairs "https:/host" for special schemes. The
  // verbatim path must not drift from what the URL parser saw: such spellings are refused.
  const normalized = (value: string): string =>
    `must be written in normalized form (no dot segments or backslashes; percent-encode other characters); got ${JSON.stringify(value)}`
  t.equal(parseResource('https://mcp.example.com\\mcp'), normalized('https://mcp.example.com\\mcp'))
  t.match(parseResource('https:/mcp.example.com/mcp'), /^must be an absolute https URI/)
  t.match(parseResource('https:mcp.example.com/mcp'), /^must be an absolute https URI/)
})

t.test('parseResource accepts RFC 3986 form only and names it: UTF-8 escapes in upper-case hex, unreserved characters plain', async (t) => {
  const write = (value: string, spelling: string): string =>
    `must be written in RFC 3986 form (UTF-8 percent-encoded, upper-case hex): write ${JSON.stringify(spelling)}; got ${JSON.stringify(value)}`
  for (const [value, spelling] of [
    ['https://mcp.example.com/ü', 'https://mcp.example.com/%C3%BC'],
    ['https://mcp.example.com/mcp?ü', 'https://mcp.example.com/mcp?%C3%BC'],
    ['https://mcp.example.com/m cp', 'https://mcp.example.com/m%20cp'],
    ['https://mcp.example.com/caf%c3%a9', 'https://mcp.example.com/caf%C3%A9'],
    ['https://mcp.example.com/%7Euser/%41', 'https://mcp.example.com/~user/A'],
    ['https://mcp.example.com/a%3Ab', 'https://mcp.example.com/a:b'],
    ['https://mcp.exämple.com/mcp', 'https://mcp.xn--exmple-cua.com/mcp'],
    ['https://mcp.exämple.com', 'https://mcp.xn--exmple-cua.com'],
    // WHATWG URL reads a backslash as "/": the spelling shows the path it found.
    ['https://mcp.example.com\\café', 'https://mcp.example.com/caf%C3%A9'],
    // A bare origin stays bare, whatever "://…/" its query holds.
    ['https://mcp.example.com?u=https://a/é', 'https://mcp.example.com?u=https://a/%C3%A9'],
  ] as const) {
    t.equal(parseResource(value), write(value, spelling), value)
  }
  t.match(parseResource('https://mcp.example.com/%C3'), /malformed percent-encoding/)
  t.match(parseResource('https://mcp.example.com/%zz'), /malformed percent-encoding/)
  for (const value of ['https://mcp.example.com/a%2Fb', 'https://mcp.example.com/a%3Fb', 'https://mcp.example.com/a%23b']) {
    t.match(parseResource(value), /must not percent-encode "\/", "\?" or "#"/, value)
  }
  t.equal((parseResource('https://mcp.example.com/caf%C3%A9/100%25') as ParsedResource).path, '/caf%C3%A9/100%25')
})

t.test('parseResource accepts only the normalized form: no dot segments, backslashes, unencoded characters or a bare "?"', async (t) => {
  const normalized = (value: string): string =>
    `must be written in normalized form (no dot segments or backslashes; percent-encode other characters); got ${JSON.stringify(value)}`
  for (const value of [
    'https://mcp.example.com/a/../mcp',
    'https://mcp.example.com/./mcp',
    'https://mcp.example.com/mcp/..',
    'https://mcp.example.com/mcp/.',
    'https://mcp.example.com/..',
    'https://mcp.example.com/%2e%2e/mcp',
    'https://mcp.example.com/%2E/mcp',
    'https://mcp.example.com/mcp\\x',
    'https://mcp.example.com/mcp?a\\b',
    'https://mcp.example.com/m\tcp',
    'https://mcp.example.com/m\x7Fcp', // DEL is a control character (RFC 5234 CTL) like the C0 set: no spelling offered
    'https://mcp.example.com/mcp ',
    'https://mcp.example.com/m"cp',
    'https://mcp.example.com/mcp?a"b',
    "https://mcp.example.com/mcp?a'b",
    'https://mcp.example.com/m<cp',
    'https://mcp.example.com/m`cp',
    'https://mcp.example.com/{x}',
    'https://mcp.example.com/mcp?',
    'https://mcp.example.com?',
  ]) {
    t.equal(parseResource(value), normalized(value), JSON.stringify(value))
  }
  for (const value of ['https://mcp.example.com/m%20cp', 'https://mcp.example.com/%C3%BC', 'https://mcp.example.com/mcp?a=%22b%22', 'https://mcp.example.com/a//b', 'https://mcp.example.com/v1;x=1']) {
    const result = parsed(value)
    t.equal(result.uri, value, `${value}: kept verbatim`)
  }
})

t.test('a configured resource always matches its own audience; a rewritten spelling never does', async (t) => {
  for (const value of ['https://mcp.example.com/mcp', 'HTTPS://MCP.example.com:443/Mcp/A~B?T=X', 'https://mcp.example.com', 'http://127.0.0.1:3000/mcp?a', 'https://mcp.example.com/mcp/']) {
    const r = parsed(value)
    t.equal(audienceKey(r.uri), audienceKey(value), `${value}: the canonical URI and the configured spelling compare equal`)
  }
  const key = audienceKey(parsed('https://mcp.example.com/mcp').uri)
  for (const aud of ['https://mcp.example.com/%6dcp', 'https://mcp.example.com/mcp?', 'https://mcp.example.com//mcp', 'https://mcp.example.com/mcp/.', 'https://x@mcp.example.com/mcp']) {
    t.not(audienceKey(aud), key, JSON.stringify(aud))
  }
})

t.test('audienceKey: scheme/host case and default port canonicalized, path and query exact', async (t) => {
  t.equal(audienceKey('HTTPS://MCP.EXAMPLE.COM/mcp'), 'https://mcp.example.com/mcp', 'AUD-05: uppercase scheme and host')
  t.equal(audienceKey('https://mcp.example.com:443/mcp'), 'https://mcp.example.com/mcp')
  t.equal(audienceKey('http://localhost:80/mcp'), 'http://localhost/mcp')
  t.equal(audienceKey('https://mcp.example.com:8443/mcp'), 'https://mcp.example.com:8443/mcp')
  t.not(audienceKey('https://mcp.example.com/MCP'), audienceKey('https://mcp.example.com/mcp'), 'AUD-05: path case matters')
  t.not(audienceKey('https://mcp.example.com/mcp/'), audienceKey('https://mcp.example.com/mcp'), 'AUD-06: trailing slash matters')
  t.equal(audienceKey('https://mcp.example.com'), audienceKey('https://mcp.example.com/'), 'AUD-06: empty path ≡ "/"')
  t.not(audienceKey('https://mcp.example.com/mcp-admin'), audienceKey('https://mcp.example.com/mcp'), 'EDGE-22')
  t.equal(audienceKey('https://mcp.example.com/mcp?a=B'), 'https://mcp.example.com/mcp?a=B')
  t.equal(audienceKey('api://mcp-server'), 'api://mcp-server', 'non-http values compare verbatim')
  t.equal(audienceKey('urn:example:MCP'), 'urn:example:MCP')
  t.equal(audienceKey('https://mcp.example.com/mcp#x'), undefined, 'AUD-07: a fragment never matches')
  t.equal(audienceKey('https://'), 'https://', 'an unparsable http value compares verbatim')
})

t.test('audienceKey compares the path exactly: no dot-segment, backslash or tab rewriting', async (t) => {
  // DESIGN: "aud compares exactly after canonicalizing scheme/host case and default port".
  const r = audienceKey('https://mcp.example.com/mcp')
  for (const aud of ['https://mcp.example.com/other/../mcp', 'https://mcp.example.com/./mcp', 'https://mcp.example.com\\mcp', 'https://mcp.example.com/m\tcp',
    'https://mcp.example.com/mcp\\', 'https://mcp.example.com/mcp?\\', 'HTTPS://MCP.EXAMPLE.COM\\mcp', 'https://mcp.example.com/%6dcp', 'https://mcp.example.com/MCP']) {
    t.not(audienceKey(aud), r, JSON.stringify(aud))
  }
  // Path and query are kept verbatim; only scheme, host and the default port are canonicalized.
  t.equal(audienceKey('HTTPS://MCP.EXAMPLE.COM:443/a/../mcp'), 'https://mcp.example.com/a/../mcp', 'dot segments kept')
  t.equal(audienceKey('https://mcp.example.com/M%7ecp?A=%2f'), 'https://mcp.example.com/M%7ecp?A=%2f', 'percent-encoding kept')
  t.equal(audienceKey('https://mcp.example.com?x'), 'https://mcp.example.com/?x', 'empty path before a query ≡ "/"')
  t.equal(audienceKey('https://mcp.example.com:443?'), 'https://mcp.example.com/?')
  t.equal(audienceKey('https://mcp.example.com/mcp?'), 'https://mcp.example.com/mcp?', 'a bare "?" is kept')
  // A backslash after the authority: the whole value compares verbatim (not even the host is lowercased).
  t.equal(audienceKey('HTTPS://MCP.EXAMPLE.COM\\mcp'), 'HTTPS://MCP.EXAMPLE.COM\\mcp')
  t.equal(audienceKey('https://mcp.example.com/mcp?a\\b'), 'https://mcp.example.com/mcp?a\\b')
  t.equal(audienceKey('https://evil.example\\@mcp.example.com/mcp'), 'https://evil.example\\@mcp.example.com/mcp')
  // Any "#" — even an empty fragment — never matches.
  t.equal(audienceKey('https://mcp.example.com/mcp#'), undefined)
  t.equal(audienceKey('api://x#y'), undefined)
})

t.test('audienceKey: a line break or other control anywhere keeps the whole value verbatim (no match)', async (t) => {
  const r = audienceKey('https://mcp.example.com/mcp')
  for (const aud of ['https://mcp.example.com/mcp\nX', 'https://mcp.example.com/mcp\n', 'https://mcp.example.com/mcp\r\nX', 'https://mcp.example.com/mcp\u2028',
    'https://mcp.example.com\n/mcp', 'https://mcp.example.com\n:443/mcp', 'https://mcp.example.com:443\n/mcp', 'https://mcp.example.com\t/mcp', 'https://mcp.example.com /mcp',
    'https://\nmcp.example.com/mcp', 'X\nhttps://mcp.example.com/mcp', 'https://mcp.example.com/mcp ', ' https://mcp.example.com/mcp']) {
    // U+2028 spelled out: TAP output is line-based.
    const name = JSON.stringify(aud).replace('\u2028', '\\u2028')
    t.not(audienceKey(aud), r, name)
    t.equal(audienceKey(aud), aud, `${name} compares verbatim`)
  }
  t.equal(audienceKey('HTTPS://MCP.EXAMPLE.COM/mcp\n'), 'HTTPS://MCP.EXAMPLE.COM/mcp\n', 'not even the host is lowercased')
})

t.test('audienceKeys: string or array aud; anything else is malformed', async (t) => {
  t.same(audienceKeys('https://MCP.example.com/mcp'), ['https://mcp.example.com/mcp'])
  t.same(audienceKeys(['https://a.example/x', 'api://b']), ['https://a.example/x', 'api://b'])
  t.same(audienceKeys(['https://a.example/x#f', 'api://b']), ['api://b'], 'fragment entries dropped')
  t.same(audienceKeys('https://a.example/x#f'), [])
  t.same(audienceKeys([]), [])
  t.equal(audienceKeys(['ok', 1]), undefined)
  t.equal(audienceKeys(42), undefined)
  t.equal(audienceKeys(undefined), undefined)
  t.equal(audienceKeys({ aud: 'x' }), undefined)
})

t.test('requestPath drops the query only', async (t) => {
  t.equal(requestPath('/mcp?x=1'), '/mcp')
  t.equal(requestPath('/mcp'), '/mcp')
  t.equal(requestPath('/a%3Fb?c'), '/a%3Fb')
  t.equal(requestPath('/?'), '/')
})

t.test('AUD-04: isPathWithin respects segment boundaries and case', async (t) => {
  t.ok(isPathWithin('/mcp', '/mcp'))
  t.ok(isPathWithin('/mcp/', '/mcp'))
  t.ok(isPathWithin('/mcp/tools/x', '/mcp'))
  t.notOk(isPathWithin('/mcp2', '/mcp'))
  t.notOk(isPathWithin('/mcpx/y', '/mcp'))
  t.notOk(isPathWithin('/MCP', '/mcp'))
  t.notOk(isPathWithin('/mc', '/mcp'))
  t.notOk(isPathWithin('/', '/mcp'))
  t.ok(isPathWithin('/anything', ''), 'a bare origin covers everything')
  t.ok(isPathWithin('/anything', '/'))
  // find-my-way's root wildcard route "*" (no leading "/") matches every path, all of which these hold.
  t.ok(isPathWithin('*', ''), 'a bare origin covers the "*" route')
  t.ok(isPathWithin('*', '/'), 'so does "/"')
  t.ok(isPathWithin('/mcp/', '/mcp/'))
  t.ok(isPathWithin('/mcp/x', '/mcp/'))
  t.notOk(isPathWithin('/mcp', '/mcp/'), 'a prefix with a trailing slash does not cover the path without it')
})

// ——— lib/well-known.ts ———

t.test('RFC 9728 §3.1: protected resource metadata URL by path insertion (PRM-04)', async (t) => {
  const vectors: Array<[string, string, string]> = [
    ['https://mcp.example.com/mcp', '/.well-known/oauth-protected-resource/mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'],
    ['https://mcp.example.com', '/.well-known/oauth-protected-resource', 'https://mcp.example.com/.well-known/oauth-protected-resource'],
    ['https://mcp.example.com/', '/.well-known/oauth-protected-resource', 'https://mcp.example.com/.well-known/oauth-protected-resource'],
    ['https://mcp.example.com/mcp/', '/.well-known/oauth-protected-resource/mcp/', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp/'],
    ['https://mcp.example.com/mcp?t=a', '/.well-known/oauth-protected-resource/mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp?t=a'],
    ['https://mcp.example.com/tenants/acme/mcp', '/.well-known/oauth-protected-resource/tenants/acme/mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/acme/mcp'],
    ['https://MCP.example.com:443/Mcp', '/.well-known/oauth-protected-resource/Mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/Mcp'],
    ['https://mcp.example.com:8443/mcp', '/.well-known/oauth-protected-resource/mcp', 'https://mcp.example.com:8443/.well-known/oauth-protected-resource/mcp'],
    ['http://localhost:3000/mcp', '/.well-known/oauth-protected-resource/mcp', 'http://localhost:3000/.well-known/oauth-protected-resource/mcp'],
  ]
  for (const [resource, path, url] of vectors) {
    const p = parsed(resource)
    t.equal(protectedResourceMetadataPath(p), path, `${resource} path`)
    t.equal(protectedResourceMetadataUrl(p), url, `${resource} url`)
    t.notMatch(url, /\/mcp\/\.well-known/, 'EDGE-21: never appended')
  }
})

t.test('RFC 8414 §3.1: authorization server metadata URLs (insertion, then OIDC discovery)', async (t) => {
  t.same(authorizationServerMetadataUrls('https://auth.example.com'), [
    'https://auth.example.com/.well-known/oauth-authorization-server',
    'https://auth.example.com/.well-known/openid-configuration',
  ])
  t.same(authorizationServerMetadataUrls('https://auth.example.com/'), [
    'https://auth.example.com/.well-known/oauth-authorization-server',
    'https://auth.example.com/.well-known/openid-configuration',
  ], 'a terminating "/" is removed')
  // RFC 8414 §3.1 example: https://example.com/issuer1 → /.well-known/oauth-authorization-server/issuer1
  t.same(authorizationServerMetadataUrls('https://example.com/issuer1'), [
    'https://example.com/.well-known/oauth-authorization-server/issuer1',
    'https://example.com/issuer1/.well-known/openid-configuration',
    'https://example.com/.well-known/openid-configuration/issuer1',
  ])
  t.same(authorizationServerMetadataUrls('https://login.example.org/tenant1/'), [
    'https://login.example.org/.well-known/oauth-authorization-server/tenant1',
    'https://login.example.org/tenant1/.well-known/openid-configuration',
    'https://login.example.org/.well-known/openid-configuration/tenant1',
  ], 'ASM-01: terminating "/" removed before insertion and append')
  t.same(authorizationServerMetadataUrls('http://127.0.0.1:8080/a/b'), [
    'http://127.0.0.1:8080/.well-known/oauth-authorization-server/a/b',
    'http://127.0.0.1:8080/a/b/.well-known/openid-configuration',
    'http://127.0.0.1:8080/.well-known/openid-configuration/a/b',
  ])
})

// ——— lib/challenge.ts ———

const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'
const BOTH: ChallengeSetup = { resourceMetadataUrl: PRM, bearer: true, dpopAlgs: 'ES256 EdDSA' }
const BEARER_ONLY: ChallengeSetup = { resourceMetadataUrl: PRM, bearer: true, dpopAlgs: undefined }
const DPOP_ONLY: ChallengeSetup = { resourceMetadataUrl: PRM, bearer: false, dpopAlgs: 'ES256' }

t.test('RFC 6750 §3 / RFC 9449 §7.1: challenges without error, Bearer first, every one with resource_metadata', async (t) => {
  t.equal(buildChallenge(BOTH, undefined),
    `Bearer resource_metadata="${PRM}", DPoP algs="ES256 EdDSA", resource_metadata="${PRM}"`)
  t.equal(buildChallenge(BOTH, ['mcp:tools:read', 'mcp:tools:call']),
    `Bearer resource_metadata="${PRM}", scope="mcp:tools:read mcp:tools:call", DPoP algs="ES256 EdDSA", resource_metadata="${PRM}", scope="mcp:tools:read mcp:tools:call"`)
  t.equal(buildChallenge(BOTH, []), `Bearer resource_metadata="${PRM}", DPoP algs="ES256 EdDSA", resource_metadata="${PRM}"`, 'an empty scope list is omitted')
  t.equal(buildChallenge(BEARER_ONLY, ['a']), `Bearer resource_metadata="${PRM}", scope="a"`, 'dpop off → Bearer only')
  t.equal(buildChallenge(DPOP_ONLY, undefined), `DPoP algs="ES256", resource_metadata="${PRM}"`, 'dpop.required → DPoP only')
})

t.test('RFC 9449 §7.1: error parameters go only into the challenges placeError picks', async (t) => {
  const error = { error: 'invalid_token' as const, description: 'The access token expired', inBearer: true, inDpop: false }
  t.equal(buildChallenge(BOTH, ['s'], error),
    `Bearer error="invalid_token", error_description="The access token expired", resource_metadata="${PRM}", scope="s", ` +
    `DPoP algs="ES256 EdDSA", resource_metadata="${PRM}", scope="s"`)
  t.equal(buildChallenge(BOTH, undefined, { ...error, error: 'invalid_dpop_proof', description: 'x', inBearer: false, inDpop: true }),
    `Bearer resource_metadata="${PRM}", DPoP error="invalid_dpop_proof", error_description="x", algs="ES256 EdDSA", resource_metadata="${PRM}"`)
  t.equal(buildChallenge(BOTH, undefined, { ...error, error: 'invalid_request', description: 'y', inBearer: true, inDpop: true }),
    `Bearer error="invalid_request", error_description="y", resource_metadata="${PRM}", ` +
    `DPoP error="invalid_request", error_description="y", algs="ES256 EdDSA", resource_metadata="${PRM}"`)
})

t.test('BEAR-15 / EDGE-19: challenge values are sanitized to the RFC 6750 §3 character set', async (t) => {
  t.equal(sanitizeChallengeValue('"exp" claim timestamp check failed'), "'exp' claim timestamp check failed")
  t.equal(sanitizeChallengeValue('a\\b'), 'a/b')
  t.equal(sanitizeChallengeValue('café'), 'caf?')
  t.equal(sanitizeChallengeValue('a\nb\r\tc\u0000d\u007fe'), 'a?b??c?d?e')
  t.equal(sanitizeChallengeValue('plain text, with [brackets] & more ~!'), 'plain text, with [brackets] & more ~!')
  const samples = ['"\\"', 'kid "x\\y"', 'emoji 🔑', '\u202eRTL', 'ü\u0301', '\u2028line']
  samples.forEach((value, i) => t.match(sanitizeChallengeValue(value), DESCRIPTION_SET, `sample ${i}`))
  const header = buildChallenge(BOTH, ['a'], {
    error: 'invalid_token', description: 'bad "kid" \\ é\n', inBearer: true, inDpop: true,
  })
  t.notMatch(header, /\\/, 'no backslash anywhere, even escaped')
  t.match(header, /error_description="bad 'kid' \/ \?\?"/)
  t.match(header, /^[\x20-\x7E]+$/, 'the whole header is printable ASCII')
})

t.test('placeError: RFC 9449 §7.2 placement for every error and scheme', async (t) => {
  for (const scheme of ['bearer', 'dpop', undefined] as const) {
    t.same(placeError('invalid_dpop_proof', scheme, BOTH), { inBearer: false, inDpop: true }, `invalid_dpop_proof ${scheme}`)
    t.same(placeError('use_dpop_nonce', scheme, BOTH), { inBearer: false, inDpop: true }, `use_dpop_nonce ${scheme}`)
    for (const e of ['invalid_request', 'insufficient_scope', 'temporarily_unavailable'] as const) {
      t.same(placeError(e, scheme, BOTH), { inBearer: true, inDpop: true }, `${e} ${scheme}: both challenges`)
      t.same(placeError(e, scheme, BEARER_ONLY), { inBearer: true, inDpop: false }, `${e} ${scheme}: dpop off`)
    }
  }
  t.same(placeError('invalid_token', 'bearer', BOTH), { inBearer: true, inDpop: false }, 'Bearer request → Bearer challenge')
  t.same(placeError('invalid_token', undefined, BOTH), { inBearer: true, inDpop: false })
  t.same(placeError('invalid_token', 'dpop', BOTH), { inBearer: false, inDpop: true }, 'DPoP request → DPoP challenge')
  t.same(placeError('invalid_token', 'dpop', BEARER_ONLY), { inBearer: true, inDpop: false }, 'no DPoP challenge to carry it')
  t.same(placeError('invalid_token', 'bearer', DPOP_ONLY), { inBearer: false, inDpop: true }, 'dpop.required: only DPoP offered')
})

// ——— lib/credentials.ts ———

function input (authorization: string | undefined, extra: Partial<CredentialInput> = {}): CredentialInput {
  return { authorization, authorizationLines: authorization === undefined ? 0 : 1, dpop: undefined, dpopLines: 0, queryToken: false, ...extra }
}
const OPTS = { dpopEnabled: true, maxTokenLength: 64 }

function rejection (fn: () => unknown): { code: string, reason: string } | undefined {
  try {
    fn()
  } catch (err) {
    if (isMcpAuthError(err)) return { code: err.code, reason: err.reason }
    throw err
  }
  return undefined
}

t.test('countCredentialLines counts Authorization and DPoP field lines case-insensitively', async (t) => {
  t.same(countCredentialLines([]), { authorization: 0, dpop: 0 })
  t.same(countCredentialLines([
    'Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b', 'DPoP', 'p1', 'dpop', 'p2', 'DPOP', 'p3',
    'X-Authorization', 'z', 'Authorizatio1', 'z', 'Dpop-Nonce', 'n', 'AUTHORIZATION', 'c', 'Date', 'd',
  ]), { authorization: 3, dpop: 3 })
  t.same(countCredentialLines(['Host', 'Authorization']), { authorization: 0, dpop: 0 }, 'values are not mistaken for names')
  t.same(countCredentialLines(['AUTHORIZATION', 'a', 'DpOp', 'p']), { authorization: 1, dpop: 1 }, 'any case alone')
  t.same(countCredentialLines(['Authorizatio1', 'a', 'Dpo1', 'p']), { authorization: 0, dpop: 0 }, 'other names of the same length alone')
})

t.test('the scheme is the first token: a header ending in "Bearer" or "DPoP" after another scheme is not one', async (t) => {
  for (const header of ['Basic1 Bearer', 'Digs DPoP']) {
    t.same(rejection(() => extractCredentials(input(header), OPTS)), { code: 'FST_MCP_AUTH_NO_CREDENTIALS', reason: 'credentials.unsupported_scheme' }, header)
  }
})

t.test('RFC 6750 §2.1: extractCredentials accepts b64token credentials', async (t) => {
  t.same(extractCredentials(input('Bearer abc'), OPTS), { scheme: 'bearer', token: 'abc', proof: undefined, proofLines: 0 })
  t.equal(extractCredentials(input('bEaReR abc'), OPTS).scheme, 'bearer', 'BEAR-03')
  t.equal(extractCredentials(input('Bearer    abc'), OPTS).token, 'abc', 'BEAR-04: several spaces')
  t.equal(extractCredentials(input('Bearer aZ0-._~+/=='), OPTS).token, 'aZ0-._~+/==', 'the whole b64token alphabet and padding')
  t.equal(extractCredentials(input('Bearer ' + 'a'.repeat(64)), OPTS).token.length, 64, 'exactly maxTokenLength')
  t.same(extractCredentials(input('DPoP abc', { dpop: 'proof', dpopLines: 1 }), OPTS), { scheme: 'dpop', token: 'abc', proof: 'proof', proofLines: 1 })
  t.equal(extractCredentials(input('dpop abc'), OPTS).scheme, 'dpop', 'EDGE-08')
  t.same(extractCredentials(input('Bearer abc', { dpop: 'a, b', dpopLines: 2 }), OPTS), { scheme: 'bearer', token: 'abc', proof: 'a, b', proofLines: 2 })
})

t.test('RFC 6750 §3.1: no credentials or an unsupported scheme → 401 without error', async (t) => {
  t.same(rejection(() => extractCredentials(input(undefined), OPTS)), { code: 'FST_MCP_AUTH_NO_CREDENTIALS', reason: 'credentials.missing' })
  t.same(rejection(() => extractCredentials(input(''), OPTS)), { code: 'FST_MCP_AUTH_NO_CREDENTIALS', reason: 'credentials.missing' })
  for (const header of ['Basic dXNlcjpw', 'Token abc', 'Digest x', 'Bearerabc', ' Bearer abc', 'Bear abc', 'Bearer-x abc']) {
    t.same(rejection(() => extractCredentials(input(header), OPTS)), { code: 'FST_MCP_AUTH_NO_CREDENTIALS', reason: 'credentials.unsupported_scheme' }, JSON.stringify(header))
  }
  t.same(rejection(() => extractCredentials(input('DPoP abc'), { ...OPTS, dpopEnabled: false })),
    { code: 'FST_MCP_AUTH_NO_CREDENTIALS', reason: 'credentials.unsupported_scheme' }, 'BEAR-07: DPoP while DPoP is off')
})

t.test('RFC 6750 §3.1: malformed credentials → 400 invalid_request (the header by extraction, the token by checkTokenSyntax)', async (t) => {
  const malformed = ['Bearer', 'Bearer ', 'Bearer  ', 'Bearer\tabc', 'Bearer\u00a0abc', 'Bearer a b', 'Bearer a,b', 'Bearer "abc"', 'Bearer ab=c', 'Bearer =abc', 'Bearer é', 'Bearer abc ', 'Bearer abc\u0000', 'DPoP a b']
  // What the pipeline runs for a token the verifier does not hold: extraction, then the token's syntax.
  const parse = (header: string): void => { checkTokenSyntax(extractCredentials(input(header), OPTS).token) }
  for (const header of malformed) {
    t.same(rejection(() => parse(header)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.malformed' }, JSON.stringify(header))
  }
  t.same(rejection(() => extractCredentials(input('Bearer ' + 'a'.repeat(65)), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.too_large' })
})

t.test('BEAR-08/09/11: query tokens and duplicate Authorization lines → 400, checked before anything else', async (t) => {
  t.same(rejection(() => extractCredentials(input(undefined, { queryToken: true }), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.in_query' })
  t.same(rejection(() => extractCredentials(input('Bearer abc', { queryToken: true }), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.in_query' })
  t.same(rejection(() => extractCredentials(input('Basic x', { queryToken: true }), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.in_query' })
  t.same(rejection(() => extractCredentials(input('Bearer abc', { authorizationLines: 2 }), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.duplicate' })
  t.same(rejection(() => extractCredentials(input('Basic x', { authorizationLines: 2 }), OPTS)), { code: 'FST_MCP_AUTH_INVALID_REQUEST', reason: 'credentials.duplicate' })
})

t.test('schemeOf names the scheme a request attempted', async (t) => {
  t.equal(schemeOf(undefined), undefined)
  t.equal(schemeOf('Bearer x'), 'bearer')
  t.equal(schemeOf('BEARER'), 'bearer')
  t.equal(schemeOf('DPoP x'), 'dpop')
  t.equal(schemeOf('Basic x'), undefined)
  t.equal(schemeOf(''), undefined)
})

// ——— lib/scopes.ts ———

t.test('MCP-07 / EDGE-25: hierarchical matching respects ":" boundaries and case', async (t) => {
  t.ok(scopeGrants('mcp:tools', 'mcp:tools:call'))
  t.ok(scopeGrants('mcp', 'mcp:tools:call'))
  t.ok(scopeGrants('mcp:tools:call', 'mcp:tools:call'))
  t.notOk(scopeGrants('mcp:tools', 'mcp:toolsadmin'), 'not a segment boundary')
  t.notOk(scopeGrants('mcp:tools', 'MCP:TOOLS:CALL'), 'case-sensitive (RFC 6749 §3.3)')
  t.notOk(scopeGrants('MCP:TOOLS', 'mcp:tools:call'))
  t.notOk(scopeGrants('mcp:tools:call', 'mcp:tools'), 'a narrower scope does not grant a broader one')
  t.notOk(scopeGrants('mcp:tools:', 'mcp:tools:call'), 'a trailing ":" is not a parent')
  t.notOk(scopeGrants('', 'mcp'), 'the empty scope grants nothing')
  t.notOk(scopeGrants('mcp:tools', 'mcp:tools:call', 'exact'), 'exact mode')
  t.ok(scopeGrants('mcp:tools:call', 'mcp:tools:call', 'exact'))
})

t.test('scopeGrants: "*" and "prefix:*" are literal scopes unless wildcards are configured', async (t) => {
  for (const mode of ['hierarchical', 'exact'] as const) {
    for (const wildcard of ['*', 'mcp:*', 'mcp:tools:*']) {
      t.notOk(scopeGrants(wildcard, 'mcp:tools:call'), `${wildcard} by default`)
      t.notOk(scopeGrants(wildcard, 'mcp:tools:call', mode), `${wildcard}, ${mode}, wildcards not given`)
      t.notOk(scopeGrants(wildcard, 'mcp:tools:call', mode, false), `${wildcard}, ${mode}, wildcards off`)
      t.ok(scopeGrants(wildcard, 'mcp:tools:call', mode, true), `${wildcard}, ${mode}, wildcards on`)
      t.ok(scopeGrants(wildcard, wildcard, mode, false), 'still equal to itself')
    }
    t.notOk(scopesSatisfy(['*'], ['mcp:tools:call'], { mode }), `scopesSatisfy, ${mode}: off by default`)
    t.ok(scopesSatisfy(['*'], ['mcp:tools:call'], { mode, wildcards: true }))
  }
  t.ok(scopeGrants('mcp:*', 'mcp:x', 'hierarchical', true), 'one character below the prefix')
  t.notOk(scopeGrants('mcp:*', 'mcp:', 'hierarchical', true), 'the bare prefix is not below it')
  t.notOk(scopeGrants('mcp:*', 'mcp', 'hierarchical', true), 'nor is its parent')
  t.notOk(scopeGrants('mcp:*', 'mcpx:tools', 'hierarchical', true), 'a ":" boundary')
  t.notOk(scopeGrants('mcp*', 'mcpx', 'hierarchical', true), 'only "*" and "prefix:*" are wildcards')
  t.notOk(scopeGrants('mcp:t*', 'mcp:tools', 'hierarchical', true))
})

t.test('scopesSatisfy: match all / any, modes, empty required', async (t) => {
  const granted = ['mcp:tools', 'mcp:resources:read']
  t.ok(scopesSatisfy(granted, ['mcp:tools:call', 'mcp:resources:read']))
  t.notOk(scopesSatisfy(granted, ['mcp:tools:call', 'mcp:prompts:read']), 'all by default')
  t.ok(scopesSatisfy(granted, ['mcp:tools:call', 'mcp:prompts:read'], { match: 'any' }))
  t.notOk(scopesSatisfy(granted, ['mcp:prompts:read', 'x'], { match: 'any' }))
  t.notOk(scopesSatisfy(granted, ['mcp:tools:call'], { mode: 'exact' }))
  t.ok(scopesSatisfy(['mcp:tools:call'], ['mcp:tools:call'], { mode: 'exact', match: 'all' }))
  t.ok(scopesSatisfy([], []), 'nothing required')
  t.ok(scopesSatisfy([], [], { match: 'any' }), 'nothing required, any')
  t.notOk(scopesSatisfy([], ['a']))
  t.notOk(scopesSatisfy(['mcp:toolsadmin'], ['mcp:tools:call']))
})

t.test('McpScopes names the MCP conventions', async (t) => {
  t.equal(McpScopes.toolsRead, 'mcp:tools:read')
  t.equal(McpScopes.toolsCall, 'mcp:tools:call')
  t.equal(McpScopes.resourcesRead, 'mcp:resources:read')
  t.equal(McpScopes.promptsRead, 'mcp:prompts:read')
  t.equal(McpScopes.server('search', 'tools:call'), 'search:mcp:tools:call')
  t.ok(Object.isFrozen(McpScopes))
})

// ——— lib/errors.ts ———

t.test('CODE_TABLE matches the DESIGN wire table row for row', async (t) => {
  const rejections = Object.entries(CODE_TABLE).filter(([, row]) => row.rejection)
  t.same(Object.fromEntries(rejections.map(([code, row]) => [code, [row.statusCode, row.oauthError]])), {
    FST_MCP_AUTH_NO_CREDENTIALS: [401, undefined],
    FST_MCP_AUTH_INVALID_REQUEST: [400, 'invalid_request'],
    FST_MCP_AUTH_INVALID_TOKEN: [401, 'invalid_token'],
    FST_MCP_AUTH_INVALID_DPOP_PROOF: [401, 'invalid_dpop_proof'],
    FST_MCP_AUTH_USE_DPOP_NONCE: [401, 'use_dpop_nonce'],
    FST_MCP_AUTH_INSUFFICIENT_SCOPE: [403, 'insufficient_scope'],
    FST_MCP_AUTH_UNAVAILABLE: [503, 'temporarily_unavailable'],
    FST_MCP_AUTH_INTERNAL: [500, 'server_error'],
    // DESIGN "The suite grows": sessionBinding's 404, the MCP transport's answer.
    FST_MCP_AUTH_SESSION_MISMATCH: [404, undefined],
  })
  t.ok(Object.entries(CODE_TABLE).every(([, row]) => row.rejection || row.oauthError === undefined), 'the other rows are never an OAuth answer')
  t.ok(Object.isFrozen(CODE_TABLE))
  for (const row of Object.values(CODE_TABLE)) t.match(row.description, DESCRIPTION_SET)
})

t.test('McpAuthError carries code, reason, status, OAuth error and a fixed description', async (t) => {
  const limit = Error.stackTraceLimit
  const cause = new Error('jose said "no"')
  const err = new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'token.expired', { cause })
  t.ok(err instanceof Error)
  t.equal(err.name, 'McpAuthError')
  t.equal(err.code, 'FST_MCP_AUTH_INVALID_TOKEN')
  t.equal(err.reason, 'token.expired')
  t.equal(err.statusCode, 401)
  t.equal(err.oauthError, 'invalid_token')
  t.equal(err.description, 'The access token expired')
  t.equal(err.message, 'The access token expired')
  t.equal(err.cause, cause)
  t.equal(err.scope, undefined)
  t.equal(Error.stackTraceLimit, limit, 'stack trace limit restored')
  t.ok(isMcpAuthError(err))
  t.notOk(isMcpAuthError(new Error('x')))
  t.notOk(isMcpAuthError({ code: 'FST_MCP_AUTH_INVALID_TOKEN' }))

  t.equal(new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'custom.reason').description, 'The access token is invalid', 'unknown reason → row text')
  t.equal(new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'token.expired', { description: 'mine' }).description, 'mine')
  t.notOk('cause' in new McpAuthError('FST_MCP_AUTH_INVALID_TOKEN', 'token.expired'), 'no cause property without a cause')

  const scope = ['a', 'b']
  const scoped = new McpAuthError('FST_MCP_AUTH_INSUFFICIENT_SCOPE', 'scope.missing', { scope })
  scope.push('c')
  t.same(scoped.scope, ['a', 'b'], 'scope is copied')
  t.ok(Object.isFrozen(scoped.scope))
})

t.test('McpAuthError refuses an unknown code', async (t) => {
  t.throws(() => new McpAuthError('FST_NOPE' as McpAuthErrorCode, 'x'), { name: 'TypeError', message: /unknown McpAuthError code FST_NOPE/ })
})

t.test('every reason text fits the RFC 6750 §3 character set and says something specific', async (t) => {
  const reasons: Array<[McpAuthErrorCode, McpAuthRejectReason]> = [
    ['FST_MCP_AUTH_NO_CREDENTIALS', 'credentials.missing'],
    ['FST_MCP_AUTH_NO_CREDENTIALS', 'credentials.unsupported_scheme'],
    ['FST_MCP_AUTH_INVALID_REQUEST', 'credentials.malformed'],
    ['FST_MCP_AUTH_INVALID_REQUEST', 'credentials.duplicate'],
    ['FST_MCP_AUTH_INVALID_REQUEST', 'credentials.in_query'],
    ['FST_MCP_AUTH_INVALID_REQUEST', 'credentials.too_large'],
    ...(['malformed', 'encrypted', 'alg', 'typ', 'crit', 'signature', 'unknown_key', 'issuer', 'audience', 'expired', 'exp_missing', 'nbf', 'iat', 'claims', 'inactive', 'rejected']
      .map((r) => ['FST_MCP_AUTH_INVALID_TOKEN', `token.${r}`] as [McpAuthErrorCode, McpAuthRejectReason])),
    ...(['dpop_required', 'unbound_dpop', 'jkt', 'certificate_missing', 'x5t', 'conflict', 'cnf']
      .map((r) => ['FST_MCP_AUTH_INVALID_TOKEN', `binding.${r}`] as [McpAuthErrorCode, McpAuthRejectReason])),
    ...(['missing', 'duplicate', 'malformed', 'typ', 'alg', 'jwk', 'crit', 'signature', 'claims', 'htm', 'htu', 'iat', 'jti', 'ath', 'replay']
      .map((r) => ['FST_MCP_AUTH_INVALID_DPOP_PROOF', `dpop.${r}`] as [McpAuthErrorCode, McpAuthRejectReason])),
    ['FST_MCP_AUTH_USE_DPOP_NONCE', 'dpop.nonce_missing'],
    ['FST_MCP_AUTH_USE_DPOP_NONCE', 'dpop.nonce_invalid'],
    ['FST_MCP_AUTH_INSUFFICIENT_SCOPE', 'scope.missing'],
    ...(['jwks.unreachable', 'discovery.failed', 'introspection.failed', 'verifier.unavailable', 'replay_store.failed', 'replay_store.full', 'nonce.failed', 'overloaded']
      .map((r) => ['FST_MCP_AUTH_UNAVAILABLE', r] as [McpAuthErrorCode, McpAuthRejectReason])),
  ]
  for (const [code, reason] of reasons) {
    const err = new McpAuthError(code, reason)
    t.match(err.description, DESCRIPTION_SET, reason)
    if (!['credentials.missing', 'scope.missing', 'dpop.nonce_missing'].includes(reason)) {
      t.not(err.description, CODE_TABLE[code].description, `${reason} has its own text`)
    }
  }
})

t.test('reject shorthands read like the wire table', async (t) => {
  const cases: Array<[McpAuthError, string, number, string | undefined, string]> = [
    [reject.noCredentials(), 'FST_MCP_AUTH_NO_CREDENTIALS', 401, undefined, 'credentials.missing'],
    [reject.noCredentials('credentials.unsupported_scheme'), 'FST_MCP_AUTH_NO_CREDENTIALS', 401, undefined, 'credentials.unsupported_scheme'],
    [reject.invalidRequest('credentials.duplicate'), 'FST_MCP_AUTH_INVALID_REQUEST', 400, 'invalid_request', 'credentials.duplicate'],
    [reject.invalidToken('token.audience'), 'FST_MCP_AUTH_INVALID_TOKEN', 401, 'invalid_token', 'token.audience'],
    [reject.invalidProof('dpop.htu'), 'FST_MCP_AUTH_INVALID_DPOP_PROOF', 401, 'invalid_dpop_proof', 'dpop.htu'],
    [reject.useNonce('dpop.nonce_missing'), 'FST_MCP_AUTH_USE_DPOP_NONCE', 401, 'use_dpop_nonce', 'dpop.nonce_missing'],
    [reject.insufficientScope(['mcp:tools:call']), 'FST_MCP_AUTH_INSUFFICIENT_SCOPE', 403, 'insufficient_scope', 'scope.missing'],
    [reject.unavailable('jwks.unreachable'), 'FST_MCP_AUTH_UNAVAILABLE', 503, 'temporarily_unavailable', 'jwks.unreachable'],
  ]
  for (const [err, code, status, oauthError, reason] of cases) {
    t.same([err.code, err.statusCode, err.oauthError, err.reason], [code, status, oauthError, reason], reason)
  }
  t.same(reject.insufficientScope(['mcp:tools:call']).scope, ['mcp:tools:call'])
  const cause = new Error('down')
  t.equal(reject.unavailable('jwks.unreachable', cause).cause, cause)
})

t.test('an invalid option is an McpAuthError FST_MCP_AUTH_INVALID_OPTION that names the option', async (t) => {
  const err = invalidOption('"resource" is required')
  t.ok(err instanceof McpAuthError)
  t.equal(err.code, 'FST_MCP_AUTH_INVALID_OPTION')
  t.equal(err.message, 'mcpAuth option "resource" is required')
  t.equal(err.statusCode, 500)
  t.equal(err.oauthError, undefined, 'never an OAuth answer')
  t.ok(err.stack?.includes('units.test.ts'), 'errors for the developer keep their stack')
})

t.test('every error class shares one base, McpAuthError, and carries a code of the error table (docs/errors.md)', async (t) => {
  const cause = new Error('dns')
  const errors: Array<[McpAuthError, string, number]> = [
    [invalidOption('x'), 'FST_MCP_AUTH_INVALID_OPTION', 500],
    [invalidSetting('RedisReplayStore x'), 'FST_MCP_AUTH_INVALID_OPTION', 500],
    [notRegistered('x'), 'FST_MCP_AUTH_NOT_REGISTERED', 500],
    [invalidRegistration('x'), 'FST_MCP_AUTH_INVALID_REGISTRATION', 500],
    [metadataMissing('x'), 'FST_MCP_AUTH_METADATA_MISSING', 500],
    [warmUpFailed('x', cause), 'FST_MCP_AUTH_WARM_UP_FAILED', 503],
    [new ReplayStoreFullError(3), 'FST_MCP_AUTH_REPLAY_STORE_FULL', 503],
    [new McpHeaderMismatchError('x', 1), 'FST_MCP_AUTH_HEADER_MISMATCH', 400],
    ...Object.keys(CODE_TABLE).filter((code) => CODE_TABLE[code as McpAuthErrorCode].rejection)
      .map((code) => [new McpAuthError(code as McpAuthErrorCode, 'x'), code, CODE_TABLE[code as McpAuthErrorCode].statusCode] as [McpAuthError, string, number]),
  ]
  for (const [err, code, status] of errors) {
    t.ok(err instanceof McpAuthError && err instanceof Error, code)
    t.same([err.code, err.statusCode], [code, status], code)
    t.ok(Object.hasOwn(CODE_TABLE, err.code), `${code} is in the table`)
    t.type(err.reason, 'string')
  }
  t.same(new Set(errors.map(([, code]) => code)), new Set(Object.keys(CODE_TABLE)), 'every row of the table is thrown by something')
  t.equal(warmUpFailed('x', cause).cause, cause)
  t.equal(new ReplayStoreFullError(3).message, 'replay store holds 3 live entries and cannot record more')
  t.equal(new ReplayStoreFullError(3).name, 'ReplayStoreFullError')
  const table = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  for (const code of Object.keys(CODE_TABLE)) t.match(table, new RegExp(`^\\| \`${code}\` \\| ${CODE_TABLE[code as McpAuthErrorCode].statusCode} \\|`, 'm'), `${code} is a row of the error table in docs/errors.md`)
})
