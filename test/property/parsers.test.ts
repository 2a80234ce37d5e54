// Adversarial input, property-based (fast-check): the header parsers, JWT
// segment decoding, URI normalization for `htu`, resource URIs and metadata
// paths, and scope parsing never throw anything but an McpAuthError, and
// through app.inject junk never earns a 500, a 2xx or a malformed challenge.
// Counterexamples fast-check found are kept below as regular example tests.
import assert from 'node:assert/strict'
import { KeyObject, randomUUID, sign } from 'node:crypto'
import type { webcrypto } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import fc from 'fast-check'
import t from 'tap'
import { decodeSegment } from '../../lib/compact-jws.js'
import { readScopes } from '../../lib/claims.js'
import { checkTokenSyntax, countCredentialLines, extractCredentials } from '../../lib/credentials.js'
import type { CredentialInput, ExtractOptions } from '../../lib/credentials.js'
import { normalizeHttpUri } from '../../lib/dpop/proof.js'
import { isMcpAuthError } from '../../lib/errors.js'
import { jwkThumbprint } from '../../lib/jwk-thumbprint.js'
import { McpHeaderMismatchError, mcpOperationScopes } from '../../lib/mcp-operations.js'
import { audienceKey, parseResource } from '../../lib/resource.js'
import type { ParsedResource } from '../../lib/resource.js'
import { scopeGrants } from '../../lib/scopes.js'
import { PROTECTED_RESOURCE_WELL_KNOWN, protectedResourceMetadataPath, protectedResourceMetadataUrl } from '../../lib/well-known.js'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createDpopKey, createDpopProof } from '../../testing.js'
import { accessTokenHash } from '../../lib/testing/dpop.js'
import type { DpopKey } from '../../testing.js'
import { buildApp, parseChallenges, PRM, RESOURCE } from '../helpers/app.js'

// Pure properties are cheap; inject-based ones are kept to ~200 runs each.
const PURE_RUNS = 1000
const INJECT_RUNS = 200

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 §2.1)
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64TOKEN_ALPHABET = B64URL_ALPHABET + '.~+/'
// Names that are also Object.prototype members: lookup tables keyed by input must not see them.
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__']

// ——— arbitraries ———

const charOf = (min: number, max: number): fc.Arbitrary<string> => fc.integer({ min, max }).map((c) => String.fromCharCode(c))
/** Any UTF-16 code unit, lone surrogates included. */
const anyUnitString = fc.string({ unit: charOf(0, 0xffff), maxLength: 80 })
const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), anyUnitString)
/** What a header value can hold on the wire: HTAB, visible ASCII, SP and obs-text (RFC 9110 §5.5). */
const headerChar = fc.oneof({ weight: 8, arbitrary: charOf(0x20, 0x7e) }, { weight: 1, arbitrary: fc.constant('\t') }, { weight: 1, arbitrary: charOf(0x80, 0xff) })
const headerString = (maxLength = 200): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength })
const b64urlSegment = (maxLength = 60): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...B64URL_ALPHABET), maxLength })
const b64token = fc.tuple(fc.string({ unit: fc.constantFrom(...B64TOKEN_ALPHABET), minLength: 1, maxLength: 120 }), fc.string({ unit: fc.constant('='), maxLength: 3 }))
  .map(([body, pad]) => body + pad)
const jwtShaped = fc.array(b64urlSegment(), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.'))
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'DPoP', 'dpop', 'DPOP', 'Basic', 'Digest', 'Negotiate', 'Bearer,', 'Bearer:', 'DPoP=', '')
const separator = fc.string({ unit: fc.constantFrom(' ', '\t', '\u00a0', '\u2028', '\ufeff', '\r', '\n', ','), maxLength: 3 })

const b64 = (value: string | Uint8Array): string => (typeof value === 'string' ? Buffer.from(value) : Buffer.from(value)).toString('base64url')
const encode = (value: unknown): string => b64(JSON.stringify(value))

