// Runs one scenario once: fork the server, sanity-probe it, warm it up, then
// one measured autocannon run with the server's CPU and memory and the
// machine's other load (other processes on the box) recorded around it.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { load, probe, startServer } from './harness.js'
import { PATH } from '../fixtures.js'

const CORES = cpus().length
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Busy and total jiffies of the whole machine (/proc/stat), or undefined off Linux. */
function machineTicks () {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/** CPU the whole machine spent between two snapshots, in ms (all cores). */
function busyMs (before, after, wallMs) {
  if (before === undefined || after === undefined || after.total === before.total) return undefined
  return ((after.busy - before.busy) / (after.total - before.total)) * CORES * wallMs
}

/**
 * Waits (up to maxWaitMs) until other processes use less than `threshold` of
 * a core, so a run does not start in the middle of someone's test suite.
 * Returns the last measured load in cores.
 */
export async function quietGate ({ maxWaitMs, threshold = 0.25, sampleMs = 500 }) {
  const deadline = Date.now() + maxWaitMs
  let cores
  do {
    const t0 = performance.now()
    const before = machineTicks()
    await sleep(sampleMs)
    const wall = performance.now() - t0
    const used = busyMs(before, machineTicks(), wall)
    if (used === undefined) return undefined
    cores = used / wall
    if (cores < threshold) return cores
  } while (Date.now() < deadline)
  return cores
}

/** Forks lib/ceiling.js and returns its measurement. */
export function measureCeiling (seconds) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./ceiling.js', import.meta.url)), [String(seconds)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.on('message', (message) => { if (message?.type === 'ceiling') resolve(message.result) })
    child.on('exit', (code) => { if (code !== 0) reject(new Error(`ceiling exited with ${code}`)) })
  })
}

function summarize (result) {
  const completed = result.requests.total
  return {
    requests: completed,
    sent: result.requests.sent,
    seconds: result.duration,
    rps: completed / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    latencyMean: result.latency.average,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count])),
  }
}

const failed = (s) => s.non2xx > 0 || s.errors > 0 || s.timeouts > 0 || s.mismatches > 0 || s.ok === 0
const describeFailure = (s) => `${s.non2xx} non-2xx ${JSON.stringify(s.statusCodes)}, ${s.errors} errors, ${s.timeouts} timeouts, ${s.mismatches} mismatches`

/**
 * A request source for one run. Pools are sized from the expected rate and
 * requests are capped at the pool size, so a proof is never sent twice.
 */
function requestSource (prepared, seconds, estimatedRps) {
  if (prepared.pool !== undefined) {
    const size = Math.ceil(seconds * estimatedRps * 2.5) + 2000
    const { next } = prepared.pool(size)
    return { next, cap: size }
  }
  return { next: prepared.next, headers: prepared.headers, cap: undefined }
}

/**
 * What the load generator sends to a started server, after one sanity request
 * built with the testing helpers passed (`failure` says why it did not).
 */
export async function prepareAndProbe (scenario, fx, server) {
  const target = { port: server.port, tls: scenario.tls === true, clientTls: scenario.clientTls?.(fx), path: PATH }
  const prepared = await scenario.prepare(fx, { port: server.port })
  const answer = await probe({ ...target, headers: await prepared.probe() })
  const failure = answer.status >= 200 && answer.status <= 299
    ? undefined
    : `sanity request answered ${answer.status} ${answer.wwwAuthenticate ?? ''} ${answer.body.slice(0, 300)}`
  return { target, prepared, failure }
}

/**
 * One measured window against a running server: a request source sized from
 * `estimate`, the server's CPU figures around it. `ranOut` is true when a pool
 * was used up before the time was (the run is then too short to count).
 */
async function measureWindow ({ server, target, prepared, seconds, estimate, connections, pipelining }) {
  const source = requestSource(prepared, seconds, estimate)
  await server.mark()
  const summary = summarize(await load({ ...target, ...source, duration: seconds, connections, pipelining, maxOverallRequests: source.cap }))
  const stats = await server.stats()
  return { summary, stats, pool: source.cap, ranOut: source.cap !== undefined && summary.sent >= source.cap }
}

/**
 * @param scenario   one of scenarios()
 * @param fx         createFixtures()
 * @param options    { duration, warmup, connections, pipelining, ceilingRps, quietWaitMs, noisyRetry, execArgv, log }
 */
