// The per-module table of a mutation run (reports/mutation/mutation.json, written by
// `npm run test:mutation`) in test/MUTATION.md's form, and every surviving mutant with
// its line and, from test/mutation-equivalents.js, why it changes no behaviour. Exits 1
// when a module scores below 95 % (explained equivalents left out) or a survivor is not
// explained there.
//
//   node scripts/mutation-summary.js [reports/mutation/mutation.json] [equivalents.js]
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const MINIMUM = 95
const UNDETECTED = new Set(['Survived', 'NoCoverage'])

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'))
const equivalentsFile = resolve(process.argv[3] ?? 'test/mutation-equivalents.js')
/** @type {{ file: string, code: string, original: string, mutator: string, replacement: string, column?: number, why: string }[]} */
const equivalents = existsSync(equivalentsFile) ? (await import(pathToFileURL(equivalentsFile).href)).default : []
// An explanation names the mutant by its line's text and the code it replaces, not by
// numbers: it holds while code around it moves, and two mutants of one kind on a line
// (a whole condition and one of its operands) are told apart. Where the replaced code
// occurs twice on the line, it also names its column (1-based, as the report does):
// otherwise it would excuse the other occurrence too.
const explanationKey = (file, code, original, mutator, replacement) => [file, code, original, mutator, replacement].join('\u0000')
const explanations = new Map()
for (const e of equivalents) {
  const key = explanationKey(e.file, e.code, e.original, e.mutator, e.replacement)
  explanations.set(key, [...(explanations.get(key) ?? []), e])
}
const ambiguous = equivalents.filter((e) => e.column === undefined && e.code.split(e.original).length > 2)
/** The source text a mutant replaces (1-based lines and columns, the end exclusive). */
const spanOf = (lines, { start, end }) => start.line === end.line
  ? lines[start.line - 1].slice(start.column - 1, end.column - 1)
  : [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join('\n')
const used = new Set()
const rows = []
const survivors = []
const total = { mutants: 0, killed: 0, timeout: 0, survived: 0, equivalent: 0, noCoverage: 0, invalid: 0 }
for (const [file, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const row = { file, mutants: mutants.length, killed: 0, timeout: 0, survived: 0, equivalent: 0, noCoverage: 0, invalid: 0 }
  const lines = source.split('\n')
  for (const mutant of mutants) {
    if (mutant.status === 'Killed') row.killed++
    else if (mutant.status === 'Timeout') row.timeout++
    else if (mutant.status === 'Survived') row.survived++
    else if (mutant.status === 'NoCoverage') row.noCoverage++
    else row.invalid++ // CompileError, RuntimeError, Ignored: not counted in the score
    if (UNDETECTED.has(mutant.status)) {
      const { line, column } = mutant.location.start
      const code = lines[line - 1].trim()
      const explanation = mutant.status === 'Survived'
        ? explanations.get(explanationKey(file, code, spanOf(lines, mutant.location), mutant.mutatorName, mutant.replacement))?.find((e) => e.column === undefined || e.column === column)
        : undefined
      if (explanation !== undefined) {
        used.add(explanation)
        row.equivalent++
      }
      survivors.push({ file, line, column, status: mutant.status, mutator: mutant.mutatorName, replacement: mutant.replacement, code, why: explanation?.why })
    }
  }
  for (const key of Object.keys(total)) total[key] += row[key]
  rows.push(row)
}

// Stryker's score, and the one judged: explained equivalents left out, as Stryker leaves
// out the mutants a `// Stryker disable` comment ignores (no test can kill them).
const score = (r, withoutEquivalents = false) => {
  const detected = r.killed + r.timeout
  const counted = detected + r.survived + r.noCoverage - (withoutEquivalents ? r.equivalent : 0)
  return counted === 0 ? 100 : (100 * detected) / counted
}
const line = (name, r) => `| ${name} | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.equivalent} | ${r.noCoverage} | ${r.invalid} | ${score(r).toFixed(1)} % | ${score(r, true).toFixed(1)} % |`

console.log('| module | mutants | killed | timeout | survived | of them equivalent | no coverage | not counted | score | without equivalents |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const r of rows) console.log(line(`\`${r.file}\``, r))
console.log(line('**all**', total))
console.log('')
console.log(`Survivors (${survivors.length}):`)
for (const s of survivors) {
  const shown = s.replacement === undefined ? '' : ` → ${JSON.stringify(s.replacement.length > 80 ? s.replacement.slice(0, 77) + '...' : s.replacement)}`
  console.log(`- ${s.file}:${s.line}:${s.column} ${s.mutator}${s.status === 'NoCoverage' ? ' (no coverage)' : ''}${shown}\n    ${s.code}\n    ${s.why === undefined ? 'NOT EXPLAINED' : `equivalent: ${s.why}`}`)
}
const unexplained = survivors.filter((s) => s.why === undefined)
// A module the report does not cover (a run of a few modules) says nothing of its explanations.
const stale = equivalents.filter((e) => !used.has(e) && Object.hasOwn(report.files, e.file))
if (stale.length > 0) console.log(`\n${stale.length} explanation(s) in ${equivalentsFile} match no survivor (the code changed, or a test now kills the mutant):\n${stale.map((e) => `- ${e.file}: ${e.mutator} ${JSON.stringify(e.original)} → ${JSON.stringify(e.replacement)} in \`${e.code}\``).join('\n')}`)
if (unexplained.length > 0) {
  console.log(`\n${unexplained.length} survivor(s) not explained`)
  process.exitCode = 1
}

if (ambiguous.length > 0) {
  console.log(`\n${ambiguous.length} explanation(s) name code that occurs more than once on its line; give each its column:\n${ambiguous.map((e) => `- ${e.file}: ${e.mutator} ${JSON.stringify(e.original)} in \`${e.code}\``).join('\n')}`)
  process.exitCode = 1
}

const below = rows.filter((r) => score(r, true) < MINIMUM)
if (below.length > 0) {
  console.log(`\nBelow ${MINIMUM} %: ${below.map((r) => r.file).join(', ')}`)
  process.exitCode = 1
}