/** JSON bombs: deeply nested arrays or objects, alone or inside an otherwise plausible header. */
const depth = fc.integer({ min: 1, max: 2500 })
const nestedArrays = depth.map((n) => '['.repeat(n) + ']'.repeat(n))
const nestedObjects = depth.map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n))
const bombJson = fc.oneof(
  nestedArrays,
  nestedObjects,
  fc.tuple(nestedArrays, fc.constantFrom('alg', 'typ', 'kid', 'jwk', 'iss', 'aud', 'cnf', 'scope'))
    .map(([bomb, name]) => `{"alg":"ES256","typ":"at+jwt",${JSON.stringify(name)}:${bomb}}`),
  fc.tuple(nestedObjects, fc.constantFrom('jwk', 'x', 'crit'))
    .map(([bomb, name]) => `{"typ":"dpop+jwt","alg":"ES256",${JSON.stringify(name)}:${bomb}}`),
  // Many members, long strings, and a duplicate member name.
  fc.integer({ min: 1, max: 600 }).map((n) => '{' + Array.from({ length: n }, (_, i) => `"m${i}":${i}`).join(',') + '}'),
  fc.constant('{"alg":"ES256","alg":"none","typ":"at+jwt"}')
)
const bombJwt = fc.tuple(fc.oneof(bombJson, fc.constant('{"alg":"ES256","typ":"at+jwt"}')), fc.oneof(bombJson, fc.constant('{}')), b64urlSegment(90))
  .map(([header, payload, signature]) => `${b64(header)}.${b64(payload)}.${signature}`)
const oversized = fc.tuple(fc.integer({ min: 7000, max: 8400 }), fc.constantFrom('A', 'a.', '_-', '9'))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n))

/** A JSON value of a type other than `type` (wrong-type header and claim members). */
const notA = (type: 'string' | 'number' | 'object'): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth: 3 }).filter((v) => {
  if (type === 'object') return typeof v !== 'object' || v === null || Array.isArray(v)
  return type === 'string' ? typeof v !== 'string' : typeof v !== 'number'
})

// ——— pure functions ———

t.test('extractCredentials: never throws anything but McpAuthError; what it returns is a well-formed credential', async () => {
  const input: fc.Arbitrary<CredentialInput> = fc.record({
    authorization: fc.option(fc.oneof(
      anyString,
      fc.tuple(scheme, separator, fc.oneof(b64token, jwtShaped, anyString, oversized)).map(([s, sep, rest]) => s + sep + rest)
    ), { nil: undefined }),
    authorizationLines: fc.nat(3),
    dpop: fc.option(anyString, { nil: undefined }),
    dpopLines: fc.nat(3),
    queryToken: fc.boolean(),
  })
  const options: fc.Arbitrary<ExtractOptions> = fc.record({ dpopEnabled: fc.boolean(), maxTokenLength: fc.integer({ min: 1, max: 9000 }) })
  fc.assert(fc.property(input, options, (input, options) => {
    let credentials
    try {
      // Extraction, then the token's syntax (the verifier's first step on a miss).
      credentials = extractCredentials(input, options)
      checkTokenSyntax(credentials.token)
    } catch (err) {
      assert.ok(isMcpAuthError(err), `threw a non-McpAuthError: ${String(err)}`)
      assert.ok(err.statusCode === 400 || err.statusCode === 401, `status ${err.statusCode}`)
      return
    }
    assert.match(credentials.token, B64TOKEN)
    assert.ok(credentials.scheme === 'bearer' || (credentials.scheme === 'dpop' && options.dpopEnabled), credentials.scheme)
    assert.ok(credentials.token.length <= options.maxTokenLength)
    assert.equal(input.queryToken, false, 'a query token is always refused')
    assert.ok(input.authorizationLines <= 1, 'two Authorization lines are always refused')
    assert.equal(credentials.proof, input.dpop)
    // The token is the tail of the header, after the scheme and single spaces.
    assert.ok(input.authorization?.endsWith(' ' + credentials.token))
  }), { numRuns: PURE_RUNS })
})

t.test('extractCredentials: a well-formed header is accepted as written', async () => {
  fc.assert(fc.property(fc.constantFrom('Bearer', 'bearer', 'DPoP', 'dpop'), fc.integer({ min: 1, max: 4 }), b64token, (s, spaces, token) => {
    const credentials = extractCredentials(
      { authorization: s + ' '.repeat(spaces) + token, authorizationLines: 1, dpop: undefined, dpopLines: 0, queryToken: false },
      { dpopEnabled: true, maxTokenLength: 8192 })
    assert.equal(credentials.token, token)
    assert.equal(credentials.scheme, s.toLowerCase())
  }), { numRuns: PURE_RUNS })
})

