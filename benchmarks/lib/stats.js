// Medians across rounds, the ratios and their verdicts.
import { comparisons } from './scenarios.js'

export function median (values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return undefined
  const mid = Math.floor(v.length / 2)
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/**
 * The ceiling for a round: the req/s one core could reach doing bare Fastify's
 * work plus one ES256 verification per request, with both costs taken from
 * the same round: 1 / (1 / bare req/s + 1 / verifications per second).
 */
export function ceilingRps (bareRps, verificationsPerSecond) {
  return 1 / (1 / bareRps + 1 / verificationsPerSecond)
}

/** One row per scenario: medians over rounds, totals of failures, the largest RSS. */
export function aggregate (rounds, scenarioList) {
  return scenarioList.map(({ id, label }) => {
    const runs = rounds.map((round) => round.results[id]).filter(Boolean)
    const pick = (key) => median(runs.map((r) => r[key]))
    return {
      id,
      label,
      runs: runs.length,
      rps: pick('rps'),
      p50: pick('p50'),
      p99: pick('p99'),
      requests: runs.reduce((a, r) => a + (r.requests ?? 0), 0),
      non2xx: runs.reduce((a, r) => a + (r.non2xx ?? 0), 0),
      errors: runs.reduce((a, r) => a + (r.errors ?? 0) + (r.mismatches ?? 0), 0),
      timeouts: runs.reduce((a, r) => a + (r.timeouts ?? 0), 0),
      rss: Math.max(0, ...runs.map((r) => r.rss ?? 0)),
      heapUsed: Math.max(0, ...runs.map((r) => r.heapUsed ?? 0)),
      serverCpuPct: pick('serverCpuPct'),
      serverCpuUsPerRequest: pick('serverCpuUsPerRequest'),
      loadGeneratorCpuPct: pick('loadGeneratorCpuPct'),
      otherLoadCores: pick('otherLoadCores'),
      failures: runs.filter((r) => r.failure !== undefined).map((r) => r.failure),
    }
  })
}

/** The q-quantile (0..1) by linear interpolation. */
export function quantile (values, q) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return undefined
  const at = (v.length - 1) * q
  const lo = Math.floor(at)
  return v[lo] + (v[Math.min(lo + 1, v.length - 1)] - v[lo]) * (at - lo)
}

/**
 * Per comparison: the value in each round, the median, the verdict. When the
 * comparison was also measured interleaved (`paired`, by comparison id), the
 * judged value is the median of its pairs' ratios and the sequential median is
 * kept beside it.
 */
export function ratios (rounds, paired = {}) {
  return comparisons.map((c) => {
    const perRound = rounds.map((round) => {
      const subject = round.results[c.subject]
      const base = round.results[c.base]
      if (subject?.rps === undefined || base?.rps === undefined || subject.failure || base.failure) return undefined
      const verifyUs = 1e6 / round.ceiling.nodeCrypto.perSecond
      if (c.kind === 'ceiling') {
        return {
          value: subject.rps / ceilingRps(base.rps, round.ceiling.nodeCrypto.perSecond),
          jose: subject.rps / ceilingRps(base.rps, round.ceiling.joseParallel.perCpuSecond),
          ceiling: ceilingRps(base.rps, round.ceiling.nodeCrypto.perSecond),
          // The same comparison in server CPU time per request: (bare µs + one verification µs) ÷ subject µs.
          cpu: (base.serverCpuUsPerRequest + verifyUs) / subject.serverCpuUsPerRequest,
        }
      }
      return { value: subject.rps / base.rps, cpu: base.serverCpuUsPerRequest / subject.serverCpuUsPerRequest }
    })
    const sequential = median(perRound.map((r) => r?.value))
    const pairs = paired[c.id]?.failure === undefined ? paired[c.id]?.pairs : undefined
    const interleaved = pairs === undefined || pairs.length === 0
      ? undefined
      : {
          value: median(pairs.map((p) => p.ratio)),
          q1: quantile(pairs.map((p) => p.ratio), 0.25),
          q3: quantile(pairs.map((p) => p.ratio), 0.75),
          cpu: median(pairs.map((p) => p.cpu)),
          // Server CPU per request the subject spends beyond its base, in µs (pairs of older runs lack it).
          cpuGapUs: pairs.every((p) => p.subjectCpuUs !== undefined) ? median(pairs.map((p) => p.subjectCpuUs - p.baseCpuUs)) : undefined,
          pairs: pairs.length,
        }
    const pairedFailure = paired[c.id]?.failure
    const value = interleaved?.value ?? sequential
    return {
      ...c,
      perRound: perRound.map((r) => r?.value),
      sequential,
      interleaved,
      pairedFailure,
      value,
      jose: median(perRound.map((r) => r?.jose)),
      cpu: median(perRound.map((r) => r?.cpu)),
      ceiling: median(perRound.map((r) => r?.ceiling)),
      // A judged comparison whose interleaved measurement failed is not met.
      pass: c.target === undefined ? undefined : pairedFailure !== undefined || value === undefined ? false : value >= c.target,
    }
  })
}
