// `npm run conformance`: runs the official MCP conformance suite against the client under
// test and the development authorization server, prints the per-scenario table, and exits 1
// on a failure the baseline does not list or on a baseline entry that passes.
//
//   npm run conformance -- [--client "<command>"] [--only auth,draft,…] [--concurrency 2] [--timeout <ms>]
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { failed, judge, loadBaseline } from './baseline.js'
import { formatProblems, formatSummary, formatTable } from './report.js'
import { REPOSITORY, runConformance } from './runner.js'
import { RUNS, clientUnderTest } from './scenarios.js'
import type { RunName } from './scenarios.js'

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    only: { type: 'string' },
    concurrency: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '90000' },
    out: { type: 'string', default: '.conformance' },
    baseline: { type: 'string', default: 'test/conformance/baseline.yml' },
  },
})

const names = RUNS.map((run) => run.name)
const only = values.only?.split(',').map((name) => name.trim()) as RunName[] | undefined
const unknown = only?.filter((name) => !names.includes(name)) ?? []
if (unknown.length > 0) {
  console.error(`unknown run ${unknown.join(', ')}; the runs are ${names.join(', ')}`)
  process.exit(2)
}

// Interrupted, exit properly: on exit the suite processes are ended with us.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

const client = values.client ?? clientUnderTest()
const baseline = await loadBaseline(resolve(REPOSITORY, values.baseline))
console.error(`client under test: ${client}`)
const started = performance.now()
const results = await runConformance({
  client,
  outDir: values.out,
  only,
  concurrency: Number(values.concurrency),
  scenarioTimeoutMs: Number(values.timeout),
  log: (line) => console.error(line),
})
const judged = judge(results, baseline)
const seconds = (performance.now() - started) / 1000
await writeFile(join(resolve(REPOSITORY, values.out), 'results.json'), `${JSON.stringify(judged, null, 2)}\n`)

console.log(formatTable(judged))
console.log('')
const problems = formatProblems(judged)
if (problems !== '') console.log(`${problems}\n`)
console.log(formatSummary(judged, seconds))
process.exitCode = failed(judged) ? 1 : 0
