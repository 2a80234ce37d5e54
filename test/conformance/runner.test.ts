// The conformance runner's own rules, apart from the suite: how checks become a verdict
// (a WARNING is a failure), how the baseline is read and judged (an unlisted failure and a
// listed pass both fail the run), how the authorization URL is found in the suite's output,
// and the exit status of `npm run conformance`.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { failed, judge, validateBaseline } from './baseline.js'
import { formatProblems, formatSummary, formatTable } from './report.js'
import { collect, judgeChecks, readResults, scenarioOfDirectory } from './results.js'
import { REPOSITORY } from './runner.js'
import { authorizationUrlIn, callbackListening } from './authorization-server-runs.js'
import { clientUnderTest, KNOWN_SCENARIOS, RUNS } from './scenarios.js'
import { withoutTestInstrumentation } from './suite-process.js'

const SUCCESS = { id: 'a', status: 'SUCCESS' }
const INFO = { id: 'i', status: 'INFO' }

t.test('a scenario passes only with a success and no failure, warning or skipped check', async (t) => {
  t.equal(judgeChecks('auth', 's', [SUCCESS, INFO]).verdict, 'pass')
  t.equal(judgeChecks('auth', 's', [SUCCESS, { id: 'w', status: 'WARNING', errorMessage: 'DCR used' }]).verdict, 'warning', 'a WARNING is not a pass')
  t.equal(judgeChecks('auth', 's', [SUCCESS, { id: 'w', status: 'WARNING' }, { id: 'f', status: 'FAILURE' }]).verdict, 'fail')
  t.equal(judgeChecks('auth', 's', [SUCCESS, { id: 'k', status: 'SKIPPED' }]).verdict, 'fail', 'a skipped check tested nothing')
  t.equal(judgeChecks('auth', 's', [INFO]).verdict, 'fail', 'nothing succeeded')
  t.same(judgeChecks('auth', 's', [INFO]).problems, ['no check succeeded'])
  const warned = judgeChecks('auth', 's', [SUCCESS, { id: 'w', status: 'WARNING', description: 'should' }, { id: 'f', status: 'FAILURE', errorMessage: 'bad' }])
  t.same(warned.counts, { success: 1, failure: 1, warning: 1 })
  t.same(warned.problems, ['WARNING w: should', 'FAILURE f: bad'])
})

t.test('result directories: the suite\'s <prefix><scenario>-<timestamp> names', async (t) => {
  t.equal(scenarioOfDirectory('auth/metadata-default-2026-12-06T02-09-33-325Z'), 'auth/metadata-default')
  t.equal(scenarioOfDirectory('authorization-server-authorization-code-grant-2026-12-06T02-11-54-412Z', 'authorization-server-'), 'authorization-code-grant')
  t.equal(scenarioOfDirectory('auth/metadata-default'), undefined, 'no timestamp')
  t.equal(scenarioOfDirectory('other-2026-12-06T02-11-54-412Z', 'authorization-server-'), undefined, 'another prefix')
})

t.test('reading results: every expected scenario gets a verdict, a missing one fails, an extra one is reported', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'conformance-results-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  t.same(await readResults(join(dir, 'absent')), new Map(), 'no directory: no results')
  for (const [name, checks] of [['auth/a-2026-01-01T00-00-00-000Z', [SUCCESS]], ['auth/extra-2026-01-01T00-00-00-000Z', [{ id: 'f', status: 'FAILURE' }]]] as const) {
    await mkdir(join(dir, name), { recursive: true })
    await writeFile(join(dir, name, 'checks.json'), JSON.stringify(checks))
  }
  await mkdir(join(dir, 'auth/broken-2026-01-01T00-00-00-000Z'), { recursive: true })
  await writeFile(join(dir, 'cli.log'), '')
  const results = collect('auth', ['auth/a', 'auth/broken'], await readResults(dir), 'no results (see cli.log)')
  t.same(results.map((r) => [r.scenario, r.verdict, r.problems]), [
    ['auth/a', 'pass', []],
    ['auth/broken', 'fail', ['no results (see cli.log)']],
    ['auth/extra', 'fail', ['FAILURE f:']],
  ])
})

