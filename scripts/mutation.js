// `npm run test:mutation`: the mutation test in two passes (test/MUTATION.md). Pass 1 runs
// every mutant against the fast unit and issue tests; pass 2 runs only the mutants pass 1
// left undetected against every listed test file, so a mutant a unit test kills never
// waits for the slow plugin and integration files. The passes' reports are merged
// (scripts/mutation-merge.js) into reports/mutation/mutation.json and judged by
// scripts/mutation-summary.js, whose exit code is this script's.
//
//   node scripts/mutation.js [--mutate lib/jwk-thumbprint.ts,lib/mtls/thumbprint.ts]
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, realpathSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { mutate as allModules, passOptions } from '../stryker.config.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const UNDETECTED = new Set(['Survived', 'NoCoverage'])
const USAGE = 'usage: node scripts/mutation.js [--mutate module,module...] (modules of stryker.config.mjs `mutate`)'

/**
 * The mutate ranges of the mutants of `modules` a report left undetected, each once, in
 * Stryker's syntax `path:startLine:startColumn-endLine:endColumn`: lines 1-based, columns
 * 0-based (a report's columns are 1-based). A range also takes in the mutants nested in
 * it; the merge keeps what pass 1 found for those.
 * @param {{ files: Record<string, { mutants: { status: string, location: { start: { line: number, column: number }, end: { line: number, column: number } } }[] }> }} report
 * @param {readonly string[]} modules
 * @returns {string[]}
 */
export function undetectedRanges (report, modules) {
  const ranges = new Set()
  for (const file of modules) {
    for (const { status, location: { start, end } } of report.files[file]?.mutants ?? []) {
      if (UNDETECTED.has(status)) ranges.add(`${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`)
    }
  }
  return [...ranges]
}

/**
 * The modules whose source differs now from what a report mutated: pass 2's ranges are
 * lines of pass 1's sources, so a module edited meanwhile would be mutated elsewhere.
 * @param {{ files: Record<string, { source: string }> }} report
 * @param {readonly string[]} modules
 * @returns {string[]}
 */
export function changedSince (report, modules) {
  return modules.filter((file) => report.files[file] !== undefined && report.files[file].source !== readFileSync(join(root, file), 'utf8'))
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let stryker
/** @type {{ signal: NodeJS.Signals, at: number } | undefined} */
let interrupted

/** Runs one pass; resolves with Stryker's exit code. */
function runPass (pass, mutate) {
  const configFile = `reports/mutation/pass${pass}.config.json`
  writeFileSync(join(root, configFile), JSON.stringify(passOptions(pass, mutate), null, 2) + '\n')
  console.log(`\nmutation: pass ${pass}, ${pass === 1 ? `${mutate.length} module(s) against the unit and issue tests` : `${mutate.length} range(s) pass 1 left undetected against every listed test file`} (${configFile})\n`)
  // Its own process group: a Ctrl-C reaches Stryker once, from here (see stopOn).
  const child = spawn(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', configFile], { cwd: root, stdio: 'inherit', detached: true })
  stryker = child
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      stryker = undefined
      // What an interrupted Stryker left running (a test file, its redis-server) stops with it.
      if (interrupted !== undefined && child.pid !== undefined) {
        try { process.kill(-child.pid, 'SIGTERM') } catch {}
      }
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]))
    })
  })
}

/**
 * On Ctrl-C, Stryker saves its partial incremental report and stops its test processes;
 * this script then stops without the next step. The same Ctrl-C may arrive twice (from
 * the terminal and from npm): a repeat within a second is that one; a later one is passed
 * on, and Stryker exits at once.
 */
function stopOn (signal) {
  process.on(signal, () => {
    const now = Date.now()
    if (interrupted !== undefined && now - interrupted.at < 1000) return
    interrupted = { signal, at: now }
    stryker?.kill(signal)
  })
}

function exitIfInterrupted () {
  if (interrupted === undefined) return
  console.error(`\nmutation: stopped (${interrupted.signal})`)
  process.exit(128 + constants.signals[interrupted.signal])
}

async function main () {
  let args
  try {
    ({ values: args } = parseArgs({ options: { mutate: { type: 'string' } } }))
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`)
    return 2
  }
  const modules = args.mutate === undefined ? allModules : [...new Set(args.mutate.split(',').filter(Boolean))]
  const unknown = modules.filter((file) => !allModules.includes(file))
  if (modules.length === 0 || unknown.length > 0) {
    console.error(`${unknown.length > 0 ? `not a mutated module: ${unknown.join(', ')}\n` : ''}${USAGE}`)
    return 2
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) stopOn(signal)

  const out = join(root, 'reports/mutation')
  mkdirSync(out, { recursive: true })
  // A run that stops early leaves no report of an earlier run to be taken for its own.
  for (const name of ['pass1.json', 'pass1.html', 'pass2.json', 'pass2.html', 'mutation.json']) rmSync(join(out, name), { force: true })

  const pass1 = await runPass(1, modules)
  exitIfInterrupted()
  if (pass1 !== 0) return pass1
  const reports = ['reports/mutation/pass1.json']
  const report1 = JSON.parse(readFileSync(join(out, 'pass1.json'), 'utf8'))
  const changed = changedSince(report1, modules)
  if (changed.length > 0) {
    console.error(`\nmutation: ${changed.join(', ')} changed during pass 1; run again without editing them`)
    return 1
  }
  const ranges = undetectedRanges(report1, modules)
  if (ranges.length === 0) {
    console.log('\nmutation: pass 1 detected every mutant; no pass 2')
  } else {
    const pass2 = await runPass(2, ranges)
    exitIfInterrupted()
    if (pass2 !== 0) return pass2
    reports.push('reports/mutation/pass2.json')
  }

  const merge = spawnSync(process.execPath, ['scripts/mutation-merge.js', ...reports], { cwd: root, encoding: 'utf8', maxBuffer: 2 ** 30, stdio: ['ignore', 'pipe', 'inherit'] })
  exitIfInterrupted()
  if (merge.status !== 0) return merge.status ?? 1
  const merged = JSON.parse(merge.stdout)
  // Pass 1's report also holds what its incremental file remembers of other modules (a
  // narrower run, a module no longer listed): the summary judges this run's modules only.
  merged.files = Object.fromEntries(Object.entries(merged.files).filter(([file]) => modules.includes(file)))
  writeFileSync(join(out, 'mutation.json'), JSON.stringify(merged))
  console.log(`\nmutation: merged ${reports.join(' and ')} into reports/mutation/mutation.json\n`)
  const summary = spawnSync(process.execPath, ['scripts/mutation-summary.js', 'reports/mutation/mutation.json'], { cwd: root, stdio: 'inherit' })
  exitIfInterrupted()
  return summary.status ?? 1
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main()
