// What importing the package costs a user: the median, over 20 cold child processes,
// of the time `import('fastify-mcp-auth')` takes after `import('fastify')` (so Fastify's
// own cost is not counted), and how many modules that second import loads.
// Target (issue 17): ≤ 25 ms and ≤ 40 modules.
//
//   node benchmarks/import-cost.js [--runs 20] [--entry fastify-mcp-auth] [--json]
// Run `npm run build` first: the entry resolves to dist/.
import { execFileSync } from 'node:child_process'
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
const times = []
for (let i = 0; i < Number(args.runs); i++) times.push(runChild('time').ms)
const counted = runChild('count')
const result = { entry: args.entry, runs: times.length, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), ...counted, node: process.version }
const pass = result.medianMs <= TARGET.ms && result.modules <= TARGET.modules
if (args.json) process.stdout.write(JSON.stringify({ ...result, target: TARGET, pass }, null, 1) + '\n')
else {
  process.stdout.write(`import('${result.entry}') after import('fastify'), ${result.runs} cold processes on Node ${result.node}:\n`)
  process.stdout.write(`  median ${result.medianMs.toFixed(1)} ms (min ${result.minMs.toFixed(1)}, max ${result.maxMs.toFixed(1)}); ${result.modules} modules (${result.typebox} of TypeBox; @fastify/under-pressure ${result.underPressure ? 'loaded' : 'not loaded'})\n`)
  process.stdout.write(`  target ≤ ${TARGET.ms} ms and ≤ ${TARGET.modules} modules: ${pass ? 'PASS' : 'FAIL'}\n`)
}
