// Option validation of mcpAuthorizationServer (every refusal names the option
// and the fix; secrets are never echoed), the signing keys, and the default
// scope rule, as units.
import { generateKeyPairSync } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import { developmentInteractions, mcpAuthorizationServer } from '../../authorization-server.js'
import type { McpAuthorizationServerOptions } from '../../authorization-server.js'
import { defaultScope } from '../../lib/authorization-server/default-scopes.js'
import { resolveAsOptions } from '../../lib/authorization-server/options.js'
import { resolveSigningKeys } from '../../lib/authorization-server/signing-keys.js'
import { asOptions, COOKIE_KEYS } from '../helpers/authorization-server.js'

const base = asOptions('https://auth.example.com')
const resolve = (overrides: Record<string, unknown>) => resolveAsOptions({ ...base, ...overrides } as McpAuthorizationServerOptions, 'test')
const jwk = (kind: 'ec' | 'rsa' | 'ed25519') => (kind === 'ec'
  ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  : kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey.export({ format: 'jwk' }) as Record<string, string>

t.test('issuer: canonical, no trailing slash, no query, https (http only on loopback)', async (t) => {
  t.equal(resolve({ issuer: 'https://auth.example.com/tenant' }).mountPath, '/tenant')
  for (const [issuer, message] of [
    ['https://Auth.example.com', /canonical form/],
    ['https://auth.example.com/', /must not end with "\/"/],
    ['https://auth.example.com/x/', /must not end with "\/"/],
    ['https://auth.example.com?x=1', /must not have a query/],
    ['http://auth.example.com', /https/],
    [42, /non-empty string/],
  ] as const) t.throws(() => resolve({ issuer }), { code: 'FST_MCP_AUTH_INVALID_OPTION', message }, String(issuer))
})

t.test('resources, accounts, interactions and unknown options', async (t) => {
  t.throws(() => resolve({ resources: [] }), /at least one/)
  t.throws(() => resolve({ resources: 'x' }), /at least one/)
  t.throws(() => resolve({ resources: ['x'] }), /must be \{ uri, scopes/)
  t.throws(() => resolve({ resources: [{ uri: 'ftp://x', scopes: ['a'] }] }), /resources\[0\]\.uri/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: [] }] }), /at least one scope/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: ['a b'] }] }), /scope tokens/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: ['a'], defaultScopes: ['b'] }] }), /"b", which is not in/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: ['a'], accessTokenTtl: 0 }] }), /accessTokenTtl/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: ['a'], scope: ['a'] }] }), /did you mean "resources\[0\]\.scopes"/)
  t.throws(() => resolve({ resources: [{ uri: 'https://m.example/mcp', scopes: ['a'] }, { uri: 'https://m.example/mcp', scopes: ['b'] }] }), /twice/)
  t.throws(() => resolve({ accounts: {} }), /"accounts"/)
  t.throws(() => resolve({ interactions: { login: () => {} } }), /"interactions"/)
  t.throws(() => resolve({ isuer: 'x' }), /did you mean "issuer"/)
  t.throws(() => resolve({ zzzzzzzz: 1 }), /is not known$/)
  t.throws(() => resolveAsOptions(null as unknown as McpAuthorizationServerOptions), /must be an object/)
})

t.test('cookies, clients, dpop, rate limits, lifetimes and callbacks', async (t) => {
  const host = { login: async () => {}, consent: async () => {} }
  t.throws(() => resolve({ interactions: host, cookies: undefined }), /cookies\.keys/)
  t.ok(resolve({ cookies: undefined }).cookieKeysGenerated, 'development pages: generated cookie keys')
  t.throws(() => resolve({ cookies: { keys: ['short'] } }), /at least 32 characters/)
  t.throws(() => resolve({ cookies: { keys: [] } }), /non-empty array/)
  t.throws(() => resolve({ clients: 'x' }), /"clients"/)
  t.throws(() => resolve({ clients: { statik: [] } }), /did you mean "clients\.static"/)
  t.throws(() => resolve({ clients: { static: [{}] } }), /client_id/)
  t.throws(() => resolve({ clients: { cimd: 'x' } }), /clients\.cimd/)
  t.throws(() => resolve({ clients: { cimd: { allowFetch: true } } }), /allowFetch/)
  t.throws(() => resolve({ clients: { cimd: { lookup: 1 } } }), /lookup/)
  t.equal(resolve({ clients: { cimd: false } }).cimd, undefined)
  t.equal(await resolve({}).cimd?.allowFetch(new URL('https://x.example/c.json')), true, 'every public URL by default')
  t.throws(() => resolve({ clients: { registration: 'x' } }), /clients\.registration/)
  t.throws(() => resolve({ clients: { registration: { initialAccessToken: 'short' } } }), /at least 16/)
  t.throws(() => resolve({ clients: { registration: { idleTtl: 1.5 } } }), /idleTtl/)
  t.throws(() => resolve({ clients: { registration: { perIpPerHour: -1 } } }), /perIpPerHour/)
  t.equal(resolve({ clients: { registration: false } }).registration, undefined)
  t.equal(resolve({ clients: { registration: { enabled: false } } }).registration, undefined)
  t.same(resolve({}).registration, { initialAccessToken: undefined, idleTtl: 30 * 24 * 3600, perIpPerHour: 20, bindScope: false })
  t.throws(() => resolve({ clients: { registration: { bindScope: 'yes' } } }), /bindScope/)
  t.throws(() => resolve({ dpop: 'x' }), /"dpop"/)
  t.throws(() => resolve({ dpop: { nonces: {} } }), /did you mean "dpop\.nonce"/)
  t.throws(() => resolve({ dpop: { nonce: 'x' } }), /"dpop\.nonce"/)
  t.throws(() => resolve({ dpop: { nonce: { secret: 'too short' } } }), /at least 32 bytes/)
  t.equal(resolve({ dpop: { nonce: { secret: new Uint8Array(32).fill(1) } } }).dpopNonceSecret?.length, 32)
  t.equal(resolve({ dpop: { nonce: { secret: 'x'.repeat(64) } } }).dpopNonceSecret?.length, 32, 'a longer secret is hashed to 32 bytes')
  t.equal(resolve({ rateLimit: false }).rateLimit, undefined)
  t.throws(() => resolve({ rateLimit: 'x' }), /"rateLimit"/)
  t.throws(() => resolve({ rateLimit: { tokenPerMinute: 0 } }), /tokenPerMinute/)
  t.throws(() => resolve({ ttl: 'x' }), /"ttl"/)
  t.throws(() => resolve({ ttl: { accessToken: 5 } }), /not known/)
  t.throws(() => resolve({ ttl: { session: -1 } }), /ttl\.session/)
  t.throws(() => resolve({ store: {} }), /"store"/)
  t.throws(() => resolve({ onEvent: 'x' }), /"onEvent"/)
  t.throws(() => resolve({ configure: 'x' }), /"configure"/)
  t.throws(() => resolve({ claims: 'x' }), /"claims"/)
  t.ok(resolve({ claims: { profile: ['name'] } }))
})