export async function runScenario (scenario, fx, options) {
  const { duration, warmup, connections, pipelining, ceilingRps, quietWaitMs = 0, noisyRetry = 0, execArgv = [], log = () => {} } = options
  const server = await startServer(scenario.server, scenario.config(fx), { execArgv })
  const record = { id: scenario.id, label: scenario.label }
  try {
    const { target, prepared, failure } = await prepareAndProbe(scenario, fx, server)
    if (failure !== undefined) {
      record.failure = failure
      return record
    }

    // Proof-verifying scenarios cannot outrun the verification rate by much; if
    // the warm-up pool still runs out, the estimate doubles.
    let estimate = Math.max(1000, ceilingRps)
    if (warmup > 0) {
      const w = await measureWindow({ server, target, prepared, seconds: warmup, estimate, connections, pipelining })
      if (failed(w.summary)) {
        record.failure = `warm-up: ${describeFailure(w.summary)}`
        return record
      }
      estimate = w.ranOut ? estimate * 2 : Math.max(w.summary.rps, 500)
    }

    let best
    for (let attempt = 0, noisy = 0; ; attempt++) {
      const quiet = quietWaitMs > 0 ? await quietGate({ maxWaitMs: quietWaitMs }) : undefined
      const machine0 = machineTicks()
      const parent0 = process.cpuUsage()
      const t0 = performance.now()
      const { summary: s, stats, pool, ranOut } = await measureWindow({ server, target, prepared, seconds: duration, estimate, connections, pipelining })
      const wall = performance.now() - t0
      const parent = process.cpuUsage(parent0)
      const machine = busyMs(machine0, machineTicks(), wall)
      if (ranOut && attempt < 3) {
        log(`  ${scenario.id}: the pool of ${pool} ran out before ${duration} s; again with a larger one`)
        estimate *= 2
        continue
      }
      const run = {
        ...s,
        serverCpuPct: (stats.cpuMs / stats.wallMs) * 100,
        serverCpuUsPerRequest: (stats.cpuMs * 1000) / Math.max(1, s.requests),
        rss: stats.rss,
        heapUsed: stats.heapUsed,
        loadGeneratorCpuPct: ((parent.user + parent.system) / 1000 / wall) * 100,
        // Whatever else ran on the machine meanwhile, in cores (noise indicator).
        otherLoadCores: machine === undefined ? undefined : Math.max(0, (machine - stats.cpuMs - (parent.user + parent.system) / 1000) / wall),
        quietBeforeCores: quiet,
        pool,
        attempts: attempt + 1,
      }
      if (failed(s)) run.failure = describeFailure(s)
      if (best === undefined || (run.failure === undefined && (best.failure !== undefined || (run.otherLoadCores ?? 0) < (best.otherLoadCores ?? 0)))) best = run
      // Someone else's job took a core during the run: once more, keep the quieter run.
      if (run.failure === undefined && noisyRetry > 0 && noisy < noisyRetry && (run.otherLoadCores ?? 0) > 0.5) {
        noisy++
        log(`  ${scenario.id}: ${run.otherLoadCores.toFixed(2)} cores of other load during the run; measuring again`)
        continue
      }
      Object.assign(record, best)
      return record
    }
  } catch (err) {
    record.failure = err.stack ?? String(err)
    return record
  } finally {
    await server.stop()
  }
}

/**
 * Interleaved A/B for one comparison: both servers up at once, warmed, then
 * pairs of short windows, the two servers alternating (base first, then
 * subject first, and so on), so slow drift of a shared machine hits both sides
 * alike. Each pair gives one ratio; the caller takes their median.
 *
 * The pairs are spread over `processes` fresh pairs of server processes: one
 * process can run a few per cent slower than another of the same code for its
 * whole life (heap layout, JIT decisions), a bias interleaving cannot cancel.
 *
 * @param base, subject  scenarios()
 * @param options  { pairs, processes, duration, warmup, connections, pipelining, ceilingRps, log }
 */
export async function runPaired (base, subject, fx, options) {
  const { pairs, processes = 1, log = () => {} } = options
  const record = { base: base.id, subject: subject.id, processes: 0, pairs: [] }
  try {
    for (let p = 0; p < processes; p++) {
      // Pairs per process: as even as the division allows.
      const count = Math.floor(pairs * (p + 1) / processes) - Math.floor(pairs * p / processes)
      if (count > 0) await pairsInFreshProcesses(base, subject, fx, count, options, record.pairs)
      record.processes++
    }
  } catch (err) {
    record.failure = err.message ?? String(err)
    log(`  ${subject.id} ÷ ${base.id}: FAILED: ${record.failure}`)
  }
  return record
}

async function pairsInFreshProcesses (base, subject, fx, count, { duration, warmup, connections, pipelining, ceilingRps }, out) {
  const sides = []
  try {
    for (const scenario of [base, subject]) {
      const server = await startServer(scenario.server, scenario.config(fx))
      const side = { scenario, server, estimate: Math.max(1000, ceilingRps) }
      sides.push(side)
      const { target, prepared, failure } = await prepareAndProbe(scenario, fx, server)
      if (failure !== undefined) throw new Error(`${scenario.id}: ${failure}`)
      Object.assign(side, { target, prepared })
    }
    const window = async (side, seconds) => {
      for (let attempt = 0; ; attempt++) {
        const { summary, stats, ranOut } = await measureWindow({ ...side, seconds, connections, pipelining })
        if (ranOut && attempt < 3) {
          side.estimate *= 2
          continue
        }
        if (failed(summary)) throw new Error(`${side.scenario.id}: ${describeFailure(summary)}`)
        side.estimate = Math.max(summary.rps, 500)
        return { rps: summary.rps, cpuUsPerRequest: (stats.cpuMs * 1000) / Math.max(1, summary.requests) }
      }
    }
    if (warmup > 0) for (const side of sides) await window(side, warmup)
    for (let p = 0; p < count; p++) {
      const order = p % 2 === 0 ? sides : [...sides].reverse()
      const measured = new Map()
      for (const side of order) measured.set(side, await window(side, duration))
      const [b, s] = sides.map((side) => measured.get(side))
      out.push({ baseRps: b.rps, subjectRps: s.rps, ratio: s.rps / b.rps, cpu: b.cpuUsPerRequest / s.cpuUsPerRequest, baseCpuUs: b.cpuUsPerRequest, subjectCpuUs: s.cpuUsPerRequest })
    }
  } finally {
    for (const side of sides) await side.server.stop()
  }
}
