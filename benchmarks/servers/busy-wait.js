// Calibration: bare Fastify plus an onRequest hook that does nothing but spin
// for config.spinUs microseconds. It shows what any fixed amount of per-request
// work costs in this harness (two cores shared with the load generator), so a
// plugin's ratio can be read as "equivalent to N µs of work".
import Fastify from 'fastify'
import { config, serveFastify } from './child.js'

const spinMs = config.spinUs / 1000
const app = Fastify({ logger: false })
app.addHook('onRequest', async function busyWait () {
  const end = performance.now() + spinMs
  while (performance.now() < end);
})
app.get('/mcp', async () => ({ ok: true }))
await serveFastify(app)
