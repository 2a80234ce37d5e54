// lib/rejection.ts without a server: the status, challenge, headers and body of
// every kind of refusal (RFC 6750 §3, RFC 9449 §7.1 and §8, RFC 9728 §5.1).
import t from 'tap'
import { reject } from '../../lib/errors.js'
import { silentLogger } from '../../lib/logger.js'
import { resolveOptions } from '../../lib/options.js'
import type { ResolvedOptions } from '../../lib/options.js'
import { createRejecter, defaultBody, renderErrorBody } from '../../lib/rejection.js'
import type { RefusedRequest } from '../../lib/rejection.js'
import type { McpAuthOptions } from '../../types/index.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

function options (extra: Partial<McpAuthOptions> = {}): ResolvedOptions {
  return resolveOptions({ resource: RESOURCE, authorizationServers: ['https://as.example'], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] }, ...extra } as McpAuthOptions)
}

function refused (resolved: ResolvedOptions, extra: Partial<RefusedRequest> = {}): RefusedRequest {
  return { resource: resolved.resources[0] as RefusedRequest['resource'], routeScopes: undefined, authorization: undefined, crossOrigin: false, request: {}, log: silentLogger, ...extra }
}

t.test('no credentials: 401 with a challenge that has no error (RFC 6750 §3.1), resource_metadata and the scopes to ask for', async (t) => {
  const resolved = options({ resource: { resource: RESOURCE, scopesSupported: ['mcp:tools:read'] } })
  const decide = createRejecter(resolved, silentLogger)
  const r = await decide(reject.noCredentials(), refused(resolved))
  t.equal(r.statusCode, 401)
  t.equal(r.headers['www-authenticate'], `Bearer resource_metadata="${PRM}", scope="mcp:tools:read", DPoP algs="ES256 ES384 PS256 RS256 EdDSA", resource_metadata="${PRM}", scope="mcp:tools:read"`)
  const dpopOnly = options({ resource: RESOURCE, dpop: { required: true } })
  t.equal((await createRejecter(dpopOnly, silentLogger)(reject.noCredentials(), refused(dpopOnly))).headers['www-authenticate'], `DPoP algs="ES256 ES384 PS256 RS256 EdDSA", resource_metadata="${PRM}"`, 'DPoP required: no Bearer challenge')
  t.equal(r.headers['cache-control'], 'no-store')
  t.same(JSON.parse(r.body as string), { error: 'unauthorized', error_description: 'An access token is required' })
  const routed = await decide(reject.noCredentials(), refused(resolved, { routeScopes: ['mcp:tools:call'] }))
  t.match(routed.headers['www-authenticate'], /scope="mcp:tools:call"/, 'a route\'s declared scopes win')
  t.equal((await decide(reject.noCredentials(), refused(resolved))).headers['www-authenticate'], r.headers['www-authenticate'], 'the same challenge again')
})

t.test('invalid_token: the error goes in the challenge of the scheme the client used (RFC 9449 §7.2)', async (t) => {
  const resolved = options({ dpop: {} })
  const decide = createRejecter(resolved, silentLogger)
  const bearer = await decide(reject.invalidToken('token.expired'), refused(resolved, { authorization: 'Bearer x' }))
  t.equal(bearer.statusCode, 401)
  t.match(bearer.headers['www-authenticate'], /^Bearer error="invalid_token", error_description="The access token expired", resource_metadata="[^"]+", DPoP algs="[^"]+", resource_metadata=/)
  const dpop = await decide(reject.invalidToken('token.expired'), refused(resolved, { authorization: 'DPoP x' }))
  t.match(dpop.headers['www-authenticate'], /^Bearer resource_metadata="[^"]+", DPoP error="invalid_token"/)
  t.same(JSON.parse(dpop.body as string), { error: 'invalid_token', error_description: 'The access token expired' })
})

t.test('insufficient_scope: 403 naming every scope the operation needs', async (t) => {
  const resolved = options()
  const r = await createRejecter(resolved, silentLogger)(reject.insufficientScope(['a', 'b']), refused(resolved, { routeScopes: ['a'] }))
  t.equal(r.statusCode, 403)
  t.match(r.headers['www-authenticate'], /error="insufficient_scope".*scope="a b"/)
})

t.test('503: Retry-After and no challenge; 500: neither', async (t) => {
  const resolved = options({ retryAfter: 7 })
  const decide = createRejecter(resolved, silentLogger)
  const outage = await decide(reject.unavailable('jwks.unreachable'), refused(resolved))
  t.equal(outage.statusCode, 503)
  t.equal(outage.headers['retry-after'], '7')
  t.equal(outage.headers['www-authenticate'], undefined)
  const internal = await decide(reject.internal('principal.failed'), refused(resolved))
  t.equal(internal.statusCode, 500)
  t.equal(internal.headers['www-authenticate'], undefined)
  t.equal(internal.headers['retry-after'], undefined)
  t.same(JSON.parse(internal.body as string), { error: 'server_error', error_description: 'Internal error' })
})

t.test('use_dpop_nonce carries a fresh DPoP-Nonce (RFC 9449 §8); a provider that fails turns it into a 503', async (t) => {
  let issued = 0
  const provider = { issue: () => `nonce-${++issued}`, check: () => 'valid' as const }
  const resolved = options({ dpop: { nonce: provider } })
  const decide = createRejecter(resolved, silentLogger)
  const r = await decide(reject.useNonce('dpop.nonce_missing'), refused(resolved, { authorization: 'DPoP x', crossOrigin: true }))
  t.equal(r.statusCode, 401)
  t.equal(r.headers['dpop-nonce'], 'nonce-1')
  t.match(r.headers['www-authenticate'], /DPoP error="use_dpop_nonce"/)
  t.equal(r.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce', 'a browser may read them')
  const failing = options({ dpop: { nonce: { issue: () => { throw new Error('down') }, check: () => 'valid' as const } } })
  const down = await createRejecter(failing, silentLogger)(reject.useNonce('dpop.nonce_missing'), refused(failing))
  t.equal(down.statusCode, 503)
  t.equal(down.error.reason, 'nonce.failed')
  t.equal(down.headers['dpop-nonce'], undefined)
  const bad = options({ dpop: { nonce: { issue: () => 'has space', check: () => 'valid' as const } } })
  t.equal((await createRejecter(bad, silentLogger)(reject.useNonce('dpop.nonce_missing'), refused(bad))).statusCode, 503, 'a nonce outside 1*NQCHAR is a provider failure')
})

t.test('renderErrorBody: errorRenderer\'s body, else (or when it throws) the default, logged', async (t) => {
  const err = reject.invalidToken('token.expired')
  const logged: Array<[object, string]> = []
  const log = { ...silentLogger, error: (obj: object, msg: string) => { logged.push([obj, msg]) } }
  t.same(await renderErrorBody(async (e) => ({ custom: e.reason }), err, {}, log), { custom: 'token.expired' })
  t.equal(await renderErrorBody(() => { throw new Error('boom') }, err, {}, log), defaultBody(err))
  t.same(logged, [[{ err: { name: 'Error', code: undefined, message: 'boom' } }, 'mcp-auth: errorRenderer threw; sending the default body']])
  t.equal(await renderErrorBody(undefined, err, {}, log), defaultBody(err))
  t.equal(logged.length, 1, 'no errorRenderer: the default body, and nothing to log')
})
