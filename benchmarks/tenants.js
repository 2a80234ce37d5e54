// Scale benchmark (issue 22): what one request costs, and what the process holds,
// with N tenants behind one parametric route `POST /t/:tenant/mcp`, measured in
// process (app.inject, one request at a time) with a real EdDSA-signed Bearer
// token per tenant, pre-minted. Requests cycle uniformly over all N tenants (a
// shuffled order, repeated). Each configuration runs in a fresh child process.
//
//   resolver  resource: { origin, path, resolve }, issuers from the template
//             https://login.example.com/{tenant}/v2.0 (static keys: no network)
//               hit   caches sized >= N (tokenCache.maxEntries = max(N, 10000))
//               miss  the defaults (tokenCache 10000 entries, 100000 tenants)
//             N = 1, 1,000, 100,000
//   static    resource: [N URIs], one issuer, default caches; N = 1, 1,000, 10,000
//   bare      the same route without the plugin (the floor)
//
// CPU per request is process.cpuUsage() (user + system, every thread, GC included)
// over a batch of requests divided by its size. A group's configurations (N = 1,
// mid, max, and bare Fastify) live side by side in their own processes and take
// turns, one batch each per round, the order rotating, so the shared machine's
// load weighs on all alike; a figure is the median over the rounds, and each
// ratio is also given as the median of the per-round ratios. RSS is read at the
// end of the traffic and again after a full GC (V8 keeps the heap it grew under
// load committed; bare Fastify's figures show that floor).
// Targets: resolver, caches >= N, at 100,000 <= 1.05 x at 1; static at 10,000
// <= 1.15 x at 1; RSS at 100,000 tenants with default caches <= 300 MB.
//
//   node benchmarks/tenants.js           full run; writes benchmarks/TENANTS.md and tenants.json
//   node benchmarks/tenants.js --quick   N = 1 and 10, two rounds; checks every answer is
//                                        200 and writes nothing (benchmarks/smoke.js runs it)
// Run `npm run build` first: the children import 'fastify-mcp-auth' (dist/).
import { fork } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { cpus, release, totalmem, type } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, child: { type: 'string' } } })
const here = (file) => fileURLToPath(new URL(file, import.meta.url))
const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}'

if (args.child !== undefined) await child(JSON.parse(args.child))
else await orchestrate()

async function orchestrate () {
  const quick = args.quick
  const sizes = quick
    ? { resolver: [1, 10], static: [1, 10] }
    : { resolver: [1, 1_000, 100_000], static: [1, 1_000, 10_000] }
  const settings = { batch: quick ? 50 : 1000, rounds: quick ? 2 : 60, warmBatches: quick ? 1 : 10 }
  // Each group's configurations run side by side in their own processes, one batch each
  // in turn (the order rotating every round), so the machine's load weighs on all alike.
  const groups = [
    { id: 'resolver-hit', configs: sizes.resolver.map((n) => ({ id: `resolver-hit-${n}`, mode: 'resolver', cache: 'hit', n })) },
    { id: 'resolver-miss', configs: sizes.resolver.map((n) => ({ id: `resolver-miss-${n}`, mode: 'resolver', cache: 'miss', n })) },
    { id: 'static', configs: sizes.static.map((n) => ({ id: `static-${n}`, mode: 'static', n })) },
  ]
  const started = new Date()
  const rows = []
  const pairs = {}
  for (const group of groups) {
    // Bare Fastify rides along in every group: the floor, measured under the same load.
    const configs = [{ id: `bare (${group.id})`, mode: 'bare', n: 1 }, ...group.configs]
    const results = await runGroup(configs, settings)
    for (const [i, config] of configs.entries()) {
      rows.push(summarize(config, results[i]))
      process.stderr.write(`${config.id.padEnd(22)} p50 ${median(results[i].cpuPerRequest).toFixed(1).padStart(7)} µs/request  rss ${mb(results[i].rss)} MB, after GC ${mb(results[i].rssAfterGc)} MB  (set-up ${results[i].setupMs} ms)\n`)
    }
    const first = results[1].cpuPerRequest
    const last = results[results.length - 1].cpuPerRequest
    pairs[group.id] = first.map((base, r) => last[r] / base)
  }
  const byId = new Map(rows.map((r) => [r.id, r]))
  const max = (list) => list[list.length - 1]
  const missMax = byId.get(`resolver-miss-${max(sizes.resolver)}`)
  const verdicts = [
    ratio(`resolver, caches ≥ N: CPU per request at ${count(max(sizes.resolver))} tenants ÷ at 1`, byId.get(`resolver-hit-${max(sizes.resolver)}`), byId.get('resolver-hit-1'), pairs['resolver-hit'], 1.05),
    ratio(`static list: CPU per request at ${count(max(sizes.static))} resources ÷ at 1`, byId.get(`static-${max(sizes.static)}`), byId.get('static-1'), pairs.static, 1.15),
    ratio(`resolver, default caches: CPU per request at ${count(max(sizes.resolver))} tenants ÷ at 1`, missMax, byId.get('resolver-miss-1'), pairs['resolver-miss'], undefined),
    { name: `RSS at ${count(max(sizes.resolver))} tenants, default caches, after a full GC (MB)`, value: Number(mb(missMax.rssAfterGc)), target: 300, met: missMax.rssAfterGc <= 300e6 },
  ]
  for (const v of verdicts) process.stderr.write(`${v.met === undefined ? '     ' : v.met ? 'MET  ' : 'MISS '}${v.name}: ${v.value}${v.pairs === undefined ? '' : ` (paired rounds: median ${v.pairs.median}, q1–q3 ${v.pairs.q1}–${v.pairs.q3})`}${v.target === undefined ? '' : ` (target ≤ ${v.target})`}\n`)
  if (quick) return
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memory: `${Math.round(totalmem() / 1e9)} GB`, os: `${type()} ${release()}`, node: process.version }
  writeFileSync(here('./tenants.json'), JSON.stringify({ startedAt: started.toISOString(), machine, settings, rows, verdicts }, null, 2) + '\n')
  writeFileSync(here('./TENANTS.md'), markdown(started, machine, settings, rows, verdicts))
  process.stderr.write('wrote benchmarks/TENANTS.md and benchmarks/tenants.json\n')
}

