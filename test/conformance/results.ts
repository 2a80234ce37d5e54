// Reads the suite's result directories (`<dir>/<scenario>-<timestamp>/checks.json`) and
// turns each scenario's checks into one verdict. A WARNING is not a pass: the suite
// reports SHOULD-level checks as warnings, and we hold the client and the authorization
// server to them.
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'

export type Verdict = 'pass' | 'fail' | 'warning'

export interface Check {
  readonly id: string
  readonly status: string
  readonly description?: string
  readonly errorMessage?: string
}

export interface ScenarioResult {
  /** The run it belongs to (auth, draft, authorization, …). */
  readonly run: string
  readonly scenario: string
  readonly verdict: Verdict
  readonly counts: { readonly success: number, readonly failure: number, readonly warning: number }
  /** Why it did not pass: the failing or warning checks, or what went wrong around them. */
  readonly problems: readonly string[]
}

/**
 * One scenario's verdict. A pass needs at least one SUCCESS and no FAILURE, WARNING or
 * SKIPPED check (a skipped check tested nothing); a WARNING without a FAILURE is a warning.
 */
export function judgeChecks (run: string, scenario: string, checks: readonly Check[]): ScenarioResult {
  const count = (status: string): number => checks.filter((check) => check.status === status).length
  const counts = { success: count('SUCCESS'), failure: count('FAILURE'), warning: count('WARNING') }
  const problems = checks
    .filter((check) => ['FAILURE', 'WARNING', 'SKIPPED'].includes(check.status))
    .map((check) => `${check.status} ${check.id}: ${check.errorMessage ?? check.description ?? ''}`.trim())
  if (counts.success === 0 && problems.length === 0) problems.push('no check succeeded')
  const verdict: Verdict = counts.failure > 0 || count('SKIPPED') > 0 || counts.success === 0
    ? 'fail'
    : counts.warning > 0 ? 'warning' : 'pass'
  return { run, scenario, verdict, counts, problems }
}

/** A scenario that produced no checks at all: it never ran, or the run broke first. */
export function missingResult (run: string, scenario: string, why: string): ScenarioResult {
  return { run, scenario, verdict: 'fail', counts: { success: 0, failure: 0, warning: 0 }, problems: [why] }
}

// The suite names a result directory `<prefix><scenario>-<ISO time with : and . as ->`.
const TIMESTAMP = /-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/

/** The scenario a result directory (relative to the output directory) belongs to. */
export function scenarioOfDirectory (directory: string, prefix = ''): string | undefined {
  const name = directory.split(sep).join('/')
  if (!TIMESTAMP.test(name) || !name.startsWith(prefix)) return undefined
  return name.slice(prefix.length).replace(TIMESTAMP, '')
}

/** Every `checks.json` under `dir`, keyed by scenario. */
export async function readResults (dir: string, prefix = ''): Promise<Map<string, Check[]>> {
  const results = new Map<string, Check[]>()
  let entries: string[]
  try {
    entries = await readdir(dir, { recursive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return results
    throw err
  }
  for (const entry of entries) {
    if (!entry.endsWith(`${sep}checks.json`)) continue
    const directory = relative(dir, join(dir, entry, '..'))
    const scenario = scenarioOfDirectory(directory, prefix)
    if (scenario === undefined) continue
    results.set(scenario, JSON.parse(await readFile(join(dir, entry), 'utf8')) as Check[])
  }
  return results
}

/**
 * The results of one run: a verdict for every scenario it was to run (those that left no
 * checks fail), then any scenario the suite ran beyond the list.
 */
export function collect (run: string, expected: readonly string[], found: ReadonlyMap<string, readonly Check[]>, why: string): ScenarioResult[] {
  const results = expected.map((scenario) => {
    const checks = found.get(scenario)
    return checks === undefined ? missingResult(run, scenario, why) : judgeChecks(run, scenario, checks)
  })
  for (const [scenario, checks] of found) {
    if (!expected.includes(scenario)) results.push(judgeChecks(run, scenario, checks))
  }
  return results
}
