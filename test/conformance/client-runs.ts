// The client runs: the suite starts its scenario servers on loopback ports, spawns the client
// under test against each, and judges what the client sent. One CLI process per suite (it runs
// the suite's scenarios in parallel) or per named scenario.
import { join } from 'node:path'
import type { ClientRun } from './scenarios.js'
import { startSuite } from './suite-process.js'

export interface ClientJobOptions {
  readonly command: string
  /** The run's result directory, `.conformance/<run>`. */
  readonly dir: string
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** How long the suite gives the client for one scenario. */
  readonly scenarioTimeoutMs: number
}

export interface Job {
  readonly label: string
  start (): Promise<void>
}

/** The CLI invocations of one client run, ready to be scheduled. */
export function clientJobs (run: ClientRun, options: ClientJobOptions): Job[] {
  const common = ['--command', options.command, '--timeout', String(options.scenarioTimeoutMs), '-o', options.dir]
  // The suite's scenarios run side by side, so the run as a whole needs little more than one
  // scenario's time; the margin covers the CLI's own start and the scenario servers.
  const timeoutMs = options.scenarioTimeoutMs + 60_000
  const selections = run.suite === undefined
    ? run.scenarios.map((scenario) => ({ name: scenario, args: ['--scenario', scenario] }))
    : [{ name: run.suite, args: ['--suite', run.suite] }]
  return selections.map(({ name, args }) => ({
    label: `${run.name}: ${args.join(' ')}`,
    async start () {
      const log = join(options.dir, `cli-${name.replaceAll('/', '_')}.log`)
      await startSuite(['client', ...args, ...common], { cwd: options.cwd, env: options.env, log, timeoutMs }).exited
    },
  }))
}
