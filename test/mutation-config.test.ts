// `npm run test:mutation` is too slow for `npm test` (test/MUTATION.md); this keeps it
// runnable: the Stryker config names only options Stryker and its tap runner know,
// mutates files that exist, runs the resource server's unit, issue, plugin, integration
// and property tests, the two passes get their test lists and the mutants pass 1 left,
// the summary script judges each module against 95 %, and the merge script combines the
// passes' reports.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(join(root, path), 'utf8')) as Record<string, unknown>

interface StrykerConfig {
  readonly [option: string]: unknown
  readonly testRunner: string
  readonly coverageAnalysis: string
  readonly incremental: boolean
  readonly concurrency: number
  readonly mutate: readonly string[]
  readonly tap: { readonly [option: string]: unknown, readonly testFiles: readonly string[], readonly nodeArgs: readonly string[] }
}
interface Location { readonly start: { readonly line: number, readonly column: number }, readonly end: { readonly line: number, readonly column: number } }
interface Report { readonly files: Record<string, { readonly mutants: ReadonlyArray<{ readonly status: string, readonly location: Location }> }> }
// Paths the compiler does not resolve: the config and the script are plain JavaScript, as Stryker and npm load them.
const configPath = '../stryker.config.mjs'
const { default: config, passOptions, testFiles } = await import(configPath) as { default: StrykerConfig, passOptions: (pass: number, mutate: string[]) => StrykerConfig, testFiles: () => string[] }
const scriptPath = '../scripts/mutation.js'
const { undetectedRanges, changedSince } = await import(scriptPath) as {
  undetectedRanges: (report: Report, modules: readonly string[]) => string[]
  changedSince: (report: { files: Record<string, { source: string }> }, modules: readonly string[]) => string[]
}

t.test('every option is one Stryker or its tap runner defines', async (t) => {
  const core = json('node_modules/@stryker-mutator/core/schema/stryker-schema.json') as { properties: Record<string, unknown> }
  const tap = json('node_modules/@stryker-mutator/tap-runner/dist/schema/tap-runner-options.json') as { properties: { tap: { properties: Record<string, unknown> } } }
  for (const option of Object.keys(config)) t.ok(Object.hasOwn(core.properties, option), `${option} is a Stryker option`)
  for (const option of Object.keys(config.tap)) t.ok(Object.hasOwn(tap.properties.tap.properties, option), `tap.${option} is a tap runner option`)
  t.equal(config.testRunner, 'tap')
  t.equal(config.coverageAnalysis, 'perTest', 'a mutant runs only the test files that execute it')
  t.equal(config.incremental, true, 'a rerun only tries what changed')
  t.equal(config.concurrency, 2, 'one test process per core')
  t.same(config.tap.nodeArgs, ['--experimental-strip-types', '--no-warnings', '--import', './test/helpers/strip-types.mjs'], 'the tests run as npm test runs them')
})

t.test('the mutated modules exist; the tests are every resource-server test file that runs lib code', async (t) => {
  for (const file of config.mutate) t.ok(existsSync(join(root, file)), `${file} exists`)
  t.equal(new Set(config.mutate).size, config.mutate.length, 'each module once')
  const listed = new Set(config.tap.testFiles)
  for (const file of listed) t.ok(existsSync(join(root, file)), `${file} exists`)
  // Suites of the other entry points, the testing kit's and the interop tests, and checks that read files as text stay out; any other test file is in.
  const outside = /^test\/(authorization-server|client|conformance|docs|testing|interop)\/|^test\/[^/]+\.test\.ts$|^test\/lib\/import-graph\.test\.ts$/
  // So do those that import examples/, which run the built package (dist/).
  const runsDist = (file: string) => /^import .* from '(\.\.\/)+examples\//m.test(readFileSync(join(root, file), 'utf8'))
  const all = readdirSync(join(root, 'test'), { recursive: true }).map((f) => `test/${String(f)}`).filter((f) => f.endsWith('.test.ts'))
  for (const file of all) {
    const out = outside.test(file) || runsDist(file)
    t.equal(listed.has(file), !out, `${file} ${out ? 'left out' : 'in the run'}`)
  }
  t.notOk(listed.has('test/interop/mcp-sdk.test.ts'), 'e.g. the MCP SDK interop test, which runs examples/authorization-server.js')
  t.ok(listed.has('test/integration/redis.test.ts'), 'the Redis store tests are in')
  t.ok(config.tap.testFiles.indexOf('test/lib/units.test.ts') < config.tap.testFiles.indexOf('test/plugins/dpop.test.ts'), 'unit tests first')
})

