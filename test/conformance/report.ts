// The per-scenario table `npm run conformance` prints, and the lines that say why a run failed.
import type { JudgedResult } from './baseline.js'

const OUTCOME_NOTE = {
  pass: '',
  expected: 'baseline',
  unexpected: 'UNEXPECTED',
  stale: 'STALE: passes, remove it from the baseline',
} as const

export function formatTable (judged: readonly JudgedResult[]): string {
  const rows = [
    ['run', 'scenario', 'result', 'checks ok/fail/warn', 'note'],
    ...judged.map((result) => [
      result.run,
      result.scenario,
      result.verdict,
      `${result.counts.success}/${result.counts.failure}/${result.counts.warning}`,
      [OUTCOME_NOTE[result.outcome], result.reason].filter(Boolean).join(': '),
    ]),
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n')
}

/** One paragraph per scenario that fails the run, with the checks that made it fail. */
export function formatProblems (judged: readonly JudgedResult[]): string {
  return judged
    .filter((result) => result.outcome === 'unexpected' || result.outcome === 'stale')
    .map((result) => result.outcome === 'stale'
      ? `${result.run} ${result.scenario} passes but the baseline lists it ("${result.reason ?? ''}"): remove the entry`
      : [`${result.run} ${result.scenario}: ${result.verdict}`, ...result.problems.map((problem) => `  ${problem}`)].join('\n'))
    .join('\n')
}

export function formatSummary (judged: readonly JudgedResult[], seconds: number): string {
  const count = (predicate: (result: JudgedResult) => boolean): number => judged.filter(predicate).length
  return `${judged.length} scenarios: ${count((r) => r.verdict === 'pass')} pass, ${count((r) => r.verdict === 'fail')} fail, ` +
    `${count((r) => r.verdict === 'warning')} warning; ${count((r) => r.outcome === 'expected')} in the baseline, ` +
    `${count((r) => r.outcome === 'unexpected')} unexpected, ${count((r) => r.outcome === 'stale')} stale; ${seconds.toFixed(1)} s`
}
