// The README's quick start runs as written (against the built package).
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)

t.test('examples/quick-start.js --check: 401 → metadata → 200 → 403', { skip: existsSync('dist/index.js') ? false : 'run `npm run build` first (npm test does)' }, async (t) => {
  const { stdout } = await run(process.execPath, ['examples/quick-start.js', '--check'], { timeout: 30_000 })
  t.match(stdout, /ok {3}no token: 401 {2}WWW-Authenticate: Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/)
  t.match(stdout, /ok {3}metadata: 200/)
  t.match(stdout, /ok {3}valid token: 200/)
  t.match(stdout, /ok {3}missing scope: 403 {2}WWW-Authenticate: Bearer error="insufficient_scope"/)
  t.notMatch(stdout, /FAIL/)
})