t.test('npm run test:mutation runs the two passes (scripts/mutation.js); pinned versions', async (t) => {
  const pkg = json('package.json') as { scripts: Record<string, string>, devDependencies: Record<string, string> }
  t.equal(pkg.scripts['test:mutation'], 'node scripts/check-node.js && node scripts/mutation.js')
  t.match(readFileSync(join(root, 'scripts/mutation.js'), 'utf8'), /'scripts\/mutation-merge\.js'[^]*'scripts\/mutation-summary\.js', 'reports\/mutation\/mutation\.json'/, 'the passes are merged, then judged')
  t.notMatch(pkg.scripts.test, /mutation|stryker/, 'not part of npm test')
  const core = pkg.devDependencies['@stryker-mutator/core']
  t.match(core, /^\d+\.\d+\.\d+$/, 'pinned')
  t.equal(pkg.devDependencies['@stryker-mutator/tap-runner'], core, 'the runner of the same release')
  t.equal((json('node_modules/@stryker-mutator/core/package.json') as { version: string }).version, core, 'installed as pinned')
})

t.test('pass 1 runs the unit and issue tests, pass 2 every listed test file; each pass has its own reports and incremental file, and shares every other option', async (t) => {
  const all = testFiles()
  t.same(config.tap.testFiles, all)
  const one = passOptions(1, ['lib/scopes.ts'])
  const two = passOptions(2, ['lib/scopes.ts:3:2-3:9'])
  t.same(one.tap.testFiles, all.filter((file) => file.startsWith('test/lib/') || file.startsWith('test/issues/')), 'pass 1: test/lib and test/issues')
  t.ok(one.tap.testFiles.includes('test/lib/units.test.ts') && one.tap.testFiles.some((file) => file.startsWith('test/issues/')))
  t.same(two.tap.testFiles, all, 'pass 2: every listed test file')
  t.same(one.mutate, ['lib/scopes.ts'])
  t.same(two.mutate, ['lib/scopes.ts:3:2-3:9'])
  const own = ['mutate', 'tap', 'incrementalFile', 'jsonReporter', 'htmlReporter']
  for (const pass of [one, two]) {
    t.same(Object.keys(pass).sort(), Object.keys(config).sort(), 'no option beyond the shared ones')
    for (const option of Object.keys(config).filter((o) => !own.includes(o))) t.same(pass[option], config[option], `${option} shared`)
    t.same({ ...pass.tap, testFiles: [] }, { ...config.tap, testFiles: [] }, 'tap options other than the files shared')
    t.same(JSON.parse(JSON.stringify(pass)), pass, 'written as a JSON config file whole')
  }
  const paths = [config, one, two].flatMap((c) => [c.incrementalFile, (c.jsonReporter as { fileName: string }).fileName, (c.htmlReporter as { fileName: string }).fileName])
  t.equal(new Set(paths).size, paths.length, 'no pass reads or writes another pass\'s files')
  t.ok(paths.every((path) => typeof path === 'string' && path.startsWith('reports/')), 'under reports/, out of git')
  t.throws(() => passOptions(3, []), RangeError)
})

t.test('pass 2 mutates the ranges of the mutants pass 1 left undetected, in Stryker\'s syntax (columns 0-based), each once', async (t) => {
  const at = (line: number, column: number, endLine: number, endColumn: number): Location => ({ start: { line, column }, end: { line: endLine, column: endColumn } })
  const report: Report = {
    files: {
      'lib/a.ts': {
        mutants: [
          { status: 'Killed', location: at(1, 1, 1, 5) },
          { status: 'Survived', location: at(2, 5, 2, 12) },
          { status: 'NoCoverage', location: at(3, 1, 5, 2) },
          { status: 'Survived', location: at(2, 5, 2, 12) }, // another mutator, same code
          { status: 'Timeout', location: at(6, 1, 6, 4) },
          { status: 'CompileError', location: at(7, 1, 7, 4) },
        ],
      },
      'lib/b.ts': { mutants: [{ status: 'Survived', location: at(10, 3, 10, 8) }] },
      'lib/other.ts': { mutants: [{ status: 'Survived', location: at(1, 1, 1, 2) }] },
    },
  }
  t.same(undetectedRanges(report, ['lib/a.ts', 'lib/b.ts', 'lib/absent.ts']), ['lib/a.ts:2:4-2:11', 'lib/a.ts:3:0-5:1', 'lib/b.ts:10:2-10:7'], 'survived and uncovered only; a module not in the run is left out')
  t.same(undetectedRanges({ files: { 'lib/a.ts': { mutants: [{ status: 'Killed', location: at(1, 1, 1, 5) }] } } }, ['lib/a.ts']), [], 'none when pass 1 detected every mutant: no pass 2')
})

