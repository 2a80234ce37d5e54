// Baseline: Fastify and one trivial route, over HTTP or (config.tls) HTTPS
// with the same client-certificate TLS setup as the mTLS scenario.
import Fastify from 'fastify'
import { config, serveFastify, tlsOptions } from './child.js'

const app = Fastify({ logger: false, https: config.tls === undefined ? null : tlsOptions() })
app.get('/mcp', async () => ({ ok: true }))
await serveFastify(app)