t.test('the baseline maps known scenarios to one-line reasons, per section', async (t) => {
  const baseline = validateBaseline({ client: { 'auth/dpop': 'no DPoP yet' }, authorization: null })
  t.equal(baseline.client.get('auth/dpop'), 'no DPoP yet')
  t.equal(baseline.authorization.size, 0)
  t.equal(validateBaseline(null).client.size, 0, 'an empty file is an empty baseline')
  t.throws(() => validateBaseline(['auth/dpop']), /mapping/)
  t.throws(() => validateBaseline({ server: {} }), /unknown baseline section "server"/)
  t.throws(() => validateBaseline({ client: ['auth/dpop'] }), /one-line reason/)
  t.throws(() => validateBaseline({ client: { 'auth/no-such-scenario': 'x' } }), /not a scenario the runner runs/)
  t.throws(() => validateBaseline({ authorization: { 'auth/dpop': 'x' } }), /not a scenario/, 'a client scenario in the authorization section')
  t.throws(() => validateBaseline({ client: { 'auth/dpop': '' } }), /one-line reason/)
  t.throws(() => validateBaseline({ client: { 'auth/dpop': 'two\nlines' } }), /one-line reason/)
  t.throws(() => validateBaseline({ client: { 'auth/dpop': 42 } }), /one-line reason/)
})

t.test('judging: an unlisted failure or warning and a listed pass fail the run; a listed failure does not', async (t) => {
  const baseline = validateBaseline({ client: { 'auth/dpop': 'no DPoP yet', 'auth/dpop-nonce': 'no nonces yet' }, authorization: { 'authorization-code-grant': 'no defaults yet' } })
  const pass = judgeChecks('auth', 'auth/basic-cimd', [SUCCESS])
  const warning = judgeChecks('auth', 'auth/metadata-default', [SUCCESS, { id: 'w', status: 'WARNING' }])
  const expected = judgeChecks('extensions', 'auth/dpop', [{ id: 'f', status: 'FAILURE' }])
  const stale = judgeChecks('extensions', 'auth/dpop-nonce', [SUCCESS])
  const authorization = judgeChecks('authorization-resource', 'authorization-code-grant', [{ id: 'f', status: 'FAILURE' }])
  const judged = judge([pass, warning, expected, stale, authorization], baseline)
  t.same(judged.map((r) => r.outcome), ['pass', 'unexpected', 'expected', 'stale', 'expected'])
  t.equal(failed(judged), true)
  t.equal(failed(judge([pass, expected, authorization], baseline)), false)
  t.equal(failed(judge([warning], baseline)), true, 'a warning alone fails the run')
  t.equal(failed(judge([stale], baseline)), true, 'a stale entry alone fails the run')

  const table = formatTable(judged).split('\n')
  t.match(table[0], /^run\s+scenario\s+result\s+checks ok\/fail\/warn\s+note$/)
  t.match(table[2], /^auth\s+auth\/metadata-default\s+warning\s+1\/0\/1\s+UNEXPECTED$/)
  t.match(table[3], /^extensions\s+auth\/dpop\s+fail\s+0\/1\/0\s+baseline: no DPoP yet$/)
  t.match(table[4], /STALE: passes, remove it from the baseline: no nonces yet$/)
  t.equal(formatProblems(judged), [
    'auth auth/metadata-default: warning',
    '  WARNING w:',
    'extensions auth/dpop-nonce passes but the baseline lists it ("no nonces yet"): remove the entry',
  ].join('\n'))
  t.equal(formatSummary(judged, 1.25), '5 scenarios: 2 pass, 2 fail, 1 warning; 2 in the baseline, 1 unexpected, 1 stale; 1.3 s')
})

