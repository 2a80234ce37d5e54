// The testing kit under the runners users have: node:test (with tsx), vitest
// and tap each run a file (test/testing/runners/) with one test where every
// helper passes on mcpAuth and one where a helper fails on an open route; the
// runner must report one pass, one failure with the helper's message, and the
// test file's line that called the helper.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { root, runNode } from './fixtures.js'

const dir = 'test/testing/runners'

/** The line of the fixture that calls the failing helper. */
function reportedLine (file: string): number {
  return readFileSync(join(root, dir, file), 'utf8').split('\n').findIndex((line) => line.includes('// the reported line')) + 1
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
    // A tap test file runs as a plain node program too: the tap CLI here would share (and
    // reset) this run's .tap/ folder, coverage included.
    name: 'tap',
    file: 'kit.tap.ts',
    args: ['--import', 'tsx', `${dir}/kit.tap.ts`],
    summary: /^# \{ total: 2, pass: 1, fail: 1 \}$/m,
  },
]

// The three runs go side by side: each spends most of its time starting up.
const runs = RUNNERS.map((runner) => runNode(runner.args))

for (const [i, runner] of RUNNERS.entries()) {
  t.test(`${runner.name}: every helper passes on mcpAuth; a failing helper is reported with its message at the test's line`, async (t) => {
    const { code, output } = await (runs[i] as ReturnType<typeof runNode>)
    t.equal(code, 1, 'the run fails (one test fails)')
    t.match(output, runner.summary, 'one test passed, one failed')
    t.match(output, /assertDpopProofAccepted: the same request without credentials must be refused with 401 and a Bearer or DPoP challenge/, 'the helper\'s message')
    t.match(output, /fix: the route answered a request without credentials/, 'what to fix')
    t.match(output, new RegExp(`${runner.file.replace('.', '\\.')}:${reportedLine(runner.file)}:\\d+`), 'the line of the test that called the helper')
  })
}
