// Which sources a test of the other entry points' suites covers (tap --coverage-map):
// test/<suite>/… covers the suite's own files, lib/<suite>/, plugins/<suite>… and
// <suite>.ts, so the resource server's coverage is judged by its own tests alone.
// The conformance suite is a referee run, not a unit test: no coverage.
export default function coverageMap (testFile) {
  const suite = /^test\/([^/]+)\//.exec(testFile.replaceAll('\\', '/'))?.[1]
  if (suite === undefined || suite === 'conformance') return null
  return [`lib/${suite}/**`, `plugins/${suite}*`, `plugins/${suite}/**`, `${suite}.ts`]
}