t.test('scripts/mutation.js stops before pass 2 when a module changed during pass 1 (its ranges are lines of the old source)', async (t) => {
  const source = readFileSync(join(root, 'lib/scopes.ts'), 'utf8')
  t.same(changedSince({ files: { 'lib/scopes.ts': { source } } }, ['lib/scopes.ts']), [])
  t.same(changedSince({ files: { 'lib/scopes.ts': { source: source + '\n' } } }, ['lib/scopes.ts']), ['lib/scopes.ts'])
  t.same(changedSince({ files: {} }, ['lib/scopes.ts']), [], 'a module the report does not have is not judged')
})

t.test('scripts/mutation.js refuses a module the configuration does not mutate, before running anything', async (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'scripts/mutation.js'), ...args], { encoding: 'utf8' })
  const unknown = run('--mutate', 'lib/jwk-thumbprint.ts,lib/nope.ts')
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, 'not a mutated module: lib/nope.ts')
  const bad = run('--mutant', 'lib/jwk-thumbprint.ts')
  t.equal(bad.status, 2)
  t.match(bad.stderr, 'usage: node scripts/mutation.js [--mutate')
})

t.test('the summary fails a module below 95 % or an unexplained survivor, and counts timeouts as detected', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mutation-summary-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const mutant = (status: string, line: number) => ({ id: String(line), mutatorName: 'EqualityOperator', replacement: 'a >= b', status, location: { start: { line, column: 1 }, end: { line, column: 2 } } })
  const report = (statuses: string[]) => {
    const file = join(dir, `${statuses.join('-').length}.json`)
    writeFileSync(file, JSON.stringify({ files: { 'lib/x.ts': { source: 'a > b\n'.repeat(statuses.length), mutants: statuses.map((s, i) => mutant(s, i + 1)) } } }))
    return file
  }
  const explained = join(dir, 'equivalents.js')
  writeFileSync(explained, "export default [{ file: 'lib/x.ts', code: 'a > b', original: 'a', mutator: 'EqualityOperator', replacement: 'a >= b', why: 'a and b are never equal' }]\n")
  const none = join(dir, 'none.js')
  writeFileSync(none, 'export default []\n')
  const run = (file: string, equivalents: string): { status: number, stdout: string } => {
    try {
      return { status: 0, stdout: execFileSync(process.execPath, [join(root, 'scripts/mutation-summary.js'), file, equivalents], { encoding: 'utf8' }) }
    } catch (err) {
      const failed = err as { status: number, stdout: string }
      return { status: failed.status, stdout: failed.stdout }
    }
  }
  const passingReport = report([...Array(18).fill('Killed'), 'Timeout', 'Survived', 'CompileError'])
  const passing = run(passingReport, explained)
  t.equal(passing.status, 0)
  t.match(passing.stdout, '| `lib/x.ts` | 21 | 18 | 1 | 1 | 1 | 0 | 1 | 95.0 % | 100.0 % |', 'the explained survivor is left out of the judged score')
  t.match(passing.stdout, /- lib\/x\.ts:20:1 EqualityOperator → "a >= b"\n {4}a > b\n {4}equivalent: a and b are never equal/, 'the survivor with its line and why')
  const unexplained = run(passingReport, none)
  t.equal(unexplained.status, 1, 'the same run with the survivor unexplained fails')
  t.match(unexplained.stdout, /a > b\n {4}NOT EXPLAINED/)
  t.match(unexplained.stdout, '1 survivor(s) not explained')
  const failing = run(report([...Array(18).fill('Killed'), 'Survived', 'NoCoverage']), explained)
  t.equal(failing.status, 1)
  t.match(failing.stdout, '| 90.0 % | 94.7 % |', 'a mutant no test runs counts against the module')
  t.match(failing.stdout, 'Below 95 %: lib/x.ts')
  t.match(failing.stdout, /\(no coverage\) → "a >= b"\n {4}a > b\n {4}NOT EXPLAINED/, 'a mutant no test runs is never explained away')
  const stale = run(report(Array(20).fill('Killed')), explained)
  t.match(stale.stdout, '1 explanation(s)', 'an explanation that matches no survivor is reported')
  const elsewhere = join(dir, 'elsewhere.js')
  writeFileSync(elsewhere, "export default [{ file: 'lib/y.ts', code: 'a > b', original: 'a', mutator: 'EqualityOperator', replacement: 'a >= b', why: 'a and b are never equal' }]\n")
  const narrowed = run(report(Array(20).fill('Killed')), elsewhere)
  t.equal(narrowed.status, 0)
  t.notMatch(narrowed.stdout, 'explanation(s)', 'an explanation of a module the run left out (npm run test:mutation -- --mutate) is not reported')
})

