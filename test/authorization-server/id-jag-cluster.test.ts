// The ID-JAG's `jti` is single use across instances: two mcpAuthorizationServer
// instances behind one issuer on one real redis-server (redisAdapter, one on
// ioredis and one on node-redis). The race is forced: each instance's replay
// lookup waits until both have reached it, so both look before either records,
// and only an atomic claim lets exactly one through.
import Fastify from 'fastify'
import { decodeJwt, exportJWK, generateKeyPair } from 'jose'
import t from 'tap'
import { mcpAuthorizationServer, redisAdapter } from '../../authorization-server.js'
import type { McpAuthorizationServerOptions } from '../../authorization-server.js'
import type { AdapterFactory } from '../../lib/authorization-server/provider-types.js'
import { asOptions, RESOURCE } from '../helpers/authorization-server.js'
import { createIdp, JWT_BEARER, presentIdJag } from '../helpers/id-jag.js'
import { freePort } from '../helpers/net.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP, startRedis } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const IDP = 'https://idp.example.com'
const CLIENT = { id: 'enterprise-app', secret: 'enterprise-app-secret-0123456789abcdef' }

/** Lets callers through in pairs: each waits for its partner (at most 10 s, so a broken test fails, never hangs). */
function pairs (): () => Promise<void> {
  let waiting: (() => void) | undefined
  return async () => {
    if (waiting !== undefined) {
      const partner = waiting
      waiting = undefined
      partner()
      return
    }
    await new Promise<void>((resolve) => {
      waiting = resolve
      setTimeout(resolve, 10_000).unref()
    })
  }
}

/** The instance's store, its replay lookups held at `gate`. */
function gated (store: AdapterFactory, gate: () => Promise<void>): AdapterFactory {
  return (model) => {
    const adapter = store(model)
    if (model !== 'ReplayDetection') return adapter
    return {
      upsert: (id, payload, expiresIn) => adapter.upsert(id, payload, expiresIn),
      findByUid: (uid) => adapter.findByUid(uid),
      findByUserCode: (code) => adapter.findByUserCode(code),
      consume: (id) => adapter.consume(id),
      destroy: (id) => adapter.destroy(id),
      revokeByGrantId: (grantId) => adapter.revokeByGrantId(grantId),
      async find (id) {
        await gate()
        return await adapter.find(id)
      },
    }
  }
}

async function startCluster (t: Test, gate: () => Promise<void>) {
  const redis = await startRedis(t)
  const [portA, portB] = [await freePort(), await freePort()]
  const issuer = `http://127.0.0.1:${portA}`
  const idp = await createIdp(IDP, { audience: issuer, clientId: CLIENT.id, resource: RESOURCE, scope: 'mcp:tools:read' })
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const shared: Partial<McpAuthorizationServerOptions> = {
    signingKeys: { keys: [{ ...await exportJWK(privateKey), kid: 'cluster-key', alg: 'ES256' }] },
    clients: { static: [{ client_id: CLIENT.id, client_secret: CLIENT.secret, grant_types: [JWT_BEARER], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }] },
    idJag: { trustedIssuers: [{ issuer: IDP, jwks: { keys: [idp.publicJwk] } }] },
    rateLimit: false,
  }
  const stores = [redisAdapter(await connectIoredis(t, redis)), redisAdapter(await connectNodeRedis(t, redis))]
  for (const [index, port] of [portA, portB].entries()) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(mcpAuthorizationServer, asOptions(issuer, { ...shared, store: gated(stores[index] as AdapterFactory, gate) }))
    await app.listen({ port, host: '127.0.0.1' })
  }
  return { idp, tokenA: `${issuer}/token`, tokenB: `http://127.0.0.1:${portB}/token` }
}

t.test('one ID-JAG presented to two instances at once: one token, one invalid_grant; a later replay on either is refused', { skip: REDIS_SKIP }, async (t) => {
  let held = true
  const meet = pairs()
  const cluster = await startCluster(t, async () => { if (held) await meet() })
  for (let round = 0; round < 3; round++) {
    const assertion = await cluster.idp.mint()
    const answers = await Promise.all([presentIdJag(cluster.tokenA, assertion, CLIENT), presentIdJag(cluster.tokenB, assertion, CLIENT)])
    t.same(answers.map((a) => a.status).sort(), [200, 400], `round ${round}: exactly one instance issues a token`)
    t.match(answers.find((a) => a.status === 400)?.body, { error: 'invalid_grant', error_description: /used before/ })
    t.equal(decodeJwt(String(answers.find((a) => a.status === 200)?.body.access_token)).aud, RESOURCE)
  }

  held = false
  const assertion = await cluster.idp.mint()
  t.equal((await presentIdJag(cluster.tokenA, assertion, CLIENT)).status, 200, 'used on A')
  t.match((await presentIdJag(cluster.tokenB, assertion, CLIENT)).body, { error: 'invalid_grant', error_description: /used before/ }, 'replayed on B')
  t.match((await presentIdJag(cluster.tokenA, assertion, CLIENT)).body, { error: 'invalid_grant' }, 'replayed on A')
})
