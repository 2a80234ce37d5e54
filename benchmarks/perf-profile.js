// On-CPU profiles of the servers with Linux `perf`: unlike --cpu-prof (main
// thread only, wall-clock gaps charged to whatever runs next), perf samples
// CPU time of every thread, kernel and OpenSSL included. Each round starts the
// chosen scenarios in turn (order alternating), warms each up, then records a
// fixed number of requests, so samples divide into CPU µs per request.
//
//   node benchmarks/perf-profile.js [--scenario fastify-bare-tls-token,mcp-mtls] [--rounds 3]
//     [--requests 40000] [--period-us 100] [--top 40] [--dir /tmp/perf-profiles]
//
// Needs `perf` with access to cpu-clock events (perf_event_paranoid ≤ 2 as
// root, or ≤ 1). The server runs with --perf-basic-prof so JIT frames have
// names; the .data files and the /tmp/perf-<pid>.map files stay in --dir.
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createFixtures } from './fixtures.js'
import { load, startServer } from './lib/harness.js'
import { prepareAndProbe } from './lib/runner.js'
import { scenarios } from './lib/scenarios.js'
import { median } from './lib/stats.js'

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'fastify-bare-tls-token,mcp-mtls' },
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '40000' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'period-us': { type: 'string', default: '100' },
    top: { type: 'string', default: '40' },
    dir: { type: 'string', default: '/tmp/perf-profiles' },
  },
})
const dir = resolve(args.dir)
mkdirSync(dir, { recursive: true })
const periodUs = Number(args['period-us'])
const log = (line) => process.stderr.write(line + '\n')
const fx = await createFixtures()
const chosen = args.scenario.split(',').map((id) => {
  const scenario = scenarios().find((s) => s.id === id)
  if (scenario === undefined) throw new Error(`unknown scenario ${id}`)
  return scenario
})

