// fastify-mcp-auth on the same trivial route as bare.js. config.mode picks the
// scenario's options; everything else is the plugin's default (token cache of
// 10000 entries, DPoP accepted, MemoryReplayStore on).
//   bearer      repeated or fresh Bearer tokens
//   dpop        DPoP-bound token + a fresh proof per request (replay store on)
//   dpop-nonce  the same with server nonces (stateless HMAC)
//   mtls        certificate-bound token over TLS with a client certificate
//   config.dist  another build's dist/ directory (benchmarks/ab.js), else the package's own
// config.sessions: the route answers with Mcp-Session-Id as an MCP transport does (the
// request's, else a new one); config.sessionBinding 'redis' binds the sessions with a
// RedisSessionStore on a redis-server of this process's own.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { config, serveFastify, tlsOptions } from './child.js'

const { default: mcpAuth, RedisSessionStore } = await import(config.dist === undefined ? 'fastify-mcp-auth' : new URL(`file://${config.dist}/index.js`).href)

const options = {
  resource: config.resource,
  authorizationServers: [config.issuer],
  jwks: { keys: config.jwks.keys },
}
if (config.mode === 'dpop') options.dpop = {}
if (config.mode === 'dpop-nonce') options.dpop = { nonce: { secret: config.nonceSecret } }
if (config.mode === 'mtls') options.mtls = {}
if (config.tokenCache === false) options.tokenCache = false
let redis
if (config.sessionBinding === 'redis') {
  const { startRedisServer } = await import('./redis.js')
  const { Redis } = await import('ioredis')
  redis = new Redis({ path: await startRedisServer() })
  options.sessionBinding = { store: new RedisSessionStore({ client: redis }) }
}

const app = Fastify({ logger: false, https: config.tls === undefined ? null : tlsOptions() })
await app.register(mcpAuth, options)
if (config.sessions) {
  app.get('/mcp', async (request, reply) => {
    reply.header('mcp-session-id', request.headers['mcp-session-id'] ?? randomUUID())
    return { ok: true }
  })
} else {
  app.get('/mcp', async () => ({ ok: true }))
}
if (redis !== undefined) app.addHook('onClose', async () => { redis.disconnect() })
await serveFastify(app)
