// Mutation testing of the security core (`npm run test:mutation`; not part of
// `npm test`: over an hour on two cores, see test/MUTATION.md). StrykerJS changes one
// operator, condition or literal at a time in the modules below and runs the test
// files that execute that code; a change no test notices is a check no test pins.
// test/MUTATION.md holds the last run's scores and explains every survivor. The
// command runs in two passes (scripts/mutation.js, with passOptions below); the
// default export is the same run in one pass, for a plain `npx stryker run`.
import { readdirSync, readFileSync } from 'node:fs'

/** The modules whose every behaviour change must fail a test. */
export const mutate = [
  'lib/authenticate.ts', // the request pipeline
  'lib/credentials.ts', // RFC 6750 §2.1 / RFC 9449 §7.1 credential extraction
  'lib/verifier.ts', // the verified-token cache and the verification behind it
  'lib/access-token.ts', // JWT access-token checks (RFC 9068 §4)
  'lib/claims.ts', // claim types, times, scopes and cnf
  'lib/compact-jws.ts', // compact JWS shape (jose verifies the signatures)
  'lib/jwk-thumbprint.ts', // RFC 7638 thumbprints (the DPoP key binding)
  'lib/dpop/proof.ts', // RFC 9449 §4.3 proof verification
  'lib/dpop/nonce.ts', // RFC 9449 §8 server nonces
  'lib/stores/memory-replay-store.ts', // RFC 9449 §11.1 replay records
  'lib/stores/redis-replay-store.ts',
  'lib/stores/redis-store.ts', // what the Redis stores share (PING, unexpected replies)
  'lib/stores/redis-client.ts', // raw commands with a timeout: fail closed
  'lib/mtls/thumbprint.ts', // RFC 8705 §3.1 certificate thumbprints
  'lib/resource.ts', // resource URIs and the audience comparison form
  'lib/route-resource.ts', // which resource a route's request is checked against
  'lib/scopes.ts', // scope matching
  'plugins/require-scopes.ts', // the scope guard
  'lib/challenge.ts', // WWW-Authenticate challenges
  'lib/rejection.ts', // what a refused request is answered
]

// The unit, plugin, issue, integration and property tests pin the core. Left out: test
// files that read the sources or the docs as text or only run other programs (they run
// none of the mutated code), those that import examples/ (they run the built package,
// dist/, absent from Stryker's sandbox), the testing kit's own tests (test/testing: they
// check the kit against the plugin) and the interop tests (test/interop: peers driving
// the plugin end to end). Every mutant a test outside this list would catch must be
// caught by one inside it, so a survivor points at a missing unit test, and a surviving
// mutant costs one pass over the files that run its code, not over the whole suite.
const SKIPPED = new Set([
  'test/lib/import-graph.test.ts',
])
const IMPORTS_EXAMPLES = /^import [^\n]* from '(\.\.\/)+examples\//m
// Fast unit tests first: a mutant's covering files run in this order and the first failure stops the run.
const DIRS = ['test/lib', 'test/issues', 'test/plugins', 'test/integration', 'test/property']
// Pass 1's tests: fast enough to run over every mutant.
const PASS_1_DIRS = ['test/lib', 'test/issues']

/** The test files under DIRS, in DIRS order, sorted within each. */
export function testFiles () {
  return DIRS.flatMap((dir) => readdirSync(new URL(dir + '/', import.meta.url), { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => `${dir}/${name}`)
    .filter((file) => !SKIPPED.has(file) && !IMPORTS_EXAMPLES.test(readFileSync(new URL(file, import.meta.url), 'utf8'))))
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  packageManager: 'npm',
  testRunner: 'tap',
  tap: {
    testFiles: testFiles(),
    // The tests are TypeScript, run as `npm test` runs them: Node strips the types, the hook
    // maps `./x.js` onto `./x.ts` (test/helpers/strip-types.mjs); the flag is for Node 22.
    nodeArgs: ['--experimental-strip-types', '--no-warnings', '--import', './test/helpers/strip-types.mjs'],
    forceBail: true,
  },
  mutate,
  // Per test file: a mutant runs only the files that executed it.
  coverageAnalysis: 'perTest',
  // A rerun only tries the mutants whose code or covering test files changed (the file is
  // kept out of git). Each pass has its own file: Stryker reuses a result when the tests
  // that gave it are unchanged, so a result is only reused by the pass whose test list
  // gave it.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // Two cores: two test processes at a time (the test files use their own ports and redis-server).
  concurrency: 2,
  // Test files start servers and redis-server; a hung mutant gets this long beyond its files' own time.
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // Every module must reach 95 %; scripts/mutation-summary.js checks each one (this is the whole run's).
  thresholds: { high: 95, low: 90, break: null },
  // .node/ holds the Node binaries .ci/run installs (symlinked folders Stryker cannot copy).
  ignorePatterns: ['dist', 'coverage', '.tap', '.conformance', 'benchmarks/.out', 'reports', '.node', '.stryker-tmp*'],
  tempDirName: '.stryker-tmp',
}

export default config

/**
 * The options of one pass of `npm run test:mutation` (scripts/mutation.js): pass 1 runs
 * every mutant of `mutate` (module paths) against the unit and issue tests, pass 2 the
 * mutants pass 1 left undetected (`mutate` is then their ranges, `path:line:column-line:column`)
 * against every test file above. In pass 2 Stryker also carries, from its incremental
 * file, the results of mutants outside those ranges into its report; the merge never
 * reads them, as pass 1 detected each of them.
 * @param {1 | 2} pass
 * @param {string[]} mutate
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function passOptions (pass, mutate) {
  if (pass !== 1 && pass !== 2) throw new RangeError(`pass is 1 or 2, not ${pass}`)
  const files = testFiles()
  return {
    ...config,
    mutate,
    tap: { ...config.tap, testFiles: pass === 1 ? files.filter((file) => PASS_1_DIRS.some((dir) => file.startsWith(dir + '/'))) : files },
    incrementalFile: `reports/stryker-incremental-pass${pass}.json`,
    jsonReporter: { fileName: `reports/mutation/pass${pass}.json` },
    htmlReporter: { fileName: `reports/mutation/pass${pass}.html` },
  }
}
