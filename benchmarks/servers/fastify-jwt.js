// Peer: @fastify/jwt (fast-jwt) verifying the same ES256 access tokens in
// onRequest, with its verified-token cache on and the same iss/aud/typ checks.
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { config, serveFastify } from './child.js'

const app = Fastify({ logger: false })
await app.register(fastifyJwt, {
  secret: { public: config.publicPem },
  verify: {
    algorithms: ['ES256'],
    cache: true,
    allowedIss: config.issuer,
    allowedAud: config.resource,
    checkTyp: 'at+jwt',
  },
})
app.addHook('onRequest', async (request) => { await request.jwtVerify() })
app.get('/mcp', async () => ({ ok: true }))
await serveFastify(app)
