// The token endpoint of mcpAuthorizationServer against bare oidc-provider with the same
// configuration, interleaved in one run (A, B, A, B… per scenario), on this machine:
// client credentials with client_secret_basic and with private_key_jwt (a fresh
// assertion per request, signed before the round starts), and refresh (each request
// spends a fresh refresh token: a pool minted in each server's store, refilled with the
// rotated token every answer brings). Prints requests per second per round and the
// median plugin/bare ratio with its quartiles.
//
//   npm run build && node benchmarks/authorization-server.js [--rounds 6] [--duration 3] [--only refresh]
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { SignJWT, importJWK } from 'jose'
import { startServer } from './lib/harness.js'
import { median, quantile } from './lib/stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, duration: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' }, only: { type: 'string' } } })
const rounds = Number(values.rounds)
const duration = Number(values.duration)
const connections = Number(values.connections)

const issuer = 'http://127.0.0.1:1'
const resource = 'https://mcp.example.com/mcp'
const secret = randomBytes(24).toString('base64url')
const signingKey = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256' }
const clientPrivate = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'jwt-1', alg: 'ES256' }
const { d: _d, ...clientJwk } = clientPrivate
const config = { issuer, resource, secret, signingKey, clientJwk }

const servers = {
  plugin: await startServer('as-plugin.js', config),
  bare: await startServer('as-bare.js', config),
}
const clientKey = await importJWK(clientPrivate, 'ES256')
const basic = `Basic ${Buffer.from(`basic:${secret}`).toString('base64')}`
const form = { 'content-type': 'application/x-www-form-urlencoded' }

async function assertions (count) {
  const bodies = []
  for (let i = 0; i < count; i++) {
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'jwt-1' }).setIssuer('jwt').setSubject('jwt').setAudience(issuer)
      .setJti(randomUUID()).setIssuedAt().setExpirationTime('5m').sign(clientKey)
    bodies.push(new URLSearchParams({ grant_type: 'client_credentials', resource, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }).toString())
  }
  return bodies
}

/** Asks a server to mint `count` refresh tokens in its own store (servers/as-config.js). */
function mint (server, count) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message?.type !== 'mint-ok') return
      server.child.off('message', onMessage)
      if (message.error === undefined) resolve(message.tokens)
      else reject(new Error(message.error))
    }
    server.child.on('message', onMessage)
    server.child.send({ type: 'mint', count })
  })
}

// Each connection has one request in flight; four spare tokens per connection cover
// requests built before the previous answer came back.
const pools = { plugin: [], bare: [] }
const POOL = 4 * connections

const scenarios = {
  'client_credentials client_secret_basic': async () => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', resource }).toString()
    return { headers: { ...form, authorization: basic }, next: () => body }
  },
  'client_credentials private_key_jwt': async (budget) => {
    const bodies = await assertions(budget)
    let i = 0
    return { headers: form, next: () => bodies[i++ % bodies.length] }
  },
  'refresh_token (rotated)': async (_budget, which) => {
    const pool = pools[which]
    if (pool.length < POOL) pool.push(...await mint(servers[which], POOL - pool.length))
    return {
      headers: form,
      next: () => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pool.shift(), client_id: 'refresh' }).toString(),
      onResponse: (status, body) => { if (status === 200) pool.push(JSON.parse(body).refresh_token) },
    }
  },
}

/**
 * One measured run: requests per second, and the server's CPU time per request
 * (process-wide, every thread), which contention on a shared machine moves far
 * less than throughput.
 */
async function run (server, { headers, next, onResponse }) {
  await server.mark()
  const result = await new Promise((resolve, reject) => {
    autocannon({
      url: `http://127.0.0.1:${server.port}/token`,
      connections,
      duration,
      method: 'POST',
      headers,
      requests: [{ method: 'POST', path: '/token', setupRequest: (req) => ({ ...req, body: next() }), onResponse }],
    }, (err, result) => {
      if (err) return reject(err)
      if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${result.non2xx} non-2xx, ${result.errors} errors`))
      resolve(result)
    })
  })
  const { cpuMs } = await server.stats()
  return { rps: result.requests.mean, cpuUs: cpuMs * 1000 / result.requests.total }
}

const spread = (values) => ({ median: median(values), q1: quantile(values, 0.25), q3: quantile(values, 0.75) })
const format = ({ median: m, q1, q3 }) => `${m.toFixed(3)} (${q1.toFixed(3)}–${q3.toFixed(3)})`

const results = {}
try {
  for (const [name, setup] of Object.entries(scenarios)) {
    if (values.only !== undefined && !name.includes(values.only)) continue
    const throughput = []
    const cpu = []
    for (let round = 0; round < rounds; round++) {
      // Alternate which server goes first, so drift on the machine falls on both.
      const order = round % 2 === 0 ? ['plugin', 'bare'] : ['bare', 'plugin']
      const measured = {}
      for (const which of order) measured[which] = await run(servers[which], await setup(Math.ceil(duration * 4000), which))
      const { plugin, bare } = measured
      throughput.push(plugin.rps / bare.rps)
      cpu.push(plugin.cpuUs / bare.cpuUs)
      console.log(`${name.padEnd(40)} round ${round + 1}: plugin ${plugin.rps.toFixed(0)} req/s ${plugin.cpuUs.toFixed(0)} µs CPU, bare ${bare.rps.toFixed(0)} req/s ${bare.cpuUs.toFixed(0)} µs CPU; throughput ratio ${(plugin.rps / bare.rps).toFixed(3)}, CPU ratio ${(plugin.cpuUs / bare.cpuUs).toFixed(3)}`)
    }
    results[name] = { throughput: spread(throughput), cpu: spread(cpu) }
  }
} finally {
  await Promise.all(Object.values(servers).map((server) => server.stop()))
}
console.log('\nplugin / bare oidc-provider, median (q1–q3) of interleaved rounds:')
console.log(`  ${'scenario'.padEnd(40)} ${'throughput (≥ 0.91 is ≤ 10 % added)'.padEnd(40)} CPU per request (≤ 1.10)`)
for (const [name, { throughput, cpu }] of Object.entries(results)) console.log(`  ${name.padEnd(40)} ${format(throughput).padEnd(40)} ${format(cpu)}`)
