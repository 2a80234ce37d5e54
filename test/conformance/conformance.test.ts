// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned) as the
// referee nobody here wrote, inside npm test: its client authorization scenarios against the
// client under test, and its authorization-server scenarios against the development
// authorization server, judged against test/conformance/baseline.yml exactly as
// `npm run conformance` judges them. Loopback only: the suite's scenario servers, the
// authorization server and the callback server all listen on 127.0.0.1.
import { resolve } from 'node:path'
import t from 'tap'
import { judge, loadBaseline } from './baseline.js'
import { formatProblems, formatSummary, formatTable } from './report.js'
import { REPOSITORY, runConformance } from './runner.js'
import { clientUnderTest } from './scenarios.js'
import { withoutTestInstrumentation } from './suite-process.js'

// About 30 s on a busy 2-core machine; every wait inside is bounded (a scenario by the
// suite's --timeout, a run by the runner), so this only ends a run that is stuck for good.
t.setTimeout(600_000)

const env = withoutTestInstrumentation(process.env)

const baseline = await loadBaseline(resolve(REPOSITORY, 'test/conformance/baseline.yml'))
const started = performance.now()
const judged = judge(await runConformance({ client: clientUnderTest(), env }), baseline)
t.comment(`client under test: ${clientUnderTest()}`)
t.comment(formatTable(judged))
t.comment(formatSummary(judged, (performance.now() - started) / 1000))

for (const result of judged) {
  const name = `${result.run} ${result.scenario}: ${result.verdict}${result.reason === undefined ? '' : ` (baseline: ${result.reason})`}`
  t.ok(result.outcome === 'pass' || result.outcome === 'expected', name, result.outcome === 'pass' ? {} : { diagnostic: true, problems: formatProblems([result]) || result.problems })
}
