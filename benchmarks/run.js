// Benchmark orchestrator: fastify-mcp-auth against bare Fastify, the crypto
// ceiling and the peers, every scenario in the same run.
//
//   node benchmarks/run.js            full: N rounds (default 3) of every scenario, then every judged
//                                     comparison (and every one marked `interleave`) again
//                                     interleaved (pairs of 1.5 s windows: 24 over 4
//                                     server processes for the targets against bare Fastify and the
//                                     ceilings, 6 over 2 against peers);
//                                     writes RESULTS.md and ratios.svg
//   node benchmarks/run.js --quick    every scenario ~2.5 s, one round, one comparison interleaved
//                                     briefly; prints the table and only checks that every scenario
//                                     answered 2xx (smoke test)
//   node benchmarks/run.js --report-only   rewrites RESULTS.md and ratios.svg from results.json
//
// Options: --rounds N, --duration S, --warmup S, --connections C, --pipelining P (default 1),
//          --pairs N, --peer-pairs N (interleaved pairs; 0 skips those comparisons),
//          --only id,id (a subset; never writes RESULTS.md), --no-write.
// Run `npm run build` first: the servers import 'fastify-mcp-auth' (dist/).
import { execFileSync, fork } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem, type } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createFixtures } from './fixtures.js'
import { measureCeiling, runPaired, runScenario } from './lib/runner.js'
import { comparisons as allComparisons, missingRequirement, scenarios as allScenarios } from './lib/scenarios.js'
import { aggregate, ratios } from './lib/stats.js'
import { consoleReport, resultsMarkdown, ratiosSvg } from './lib/report.js'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    pairs: { type: 'string' },
    'peer-pairs': { type: 'string' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
  },
})
const here = (file) => fileURLToPath(new URL(file, import.meta.url))

if (args['report-only']) {
  const saved = JSON.parse(readFileSync(here('./results.json'), 'utf8'))
  const input = { ...saved, startedAt: new Date(saved.startedAt), rows: aggregate(saved.rounds, allScenarios()), comparisons: ratios(saved.rounds, saved.paired) }
  writeFileSync(here('./ratios.svg'), ratiosSvg(input))
  writeFileSync(here('./RESULTS.md'), resultsMarkdown(input))
  process.stderr.write('rewrote benchmarks/RESULTS.md and benchmarks/ratios.svg from results.json\n')
  process.exit(0)
}

const quick = args.quick
const settings = {
  mode: quick ? 'quick' : 'full',
  // The sequential rounds give every scenario's figures; the judged ratios come
  // from the interleaved pairs below, which cancel the shared machine's drift.
  rounds: Number(args.rounds ?? (quick ? 1 : 3)),
  duration: Number(args.duration ?? (quick ? 1.2 : 5)),
  warmup: Number(args.warmup ?? (quick ? 0.3 : 2)),
  connections: Number(args.connections),
  // Requests in flight per connection (1: each waits for the previous answer, as MCP clients do).
  pipelining: Number(args.pipelining),
  ceilingSeconds: quick ? 0.3 : 2,
  // Full runs wait (up to 30 s) for other processes on the box to go quiet before each
  // run, and measure a run again (once) if another process took over half a core during it.
  quietWaitMs: quick ? 0 : 30_000,
  noisyRetry: quick ? 0 : 1,
  freshTokenPool: quick ? 12_500 : 25_000,
  pairs: Number(args.pairs ?? (quick ? 1 : 24)),
  peerPairs: Number(args['peer-pairs'] ?? (quick ? 0 : 6)),
  pairDuration: quick ? 0.5 : 1.5,
  pairWarmup: quick ? 0.2 : 1,
  // Fresh server processes per comparison, the pairs spread over them (see runPaired).
  pairProcesses: quick ? 1 : 4,
  peerPairProcesses: quick ? 1 : 2,
}
for (const name of ['rounds', 'duration', 'connections', 'pipelining', 'pairs', 'peerPairs']) {
  const value = settings[name]
  const least = name === 'pairs' || name === 'peerPairs' ? 0 : name === 'duration' ? 0.1 : 1
  if (!Number.isFinite(value) || value < least || (name !== 'duration' && !Number.isInteger(value))) {
    process.stderr.write(`benchmarks/run.js: --${name.replace('peerPairs', 'peer-pairs')} must be ${name === 'duration' ? 'a number of seconds ≥ 0.1' : `an integer ≥ ${least}`}\n`)
    process.exit(2)
  }
}
const only = args.only?.split(',')
const wanted = allScenarios().filter((s) => only === undefined || only.includes(s.id))
const scenarioList = wanted.filter((s) => missingRequirement(s) === undefined)
for (const s of wanted) if (missingRequirement(s) !== undefined) process.stderr.write(`skipping ${s.id}: ${missingRequirement(s)}\n`)
const write = !quick && only === undefined && !args['no-write']
const log = (line) => process.stderr.write(line + '\n')

const started = Date.now()
log(`fastify-mcp-auth benchmarks (${settings.mode}): ${scenarioList.length} scenarios × ${settings.rounds} round(s), ${settings.duration} s each after ${settings.warmup} s warm-up, ${settings.connections} connections`)
const fx = await createFixtures()
fx.freshTokenPool = settings.freshTokenPool

