// What importing the package costs a user: the median, over 20 cold child processes,
// of the time `import('fastify-mcp-auth')` takes after `import('fastify')` (so Fastify's
// own cost is not counted), and how many modules that second import loads.
// Target (issue 17): ≤ 25 ms and ≤ 40 modules. The time depends on the machine's load,
// so the 1-minute load average before and after the runs is printed beside it.
//
//   node benchmarks/import-cost.js [--runs 20] [--entry fastify-mcp-auth] [--json]
// Run `npm run build` first: the entry resolves to dist/.
import { execFileSync } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from './lib/stats.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    entry: { type: 'string', default: 'fastify-mcp-auth' },
    json: { type: 'boolean', default: false },
  },
})
const TARGET = { ms: 25, modules: 40 }

const child = fileURLToPath(new URL('./lib/import-child.js', import.meta.url))
const runChild = (mode) => JSON.parse(execFileSync(process.execPath, [child, mode, args.entry], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }))
const loadBefore = loadavg()[0]
const times = []
for (let i = 0; i < Number(args.runs); i++) times.push(runChild('time').ms)
const counted = runChild('count')
const load = { before: loadBefore, after: loadavg()[0], cpus: availableParallelism() }
const result = { entry: args.entry, runs: times.length, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), ...counted, load, node: process.version }
const pass = result.medianMs <= TARGET.ms && result.modules <= TARGET.modules
if (args.json) process.stdout.write(JSON.stringify({ ...result, target: TARGET, pass }, null, 1) + '\n')
else {
  process.stdout.write(`import('${result.entry}') after import('fastify'), ${result.runs} cold processes on Node ${result.node}:\n`)
  const packages = Object.entries(result.byPackage).sort(([, a], [, b]) => b - a).map(([name, n]) => `${name} ${n}`).join(', ')
  process.stdout.write(`  median ${result.medianMs.toFixed(1)} ms (min ${result.minMs.toFixed(1)}, max ${result.maxMs.toFixed(1)}); 1-minute load average ${load.before.toFixed(1)} → ${load.after.toFixed(1)} on ${load.cpus} cores\n`)
  process.stdout.write(`  ${result.modules} modules (node: builtins not counted): ${packages}; @fastify/under-pressure ${result.underPressure ? 'loaded' : 'not loaded'}\n`)
  const misses = [
    ...(result.medianMs > TARGET.ms ? [`median ${result.medianMs.toFixed(1)} ms > ${TARGET.ms} ms`] : []),
    ...(result.modules > TARGET.modules ? [`${result.modules} modules > ${TARGET.modules}`] : []),
  ]
  process.stdout.write(`  target ≤ ${TARGET.ms} ms and ≤ ${TARGET.modules} modules: ${pass ? 'PASS' : `FAIL (${misses.join(', ')})`}\n`)
}