t.test('countCredentialLines: counts Authorization and DPoP names case-insensitively, never throws', async () => {
  const name = fc.oneof(
    fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn', 'DPoP', 'dpop', 'DPOP', 'Dpop'),
    fc.constantFrom('Authorization ', 'authorizatio', 'x-authorization', 'dpop-nonce', 'DPo', 'Host', '', 'AUTHORİZATION', 'dpoP\u0000'),
    anyString
  )
  fc.assert(fc.property(fc.array(fc.oneof(name, anyString), { maxLength: 24 }), (raw) => {
    const counted = countCredentialLines(raw)
    let authorization = 0
    let dpop = 0
    for (let i = 0; i < raw.length; i += 2) {
      const lower = (raw[i] as string).toLowerCase()
      if (lower === 'authorization') authorization++
      if (lower === 'dpop') dpop++
    }
    assert.deepEqual(counted, { authorization, dpop })
  }), { numRuns: PURE_RUNS })
})

t.test('decodeSegment: never throws; returns undefined or a plain object', async () => {
  const segment = fc.oneof(
    anyString,
    b64urlSegment(200),
    fc.uint8Array({ maxLength: 300 }).map(b64),
    fc.json().map(b64),
    bombJson.map(b64),
    fc.string({ unit: 'binary' }).map(b64)
  )
  fc.assert(fc.property(segment, (s) => {
    const value = decodeSegment(s)
    assert.ok(value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value)))
  }), { numRuns: PURE_RUNS })
  // Round trip for objects.
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), (object) => {
    const json = JSON.parse(JSON.stringify(object)) as unknown
    assert.deepEqual(decodeSegment(encode(object)), json)
  }), { numRuns: PURE_RUNS })
})

/** URI-shaped strings: scheme and host case, ports, dot segments, percent-encodings, user info, query, fragment. */
const uriLike = fc.tuple(
  fc.constantFrom('http', 'https', 'HTTP', 'HtTpS', 'ftp', 'javascript', 'file', 'ws', ''),
  fc.constantFrom('://', ':/', ':', ':///', ':\\\\', '://user:pw@', '://@', '://\t'),
  fc.oneof(fc.domain(), fc.constantFrom('MCP.Example.COM', 'localhost', '127.0.0.1', '[::1]', '[::FFFF:7f00:1]', 'xn--nxasmq6b', 'ex%41mple.com', 'a..b', '', 'ÉXAMPLE.com', '0x7f.1')),
  fc.constantFrom('', ':80', ':443', ':0', ':8080', ':65535', ':65536', ':99999', ':', ':a'),
  fc.array(fc.oneof(
    fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2E', '%41', '%7e', '%7E', '%2f', '%2F', '%25', '%zz', '%', '%4', 'a b', 'é', '\\', '', ';x=1', '%00', '%C3%A9', '~', '@', ':'),
    fc.string({ maxLength: 6 })
  ), { maxLength: 6 }).map((segments) => segments.map((s) => '/' + s).join('')),
  fc.constantFrom('', '?', '?q=1', '?access_token=x', '#', '#frag', '?a#b', '/?', '\\?x')
).map((parts) => parts.join(''))
const uriInput = fc.oneof(uriLike, fc.webUrl({ withQueryParameters: true, withFragments: true, validSchemes: ['http', 'https'] }), anyString)

t.test('normalizeHttpUri: never throws; the result is idempotent and has no query or fragment', async () => {
  fc.assert(fc.property(uriInput, (value) => {
    const normalized = normalizeHttpUri(value)
    if (normalized === undefined) return
    assert.ok(!normalized.includes('?') && !normalized.includes('#'), normalized)
    assert.match(normalized, /^https?:\/\/[^/@]*(\/|$)/)
    assert.equal(normalizeHttpUri(normalized), normalized, `not idempotent for ${JSON.stringify(value)}`)
  }), { numRuns: PURE_RUNS })
})

