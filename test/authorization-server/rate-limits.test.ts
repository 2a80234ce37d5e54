// The rate limits across instances: with redisAdapter, two instances on one real
// redis-server (one on ioredis, one on node-redis) count failed sign-ins and
// token requests together; with the memory store each process counts its own;
// counters Redis cannot give are a 503, never a pass and never a 500.
import Fastify from 'fastify'
import t from 'tap'
import { mcpAuthorizationServer, redisAdapter } from '../../authorization-server.js'
import type { AuthorizationServerStore, McpAuthorizationServerOptions } from '../../authorization-server.js'
import { asOptions, openInteraction, REDIRECT_URI } from '../helpers/authorization-server.js'
import { freePort } from '../helpers/net.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP, startRedis } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const PUBLIC_CLIENT = { client_id: 'public-app', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }
const LIMITS: Partial<McpAuthorizationServerOptions> = { rateLimit: { tokenPerMinute: 3, failedLoginsPerMinute: 2 }, clients: { static: [PUBLIC_CLIENT] } }

/** Instances A and B behind one issuer (A's origin), each with its own store. */
async function startPair (t: Test, stores: [AuthorizationServerStore | undefined, AuthorizationServerStore | undefined]) {
  const ports = [await freePort(), await freePort()]
  const issuer = `http://127.0.0.1:${ports[0]}`
  for (const [index, port] of ports.entries()) {
    const app = Fastify()
    t.teardown(() => app.close())
    const store = stores[index]
    await app.register(mcpAuthorizationServer, asOptions(issuer, { ...LIMITS, ...(store === undefined ? {} : { store }) }))
    await app.listen({ port, host: '127.0.0.1' })
  }
  return { issuer, a: issuer, b: `http://127.0.0.1:${ports[1]}` }
}

async function redisPair (t: Test): Promise<{ redis: RedisServer, pair: Awaited<ReturnType<typeof startPair>> }> {
  const redis = await startRedis(t)
  const pair = await startPair(t, [redisAdapter(await connectIoredis(t, redis)), redisAdapter(await connectNodeRedis(t, redis))])
  return { redis, pair }
}

const tokenRequest = (base: string) => fetch(`${base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })

async function tokenStatuses (pair: { a: string, b: string }, count: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < count; i++) statuses.push((await tokenRequest(i % 2 === 0 ? pair.a : pair.b)).status)
  return statuses
}

async function discover (issuer: string) {
  return await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json() as { issuer: string, authorization_endpoint: string }
}

/** A wrong password for demo-user through the interaction page of `via`. */
async function failSignIn (issuer: string, via: string): Promise<number> {
  const { post, csrf } = await openInteraction(await discover(issuer), { client_id: PUBLIC_CLIENT.client_id }, {}, via)
  return (await post({ csrf, username: 'demo-user', password: 'wrong' })).status
}

t.test('with redisAdapter, the token-endpoint limit counts requests on every instance together', { skip: REDIS_SKIP }, async (t) => {
  const { pair } = await redisPair(t)
  const statuses = await tokenStatuses(pair, 4)
  t.same(statuses.map((s) => s === 429), [false, false, false, true], 'A, B, A pass; the 4th (on B) is the 4th of 3')
})

t.test('with the memory store, each instance counts its own (documented)', async (t) => {
  const pair = await startPair(t, [undefined, undefined])
  const statuses = await tokenStatuses(pair, 4)
  t.notOk(statuses.includes(429), 'two requests on each instance, under each one\'s 3')
  const more = [(await tokenRequest(pair.a)).status, (await tokenRequest(pair.a)).status]
  t.same(more.map((s) => s === 429), [false, true], 'and each instance still limits itself (its 4th)')
})

t.test('with redisAdapter, failed sign-ins count per account across instances', { skip: REDIS_SKIP }, async (t) => {
  const { pair } = await redisPair(t)
  t.equal(await failSignIn(pair.issuer, pair.a), 401, 'a wrong password on A')
  t.equal(await failSignIn(pair.issuer, pair.b), 401, 'a wrong password on B')
  const { post, csrf } = await openInteraction(await discover(pair.issuer), { client_id: PUBLIC_CLIENT.client_id }, {}, pair.a)
  const locked = await post({ csrf, username: 'demo-user', password: 'demo' })
  t.equal(locked.status, 429, 'the account is locked on A after one failure on each instance')
  t.equal((await post({ csrf, username: 'other-user', password: 'other' })).status, 303, 'another account signs in')
})

t.test('Redis down: a rate-limited route answers 503 temporarily_unavailable, never a pass or a 500', { skip: REDIS_SKIP }, async (t) => {
  const { redis, pair } = await redisPair(t)
  const login = await openInteraction(await discover(pair.issuer), { client_id: PUBLIC_CLIENT.client_id }, {}, pair.a)
  await redis.kill()
  const token = await tokenRequest(pair.a)
  t.equal(token.status, 503)
  t.equal(token.headers.get('retry-after'), '5')
  t.same(await token.json(), { error: 'temporarily_unavailable', error_description: 'the authorization server is unavailable, retry later' })
  const signIn = await login.post({ csrf: login.csrf, username: 'demo-user', password: 'demo' })
  t.equal(signIn.status, 503, 'the sign-in page')
  t.equal(signIn.headers.get('retry-after'), '5')
  t.match(await signIn.text(), /unavailable for a moment/)
})
