// Two instances of mcpAuthorizationServer behind one issuer, sharing one real
// redis-server through redisAdapter (one on ioredis, one on node-redis). The
// races are forced, not hoped for: Redis write commands (and scripts) are
// paused while both instances get the same request, released once both wait at
// their single-use claim, so each concurrent test fails when the claim is not
// atomic (a read-then-write lets both through).
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { decodeJwt } from 'jose'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { mcpAuthorizationServer, redisAdapter } from '../../authorization-server.js'
import type { AuthorizationServerStore, McpAuthorizationServerOptions } from '../../authorization-server.js'
import type { AdapterFactory } from '../../lib/authorization-server/provider-types.js'
import { completeAuthorization, createDpopKey, createDpopProof } from '../../testing.js'
import { asOptions, insecure, REDIRECT_URI, RESOURCE } from '../helpers/authorization-server.js'
import { freePort } from '../helpers/net.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP, startRedis } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const SECRET = randomBytes(24).toString('base64url')
const PUBLIC_CLIENT = { client_id: 'public-app', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }
const SERVICE = { client_id: 'service', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }

interface Cluster {
  issuer: string
  a: string
  b: string
  as: oauth.AuthorizationServer
  redis: RedisServer
  control: Awaited<ReturnType<typeof connectIoredis>>
}

const NONCE_SECRET = 'the-same-nonce-secret-on-every-instance!'

async function sharedOptions (): Promise<Partial<McpAuthorizationServerOptions>> {
  return {
    signingKeys: { keys: [{ kty: 'EC', crv: 'P-256', ...await sharedKey() }] },
    clients: { static: [PUBLIC_CLIENT, SERVICE] },
    dpop: { nonce: { secret: NONCE_SECRET } },
  }
}

/** One more instance behind `issuer` on the same Redis; `overrides` replace the shared options. */
async function startInstance (t: Test, issuer: string, store: AuthorizationServerStore, overrides: Partial<McpAuthorizationServerOptions> = {}): Promise<string> {
  const port = await freePort()
  const app: FastifyInstance = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, asOptions(issuer, { ...await sharedOptions(), store, ...overrides }))
  await app.listen({ port, host: '127.0.0.1' })
  return `http://127.0.0.1:${port}`
}

/** `wrap` may put a test's hand between each instance and its store. */
async function startCluster (t: Test, wrap: (store: AdapterFactory) => AdapterFactory = (store) => store): Promise<Cluster> {
  const redis = await startRedis(t)
  const portA = await freePort()
  const issuer = `http://127.0.0.1:${portA}`
  const stores = [redisAdapter(await connectIoredis(t, redis)), redisAdapter(await connectNodeRedis(t, redis))]
  const app: FastifyInstance = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, asOptions(issuer, { ...await sharedOptions(), store: wrap(stores[0] as AdapterFactory) }))
  await app.listen({ port: portA, host: '127.0.0.1' })
  const b = await startInstance(t, issuer, wrap(stores[1] as AdapterFactory))
  const url = new URL(issuer)
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }))
  return { issuer, a: issuer, b, as, redis, control: await connectIoredis(t, redis) }
}

/**
 * Holds every caller until `parties` have arrived (or `timeoutMs` passed, so a
 * broken test fails instead of hanging); `arrived()` says how many came.
 */
function barrier (parties: number, timeoutMs = 15_000): { wait: () => Promise<void>, arrived: () => number } {
  let count = 0
  let release = (): void => {}
  const all = new Promise<void>((resolve) => { release = resolve })
  return {
    async wait () {
      if (++count >= parties) release()
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
    },
    arrived: () => count,
  }
}

/** A store whose PAR consume waits at `gate` first: every instance has read the request_uri as unused before any claims it. */
function gatedParConsume (gate: () => Promise<void>) {
  return (store: AdapterFactory): AdapterFactory => (model) => {
    const adapter = store(model)
    if (model !== 'PushedAuthorizationRequest') return adapter
    return {
      upsert: (id, payload, expiresIn) => adapter.upsert(id, payload, expiresIn),
      find: (id) => adapter.find(id),
      findByUid: (uid) => adapter.findByUid(uid),
      findByUserCode: (code) => adapter.findByUserCode(code),
      destroy: (id) => adapter.destroy(id),
      revokeByGrantId: (grantId) => adapter.revokeByGrantId(grantId),
      async consume (id) {
        await gate()
        return adapter.consume(id)
      },
    }
  }
}