t.test('parseResource and audienceKey: never throw; the canonical form is a fixed point', async () => {
  fc.assert(fc.property(fc.oneof(uriInput, fc.anything()), (value) => {
    const parsed = parseResource(value)
    if (typeof parsed === 'string') return
    assert.ok(Object.isFrozen(parsed))
    assert.equal(parsed.uri, parsed.origin + parsed.path + parsed.query)
    assert.ok(!parsed.uri.includes('#'))
    // Parsing the canonical form gives it back, and it compares as the configured value does.
    const again = parseResource(parsed.uri) as ParsedResource
    assert.equal(typeof again, 'object', `canonical form ${parsed.uri} is rejected`)
    assert.equal(again.uri, parsed.uri)
    const key = audienceKey(parsed.uri)
    assert.ok(key !== undefined)
    assert.equal(audienceKey(value as string), key, 'the configured and canonical forms compare equal')
    assert.equal(audienceKey(key), key, 'audienceKey is idempotent on resources')
  }), { numRuns: PURE_RUNS })
  fc.assert(fc.property(uriInput, (value) => {
    const key = audienceKey(value)
    if (key !== undefined) assert.equal(audienceKey(key), key, `audienceKey not idempotent for ${JSON.stringify(value)}`)
  }), { numRuns: PURE_RUNS })
})

t.test('protectedResourceMetadataPath: always the well-known prefix, path inserted, never appended', async () => {
  fc.assert(fc.property(uriInput, (value) => {
    const parsed = parseResource(value)
    if (typeof parsed === 'string') return
    const path = protectedResourceMetadataPath(parsed)
    assert.ok(path.startsWith(PROTECTED_RESOURCE_WELL_KNOWN), path)
    const rest = path.slice(PROTECTED_RESOURCE_WELL_KNOWN.length)
    assert.ok(rest === '' || (rest.startsWith('/') && rest !== '/'), `inserted path ${JSON.stringify(rest)}`)
    assert.equal(rest, parsed.path === '/' ? '' : parsed.path)
    assert.equal(protectedResourceMetadataUrl(parsed), parsed.origin + path + parsed.query)
  }), { numRuns: PURE_RUNS })
})

t.test('readScopes: never throws; no empty strings, no duplicates', async () => {
  const scopeText = fc.array(fc.constantFrom('mcp:tools:call', 'a', 'A', '', ' ', '  ', '\t', 'mcp:tools', 'a:b'), { maxLength: 8 }).map((parts) => parts.join(' '))
  const claim = fc.oneof(fc.constant(undefined), scopeText, anyString, fc.array(fc.oneof(scopeText, fc.string()), { maxLength: 6 }), fc.anything())
  fc.assert(fc.property(claim, claim, (scope, scp) => {
    const scopes = readScopes(scope, scp)
    if (scopes === undefined) return
    assert.ok(Array.isArray(scopes))
    for (const s of scopes) assert.ok(typeof s === 'string' && s !== '', JSON.stringify(s))
    assert.equal(new Set(scopes).size, scopes.length, 'duplicates')
    if (typeof scope === 'string') for (const s of scope.split(' ')) if (s !== '') assert.ok(scopes.includes(s), `lost ${s}`)
  }), { numRuns: PURE_RUNS })
})

t.test('scopeGrants: reflexive; hierarchical grants are case-sensitive prefixes on a ":" boundary', async () => {
  const scopeString = fc.oneof(
    fc.array(fc.constantFrom('mcp', 'MCP', 'tools', 'call', ':', '*', 'a', ''), { maxLength: 6 }).map((parts) => parts.join('')),
    fc.array(fc.constantFrom('mcp', 'Mcp', 'tools', 'call', '*', 'x'), { maxLength: 4 }).map((parts) => parts.join(':')),
    fc.string()
  )
  const mode = fc.constantFrom('hierarchical' as const, 'exact' as const)
  fc.assert(fc.property(scopeString, scopeString, mode, fc.boolean(), (granted, required, mode, wildcards) => {
    assert.equal(scopeGrants(granted, granted, mode, wildcards), true, 'reflexive')
    const result = scopeGrants(granted, required, mode, wildcards)
    if (!wildcards || !granted.endsWith('*')) {
      const expected = mode === 'exact' ? granted === required : granted === required || required.startsWith(granted + ':')
      assert.equal(result, expected, `${JSON.stringify(granted)} → ${JSON.stringify(required)} (${mode})`)
    } else if (result && granted !== required && granted !== '*') {
      // prefix:* covers only what lies below "prefix:", case-sensitively.
      assert.ok(required.startsWith(granted.slice(0, -1)) && granted.endsWith(':*'))
    }
  }), { numRuns: PURE_RUNS })
})