t.test('signing keys: private, asymmetric, an algorithm and a kid each; generated only when absent', async (t) => {
  const ec = jwk('ec')
  const keys = resolveSigningKeys({ keys: [ec, { ...jwk('rsa'), kid: 'rsa' }, jwk('ed25519')] })
  t.same(keys.privateKeys.map((k) => k.alg), ['ES256', 'PS256', 'EdDSA'])
  t.equal(keys.algorithm, 'ES256')
  t.equal(keys.publicKeys[0]?.d, undefined, 'public part has no private member')
  t.type(keys.privateKeys[0]?.kid, 'string', 'a kid from the thumbprint')
  t.equal(keys.generated, false)
  t.ok(resolveSigningKeys(undefined).generated)
  t.throws(() => resolveSigningKeys({ keys: [] }), /at least one key/)
  t.throws(() => resolveSigningKeys({}), /at least one key/)
  t.throws(() => resolveSigningKeys({ keys: ['x'] }), /private JWK object/)
  t.throws(() => resolveSigningKeys({ keys: [{ kty: 'oct', k: 'x' }] }), /asymmetric only/)
  t.throws(() => resolveSigningKeys({ keys: [{ ...ec, d: undefined }] }), /has no "d"/)
  t.throws(() => resolveSigningKeys({ keys: [{ ...ec, alg: 'HS256' }] }), /asymmetric/)
  t.throws(() => resolveSigningKeys({ keys: [{ ...ec, crv: 'secp256k1' }] }), /needs an "alg"/)
  t.throws(() => resolveSigningKeys({ keys: [{ ...ec, kid: 'a' }, { ...jwk('ec'), kid: 'a' }] }), /distinct/)
  t.throws(() => resolve({ signingKeys: { keys: [] } }), /signingKeys/)
})

t.test('the default scope: only for a scope-less request naming resources that all have defaults', async (t) => {
  const defaults = (uri: string) => ({ 'https://a.example/mcp': ['a:read'], 'https://b.example/mcp': ['b:read', 'a:read'] } as Record<string, string[]>)[uri]
  t.equal(defaultScope({ scope: 'x' }, defaults), undefined, 'a scope is kept')
  t.equal(defaultScope({ scope: ' ', resource: 'https://a.example/mcp' }, defaults), 'a:read', 'a blank scope names nothing')
  t.equal(defaultScope({ resource: ['https://a.example/mcp', 'https://b.example/mcp'] }, defaults), 'a:read b:read', 'union, each once')
  t.equal(defaultScope({ resource: null }, defaults), undefined, 'no resource')
  t.equal(defaultScope({ resource: 'https://c.example/mcp' }, defaults), undefined, 'a resource without defaults')
  t.equal(defaultScope({ resource: 'https://a.example/mcp' }, () => []), undefined, 'empty defaults')
})

t.test('developmentInteractions needs users with passwords', async (t) => {
  t.throws(() => developmentInteractions({ users: [] }), /users/)
  t.throws(() => developmentInteractions({ users: [{ accountId: 'a' }] } as never), /users/)
  t.ok(developmentInteractions({ users: [{ accountId: 'a', password: 'b' }] }))
  t.ok(resolveAsOptions({ ...base, cookies: { keys: COOKIE_KEYS } }, 'test').development)
})

t.test('register warns about development keys, missing default scopes and an in-memory store in a cluster', async (t) => {
  const lines: Array<{ msg: string }> = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line) as { msg: string }) } }
  const previous = process.env.NODE_APP_INSTANCE
  process.env.NODE_APP_INSTANCE = '1'
  t.teardown(() => { if (previous === undefined) delete process.env.NODE_APP_INSTANCE; else process.env.NODE_APP_INSTANCE = previous })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, { ...base, resources: [{ uri: 'https://mcp.example.com/mcp', scopes: ['a'] }] })
  const messages = lines.map((l) => l.msg).join('\n')
  t.match(messages, /key generated at start/)
  t.match(messages, /no resource has "defaultScopes"/)
  t.match(messages, /looks like one of several: use store: redisAdapter/)
})
