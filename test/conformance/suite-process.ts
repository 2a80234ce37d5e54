// Runs the pinned conformance CLI in a process group of its own, with a bound on how long it
// may take, and keeps its output in a log file next to its results.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const manifestPath = require.resolve('@modelcontextprotocol/conformance/package.json')
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string, bin: { conformance: string } }

/** The CLI's entry file and the installed version (the runner refuses any other). */
export const SUITE_CLI = join(dirname(manifestPath), manifest.bin.conformance)
export const INSTALLED_SUITE_VERSION = manifest.version

/**
 * `env` without tap's instrumentation of every Node process a test starts (process tracking,
 * coverage): the suite's processes and the clients they spawn are not ours to measure, and
 * instrumented they run at half speed.
 */
export function withoutTestInstrumentation (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('_TAPJS_')))
}

// The suite processes still running. They run in process groups of their own, which a signal
// to this process does not reach, so they are ended when this process exits.
const running = new Set<() => void>()
process.on('exit', () => {
  for (const kill of running) kill()
})

export interface SuiteExit {
  readonly code: number | null
  readonly timedOut: boolean
  readonly output: string
}

export interface SuiteProcess {
  readonly exited: Promise<SuiteExit>
  /** Ends the CLI and every client it spawned. */
  kill (): void
}

export interface SuiteProcessOptions {
  readonly cwd: string
  /** The CLI's stdout and stderr go here when it exits. */
  readonly log: string
  readonly timeoutMs: number
  /** The CLI's environment, which the clients it spawns inherit. */
  readonly env: NodeJS.ProcessEnv
  /** Called with the stdout seen so far, after each chunk. */
  readonly onStdout?: (stdout: string) => void
}

export function startSuite (args: readonly string[], options: SuiteProcessOptions): SuiteProcess {
  // A group of its own, so that ending it also ends the clients it spawned through a shell.
  const child = spawn(process.execPath, [SUITE_CLI, ...args], { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let output = ''
  let timedOut = false
  const kill = (): void => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {}
  }
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    output += chunk
    options.onStdout?.(stdout)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  running.add(kill)
  const timer = setTimeout(() => {
    timedOut = true
    kill()
  }, options.timeoutMs)
  const exited = new Promise<SuiteExit>((resolve) => {
    child.once('close', (code) => {
      running.delete(kill)
      clearTimeout(timer)
      resolve({ code, timedOut, output })
    })
    child.once('error', (err) => {
      running.delete(kill)
      clearTimeout(timer)
      resolve({ code: null, timedOut, output: `${output}\n${err.message}` })
    })
  }).then(async (exit) => {
    await writeFile(options.log, exit.output)
    return exit
  })
  return { exited, kill }
}
