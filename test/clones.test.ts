// No logic copies in the source: jscpd finds no clone of 8 lines or more in
// lib/ and plugins/ (a shared piece of logic has one home and callers).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

t.test('jscpd lib plugins --min-lines 8 finds no clone', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, ['node_modules/jscpd/bin/jscpd', 'lib', 'plugins', '--min-lines', '8', '--reporters', 'console', '--threshold', '0'], { cwd: root })
  t.match(stdout, /Found 0 clones\./)
})
