// The token endpoint of mcpAuthorizationServer against bare oidc-provider with the same
// configuration, interleaved in one run (A, B, A, B… per scenario), on this machine:
// client credentials with client_secret_basic and with private_key_jwt (a fresh
// assertion per request, signed before the round starts). Prints requests per second
// per round and the median plugin/bare ratio with its quartiles.
//
//   npm run build && node benchmarks/authorization-server.js [--rounds 6] [--duration 3]
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { SignJWT, importJWK } from 'jose'
import { startServer } from './lib/harness.js'
import { median, quantile } from './lib/stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, duration: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } } })
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
}

function run (port, { headers, next }) {
  return new Promise((resolve, reject) => {
    autocannon({
      url: `http://127.0.0.1:${port}/token`,
      connections,
      duration,
      method: 'POST',
      headers,
      requests: [{ method: 'POST', path: '/token', setupRequest: (req) => ({ ...req, body: next() }) }],
    }, (err, result) => {
      if (err) return reject(err)
      if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${result.non2xx} non-2xx, ${result.errors} errors`))
      resolve(result.requests.mean)
    })
  })
}

const results = {}
try {
  for (const [name, setup] of Object.entries(scenarios)) {
    const ratios = []
    for (let round = 0; round < rounds; round++) {
      // Alternate which server goes first, so drift on the machine falls on both.
      const order = round % 2 === 0 ? ['plugin', 'bare'] : ['bare', 'plugin']
      const rps = {}
      for (const which of order) rps[which] = await run(servers[which].port, await setup(Math.ceil(duration * 4000)))
      ratios.push(rps.plugin / rps.bare)
      console.log(`${name.padEnd(40)} round ${round + 1}: plugin ${rps.plugin.toFixed(0)} req/s, bare ${rps.bare.toFixed(0)} req/s, ratio ${(rps.plugin / rps.bare).toFixed(3)}`)
    }
    results[name] = { median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) }
  }
} finally {
  await Promise.all(Object.values(servers).map((server) => server.stop()))
}
console.log('\nplugin / bare oidc-provider, median (q1–q3) of interleaved rounds:')
for (const [name, { median: m, q1, q3 }] of Object.entries(results)) console.log(`  ${name.padEnd(40)} ${m.toFixed(3)} (${q1.toFixed(3)}–${q3.toFixed(3)})`)