/** Starts every configuration's process, warms each, then runs their batches in turn. */
async function runGroup (configs, settings) {
  const children = []
  for (const config of configs) children.push(await startChild({ ...config, ...settings }))
  try {
    const cpu = configs.map(() => [])
    for (let round = 0; round < settings.rounds; round++) {
      for (let k = 0; k < children.length; k++) {
        const i = (round + k) % children.length
        cpu[i].push(await children[i].ask('batch'))
      }
    }
    const results = []
    for (const [i, child] of children.entries()) results.push({ ...await child.ask('finish'), cpuPerRequest: cpu[i], setupMs: child.setupMs })
    return results
  } finally {
    for (const child of children) child.kill()
  }
}

/** A configuration's process, ready (app built, tokens minted, caches warm); answers `ask(command)`. */
function startChild (config) {
  return new Promise((resolve, reject) => {
    const proc = fork(here('./tenants.js'), ['--child', JSON.stringify(config)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let answer
    const fail = (err) => { answer?.reject(err); reject(err) }
    proc.on('error', fail)
    proc.on('exit', (code) => { if (code !== 0) fail(new Error(`${config.id}: the child exited with ${code}`)) })
    proc.on('message', (message) => {
      if (message.ready) {
        resolve({
          setupMs: message.setupMs,
          ask: (command) => new Promise((resolve, reject) => { answer = { resolve, reject }; proc.send(command) }),
          kill: () => proc.kill(),
        })
      } else {
        answer?.resolve(message.value)
      }
    })
  })
}

function summarize (config, result) {
  const cpu = result.cpuPerRequest
  return {
    id: config.id,
    mode: config.mode,
    cache: config.cache,
    n: config.n,
    p50: round(median(cpu)),
    p25: round(quantile(cpu, 0.25)),
    p75: round(quantile(cpu, 0.75)),
    batches: cpu.length,
    rss: result.rss,
    rssAfterGc: result.rssAfterGc,
    heapUsed: result.heapUsed,
    setupMs: result.setupMs,
  }
}

function ratio (name, at, base, pairs, target) {
  const value = Math.round((at.p50 / base.p50) * 1000) / 1000
  const r = (x) => Math.round(x * 1000) / 1000
  return { name, value, pairs: { median: r(median(pairs)), q1: r(quantile(pairs, 0.25)), q3: r(quantile(pairs, 0.75)) }, target, met: target === undefined ? undefined : value <= target }
}

function markdown (started, machine, settings, rows, verdicts) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [
    '# Scale benchmark results',
    '',
    'Generated by `node benchmarks/tenants.js` (method in its header and in',
    '[docs/multi-tenant.md](../docs/multi-tenant.md#scale)); the verdicts and their history are in',
    '[HISTORY.md](HISTORY.md).',
    '',
    `Run ${started.toISOString()} on ${machine.cpus} × ${machine.cpu}, ${machine.memory}, ${machine.os}, Node ${machine.node}.`,
    `In process (\`app.inject\`), one request at a time; in each group the configurations' processes take turns, one batch of ${settings.batch} requests each per round, ${settings.rounds} rounds, after one pass over every tenant and ${settings.warmBatches} warm-up batches.`,
    '',
    line(['verdict', 'ratio of the p50s', 'paired rounds: median (q1–q3)', 'target', '']),
    line(['---', '---:', '---:', '---:', '---']),
    ...verdicts.map((v) => line([v.name, String(v.value), v.pairs === undefined ? '—' : `${v.pairs.median} (${v.pairs.q1}–${v.pairs.q3})`, v.target === undefined ? '—' : `≤ ${v.target}`, v.met === undefined ? '' : v.met ? 'met' : '**missed**'])),
    '',
    line(['configuration', 'N', 'CPU µs/request p50', 'p25–p75', 'RSS MB at the end', 'RSS MB after GC', 'heap MB after GC', 'set-up ms']),
    line(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...rows.map((r) => line([r.mode === 'resolver' ? `resolver, ${r.cache === 'hit' ? 'caches ≥ N' : 'default caches'}` : r.mode === 'static' ? 'static list' : r.id.replace('bare', 'bare Fastify'), r.n.toLocaleString('en'), String(r.p50), `${r.p25}–${r.p75}`, mb(r.rss), mb(r.rssAfterGc), mb(r.heapUsed), String(r.setupMs)])),
    '',
  ].join('\n')
}

// ——— the child: one configuration in a fresh process ———

async function child (config) {
  const { default: Fastify } = await import('fastify')
  const { default: mcpAuth } = await import('fastify-mcp-auth')
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'EdDSA', use: 'sig' }
  const origin = 'https://mcp.example.com'
  const names = Array.from({ length: config.n }, (_, i) => `tenant-${i}`)
  const issuerOf = (name) => config.mode === 'resolver' ? `https://login.example.com/${name}/v2.0` : 'https://login.example.com/v2.0'

  const t0 = performance.now()
  const app = Fastify({ logger: false })
  if (config.mode === 'resolver') {
    const known = new Set(names)
    await app.register(mcpAuth, {
      resource: { origin, path: '/t/:tenant/mcp', resolve: async ({ tenant }) => known.has(tenant) ? {} : undefined },
      authorizationServers: ['https://login.example.com/{tenant}/v2.0'],
      jwks: { keys: [jwk] },
      ...(config.cache === 'hit' ? { tokenCache: { maxEntries: Math.max(config.n, 10_000) } } : {}),
    })
  } else if (config.mode === 'static') {
    await app.register(mcpAuth, {
      resource: names.map((name) => `${origin}/t/${name}/mcp`),
      authorizationServers: ['https://login.example.com/v2.0'],
      jwks: { keys: [jwk] },
    })
  }
  app.post('/t/:tenant/mcp', async () => ({ ok: true }))
  await app.ready()
  const setupMs = Math.round(performance.now() - t0)

  const now = Math.floor(Date.now() / 1000)
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'bench' })).toString('base64url')
  // The pre-minted tokens are all the harness holds per tenant (its memory is in the figures too).
  const tokens = names.map((name) => {
    const payload = Buffer.from(JSON.stringify({ iss: issuerOf(name), aud: `${origin}/t/${name}/mcp`, sub: `user-${name}`, client_id: 'bench', scope: 'mcp:tools:call', iat: now, exp: now + 3600 })).toString('base64url')
    const signature = sign(null, Buffer.from(`${header}.${payload}`), privateKey).toString('base64url')
    return `Bearer ${header}.${payload}.${signature}`
  })
  // Uniform over all tenants: a shuffled order, repeated.
  const order = names.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  let next = 0
  async function send (count) {
    for (let i = 0; i < count; i++) {
      const tenant = order[next]
      next = (next + 1) % order.length
      // A JSON-RPC body, as MCP clients send (light-my-request also keeps every request without one).
      const res = await app.inject({ method: 'POST', url: `/t/tenant-${tenant}/mcp`, payload: PING, headers: { 'content-type': 'application/json', authorization: tokens[tenant] } })
      if (res.statusCode !== 200) throw new Error(`${config.id}: /t/tenant-${tenant}/mcp answered ${res.statusCode} ${res.body}`)
    }
  }

  await send(order.length)
  await send(config.batch * config.warmBatches)
  process.send({ ready: true, setupMs })
  process.on('message', async (command) => {
    if (command === 'batch') {
      const before = process.cpuUsage()
      await send(config.batch)
      const used = process.cpuUsage(before)
      process.send({ value: (used.user + used.system) / config.batch })
      return
    }
    const rss = process.memoryUsage().rss
    globalThis.gc?.()
    const after = process.memoryUsage()
    await app.close()
    process.send({ value: { rss, rssAfterGc: after.rss, heapUsed: after.heapUsed } }, () => process.exit(0))
  })
}

function median (list) {
  return quantile(list, 0.5)
}

function quantile (list, q) {
  const sorted = [...list].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low)
}

function round (value) {
  return Math.round(value * 10) / 10
}

function count (n) {
  return n.toLocaleString('en')
}

function mb (bytes) {
  return (bytes / 1e6).toFixed(0)
}
