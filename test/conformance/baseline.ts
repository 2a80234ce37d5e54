// The baseline of known gaps (test/conformance/baseline.yml) and the run's verdict against
// it: a failure (or warning) not listed fails the run, and so does a listed scenario that
// passes, so the baseline only ever shrinks by someone removing the entry.
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import type { ScenarioResult } from './results.js'
import { KNOWN_SCENARIOS } from './scenarios.js'

export type Section = keyof typeof KNOWN_SCENARIOS

/** scenario → one-line reason, per section. */
export type Baseline = Readonly<Record<Section, ReadonlyMap<string, string>>>

const SECTIONS = Object.keys(KNOWN_SCENARIOS) as Section[]

/** Checks and freezes a parsed baseline document; every mistake is an error naming the line. */
export function validateBaseline (document: unknown): Baseline {
  document ??= {}
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new TypeError('the baseline must be a mapping with the sections client and authorization')
  const baseline = { client: new Map<string, string>(), authorization: new Map<string, string>() }
  for (const [section, entries] of Object.entries(document)) {
    if (!SECTIONS.includes(section as Section)) throw new TypeError(`unknown baseline section ${JSON.stringify(section)} (expected ${SECTIONS.join(' or ')})`)
    if (entries === null) continue
    if (typeof entries !== 'object' || Array.isArray(entries)) throw new TypeError(`baseline section ${section} must map each scenario to a one-line reason`)
    for (const [scenario, reason] of Object.entries(entries as Record<string, unknown>)) {
      if (!KNOWN_SCENARIOS[section as Section].has(scenario)) throw new TypeError(`baseline ${section}: ${JSON.stringify(scenario)} is not a scenario the runner runs`)
      if (typeof reason !== 'string' || reason.trim() === '' || /[\r\n]/.test(reason.trim())) {
        throw new TypeError(`baseline ${section}: ${scenario} needs a one-line reason`)
      }
      baseline[section as Section].set(scenario, reason.trim())
    }
  }
  return baseline
}

export async function loadBaseline (path: string): Promise<Baseline> {
  return validateBaseline(parse(await readFile(path, 'utf8')))
}

export type Outcome = 'pass' | 'expected' | 'unexpected' | 'stale'

export interface JudgedResult extends ScenarioResult {
  readonly outcome: Outcome
  /** The baseline's reason, when the scenario is listed. */
  readonly reason: string | undefined
}

export function sectionOf (result: ScenarioResult): Section {
  return result.run.startsWith('authorization') ? 'authorization' : 'client'
}

/** Each result against the baseline: `unexpected` and `stale` fail the run. */
export function judge (results: readonly ScenarioResult[], baseline: Baseline): JudgedResult[] {
  return results.map((result) => {
    const reason = baseline[sectionOf(result)].get(result.scenario)
    const passed = result.verdict === 'pass'
    const outcome: Outcome = reason === undefined ? (passed ? 'pass' : 'unexpected') : (passed ? 'stale' : 'expected')
    return { ...result, outcome, reason }
  })
}

export function failed (judged: readonly JudgedResult[]): boolean {
  return judged.some((result) => result.outcome === 'unexpected' || result.outcome === 'stale')
}
