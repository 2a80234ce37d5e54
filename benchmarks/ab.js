// A/B of two builds of the plugin (STYLE.md: "simple first, fast by measurement"): the
// same scenario served by build A and build B, interleaved in one run (pairs of short
// windows, the order alternating), ≥ 24 pairs spread over ≥ 4 fresh pairs of processes.
// Prints, per scenario, the median B/A req/s ratio with its q1–q3 and the verdict of the
// ≥ 2 % rule: keep B's optimisation when median ≥ 1.02 and q1 ≥ 1.00. Beside it, the
// server CPU per request of each side (µs) and the A/B CPU ratio with its q1–q3: on a
// machine shared with other work, CPU per request moves far less than req/s.
//
//   node benchmarks/ab.js --a <git ref or directory> --b <git ref or directory>
//        [--scenarios mcp-bearer,mcp-bearer-fresh,mcp-dpop,mcp-dpop-nonce] [--pairs 24]
//        [--processes 4] [--duration 1.5] [--json out.json]
//
// A git ref is checked out into benchmarks/.out/ab/ and built there; a directory is a
// working tree built in place (its own `npm run build` output, dist/). The default
// scenarios are the four judged figures' subjects.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createFixtures } from './fixtures.js'
import { measureCeiling, runPaired } from './lib/runner.js'
import { scenarios } from './lib/scenarios.js'
import { median } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    scenarios: { type: 'string', default: 'mcp-bearer,mcp-bearer-fresh,mcp-dpop,mcp-dpop-nonce' },
    pairs: { type: 'string', default: '24' },
    processes: { type: 'string', default: '4' },
    duration: { type: 'string', default: '1.5' },
    json: { type: 'string' },
  },
})
if (args.a === undefined || args.b === undefined) {
  process.stderr.write('usage: node benchmarks/ab.js --a <ref|dir> --b <ref|dir> [--scenarios id,id] [--pairs 24] [--processes 4]\n')
  process.exit(2)
}
const log = (line) => process.stderr.write(line + '\n')

/** The dist/ directory of a build: a git ref checked out and built, or a built working tree. */
function build (spec) {
  const dir = resolve(spec)
  if (existsSync(join(dir, 'package.json'))) {
    if (!existsSync(join(dir, 'dist/index.js'))) throw new Error(`${dir} has no dist/: run npm run build there`)
    return { label: spec, dist: join(dir, 'dist') }
  }
  const commit = execFileSync('git', ['rev-parse', '--short', spec], { cwd: root, encoding: 'utf8' }).trim()
  const tree = join(root, 'benchmarks/.out/ab', commit)
  if (!existsSync(join(tree, 'dist/index.js'))) {
    log(`building ${spec} (${commit}) in ${tree}`)
    rmSync(tree, { recursive: true, force: true })
    mkdirSync(tree, { recursive: true })
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C ${JSON.stringify(tree)}`], { cwd: root })
    // The build resolves types and dependencies from this project's node_modules.
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'))
    // The ref's own build: tsc alone before dist/ was bundled, tsc and scripts/build.js since.
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: tree, stdio: 'inherit' })
  }
  return { label: `${spec} (${commit})`, dist: join(tree, 'dist') }
}

const A = build(args.a)
const B = build(args.b)
const wanted = args.scenarios.split(',')
const list = scenarios().filter((s) => wanted.includes(s.id))
if (list.length !== wanted.length) throw new Error(`unknown scenario in ${args.scenarios}`)
const variant = (scenario, side) => ({ ...scenario, id: `${scenario.id} [${side === A ? 'A' : 'B'}]`, config: (fx) => ({ ...scenario.config(fx), dist: side.dist }) })

const fx = await createFixtures()
const ceiling = await measureCeiling(1)
const results = []
log(`A/B: A = ${A.label}, B = ${B.label}; ${args.pairs} pairs over ${args.processes} process pairs per scenario`)
for (const scenario of list) {
  const record = await runPaired(variant(scenario, A), variant(scenario, B), fx, {
    pairs: Number(args.pairs),
    processes: Number(args.processes),
    duration: Number(args.duration),
    warmup: 1,
    connections: 50,
    pipelining: 1,
    ceilingRps: ceiling.nodeCrypto.perSecond,
    log,
  })
  const sorted = (values) => values.sort((x, y) => x - y)
  const q = (values, f) => values[Math.min(values.length - 1, Math.floor(f * (values.length - 1)))]
  const ratios = sorted(record.pairs.map((p) => p.ratio))
  const cpuRatios = sorted(record.pairs.map((p) => p.cpu))
  const row = {
    scenario: scenario.id,
    pairs: ratios.length,
    median: median(ratios),
    q1: q(ratios, 0.25),
    q3: q(ratios, 0.75),
    cpu: median(cpuRatios),
    cpuQ1: q(cpuRatios, 0.25),
    cpuQ3: q(cpuRatios, 0.75),
    cpuUsA: median(record.pairs.map((p) => p.baseCpuUs)),
    cpuUsB: median(record.pairs.map((p) => p.subjectCpuUs)),
    failure: record.failure,
  }
  row.verdict = row.failure !== undefined ? 'failed' : row.median >= 1.02 && row.q1 >= 1 ? 'B is faster (keep)' : row.median <= 0.98 && row.q3 <= 1 ? 'B is slower' : 'within noise'
  results.push(row)
  log(`  ${scenario.id.padEnd(18)} B/A ${row.median?.toFixed(3)} (q1–q3 ${row.q1?.toFixed(3)}–${row.q3?.toFixed(3)}), CPU A/B ${row.cpu?.toFixed(3)} (q1–q3 ${row.cpuQ1?.toFixed(3)}–${row.cpuQ3?.toFixed(3)}; ${row.cpuUsA?.toFixed(1)} / ${row.cpuUsB?.toFixed(1)} µs): ${row.verdict}`)
}
process.stdout.write('\n| scenario | B/A req/s (median) | q1–q3 | CPU per request A/B (median) | q1–q3 | CPU µs A / B | verdict |\n|---|---:|---|---:|---|---|---|\n')
for (const r of results) process.stdout.write(`| ${r.scenario} | ${r.median?.toFixed(3) ?? '—'} | ${r.q1?.toFixed(3)}–${r.q3?.toFixed(3)} | ${r.cpu?.toFixed(3) ?? '—'} | ${r.cpuQ1?.toFixed(3)}–${r.cpuQ3?.toFixed(3)} | ${r.cpuUsA?.toFixed(1)} / ${r.cpuUsB?.toFixed(1)} | ${r.verdict} |\n`)
process.stdout.write(`\nA = ${A.label}\nB = ${B.label}\n`)
if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ a: A.label, b: B.label, results, at: new Date().toISOString() }, null, 1) + '\n')
if (results.some((r) => r.failure !== undefined)) process.exitCode = 1