t.test('the summary: an explanation of code that occurs twice on its line names its column, and excuses only that one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mutation-columns-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const at = (column: number) => ({ start: { line: 1, column }, end: { line: 1, column: column + 1 } })
  const file = join(dir, 'report.json')
  writeFileSync(file, JSON.stringify({ files: { 'lib/x.ts': { source: 'f(a, a)\n', mutants: [3, 6].map((column) => ({ id: String(column), mutatorName: 'StringLiteral', replacement: 'b', status: 'Survived', location: at(column) })) } } }))
  const summary = (entry: string): { status: number, stdout: string } => {
    const equivalents = join(dir, `eq-${entry.length}.js`)
    writeFileSync(equivalents, `export default [{ file: 'lib/x.ts', code: 'f(a, a)', original: 'a', mutator: 'StringLiteral', replacement: 'b', ${entry}why: 'w' }]\n`)
    try {
      return { status: 0, stdout: execFileSync(process.execPath, [join(root, 'scripts/mutation-summary.js'), file, equivalents], { encoding: 'utf8' }) }
    } catch (err) {
      return err as { status: number, stdout: string }
    }
  }
  const without = summary('')
  t.equal(without.status, 1)
  t.match(without.stdout, 'give each its column', 'without a column it would excuse both')
  const withColumn = summary('column: 3, ')
  t.equal(withColumn.status, 1, 'the other one is still a survivor to explain')
  t.match(withColumn.stdout, /lib\/x\.ts:1:3 StringLiteral → "b"\n {4}f\(a, a\)\n {4}equivalent: w/)
  t.match(withColumn.stdout, /lib\/x\.ts:1:6 StringLiteral → "b"\n {4}f\(a, a\)\n {4}NOT EXPLAINED/)
  t.notMatch(withColumn.stdout, 'give each its column')
})

t.test('the merge counts a mutant as detected when any report detected it, as covered when any ran a test over it, and takes a changed module only from a pass that mutated it whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mutation-merge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const at = (line: number) => ({ start: { line, column: 1 }, end: { line, column: 2 } })
  const write = (name: string, source: string, statuses: string[]) => {
    const file = join(dir, name)
    writeFileSync(file, JSON.stringify({ files: { 'lib/x.ts': { source, mutants: statuses.map((status, i) => ({ id: String(i), mutatorName: 'EqualityOperator', replacement: 'a >= b', status, location: at(i + 1) })) } } }))
    return file
  }
  const source = 'a > b\n'.repeat(3)
  const first = write('first.json', source, ['Killed', 'Survived', 'NoCoverage'])
  const later = write('later.json', source, ['Survived', 'Killed', 'Survived'])
  const merge = (...files: string[]) => execFileSync(process.execPath, [join(root, 'scripts/mutation-merge.js'), ...files], { encoding: 'utf8' })
  const merged = JSON.parse(merge(first, later)) as { files: Record<string, { mutants: Array<{ status: string }> }> }
  t.same(merged.files['lib/x.ts']?.mutants.map((m) => m.status), ['Killed', 'Killed', 'Survived'], 'killed in either stays killed; a mutant a later test ran over is covered')
  const uncovered = write('uncovered.json', source, ['Killed', 'NoCoverage', 'NoCoverage'])
  t.same((JSON.parse(merge(first, uncovered)) as typeof merged).files['lib/x.ts']?.mutants.map((m) => m.status), ['Killed', 'Survived', 'NoCoverage'], 'undetected in both stays as the first report says')
  const other = write('other.json', 'a < b\n'.repeat(2), ['Killed', 'Survived'])
  t.throws(() => merge(first, other), /differs between the reports/, 'reports of other sources are not merged')
  const replaced = JSON.parse(merge('--changed-whole', first, other, later)) as typeof merged
  t.same(replaced.files['lib/x.ts']?.mutants.map((m) => m.status), ['Killed', 'Survived'], 'with --changed-whole, the changed module is taken whole from the later report, and reports of its old source say nothing of it')
  const third = write('third.json', 'a <= b\n', ['Killed'])
  t.throws(() => merge('--changed-whole', first, other, third), /2 changed sources/, 'two changed versions of one module are not merged')
})