const rounds = []
for (let r = 1; r <= settings.rounds; r++) {
  const ceiling = await measureCeiling(settings.ceilingSeconds)
  log(`round ${r}/${settings.rounds}: ES256 verifications/s — node:crypto ${ceiling.nodeCrypto.perSecond.toFixed(0)}, jose serial ${ceiling.joseSerial.perSecond.toFixed(0)}, jose ×32 ${ceiling.joseParallel.perSecond.toFixed(0)} (${ceiling.joseParallel.perCpuSecond.toFixed(0)} per CPU-s)`)
  const results = {}
  for (const scenario of scenarioList) {
    const result = await runScenario(scenario, fx, {
      ...settings,
      ceilingRps: ceiling.nodeCrypto.perSecond,
      log,
    })
    results[scenario.id] = result
    log(result.failure === undefined
      ? `  ${scenario.id.padEnd(22)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms  server CPU ${result.serverCpuPct.toFixed(0)}%  other load ${result.otherLoadCores?.toFixed(2) ?? '?'} cores`
      : `  ${scenario.id.padEnd(22)} FAILED: ${result.failure}`)
  }
  rounds.push({ round: r, ceiling, results })
}

// Interleaved: every judged comparison between two servers (a smoke-test pair in quick mode).
const byId = Object.fromEntries(scenarioList.map((s) => [s.id, s]))
const pairedList = allComparisons
  .filter((c) => (c.target !== undefined || c.interleave === true) && c.kind !== 'ceiling' && byId[c.subject] !== undefined && byId[c.base] !== undefined)
  .filter((c) => !quick || c.id === 'bearer/bare')
const pairsFor = (c) => (c.kind === 'peer' ? settings.peerPairs : settings.pairs)
const paired = {}
if (pairedList.some((c) => pairsFor(c) > 0)) {
  const verifyRate = rounds.at(-1).ceiling.nodeCrypto.perSecond
  log(`interleaved: ${settings.pairs} pair(s) per target against bare Fastify or a ceiling, ${settings.peerPairs} per peer, ${settings.pairDuration} s windows`)
  for (const c of pairedList.filter((c) => pairsFor(c) > 0)) {
    const record = await runPaired(byId[c.base], byId[c.subject], fx, { pairs: pairsFor(c), processes: c.kind === 'peer' ? settings.peerPairProcesses : settings.pairProcesses, duration: settings.pairDuration, warmup: settings.pairWarmup, connections: settings.connections, pipelining: settings.pipelining, ceilingRps: verifyRate, log })
    paired[c.id] = record
    if (record.failure === undefined) log(`  ${c.id.padEnd(22)} ${record.pairs.map((p) => p.ratio.toFixed(2)).join(' ')}`)
  }
}

const rows = aggregate(rounds, scenarioList)
const comparisons = ratios(rounds, paired)
process.stdout.write(consoleReport({ rows, comparisons, rounds, settings }) + '\n')

const failures = [
  ...rows.filter((row) => row.failures.length > 0 || row.runs === 0 || row.non2xx > 0 || row.errors > 0 || row.timeouts > 0),
  ...Object.entries(paired).filter(([, record]) => record.failure !== undefined).map(([id]) => ({ id: `${id} (interleaved)` })),
]
if (write) {
  log('MemoryReplayStore bytes per entry at 1M entries…')
  const replayStore = await replayStoreMemory()
  const machine = machineInfo()
  const input = { rows, comparisons, rounds, paired, settings, machine, replayStore, startedAt: new Date(started), minutes: (Date.now() - started) / 60_000 }
  // The raw measurements, so the report can be re-rendered (--report-only) without re-running.
  writeFileSync(here('./results.json'), JSON.stringify({ rounds, paired, settings, machine, replayStore, startedAt: input.startedAt, minutes: input.minutes }, null, 1) + '\n')
  writeFileSync(here('./ratios.svg'), ratiosSvg(input))
  writeFileSync(here('./RESULTS.md'), resultsMarkdown(input))
  log('wrote benchmarks/RESULTS.md, ratios.svg and results.json')
}
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
if (failures.length > 0) {
  log(`FAIL: ${failures.map((f) => f.id).join(', ')}: a run failed (a non-2xx answer, a socket error or timeout, or a server that did not start or pass its sanity request; see above)`)
  process.exitCode = 1
}

function replayStoreMemory () {
  return new Promise((resolve, reject) => {
    const child = fork(here('./replay-store-memory.js'), ['--json'], { execArgv: ['--expose-gc'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`replay-store-memory exited with ${code}`))))
  })
}

function machineInfo () {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(here(`../node_modules/${name}/package.json`), 'utf8')).version
    } catch {
      return '?'
    }
  }
  let commit = '?'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here('..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {}
  const self = JSON.parse(readFileSync(here('../package.json'), 'utf8'))
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    ramGiB: totalmem() / 2 ** 30,
    os: `${type()} ${release()}`,
    node: process.version,
    openssl: process.versions.openssl,
    packages: {
      'fastify-mcp-auth': `${self.version} (${commit}, dist/ as built)`,
      fastify: pkg('fastify'),
      jose: pkg('jose'),
      '@fastify/jwt': pkg('@fastify/jwt'),
      'fast-jwt': pkg('fast-jwt'),
      express: pkg('express'),
      'express-oauth2-jwt-bearer': pkg('express-oauth2-jwt-bearer'),
      'jose (express-oauth2-jwt-bearer)': pkg('express-oauth2-jwt-bearer/node_modules/jose'),
      autocannon: pkg('autocannon'),
    },
  }
}
