// CPU profiles of the servers under load: each chosen scenario runs once with
// `node --cpu-prof` on the server process, then the profiles are summarised
// (top self-time functions, time by package, inclusive time of the plugin's
// request-path functions).
//
//   node benchmarks/profile.js [--scenario mcp-bearer,mcp-dpop] [--duration 10] [--dir benchmarks/profiles]
//
// Open the .cpuprofile files in Chrome DevTools (Performance → Load profile)
// or speedscope for flame graphs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createFixtures } from './fixtures.js'
import { FOCUS, formatSummary, summarize } from './cpuprofile-summary.js'
import { measureCeiling, runScenario } from './lib/runner.js'
import { scenarios } from './lib/scenarios.js'

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'fastify-bare,mcp-bearer,mcp-dpop' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    dir: { type: 'string', default: new URL('./profiles', import.meta.url).pathname },
  },
})
const dir = resolve(args.dir)
mkdirSync(dir, { recursive: true })
const wanted = args.scenario.split(',')
const fx = await createFixtures()
const ceiling = await measureCeiling(1)
const log = (line) => process.stderr.write(line + '\n')

const report = []
for (const scenario of scenarios().filter((s) => wanted.includes(s.id))) {
  const name = `${scenario.id}.cpuprofile`
  const result = await runScenario(scenario, fx, {
    duration: Number(args.duration),
    warmup: Number(args.warmup),
    connections: Number(args.connections),
    ceilingRps: ceiling.nodeCrypto.perSecond,
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`],
    log,
  })
  if (result.failure !== undefined) {
    log(`${scenario.id}: FAILED ${result.failure}`)
    process.exitCode = 1
    continue
  }
  const header = `${scenario.id}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99} ms, server CPU ${result.serverCpuPct.toFixed(0)} % (${result.serverCpuUsPerRequest.toFixed(0)} µs/req)`
  const summary = summarize(JSON.parse(readFileSync(resolve(dir, name), 'utf8')), { top: 30, focus: FOCUS })
  const text = header + '\n' + formatSummary(name, summary)
  console.log(text + '\n')
  report.push(text)
}
writeFileSync(resolve(dir, 'summary.txt'), report.join('\n\n') + '\n')
log(`profiles and summary.txt in ${dir}`)