let key: { d: string, x: string, y: string } | undefined
async function sharedKey (): Promise<{ d: string, x: string, y: string, kid: string, alg: string }> {
  if (key === undefined) {
    const { generateKeyPairSync } = await import('node:crypto')
    key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as { d: string, x: string, y: string }
  }
  return { ...key, kid: 'cluster-key', alg: 'ES256' }
}

/** The same path on instance B (its socket; URLs inside requests stay the issuer's). */
function onB (cluster: Cluster, url: string): string {
  return cluster.b + url.slice(cluster.a.length)
}

/**
 * Runs `requests` with Redis writes paused until `waiting` of them wait on
 * Redis (blocked clients), so their reads all happen before any write.
 */
async function raced<T> (cluster: Cluster, waiting: number, requests: Array<() => Promise<T>>): Promise<T[]> {
  await cluster.control.call('CLIENT', 'PAUSE', '20000', 'WRITE')
  const pending = requests.map((run) => run())
  try {
    for (let i = 0; i < 400; i++) {
      const info = String(await cluster.control.call('INFO', 'clients'))
      if (Number(/blocked_clients:(\d+)/.exec(info)?.[1]) >= waiting) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  } finally {
    await cluster.control.call('CLIENT', 'UNPAUSE')
  }
  return Promise.all(pending)
}

async function authorizationCode (cluster: Cluster, scope = 'mcp:tools:read'): Promise<{ code: string, verifier: string }> {
  const verifier = oauth.generateRandomCodeVerifier()
  const url = new URL(cluster.as.authorization_endpoint as string)
  for (const [name, value] of Object.entries({ client_id: PUBLIC_CLIENT.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', resource: RESOURCE, scope, prompt: 'consent' })) {
    url.searchParams.set(name, value)
  }
  const callback = await completeAuthorization(url, REDIRECT_URI)
  return { code: callback.searchParams.get('code') as string, verifier }
}

function tokenRequest (endpoint: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown>, headers: Headers }> {
  return fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) })
    .then(async (res) => ({ status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers }))
}

