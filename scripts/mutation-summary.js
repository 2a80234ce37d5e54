// The per-module table of a mutation run (reports/mutation/mutation.json, written by
// `npm run test:mutation`) in test/MUTATION.md's form, and every surviving mutant with
// its line, to explain there. Exits 1 when a module scores below 95 %.
//
//   node scripts/mutation-summary.js [reports/mutation/mutation.json]
import { readFileSync } from 'node:fs'

const MINIMUM = 95
const UNDETECTED = new Set(['Survived', 'NoCoverage'])

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'))
const rows = []
const survivors = []
const total = { mutants: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, invalid: 0 }
for (const [file, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const row = { file, mutants: mutants.length, killed: 0, timeout: 0, survived: 0, noCoverage: 0, invalid: 0 }
  const lines = source.split('\n')
  for (const mutant of mutants) {
    if (mutant.status === 'Killed') row.killed++
    else if (mutant.status === 'Timeout') row.timeout++
    else if (mutant.status === 'Survived') row.survived++
    else if (mutant.status === 'NoCoverage') row.noCoverage++
    else row.invalid++ // CompileError, RuntimeError, Ignored: not counted in the score
    if (UNDETECTED.has(mutant.status)) {
      const { line, column } = mutant.location.start
      survivors.push({ file, line, column, status: mutant.status, mutator: mutant.mutatorName, replacement: mutant.replacement, code: lines[line - 1].trim() })
    }
  }
  for (const key of Object.keys(total)) total[key] += row[key]
  rows.push(row)
}

const score = (r) => {
  const detected = r.killed + r.timeout
  const counted = detected + r.survived + r.noCoverage
  return counted === 0 ? 100 : (100 * detected) / counted
}
const line = (name, r) => `| ${name} | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.invalid} | ${score(r).toFixed(1)} % |`

console.log('| module | mutants | killed | timeout | survived | no coverage | not counted | score |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const r of rows) console.log(line(`\`${r.file}\``, r))
console.log(line('**all**', total))
console.log('')
console.log(`Survivors (${survivors.length}):`)
for (const s of survivors) {
  const shown = s.replacement === undefined ? '' : ` → ${JSON.stringify(s.replacement.length > 80 ? s.replacement.slice(0, 77) + '...' : s.replacement)}`
  console.log(`- ${s.file}:${s.line}:${s.column} ${s.mutator}${s.status === 'NoCoverage' ? ' (no coverage)' : ''}${shown}\n    ${s.code}`)
}

const below = rows.filter((r) => score(r) < MINIMUM)
if (below.length > 0) {
  console.log(`\nBelow ${MINIMUM} %: ${below.map((r) => r.file).join(', ')}`)
  process.exitCode = 1
}