/** Where a sampled leaf frame belongs: this package, Fastify, Node's JS, V8, OpenSSL, the kernel... */
function ownerOf (dso, sym) {
  if (dso.includes('kernel')) return 'kernel'
  if (/^(lib(c|m|pthread)[.-])/.test(dso.replace(/.*\//, ''))) return 'libc'
  if (dso.startsWith('[JIT]') || dso.startsWith('/tmp/perf-') || /^JS:|^(LazyCompile|Function|Builtin|Stub|BytecodeHandler|RegExp|Script):/.test(sym)) {
    if (/\/dist\/|fastify-mcp-auth\//.test(sym) && !sym.includes('node_modules')) return 'fastify-mcp-auth'
    if (/node_modules\/(fastify|find-my-way|avvio|light-my-request|fast-json-stringify|@fastify)\//.test(sym)) return 'fastify'
    if (/node_modules\/lru-cache\//.test(sym)) return 'lru-cache'
    if (/node:/.test(sym)) return 'node (JS)'
    if (/benchmarks\/servers\//.test(sym)) return 'benchmark server'
    return 'V8 (JIT code, builtins, stubs)'
  }
  if (/^(Builtins_|v8::|V8_|v8_|unibrow::|cppgc::)/.test(sym)) return 'V8 (builtins, runtime, GC)'
  if (/^(SSL_|ssl3?_|tls1?3?_|tls_|dtls|ossl_|EVP_|evp_|CRYPTO_|BIO_|bio_|OPENSSL_|ERR_|aesni_|aes_|gcm_|GCM|sha(1|256|512)_|SHA(1|256|512)|OBJ_|ASN1_|asn1_|X509|x509|BN_|bn_|EC_|ec_|RAND_|rand_|HMAC|hmac|chacha|Poly1305|poly1305|ChaCha20|OSSL_|PKCS|pkcs|CONF_|lh_|OPENSSL_sk|sk_)/.test(sym)) return 'OpenSSL'
  if (/^(uv_|uv__)/.test(sym)) return 'libuv'
  if (/^node::|^llhttp|^http_parser/.test(sym)) return 'node (C++)'
  if (/^operator (new|delete)|^std::|^__cxa|^__gnu/.test(sym)) return 'libc'
  return 'other native (' + (dso.replace(/.*\//, '') || '?') + ')'
}

/** Self samples by leaf symbol and owner, and inclusive samples under this package's JS frames. */
function summarise (file) {
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { maxBuffer: 1 << 30 }).toString()
  const bySymbol = new Map()
  const byOwner = new Map()
  const underOurs = new Map()
  let total = 0
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block.split('\n').map((line) => /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line)).filter((m) => m !== null)
    if (frames.length === 0) continue
    total++
    const [, rawSym, dso] = frames[0]
    const sym = rawSym.replace(/\+0x[0-9a-f]+$/, '')
    const owner = ownerOf(dso, sym)
    const key = `${owner}\t${shorten(sym)}`
    bySymbol.set(key, (bySymbol.get(key) ?? 0) + 1)
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + 1)
    // The outermost frame of this package on the stack: its callees' cost is spent on our behalf.
    const ours = frames.map(([, s, d]) => [s.replace(/\+0x[0-9a-f]+$/, ''), d]).filter(([s, d]) => ownerOf(d, s) === 'fastify-mcp-auth').pop()
    if (ours !== undefined) underOurs.set(`${shorten(ours[0])}\t${owner}`, (underOurs.get(`${shorten(ours[0])}\t${owner}`) ?? 0) + 1)
  }
  return { total, bySymbol, byOwner, underOurs }
}

function shorten (sym) {
  return sym.replace(/file:\/\/\/\S*?\/(dist|node_modules|benchmarks)\//, '$1/').replace(/^JS:/, '')
}

const runs = new Map(chosen.map((s) => [s.id, []]))
for (let round = 0; round < Number(args.rounds); round++) {
  const order = round % 2 === 0 ? chosen : [...chosen].reverse()
  for (const scenario of order) {
    const server = await startServer(scenario.server, scenario.config(fx), { execArgv: ['--perf-basic-prof', '--logfile=/dev/null', '--no-logfile-per-isolate'] })
    let perf
    try {
      const { target, prepared, failure } = await prepareAndProbe(scenario, fx, server)
      if (failure !== undefined) throw new Error(`${scenario.id}: ${failure}`)
      const connections = Number(args.connections)
      await load({ ...target, headers: prepared.headers, duration: Number(args.warmup), connections })
      const file = resolve(dir, `${scenario.id}.${round}.data`)
      perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-c', String(periodUs * 1000), '-g', '-p', String(server.child.pid), '-o', file], { stdio: 'ignore' })
      await new Promise((resolve) => setTimeout(resolve, 500))
      await server.mark()
      const result = await load({ ...target, headers: prepared.headers, amount: Number(args.requests), connections })
      const stats = await server.stats()
      perf.kill('SIGINT')
      await once(perf, 'exit')
      perf = undefined
      const requests = result.requests.total ?? result.requests.sent
      const non2xx = result.non2xx + result.errors + result.timeouts
      if (non2xx > 0) throw new Error(`${scenario.id}: ${non2xx} failed requests`)
      copyFileSync(`/tmp/perf-${server.child.pid}.map`, resolve(dir, `perf-${server.child.pid}.map`))
      runs.get(scenario.id).push({ file, pid: server.child.pid, requests: result.requests.total ?? Number(args.requests), cpuUsPerRequest: stats.cpuMs * 1000 / Number(args.requests), rps: result.requests.average })
      log(`round ${round + 1} ${scenario.id}: ${(stats.cpuMs * 1000 / Number(args.requests)).toFixed(1)} µs CPU/req (process.cpuUsage), ${result.requests.average} req/s, ${requests} requests`)
    } finally {
      if (perf !== undefined) { perf.kill('SIGINT'); await once(perf, 'exit') }
      await server.stop()
      rmSync(`/tmp/perf-${server.child.pid}.map`, { force: true })
    }
  }
}

// perf script looks the JIT names up in /tmp/perf-<pid>.map.
const perUs = (samples, requests) => samples * periodUs / requests
const summary = new Map()
for (const [id, list] of runs) {
  const perRun = []
  for (const run of list) {
    copyFileSync(resolve(dir, `perf-${run.pid}.map`), `/tmp/perf-${run.pid}.map`)
    try {
      perRun.push({ ...run, ...summarise(run.file) })
    } finally {
      rmSync(`/tmp/perf-${run.pid}.map`, { force: true })
    }
  }
  summary.set(id, perRun)
}

// Median over rounds of µs per request, per key.
function medianOf (perRun, pick) {
  const keys = new Set(perRun.flatMap((r) => [...pick(r).keys()]))
  const out = new Map()
  for (const key of keys) out.set(key, median(perRun.map((r) => perUs(pick(r).get(key) ?? 0, Number(args.requests)))))
  return out
}

const lines = []
const ids = [...summary.keys()]
lines.push(`# perf on-CPU profile, ${args.rounds} rounds × ${args.requests} requests, ${args.connections} connections, sample every ${periodUs} µs of CPU`)
lines.push(`load average at the end: ${execFileSync('cat', ['/proc/loadavg']).toString().trim()}`)
lines.push('')
lines.push('## CPU µs per request (median over rounds)')
for (const id of ids) {
  const perRun = summary.get(id)
  lines.push(`${id}: perf ${median(perRun.map((r) => perUs(r.total, Number(args.requests)))).toFixed(1)} µs/req (runs ${perRun.map((r) => perUs(r.total, Number(args.requests)).toFixed(1)).join(', ')}); process.cpuUsage ${median(perRun.map((r) => r.cpuUsPerRequest)).toFixed(1)} µs/req`)
}
lines.push('')
lines.push('## By owner of the sampled frame (µs/req, median over rounds)')
const owners = ids.map((id) => medianOf(summary.get(id), (r) => r.byOwner))
const ownerKeys = [...new Set(owners.flatMap((m) => [...m.keys()]))].sort((a, b) => (owners.at(-1).get(b) ?? 0) - (owners.at(-1).get(a) ?? 0))
lines.push(['owner', ...ids, ids.length === 2 ? 'difference' : ''].join(' | '))
for (const key of ownerKeys) {
  const values = owners.map((m) => m.get(key) ?? 0)
  lines.push([key, ...values.map((v) => v.toFixed(2)), ids.length === 2 ? (values[1] - values[0]).toFixed(2) : ''].join(' | '))
}
lines.push('')
lines.push(`## Leaf functions, largest difference first (µs/req, median over rounds; top ${args.top})`)
const symbols = ids.map((id) => medianOf(summary.get(id), (r) => r.bySymbol))
const symbolKeys = [...new Set(symbols.flatMap((m) => [...m.keys()]))]
const diff = (key) => (symbols.at(-1).get(key) ?? 0) - (symbols[0].get(key) ?? 0)
symbolKeys.sort((a, b) => Math.abs(diff(b)) - Math.abs(diff(a)))
lines.push(['owner', 'function', ...ids, 'difference'].join(' | '))
for (const key of symbolKeys.slice(0, Number(args.top))) {
  const [owner, sym] = key.split('\t')
  lines.push([owner, sym.slice(0, 110), ...symbols.map((m) => (m.get(key) ?? 0).toFixed(2)), diff(key).toFixed(2)].join(' | '))
}
lines.push('')
lines.push('## Spent under this package\'s frames (outermost frame of ours → owner of the leaf; µs/req, median)')
for (const id of ids) {
  const under = medianOf(summary.get(id), (r) => r.underOurs)
  const rows = [...under.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])
  if (rows.length === 0) continue
  lines.push(`${id}: ${rows.reduce((a, [, v]) => a + v, 0).toFixed(2)} µs/req in all`)
  for (const [key, value] of rows.slice(0, 20)) lines.push(`  ${value.toFixed(2)}  ${key.replace('\t', '  →  ')}`)
}
console.log(lines.join('\n'))
