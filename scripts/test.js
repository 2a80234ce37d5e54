// `npm test`: every check the project has, one step after another. On a terminal each
// step prints as it runs; piped (CI, an editor), each step is one line and only a failing
// step's output is shown, whole. Ends with "npm test: N passed, N failed in S s" and the
// wall-clock seconds of each part, which .ci/run reads.
//
//   node scripts/test.js                 every step
//   node scripts/test.js --only lint,tap-core
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, stripVTControlCharacters } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values: args } = parseArgs({ options: { only: { type: 'string' } } })
const only = args.only?.split(',')
const live = process.stdout.isTTY === true

// Suites of the other entry points (their own referees, browsers and servers): a tap run
// of their own, so the resource server's part keeps its own time budget.
const SUITE_DIRS = ['test/authorization-server', 'test/client', 'test/conformance']

const testFiles = (dir) => existsSync(join(root, dir))
  ? readdirSync(join(root, dir), { recursive: true }).map(String).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f)).sort()
  : []
const allTests = testFiles('test')
const suiteTests = allTests.filter((f) => SUITE_DIRS.some((dir) => f.startsWith(dir + '/')))
const coreTests = allTests.filter((f) => !suiteTests.includes(f))

const bin = (name) => join(root, 'node_modules/.bin', name)
// The package is built and packed once; attw and test:pack read that tarball (run alone,
// each packs, and so builds, for itself).
const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const packDir = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-test-'))
const tarball = join(packDir, `${name}-${version}.tgz`)
const passedHere = new Set()
// The shared tarball once this run packed it (from its own build, or through prepack); otherwise each packs for itself.
const packed = (withTarball, alone) => () => passedHere.has('tarball') ? withTarball : alone
const cleanUp = () => rmSync(packDir, { recursive: true, force: true })
process.once('SIGINT', () => { cleanUp(); process.exit(130) })
// Steps of one `group` only read the sources: piped, they run side by side (each is one
// process on one core); on a terminal, one after another, so their output stays apart.
const steps = [
  { id: 'lint', part: 'core', group: 'static', command: [bin('eslint'), '.'] },
  { id: 'typecheck', part: 'core', group: 'static', command: [bin('tsc'), '-p', 'tsconfig.json'] },
  { id: 'types', part: 'core', group: 'static', tstyche: true, command: [bin('tstyche')] },
  { id: 'build', part: 'core', command: ['npm', 'run', '--silent', 'build'] },
  // Without this run's build, npm's prepack builds.
  { id: 'tarball', part: 'core', command: () => ['npm', 'pack', '--silent', ...(passedHere.has('build') ? ['--ignore-scripts'] : []), '--pack-destination', packDir] },
  // Every entry point's types resolve under moduleResolution node16/nodenext and bundler (ESM only).
  { id: 'attw', part: 'core', command: packed([bin('attw'), tarball, '--profile', 'esm-only'], [bin('attw'), '--pack', '.', '--profile', 'esm-only']) },
  { id: 'tap-core', part: 'core', tap: true, command: [bin('tap'), '--reporter=terse', ...coreTests] },
  // The conformance suite covers nothing (a referee run; see test/coverage-map.js): alone it
  // must not fail the step for lack of coverage. The other suites' coverage is still judged.
  { id: 'tap-suites', part: 'suites', tap: true, skip: suiteTests.length === 0, command: [bin('tap'), '--reporter=terse', '--coverage-map=test/coverage-map.js', '--allow-empty-coverage', ...suiteTests] },
  { id: 'example', part: 'core', command: [process.execPath, 'examples/quick-start.js', '--check'] },
  { id: 'demo', part: 'core', command: [process.execPath, 'examples/demo.js', '--quiet'] },
  { id: 'pack', part: 'core', command: packed([process.execPath, 'scripts/test-pack.js', '--tarball', tarball], [process.execPath, 'scripts/test-pack.js']) },
  { id: 'bench-smoke', part: 'core', command: [process.execPath, 'benchmarks/smoke.js'] },
].filter((step) => only === undefined || only.includes(step.id))

