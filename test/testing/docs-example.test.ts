// docs/testing.md shows what the kit does, and the page stays true: its complete
// test file runs under node:test as written (imports pointed at the sources), and
// its sample failure message is what the kit prints for that flaw.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { assertDpopProofChecksEnforced, createTestIssuer } from '../../testing.js'
import { handWrittenServer } from './honesty/hand-written-server.js'
import { ca, root, runNode, serverCertificate } from './fixtures.js'

const page = readFileSync(join(root, 'docs/testing.md'), 'utf8')

/** The fenced block that follows a heading. */
function blockAfter (heading: string): string {
  const start = page.indexOf(heading)
  const open = page.indexOf('```', start)
  const body = page.indexOf('\n', open) + 1
  return page.slice(body, page.indexOf('\n```', body))
}

t.test('the complete test file of docs/testing.md passes under node:test, as written', async (t) => {
  const code = blockAfter('### A complete test file')
    .replace(/from 'fastify-mcp-auth'/, `from '${pathToFileURL(join(root, 'index.ts')).href}'`)
    .replace(/from 'fastify-mcp-auth\/testing'/, `from '${pathToFileURL(join(root, 'testing.ts')).href}'`)
  t.match(code, /import \{ test \} from 'node:test'/, 'the page\'s example uses node:test')
  // Inside the project, so 'fastify' resolves from its node_modules.
  const dir = join(root, 'node_modules/.cache/fastify-mcp-auth')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'docs-example.test.js')
  writeFileSync(file, code)
  const { code: exit, output } = await runNode(['--import', 'tsx', '--test', '--test-reporter=tap', file])
  t.equal(exit, 0, output)
  t.match(output, /^# pass 5\n# fail 0$/m, 'five tests, all passing')
})

t.test('the sample failure message of docs/testing.md is the one the kit prints for a server that never compares the proof key with cnf.jkt', async (t) => {
  const issuer = await createTestIssuer({ audience: 'https://mcp.example.com/mcp' })
  const app = handWrittenServer({ issuer, resource: 'https://mcp.example.com/mcp', flaw: 'jkt-unchecked', https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem } })
  t.teardown(() => app.close())
  const err = await assertDpopProofChecksEnforced(app, { url: '/mcp', method: 'POST', issuer, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } }).then(() => undefined, (e: Error) => e)
  const lengths = (text: string): string => text.replace(/…\[\d+ chars\]/g, '…[N chars]')
  t.equal(lengths(`AssertionError [ERR_ASSERTION]: ${err?.message}`), lengths(blockAfter('### When a check fails')))
})
