// Merges mutation reports of the same sources into one: a mutant counts as detected when
// any report detected it, and as covered (Survived, not NoCoverage) when any report ran a
// test over it. For a run in passes (fast unit tests over every mutant first, then the
// other test files over what they left: see test/MUTATION.md), the first report names
// every mutant; the later ones may cover only some. A module whose source changed between
// the passes is refused, unless `--changed-whole` says the later report that has the
// changed source mutated that module whole: its entry then replaces the first's. Writes
// the merged report to standard output, for scripts/mutation-summary.js.
//
//   node scripts/mutation-merge.js [--changed-whole] first.json later.json [...] > merged.json
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const DETECTED = new Set(['Killed', 'Timeout'])
const { values: options, positionals } = parseArgs({ options: { 'changed-whole': { type: 'boolean', default: false } }, allowPositionals: true })
const [first, ...later] = positionals.map((file) => ({ file, report: JSON.parse(readFileSync(file, 'utf8')) }))
if (first === undefined) {
  process.stderr.write('usage: node scripts/mutation-merge.js [--changed-whole] first.json later.json ... > merged.json\n')
  process.exit(2)
}

const key = (file, m) => [file, m.mutatorName, m.replacement, m.location.start.line, m.location.start.column, m.location.end.line, m.location.end.column].join('\u0000')
const merged = first.report
for (const [file, entry] of Object.entries(merged.files)) {
  const changed = later.filter(({ report }) => report.files[file] !== undefined && report.files[file].source !== entry.source)
  if (changed.length === 0) continue
  if (!options['changed-whole']) {
    process.stderr.write(`${file} differs between the reports: merge reports of the same sources only (or, when a later pass mutated the changed module whole, pass --changed-whole)\n`)
    process.exit(1)
  }
  const sources = new Set(changed.map(({ report }) => report.files[file].source))
  if (sources.size > 1) {
    process.stderr.write(`${file} has ${sources.size} changed sources in the later reports: one version only\n`)
    process.exit(1)
  }
  merged.files[file] = structuredClone(changed.at(-1).report.files[file])
  process.stderr.write(`${file}: taken whole from ${changed.at(-1).file} (its source changed)\n`)
}
const detected = new Map()
const covered = new Set()
for (const { report } of later) {
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    // A report of another version of the module says nothing of this one's mutants.
    if (merged.files[file]?.source !== source) continue
    for (const m of mutants) {
      if (DETECTED.has(m.status)) detected.set(key(file, m), m.status)
      else if (m.status === 'Survived') covered.add(key(file, m))
    }
  }
}
for (const [file, entry] of Object.entries(merged.files)) {
  for (const m of entry.mutants) {
    if (DETECTED.has(m.status)) continue
    const k = key(file, m)
    if (detected.has(k)) m.status = detected.get(k)
    else if (m.status === 'NoCoverage' && covered.has(k)) m.status = 'Survived'
  }
}
process.stdout.write(JSON.stringify(merged))