t.test('the authorization URL is the printed line on the issuer\'s origin; the callback server announces itself', async (t) => {
  const issuer = 'http://127.0.0.1:4000'
  const stdout = [
    'Running client scenario for authorization server \'authorization-code-grant\' against server: http://127.0.0.1:4000',
    'Access the following URL in your browser and complete the authentication process.',
    'http://127.0.0.1:5000/elsewhere?response_type=code',
    `${issuer}/auth?response_type=code&client_id=c&state=s`,
    '',
  ].join('\n')
  t.equal(authorizationUrlIn(stdout, issuer)?.href, `${issuer}/auth?response_type=code&client_id=c&state=s`)
  t.equal(authorizationUrlIn('Callback server started: http://127.0.0.1:3000\n', issuer), undefined)
  t.equal(callbackListening('Callback server started: http://127.0.0.1:3000\n', 3000), true)
  t.equal(callbackListening('Callback server started: http://127.0.0.1:30001\n', 3000), false, 'another port')
  t.equal(callbackListening('', 3000), false)
})

t.test('the client under test: the toolkit\'s adapter unless CONFORMANCE_CLIENT names another', async (t) => {
  t.equal(clientUnderTest({ CONFORMANCE_CLIENT: ' node dist/client.js ' }), 'node dist/client.js')
  t.match(clientUnderTest({ CONFORMANCE_CLIENT: '' }), /^\S+ \S+\/test\/conformance\/client\.js$/)
  t.match(clientUnderTest({}), /\/test\/conformance\/client\.js$/)
  t.notMatch(clientUnderTest({}), / {2}/, 'the suite splits the command on single spaces')
  t.equal(KNOWN_SCENARIOS.client.size, 33, '14 auth, 6 extensions, 2 backcompat, 11 draft')
  t.same(RUNS.map((run) => run.name), ['auth', 'extensions', 'backcompat', 'draft', 'authorization', 'authorization-resource', 'authorization-path'])
})

// End to end through `npm run conformance`'s entry (cli.ts), on the small backcompat run.
const env = withoutTestInstrumentation(process.env)
type Test = Parameters<Parameters<typeof t.test>[0]>[0]
async function conformanceCli (t: Test, args: string[], baseline: string): Promise<{ code: number, stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'conformance-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'baseline.yml'), baseline)
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/conformance/cli.ts', '--only', 'backcompat', '--out', join(dir, 'out'), '--baseline', join(dir, 'baseline.yml'), ...args], { cwd: REPOSITORY, env })
    return { code: 0, stdout }
  } catch (err) {
    const { code, stdout } = err as { code: number, stdout: string }
    return { code, stdout }
  }
}

t.test('npm run conformance exits 1 when a baseline entry passes (remove it), 0 once it is gone', async (t) => {
  const stale = await conformanceCli(t, [], 'client:\n  auth/2025-03-26-oauth-endpoint-fallback: pretend it fails\n')
  t.equal(stale.code, 1)
  t.match(stale.stdout, /backcompat\s+auth\/2025-03-26-oauth-endpoint-fallback\s+pass\s+\S+\s+STALE/)
  t.match(stale.stdout, /passes but the baseline lists it/)
  const clean = await conformanceCli(t, [], 'client: {}\n')
  t.equal(clean.code, 0)
  t.match(clean.stdout, /2 scenarios: 2 pass, 0 fail, 0 warning; 0 in the baseline, 0 unexpected, 0 stale/)
})

t.test('npm run conformance exits 1 on a failure the baseline does not list (a client that does nothing)', async (t) => {
  const broken = await conformanceCli(t, ['--client', `${process.execPath} --version`], 'client: {}\n')
  t.equal(broken.code, 1)
  t.match(broken.stdout, /backcompat\s+auth\/2025-03-26-oauth-metadata-backcompat\s+fail\s+\S+\s+UNEXPECTED/)
})