const started = performance.now()
let passed = 0
let failed = 0
const seconds = { core: 0, suites: 0 }
const batches = []
for (const step of steps.filter((s) => !s.skip)) {
  const last = batches.at(-1)
  if (!live && step.group !== undefined && last?.[0].group === step.group) last.push(step)
  else batches.push([step])
}
for (const batch of batches) {
  const t0 = performance.now()
  const results = await Promise.all(batch.map(async (step) => {
    if (live) process.stdout.write(`\n== ${step.id}\n`)
    const result = await run(typeof step.command === 'function' ? step.command() : step.command)
    return { ...result, took: (performance.now() - t0) / 1000 }
  }))
  // A batch counts once, for its wall-clock time.
  seconds[batch[0].part] += (performance.now() - t0) / 1000
  for (const [i, step] of batch.entries()) report(step, results[i])
}
cleanUp()
const total = (performance.now() - started) / 1000
process.stdout.write(`time: resource server ${seconds.core.toFixed(0)} s, other suites ${seconds.suites.toFixed(0)} s, whole ${total.toFixed(0)} s\n`)
process.stdout.write(`npm test: ${passed} passed, ${failed} failed in ${total.toFixed(0)} s\n`)
process.exitCode = failed > 0 ? 1 : 0

/** Adds a finished step to the counts and prints its line (and, piped, a failing step's output). */
function report (step, { code, output, took }) {
  const counts = count(step, output, code)
  passed += counts.passed
  failed += counts.failed
  const ok = code === 0 && counts.failed === 0
  if (ok) passedHere.add(step.id)
  const detail = step.tap || step.tstyche ? ` (${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''})` : ''
  if (!ok && !live) process.stdout.write(`\n== ${step.id} failed; its output:\n${compact(output)}\n`)
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${step.id.padEnd(12)} ${took.toFixed(1).padStart(6)} s${detail}\n`)
}

/** Runs a command from the project root; live on a terminal, captured otherwise. */
function run ([command, ...rest]) {
  return new Promise((resolve) => {
    const child = spawn(command, rest, { cwd: root, stdio: live ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } })
    const chunks = []
    child.stdout?.on('data', (chunk) => chunks.push(chunk))
    child.stderr?.on('data', (chunk) => chunks.push(chunk))
    child.on('error', (err) => chunks.push(Buffer.from(String(err))))
    child.on('close', (code, signal) => resolve({ code: code ?? (signal === null ? 1 : 128), output: Buffer.concat(chunks).toString() }))
  })
}

/**
 * Passed and failed counts from a step's own summary: tap's `# { total, pass, fail }`,
 * tstyche's `Tests: N passed`; any other step counts as one check. On a terminal the
 * output is not captured, so a step counts as one check there too.
 */
function count (step, output, code) {
  const text = stripVTControlCharacters(output)
  if (step.tap && text !== '') {
    const summary = [...text.matchAll(/^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?/gm)].at(-1)
    if (summary !== undefined) {
      const fail = Number(summary[3] ?? 0)
      return { passed: Number(summary[2] ?? 0), failed: fail === 0 && code !== 0 ? 1 : fail, skipped: Number(summary[4] ?? 0) }
    }
  }
  if (step.tstyche && text !== '') {
    const pass = /^Tests:.*?(\d+) passed/m.exec(text)
    const fail = /^Tests:.*?(\d+) failed/m.exec(text)
    if (pass !== null || fail !== null) {
      const failedCount = Number(fail?.[1] ?? 0)
      return { passed: Number(pass?.[1] ?? 0), failed: failedCount === 0 && code !== 0 ? 1 : failedCount }
    }
  }
  return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 }
}

/** A failing step's output without the terse reporter's repeated progress lines. */
function compact (output) {
  return stripVTControlCharacters(output)
    .split('\n')
    .filter((line, i, lines) => !/^(Asserts|Suites): /.test(line) || !lines.slice(i + 1).some((later) => later.startsWith(line.slice(0, 7))))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
