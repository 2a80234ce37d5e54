// Merges mutation reports of the same sources into one: a mutant counts as detected when
// any report detected it. For a run in passes (fast unit tests over every mutant first,
// then the other test files over what they left: see test/MUTATION.md), the first report
// names every mutant; the later ones may cover only some. Writes the merged report to
// standard output, for scripts/mutation-summary.js.
//
//   node scripts/mutation-merge.js first.json later.json [...] > merged.json
import { readFileSync } from 'node:fs'

const DETECTED = new Set(['Killed', 'Timeout'])
const [first, ...later] = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, 'utf8')))
if (first === undefined) {
  process.stderr.write('usage: node scripts/mutation-merge.js first.json later.json ... > merged.json\n')
  process.exit(2)
}

const key = (file, m) => [file, m.mutatorName, m.replacement, m.location.start.line, m.location.start.column, m.location.end.line, m.location.end.column].join('\u0000')
const detected = new Map()
for (const report of later) {
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) if (DETECTED.has(m.status)) detected.set(key(file, m), m.status)
  }
}
for (const [file, entry] of Object.entries(first.files)) {
  if (later.some((report) => report.files[file] !== undefined && report.files[file].source !== entry.source)) {
    process.stderr.write(`${file} differs between the reports: merge reports of the same sources only\n`)
    process.exit(1)
  }
  for (const m of entry.mutants) {
    const status = DETECTED.has(m.status) ? undefined : detected.get(key(file, m))
    if (status !== undefined) m.status = status
  }
}
process.stdout.write(JSON.stringify(first))