/** A pushed authorization request (RFC 9126) of the public client, to instance A. */
async function pushAuthorizationRequest (cluster: Cluster) {
  const verifier = oauth.generateRandomCodeVerifier()
  const par = await tokenRequest(cluster.as.pushed_authorization_request_endpoint as string, {
    client_id: PUBLIC_CLIENT.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    resource: RESOURCE,
    scope: 'mcp:tools:read',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  return { par, verifier }
}

t.test('an authorization code redeemed on both instances at once: exactly one token, one invalid_grant, never a 500', { skip: REDIS_SKIP }, async (t) => {
  const cluster = await startCluster(t)
  const { code, verifier } = await authorizationCode(cluster)
  const body = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: PUBLIC_CLIENT.client_id, resource: RESOURCE }
  const endpoint = cluster.as.token_endpoint as string
  const results = await raced(cluster, 2, [() => tokenRequest(endpoint, body), () => tokenRequest(onB(cluster, endpoint), body)])
  t.same(results.map((r) => r.status).sort(), [200, 400])
  const loser = results.find((r) => r.status === 400)
  t.equal(loser?.body.error, 'invalid_grant')
  const winner = results.find((r) => r.status === 200)
  t.equal(decodeJwt(String(winner?.body.access_token)).aud, RESOURCE)
})

t.test('a PAR request_uri pushed to A completes on B, and is single use across instances', { skip: REDIS_SKIP }, async (t) => {
  const cluster = await startCluster(t)
  const { par, verifier } = await pushAuthorizationRequest(cluster)
  t.equal(par.status, 201)
  const url = new URL(onB(cluster, cluster.as.authorization_endpoint as string))
  url.searchParams.set('client_id', PUBLIC_CLIENT.client_id)
  url.searchParams.set('request_uri', String(par.body.request_uri))
  const callback = await completeAuthorization(url, REDIRECT_URI)
  t.equal(callback.searchParams.get('iss'), cluster.issuer)
  const token = await tokenRequest(onB(cluster, cluster.as.token_endpoint as string), { grant_type: 'authorization_code', code: callback.searchParams.get('code') as string, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: PUBLIC_CLIENT.client_id })
  t.equal(token.status, 200)
  const again = await fetch(new URL(url.pathname + url.search, cluster.a), { redirect: 'manual' })
  t.match(String(again.headers.get('location')), /error=invalid_request_uri/, 'the used request_uri is refused on A')
})

t.test('one PAR request_uri completed on A and B at once: exactly one code, the other refused', { skip: REDIS_SKIP }, async (t) => {
  const gate = barrier(2)
  const cluster = await startCluster(t, gatedParConsume(gate.wait))
  const { par } = await pushAuthorizationRequest(cluster)
  t.equal(par.status, 201)
  const authorize = (base: string) => {
    const url = new URL(base + new URL(cluster.as.authorization_endpoint as string).pathname)
    url.searchParams.set('client_id', PUBLIC_CLIENT.client_id)
    url.searchParams.set('request_uri', String(par.body.request_uri))
    // Two browsers: each signs in and consents on its own instance.
    return completeAuthorization(url, REDIRECT_URI)
  }
  const callbacks = await Promise.all([authorize(cluster.a), authorize(cluster.b)])
  t.equal(gate.arrived(), 2, 'both instances read the request_uri as unused and went to claim it')
  const codes = callbacks.filter((callback) => callback.searchParams.has('code'))
  t.equal(codes.length, 1, 'one code')
  t.same(callbacks.map((callback) => callback.searchParams.get('error')).filter((error) => error !== null), ['invalid_request_uri'], 'the other is refused')
})

t.test('DPoP across instances: a nonce from A is accepted by B; one proof sent to both at once is accepted once', { skip: REDIS_SKIP }, async (t) => {
  const cluster = await startCluster(t)
  const dpopKey = await createDpopKey()
  const endpoint = cluster.as.token_endpoint as string
  const body = { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:tools:call' }
  const basic = { authorization: `Basic ${Buffer.from(`${SERVICE.client_id}:${SECRET}`).toString('base64')}` }
  const first = await tokenRequest(endpoint, body, { ...basic, dpop: await createDpopProof(dpopKey, { method: 'POST', url: endpoint }) })
  t.equal(first.status, 400)
  t.equal(first.body.error, 'use_dpop_nonce')
  const nonce = first.headers.get('dpop-nonce') as string
  t.type(nonce, 'string')

  const onBWithNonce = await tokenRequest(onB(cluster, endpoint), body, { ...basic, dpop: await createDpopProof(dpopKey, { method: 'POST', url: endpoint, nonce }) })
  t.equal(onBWithNonce.status, 200, 'B accepts the nonce A issued (one shared secret, no storage)')
  t.equal(onBWithNonce.body.token_type, 'DPoP')

  const proof = await createDpopProof(dpopKey, { method: 'POST', url: endpoint, nonce })
  const results = await raced(cluster, 2, [
    () => tokenRequest(endpoint, body, { ...basic, dpop: proof }),
    () => tokenRequest(onB(cluster, endpoint), body, { ...basic, dpop: proof }),
  ])
  t.same(results.map((r) => r.status).sort(), [200, 400], 'the replayed proof is refused on the other instance')
  t.equal(results.find((r) => r.status === 400)?.body.error, 'invalid_dpop_proof', 'RFC 9449 §5')
  const later = await tokenRequest(onB(cluster, endpoint), body, { ...basic, dpop: proof })
  t.equal(later.body.error, 'invalid_dpop_proof', 'and later, too')

  // The check is real: an instance with another nonce secret refuses A's nonce.
  const other = await startInstance(t, cluster.issuer, redisAdapter(await connectIoredis(t, cluster.redis)), { dpop: { nonce: { secret: 'another-nonce-secret-on-a-stray-instance' } } })
  const stray = await tokenRequest(other + endpoint.slice(cluster.a.length), body, { ...basic, dpop: await createDpopProof(dpopKey, { method: 'POST', url: endpoint, nonce }) })
  t.equal(stray.body.error, 'use_dpop_nonce', 'a nonce from another secret is refused')
})

t.test('refresh tokens across instances: rotated on A and reused on B revokes the grant; a concurrent refresh on both wins once', { skip: REDIS_SKIP }, async (t) => {
  const cluster = await startCluster(t)
  const endpoint = cluster.as.token_endpoint as string
  const redeem = async () => {
    const { code, verifier } = await authorizationCode(cluster, 'mcp:tools:read offline_access')
    const res = await tokenRequest(endpoint, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: PUBLIC_CLIENT.client_id })
    return String(res.body.refresh_token)
  }
  const refresh = (base: string, token: string) => tokenRequest(base + endpoint.slice(cluster.a.length), { grant_type: 'refresh_token', refresh_token: token, client_id: PUBLIC_CLIENT.client_id })

  const original = await redeem()
  const rotated = await refresh(cluster.a, original)
  t.equal(rotated.status, 200)
  const reused = await refresh(cluster.b, original)
  t.equal(reused.body.error, 'invalid_grant', 'reuse on B refused')
  const revoked = await refresh(cluster.b, String(rotated.body.refresh_token))
  t.equal(revoked.body.error, 'invalid_grant', 'the grant is revoked: the rotated token is dead too')

  const token = await redeem()
  const results = await raced(cluster, 2, [() => refresh(cluster.a, token), () => refresh(cluster.b, token)])
  t.same(results.map((r) => r.status).sort(), [200, 400], 'one refresh wins')
  const winner = results.find((r) => r.status === 200)
  const after = await refresh(cluster.a, String(winner?.body.refresh_token))
  t.equal(after.body.error, 'invalid_grant', 'the concurrent reuse revoked the grant')
})

t.test('Redis down: the token endpoint answers 503 temporarily_unavailable, never a token or a 500', { skip: REDIS_SKIP }, async (t) => {
  const cluster = await startCluster(t)
  const { code, verifier } = await authorizationCode(cluster)
  await cluster.redis.kill()
  const res = await tokenRequest(cluster.as.token_endpoint as string, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: PUBLIC_CLIENT.client_id })
  t.equal(res.status, 503)
  t.equal(res.body.error, 'temporarily_unavailable')
})

