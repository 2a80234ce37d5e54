import { PerformanceObserver } from 'node:perf_hooks'
import { generateKeyPairSync, sign } from 'node:crypto'
import Fastify from 'fastify'
import mcpAuth from './dist/index.js'
const N = Number(process.argv[2]); const tokenCacheN = Number(process.argv[3] ?? Math.max(N, 10000))
const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'b', alg: 'EdDSA', use: 'sig' }
const app = Fastify({ logger: false })
await app.register(mcpAuth, { resource: { origin: 'https://mcp.example.com', path: '/t/:tenant/mcp', resolve: async () => ({}) }, authorizationServers: ['https://login.example.com/{tenant}/v2.0'], jwks: { keys: [jwk] }, tokenCache: { maxEntries: tokenCacheN } })
app.post('/t/:tenant/mcp', async () => ({ ok: true }))
await app.ready()
const now = Math.floor(Date.now() / 1000)
const h = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'b' })).toString('base64url')
const tokens = []
for (let i = 0; i < N; i++) { const p = Buffer.from(JSON.stringify({ iss: `https://login.example.com/tenant-${i}/v2.0`, aud: `https://mcp.example.com/t/tenant-${i}/mcp`, sub: 'u', exp: now + 3600, iat: now })).toString('base64url'); tokens.push(`${h}.${p}.${sign(null, Buffer.from(h + '.' + p), privateKey).toString('base64url')}`) }
let next = 0
async function send (n) { for (let i = 0; i < n; i++) { const k = next; next = (next + 1) % N; const r = await app.inject({ method: 'POST', url: `/t/tenant-${k}/mcp`, payload: '{"a":1}', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[k]}` } }); if (r.statusCode !== 200) throw new Error(r.body) } }
await send(N); await send(10000)
let gcMs = 0; const gcKinds = {}
const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { gcMs += e.duration; gcKinds[e.detail?.kind] = (gcKinds[e.detail?.kind] ?? 0) + e.duration } })
obs.observe({ entryTypes: ['gc'] })
const before = process.cpuUsage(); const t0 = performance.now()
await send(Number(process.argv[4] ?? 30000))
const used = process.cpuUsage(before); const wall = performance.now() - t0
await new Promise((r) => setTimeout(r, 50))
globalThis.gc?.(); const m = process.memoryUsage()
console.log(`N=${N} cpu/req ${((used.user + used.system) / Number(process.argv[4] ?? 30000)).toFixed(1)}µs wall/req ${(wall * 1000 / Number(process.argv[4] ?? 30000)).toFixed(1)}µs gc(main-thread pauses) ${(gcMs * 1000 / Number(process.argv[4] ?? 30000)).toFixed(1)}µs/req kinds ${JSON.stringify(Object.fromEntries(Object.entries(gcKinds).map(([k, v]) => [k, Math.round(v)])))} heapUsed ${(m.heapUsed / 1e6).toFixed(0)}MB rss ${(m.rss / 1e6).toFixed(0)}MB`)
