// Runs the conformance suite's client and authorization-server runs a few at a time and
// returns one verdict per scenario. `npm run conformance` (cli.ts) and the test suite
// (conformance.test.ts) both come through here, so they run exactly the same thing.
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { authorizationServerJob } from './authorization-server-runs.js'
import { clientJobs } from './client-runs.js'
import type { Job } from './client-runs.js'
import { collect, readResults } from './results.js'
import type { ScenarioResult } from './results.js'
import { RUNS, SUITE_VERSION } from './scenarios.js'
import type { Run, RunName } from './scenarios.js'
import { INSTALLED_SUITE_VERSION } from './suite-process.js'

export const REPOSITORY = resolve(import.meta.dirname, '../..')

export interface RunnerOptions {
  /** The client under test (see clientUnderTest()). */
  readonly client: string
  /** Where results go, one directory per run (default `.conformance/`). */
  readonly outDir?: string
  /** Runs to do (default all). */
  readonly only?: readonly RunName[]
  /** CLI processes at a time (default 2: the suite runs a suite's scenarios side by side already). */
  readonly concurrency?: number
  /** What the suite gives the client for one scenario (default 90 s: generous on a busy machine). */
  readonly scenarioTimeoutMs?: number
  /** The environment of the suite's processes and of the clients they spawn (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  /** Progress lines. */
  readonly log?: (line: string) => void
}

/** Runs jobs `concurrency` at a time, in order; a job's error is kept for its run. */
async function pool (jobs: readonly { run: Run, job: Job }[], concurrency: number, log: (line: string) => void): Promise<Map<RunName, string>> {
  const errors = new Map<RunName, string>()
  let next = 0
  const worker = async (): Promise<void> => {
    for (let item = jobs[next++]; item !== undefined; item = jobs[next++]) {
      const started = performance.now()
      try {
        await item.job.start()
      } catch (err) {
        errors.set(item.run.name, err instanceof Error ? err.message : String(err))
      }
      log(`done ${item.job.label} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  return errors
}

export async function runConformance (options: RunnerOptions): Promise<ScenarioResult[]> {
  if (INSTALLED_SUITE_VERSION !== SUITE_VERSION) {
    throw new Error(`@modelcontextprotocol/conformance ${INSTALLED_SUITE_VERSION} is installed; the runner is pinned to ${SUITE_VERSION} (run npm ci)`)
  }
  const outDir = resolve(REPOSITORY, options.outDir ?? '.conformance')
  const scenarioTimeoutMs = options.scenarioTimeoutMs ?? 90_000
  const log = options.log ?? (() => {})
  const env = options.env ?? process.env
  const runs = RUNS.filter((run) => options.only === undefined || options.only.includes(run.name))

  const jobs: { run: Run, job: Job }[] = []
  for (const run of runs) {
    const dir = join(outDir, run.name)
    // Results of an earlier run would be read as this one's.
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    const runJobs = run.kind === 'client'
      ? clientJobs(run, { command: options.client, dir, cwd: REPOSITORY, env, scenarioTimeoutMs })
      : [authorizationServerJob(run, { dir, cwd: REPOSITORY, env, timeoutMs: scenarioTimeoutMs })]
    jobs.push(...runJobs.map((job) => ({ run, job })))
  }
  const errors = await pool(jobs, options.concurrency ?? 2, log)

  const results: ScenarioResult[] = []
  for (const run of runs) {
    const dir = join(outDir, run.name)
    const prefix = run.kind === 'authorization' ? 'authorization-server-' : ''
    const why = errors.get(run.name) ?? `no results (see ${join(dir, 'cli*.log')})`
    results.push(...collect(run.name, run.scenarios, await readResults(dir, prefix), why))
  }
  return results
}