t.test('redisAdapter as a unit on a real Redis: records without expiry, session and user-code lookups, destroy, lost claims, options, health', { skip: REDIS_SKIP }, async (t) => {
  const redis = await startRedis(t)
  const client = await connectIoredis(t, redis)
  const factory = redisAdapter(client, { prefix: 'unit:' })
  const sessions = factory('Session')
  await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, undefined)
  t.same(await sessions.findByUid('u1'), { uid: 'u1', accountId: 'a' })
  t.equal(await sessions.findByUid('nope'), undefined)
  t.equal(Number(await client.call('TTL', 'unit:Session:s1')), -1, 'no expiry when none is given')
  const devices = factory('DeviceCode')
  await devices.upsert('d1', { userCode: 'ABCD', grantId: 'g0' }, 60)
  t.same(await devices.findByUserCode('ABCD'), { userCode: 'ABCD', grantId: 'g0' })
  t.equal(await devices.findByUserCode('WXYZ'), undefined)
  await devices.destroy('d1')
  t.equal(await devices.find('d1'), undefined)
  const tokens = factory('RefreshToken')
  await tokens.upsert('r0', { grantId: 'g9' }, undefined)
  t.equal(Number(await client.call('TTL', 'unit:grant:g9')), -1, 'a grant holding a record without expiry never expires')
  t.equal(await tokens.consume('missing').then(() => 'won', (err: { error?: string }) => err.error), 'invalid_grant', 'a missing record loses')
  // A lost claim revokes the grant whole, its Grant record too: a token the winner of the
  // race saves afterwards names a grant that is gone (oidc-provider then refuses it).
  const grants = factory('Grant')
  await grants.upsert('g7', { accountId: 'a' }, 60)
  await tokens.upsert('r7', { grantId: 'g7' }, 60)
  await factory('AccessToken').upsert('a7', { grantId: 'g7' }, 60)
  await tokens.consume('r7')
  t.equal(await tokens.consume('r7').then(() => 'won', (err: { error?: string }) => err.error), 'invalid_grant', 'the reuse loses')
  t.same([await grants.find('g7'), await tokens.find('r7'), await factory('AccessToken').find('a7')], [undefined, undefined, undefined], 'the grant, its refresh and access tokens: all gone')
  // revokeByGrantId alone (oidc-provider revoking an access token at /revoke) keeps the Grant record.
  await grants.upsert('g6', { accountId: 'a' }, 60)
  await factory('AccessToken').upsert('a6', { grantId: 'g6' }, 60)
  await factory('AccessToken').revokeByGrantId('g6')
  t.equal(await factory('AccessToken').find('a6'), undefined)
  t.same(await grants.find('g6'), { accountId: 'a' }, 'the Grant record stays: oidc-provider decides about it')
  t.throws(() => redisAdapter(client, { prefix: 1 as unknown as string }), /prefix must be a string/)
  t.throws(() => redisAdapter(client, null as unknown as object), /options must be an object/)
  t.throws(() => redisAdapter({} as never), { code: 'FST_MCP_AUTH_INVALID_OPTION' })

  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, asOptions('http://127.0.0.1:9', { store: factory }))
  t.same((await app.mcpAuthorizationServer.health()).store, { reachable: true })
  await redis.kill()
  const health = await app.mcpAuthorizationServer.health()
  t.equal(health.store.reachable, false, 'Redis down: the health check says so')
  t.type(health.store.error, 'string')
})
