import Fastify from 'fastify'
import { config, serveFastify } from './child.js'
const { default: mcpAuth } = await import(process.env.DIST + '/index.js')
const options = { resource: config.resource, authorizationServers: [config.issuer], jwks: { keys: config.jwks.keys } }
if (config.mode === 'dpop') options.dpop = {}
if (config.mode === 'dpop-nonce') options.dpop = { nonce: { secret: config.nonceSecret } }
const app = Fastify({ logger: false })
await app.register(mcpAuth, options)
app.get('/mcp', async () => ({ ok: true }))
await serveFastify(app)