t.test('mcpOperationScopes: any JSON-RPC body and Mcp-* headers → scopes or McpHeaderMismatchError, nothing else', async () => {
  const scopesFor = mcpOperationScopes({ tools: { search: ['s:call'] }, resources: { 'file:///a': ['r'] }, methods: { 'tools/list': ['l'] }, default: ['d'] })
  const method = fc.oneof(fc.constantFrom('tools/call', 'resources/read', 'prompts/get', 'tools/list', 'initialize', ...PROTOTYPE_KEYS), fc.string(), fc.jsonValue({ maxDepth: 1 }))
  const params = fc.oneof(
    fc.dictionary(fc.oneof(fc.constantFrom('name', 'uri', 'undefined', ...PROTOTYPE_KEYS), fc.string()), fc.oneof(fc.constantFrom('search', 'file:///a'), fc.jsonValue({ maxDepth: 1 }))),
    fc.jsonValue({ maxDepth: 2 })
  )
  const message = fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)), method, params }, { requiredKeys: ['jsonrpc'] })
  const body = fc.oneof(message, fc.array(message, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 }))
  const headers = fc.record({
    'mcp-method': fc.option(fc.oneof(fc.constantFrom('tools/call', '__proto__'), fc.string()), { nil: undefined }),
    'mcp-name': fc.option(fc.oneof(fc.constantFrom('search', '=?base64?c2VhcmNo?='), fc.string()), { nil: undefined }),
    'mcp-protocol-version': fc.option(fc.constantFrom('2025-06-18', '2026-07-28', '9999'), { nil: undefined }),
  }, { requiredKeys: [] })
  fc.assert(fc.property(body, headers, (body, headers) => {
    let scopes
    try {
      scopes = scopesFor({ body, headers })
    } catch (err) {
      assert.ok(err instanceof McpHeaderMismatchError, `threw ${String(err)}`)
      return
    }
    assert.ok(Array.isArray(scopes) && scopes.every((s) => typeof s === 'string'))
  }), { numRuns: PURE_RUNS })
})

// ——— end to end: app.inject ———

interface Fixture {
  app: FastifyInstance
  key: DpopKey
  /** A valid access token bound to `key`. */
  token: string
  issuerName: string
}

const { app, issuer } = await buildApp(t)
const dpopKey = await createDpopKey()
const fixture: Fixture = { app, key: dpopKey, token: await issuer.mintAccessToken({}, { bindTo: { jkt: dpopKey.jkt } }), issuerName: issuer.issuer }

const OAUTH_401_ERRORS = new Set(['unauthorized', 'invalid_token', 'invalid_dpop_proof', 'use_dpop_nonce'])

/** 400 or 401, never 2xx or 5xx, with a well-formed challenge that carries resource_metadata. */
function assertRejected (res: LightMyRequestResponse, allowed: ReadonlySet<number> = new Set([400, 401])): void {
  assert.ok(allowed.has(res.statusCode), `status ${res.statusCode}: ${res.body.slice(0, 300)}`)
  assert.equal(res.headers['cache-control'], 'no-store')
  const header = res.headers['www-authenticate']
  assert.equal(typeof header, 'string', 'one WWW-Authenticate value')
  // RFC 6750 §3: no '"', '\' or non-ASCII inside values; the whole header is visible ASCII.
  assert.match(header as string, /^[\x20-\x7e]+$/)
  assert.ok(!(header as string).includes('\\'), header as string)
  const challenges = parseChallenges(header)
  assert.ok(challenges.length >= 1 && challenges.length <= 2, header as string)
  assert.equal(challenges[0]?.scheme, 'Bearer', 'Bearer first')
  for (const c of challenges) {
    assert.ok(c.scheme === 'Bearer' || c.scheme === 'DPoP', c.scheme)
    assert.equal(c.params.resource_metadata, PRM, `${c.scheme} resource_metadata`)
  }
  const body = res.json() as { error?: unknown, error_description?: unknown }
  assert.equal(typeof body.error_description, 'string')
  if (res.statusCode === 400) {
    assert.equal(body.error, 'invalid_request')
    assert.ok(challenges.some((c) => c.params.error === 'invalid_request'))
  } else {
    assert.ok(OAUTH_401_ERRORS.has(body.error as string), String(body.error))
    if (body.error !== 'unauthorized') assert.ok(challenges.some((c) => c.params.error === body.error), `${String(body.error)} in a challenge`)
  }
}

