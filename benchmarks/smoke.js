// The benchmark smoke test (part of `npm test`): every scenario's server starts, passes
// its sanity request and answers a short burst of requests with 2xx. It measures
// nothing and judges no ratio, so a busy machine can slow it down but not fail it.
//
//   node benchmarks/smoke.js            every scenario
//   node benchmarks/smoke.js --only id,id
//
// Run `npm run build` first: the servers import 'fastify-mcp-auth' (dist/).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createFixtures } from './fixtures.js'
import { load, startServer } from './lib/harness.js'
import { prepareAndProbe } from './lib/runner.js'
import { missingRequirement, scenarios } from './lib/scenarios.js'

const { values: args } = parseArgs({ options: { only: { type: 'string' } } })
const only = args.only?.split(',')
const list = scenarios().filter((s) => only === undefined || only.includes(s.id))
const BURST = 40

const started = Date.now()
// The scale benchmark (benchmarks/tenants.js) with N = 1 and 10, every request answering
// 200: its own process, run beside the scenarios (which mostly wait for their servers).
const tenants = only === undefined || only.includes('tenants') ? runTenants() : undefined
const fx = await createFixtures()
fx.freshTokenPool = BURST * 2
const failures = []
const skipped = []
// Two scenarios at a time: each mostly waits for its server to start (servers listen on
// port 0 and report theirs, so they never compete for one).
const lines = new Array(list.length)
let nextIndex = 0
await Promise.all([0, 1].map(async () => {
  while (nextIndex < list.length) {
    const i = nextIndex++
    const scenario = list[i]
    const missing = missingRequirement(scenario)
    // Under CI a missing service is a failure, as in the test suites.
    lines[i] = missing !== undefined
      ? (process.env.CI === 'true' ? { failure: `CI=true and ${missing}` } : { skipped: missing })
      : await smoke(scenario).catch((err) => ({ failure: err.stack ?? String(err) }))
  }
}))
for (const [i, scenario] of list.entries()) {
  const line = lines[i]
  if (line.skipped !== undefined) {
    skipped.push(scenario.id)
    process.stdout.write(`skip ${scenario.id}: ${line.skipped}\n`)
    continue
  }
  if (line.failure === undefined) {
    process.stdout.write(`ok   ${scenario.id} (${BURST} requests, all 2xx)\n`)
  } else {
    failures.push(scenario.id)
    process.stdout.write(`FAIL ${scenario.id}: ${line.failure}\n`)
  }
}
process.stdout.write(`benchmark smoke: ${list.length - failures.length - skipped.length} of ${list.length} scenarios answered 2xx${skipped.length > 0 ? ` (${skipped.length} skipped)` : ''} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
if (failures.length > 0) process.exitCode = 1
if (tenants !== undefined) {
  const { status, stderr } = await tenants
  process.stdout.write(status === 0 ? 'ok   tenants (scale benchmark, quick)\n' : `FAIL tenants: ${stderr}\n`)
  if (status !== 0) process.exitCode = 1
}

/** Runs `benchmarks/tenants.js --quick`; resolves with its exit status and standard error. */
function runTenants () {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./tenants.js', import.meta.url)), '--quick'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += chunk })
    child.on('error', (err) => resolve({ status: 1, stderr: String(err) }))
    child.on('close', (code) => resolve({ status: code, stderr }))
  })
}

async function smoke (scenario) {
  const server = await startServer(scenario.server, scenario.config(fx))
  try {
    const { target, prepared, failure } = await prepareAndProbe(scenario, fx, server)
    if (failure !== undefined) return { failure }
    const source = prepared.pool === undefined ? { next: prepared.next, headers: prepared.headers } : { next: prepared.pool(BURST).next }
    // Two connections and a generous per-request timeout: a loaded machine is slow, not wrong.
    const result = await load({ ...target, ...source, amount: BURST, connections: 2, timeout: 60 })
    const ok = result['2xx']
    if (ok !== BURST || result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
      return { failure: `${ok} of ${BURST} answered 2xx (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts)` }
    }
    return {}
  } finally {
    await server.stop()
  }
}
