// The testing kit under the runners users have: node:test (with tsx), vitest
// and tap each run a file (test/testing/runners/) with one test where every
// helper passes on mcpAuth and one where a helper fails on an open route; the
// runner must report one pass, one failure with the helper's message, and the
// test file's line that called the helper.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = 'test/testing/runners'

/** The line of the fixture that calls the failing helper. */
function reportedLine (file: string): number {
  return readFileSync(join(root, dir, file), 'utf8').split('\n').findIndex((line) => line.includes('// the reported line')) + 1
}

/** Runs a command from the project root, without this tap run's own environment; bounded. */
function run (args: string[]): Promise<{ code: number | null, output: string }> {
  // tap passes its loaders and coverage settings to children through the environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TAP|_TAPJS|TS_NODE|NODE_OPTIONS$|NODE_V8_COVERAGE$)/.test(name)))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...env, FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output: Buffer.concat(chunks).toString() })
    })
  })
}

const RUNNERS: Array<{ name: string, file: string, args: string[], summary: RegExp }> = [
  {
    name: 'node:test with tsx',
    file: 'kit.node-test.ts',
    args: ['--import', 'tsx', '--test', '--test-reporter=tap', `${dir}/kit.node-test.ts`],
    summary: /^# pass 1\n# fail 1$/m,
  },
  {
    name: 'vitest',
    file: 'kit.vitest.ts',
    args: ['node_modules/vitest/vitest.mjs', 'run', '--config', `${dir}/vitest.config.ts`],
    summary: /Tests +1 failed \| 1 passed \(2\)/,
  },
  {
    name: 'tap',
    file: 'kit.tap.ts',
    args: ['node_modules/tap/dist/esm/run.mjs', '--disable-coverage', '--reporter=tap', `${dir}/kit.tap.ts`],
    summary: /^# \{ total: 2, pass: 1, fail: 1 \}$/m,
  },
]

// The three runs go side by side: each spends most of its time starting up.
const runs = RUNNERS.map((runner) => run(runner.args))

for (const [i, runner] of RUNNERS.entries()) {
  t.test(`${runner.name}: every helper passes on mcpAuth; a failing helper is reported with its message at the test's line`, async (t) => {
    const { code, output } = await (runs[i] as ReturnType<typeof run>)
    t.equal(code, 1, 'the run fails (one test fails)')
    t.match(output, runner.summary, 'one test passed, one failed')
    t.match(output, /assertDpopProofAccepted: the same request without credentials must be refused with 401 and a Bearer or DPoP challenge/, 'the helper\'s message')
    t.match(output, /fix: the route answered a request without credentials/, 'what to fix')
    t.match(output, new RegExp(`${runner.file.replace('.', '\\.')}:${reportedLine(runner.file)}:\\d+`), 'the line of the test that called the helper')
  })
}