function inject (headers: Record<string, string | string[]>, method: 'GET' | 'POST' = 'GET'): Promise<LightMyRequestResponse> {
  return fixture.app.inject({ method, url: '/mcp', headers })
}

const authorizationValue = fc.oneof(
  headerString(),
  fc.tuple(scheme, fc.constantFrom(' ', '  ', '\t', ''), fc.oneof(headerString(), jwtShaped, b64token)).map(([s, sep, rest]) => s + sep + rest),
  fc.tuple(scheme, oversized).map(([s, token]) => `${s} ${token}`),
  fc.tuple(fc.constantFrom('Bearer', 'DPoP'), bombJwt).map(([s, token]) => `${s} ${token}`)
)
const dpopValue = fc.oneof(headerString(), jwtShaped, bombJwt, oversized, fc.array(jwtShaped, { minLength: 2, maxLength: 3 }).map((v) => v.join(', ')))

t.test('inject: arbitrary Authorization values → 400 or 401 with a well-formed challenge', async () => {
  await fc.assert(fc.asyncProperty(authorizationValue, fc.constantFrom('GET' as const, 'POST' as const), async (authorization, method) => {
    assertRejected(await inject({ authorization }, method))
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: arbitrary Authorization and DPoP values, repeated lines included → 400 or 401', async () => {
  const lines = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | T[]> => fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }) })
  await fc.assert(fc.asyncProperty(lines(authorizationValue), lines(dpopValue), async (authorization, dpop) => {
    assertRejected(await inject({ authorization: authorization as string, dpop: dpop as string }))
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: arbitrary query strings → 400 for access_token, else 401; never a 5xx', async () => {
  const query = fc.oneof(
    headerString(60).map((q) => q.replace(/[#\s]/g, '')),
    fc.tuple(fc.constantFrom('access_token', 'ACCESS_TOKEN', 'access%5Ftoken', 'access_token[]', 'a', '__proto__', 'constructor'), fc.constantFrom('=', '', '=%zz', '=a&access_token=b', '[x]=1')).map(([k, v]) => k + v)
  )
  await fc.assert(fc.asyncProperty(query, fc.option(authorizationValue, { nil: undefined }), async (q, authorization) => {
    const res = await fixture.app.inject({ method: 'GET', url: `/mcp?${q}`, headers: authorization === undefined ? {} : { authorization } })
    assertRejected(res)
    if (/(^|&)access_token(=|&|$)/.test(q)) assert.equal(res.statusCode, 400, 'a query token is refused')
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: a valid DPoP-bound token with a junk DPoP header → 401, never a pass', async () => {
  const { token } = fixture
  await fc.assert(fc.asyncProperty(fc.option(dpopValue, { nil: undefined }), fc.constantFrom('DPoP', 'Bearer'), async (dpop, s) => {
    const headers: Record<string, string> = { authorization: `${s} ${token}` }
    if (dpop !== undefined) headers.dpop = dpop
    assertRejected(await inject(headers), new Set([401]))
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: access tokens with wrong-typed alg / typ (and any kid, jwk) → 401 invalid_token', async () => {
  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: fixture.issuerName, aud: RESOURCE, sub: 'u', exp: now + 300, iat: now, scope: 'mcp:tools:call' }
  const header = fc.record({
    alg: fc.oneof(notA('string'), fc.constantFrom('none', 'HS256', 'es256', 'ES256 ', '', 'RSA-OAEP')),
    typ: fc.oneof(notA('string'), fc.constantFrom('at+jwt', 'JWT', 'dpop+jwt', '')),
    kid: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
    jwk: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
    jku: fc.option(fc.oneof(fc.webUrl(), notA('string')), { nil: undefined }),
  }, { requiredKeys: [] })
  await fc.assert(fc.asyncProperty(header, b64urlSegment(90), async (h, signature) => {
    const token = `${encode(h)}.${encode(claims)}.${signature}`
    const res = await inject({ authorization: `Bearer ${token}` })
    assertRejected(res, new Set([401]))
    assert.equal(res.json().error, 'invalid_token')
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: an issuer-signed token whose kid or typ has any JSON type → never a 5xx', async () => {
  await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 2 }), fc.oneof(fc.constant('at+jwt'), notA('string')), async (kid, typ) => {
    const token = await issuer.mintAccessToken({ scope: 'mcp:tools:call' }, { header: { kid, typ } })
    const res = await inject({ authorization: `Bearer ${token}` })
    if (typ === 'at+jwt') {
      // A genuine signature from a trusted key: the kid is only a hint.
      assert.ok(res.statusCode === 200 || res.statusCode === 401, `status ${res.statusCode}: ${res.body}`)
      if (res.statusCode === 401) assertRejected(res, new Set([401]))
    } else {
      assertRejected(res, new Set([401]))
    }
  }), { numRuns: INJECT_RUNS })
})

/** Signs any header and payload with the key (ES256), for shapes createDpopProof cannot express. */
function forge (key: DpopKey, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${encode(header)}.${encode(payload)}`
  const privateKey = KeyObject.from(key.privateKey as unknown as webcrypto.CryptoKey)
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

const PROOF_FIELDS = ['typ', 'alg', 'jwk', 'jti', 'htm', 'htu', 'iat', 'ath', 'nonce'] as const
type ProofField = typeof PROOF_FIELDS[number]

t.test('inject: signed DPoP proofs with one or more wrong members (types, values, prototype-named kty) → 401 invalid_dpop_proof', async () => {
  const { key, token } = fixture
  const otherKey = await createDpopKey()
  const wrong: { [F in ProofField]: fc.Arbitrary<unknown> } = {
    typ: fc.oneof(notA('string'), fc.constantFrom('JWT', 'at+jwt', 'dpop', 'dpop+jwt ', '')),
    alg: fc.oneof(notA('string'), fc.constantFrom('none', 'HS256', 'es256', 'ES256K', '')),
    jwk: fc.oneof(
      notA('object'),
      fc.constantFrom(...PROTOTYPE_KEYS).map((kty) => ({ kty })),
      fc.constantFrom(...PROTOTYPE_KEYS).map((kty) => ({ ...key.publicJwk, kty })),
      fc.constant({ ...key.publicJwk, d: 'AAAA' }),
      fc.constant(otherKey.publicJwk),
      fc.record({ kty: fc.constantFrom('EC', 'RSA', 'OKP', 'AKP', 'oct'), crv: fc.jsonValue({ maxDepth: 1 }), x: fc.jsonValue({ maxDepth: 1 }), y: fc.jsonValue({ maxDepth: 1 }) })
    ),
    jti: fc.oneof(notA('string'), fc.constant(''), fc.constant('j'.repeat(257))),
    htm: fc.oneof(notA('string'), fc.constantFrom('get', 'POST', 'GET ', '')),
    htu: fc.oneof(notA('string'), fc.webUrl().filter((u) => normalizeHttpUri(u) !== normalizeHttpUri(RESOURCE)), fc.constantFrom('https://mcp.example.com/mcp/', 'https://mcp.example.com/', '/mcp', 'https://evil.example/mcp')),
    iat: fc.oneof(notA('number'), fc.integer({ min: 302, max: 1e9 }).chain((d) => fc.constantFrom(d, -d)).map((d) => Math.floor(Date.now() / 1000) + d)),
    ath: fc.oneof(notA('string'), b64urlSegment(43)),
    nonce: notA('string'),
  }
  const which = fc.oneof(fc.constantFrom(...PROOF_FIELDS).map((f) => [f]), fc.subarray([...PROOF_FIELDS], { minLength: 1 }))
  const values = fc.record(wrong)
  await fc.assert(fc.asyncProperty(which, values, fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), async (fields, bad, kid) => {
    const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }
    if (kid !== undefined) header.kid = kid
    const claims: Record<string, unknown> = { jti: randomUUID(), htm: 'GET', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) }
    for (const field of fields) {
      const target = field === 'typ' || field === 'alg' || field === 'jwk' ? header : claims
      target[field] = bad[field]
    }
    const res = await inject({ authorization: `DPoP ${token}`, dpop: forge(key, header, claims) })
    assertRejected(res, new Set([401]))
    assert.ok(res.json().error === 'invalid_dpop_proof' || res.json().error === 'invalid_token', res.json().error)
  }), { numRuns: INJECT_RUNS })
})

t.test('inject: a signed DPoP proof whose jwk.kty names an Object.prototype member, every other member valid → 401', async () => {
  const { key, token } = fixture
  const jwk = fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.constantFrom({}, key.publicJwk, { undefined: 'x' }))
    .map(([kty, members]) => ({ ...members, kty }))
  await fc.assert(fc.asyncProperty(jwk, async (jwk) => {
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk }
    const claims = { jti: randomUUID(), htm: 'GET', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) }
    const res = await inject({ authorization: `DPoP ${token}`, dpop: forge(key, header, claims) })
    assertRejected(res, new Set([401]))
    assert.equal(res.json().error, 'invalid_dpop_proof')
  }), { numRuns: 50 })
})

t.test('inject: the fixture itself is accepted (the properties above are not vacuous)', async (t) => {
  const { key, token } = fixture
  const res = await inject({ authorization: `DPoP ${token}`, dpop: await createDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token }) })
  t.equal(res.statusCode, 200)
  const forged = forge(key, { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }, { jti: randomUUID(), htm: 'GET', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) })
  t.equal((await inject({ authorization: `DPoP ${token}`, dpop: forged })).statusCode, 200, 'a forge()d proof with every member right is accepted')
})

// ——— counterexamples found by the properties above, kept as examples ———

t.test('counterexample: DPoP proof jwk {"kty":"__proto__"} → 401 invalid_dpop_proof, not 500 "members is not iterable"', async (t) => {
  // Shrunk by fast-check: every proof member valid except jwk = { kty: '__proto__' }.
  // jwkThumbprint and PUBLIC_MEMBERS look kty up in plain objects, so '__proto__'
  // (or 'toString', 'valueOf', …) finds Object.prototype members instead of undefined.
  const { key, token } = fixture
  for (const jwk of [{ kty: '__proto__' }, { kty: 'toString' }, { kty: 'valueOf' }, { ...key.publicJwk, kty: '__proto__' }, { kty: 'constructor', undefined: 'x' }]) {
    const claims = { jti: randomUUID(), htm: 'GET', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) }
    const res = await inject({ authorization: `DPoP ${token}`, dpop: forge(key, { typ: 'dpop+jwt', alg: 'ES256', jwk }, claims) })
    t.equal(res.statusCode, 401, `jwk ${JSON.stringify(jwk).slice(0, 40)}: 401`)
    t.equal(res.json().error, 'invalid_dpop_proof', 'invalid_dpop_proof')
  }
})

t.test('counterexample: jwkThumbprint of a JWK whose kty is an Object.prototype member is undefined', async (t) => {
  t.equal(jwkThumbprint({ kty: '__proto__' }), undefined, '__proto__')
  t.equal(jwkThumbprint({ kty: 'toString' }), undefined, 'toString')
  t.equal(jwkThumbprint({ kty: 'constructor', undefined: 'x' }), undefined, 'constructor')
})

t.test('counterexample: mcpOperationScopes with method "__proto__" / "constructor" and params { undefined: "x" } → the default scopes', async (t) => {
  // NAMED[method] is a plain-object lookup: '__proto__' finds Object.prototype, whose
  // .table is undefined, so tables[undefined].get(...) throws a TypeError.
  const scopesFor = mcpOperationScopes({ tools: { search: ['s:call'] }, default: ['d'] })
  for (const method of ['__proto__', 'constructor', 'hasOwnProperty']) {
    const body = { jsonrpc: '2.0', id: 1, method, params: { undefined: 'x' } }
    let scopes: unknown
    try {
      scopes = scopesFor({ body, headers: {} })
    } catch (err) {
      scopes = err
    }
    t.same(scopes, ['d'], method)
  }
  // Through requireScopes: an authenticated request must not earn a 500.
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys } } as McpAuthOptions)
  app.post('/mcp', { preHandler: requireScopes(scopesFor) }, async () => ({ ok: true }))
  const token = await issuer.mintAccessToken({ scope: 'd' })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` }, payload: { jsonrpc: '2.0', id: 1, method: '__proto__', params: { undefined: 'x' } } })
  t.equal(res.statusCode, 200, `not a 500: ${res.body}`)
})
