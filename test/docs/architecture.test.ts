// docs/architecture.md names, in call order, the functions a cached DPoP request
// passes through: each must exist in the module named for it, and the list must
// be the functions a real cached DPoP request enters, no more and no fewer
// (counted by V8 in a child process, test/helpers/call-trace.ts).
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const root = new URL('../../', import.meta.url)
const doc = readFileSync(new URL('docs/architecture.md', root), 'utf8')

const section = doc.slice(doc.indexOf('## A cached DPoP request, in call order'), doc.indexOf('## A token the cache does not hold'))
const rows = [...section.matchAll(/^\| (\d+) \| `([A-Za-z0-9#]+)` \| `([^`]+)` \|/gm)].map((m) => ({ order: Number(m[1]), name: m[2] as string, module: m[3] as string }))

t.test('the call chain lists at most 15 functions in at most 6 modules, numbered in order', async (t) => {
  t.ok(rows.length > 0 && rows.length <= 15, `${rows.length} functions`)
  t.same(rows.map((r) => r.order), rows.map((_r, i) => i + 1))
  const modules = new Set(rows.map((r) => r.module))
  t.ok(modules.size <= 6, `${modules.size} modules`)
  t.match(section, new RegExp(`^${rows.length} functions in ${modules.size} modules\\.`, 'm'), 'the count the page states is the count of its table')
})

t.test('each listed function is defined in the module named for it', async (t) => {
  for (const { name, module } of rows) {
    const source = readFileSync(new URL(module, root), 'utf8')
    const defined = new RegExp(`(?:function|class|const) ${name}\\b|^\\s+(?:async )?${name} \\(|^\\s+${name}: `, 'm').test(source) ||
      // A function returned by its factory: `return async function name (`.
      new RegExp(`return (?:async )?function ${name} \\(`).test(source)
    t.ok(defined, `${name} in ${module}`)
  }
})

t.test('the list is what a cached DPoP request enters: every function of the package it calls, and only those', async (t) => {
  // Without the parent's coverage collection: it would share V8's call counters.
  const env = { ...process.env }
  delete env.NODE_V8_COVERAGE
  delete env.NODE_OPTIONS
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('test/helpers/call-trace.ts', root))], {
    cwd: fileURLToPath(root),
    env,
    timeout: 50_000,
  })
  const entered = JSON.parse(stdout) as Array<{ module: string, name: string }>
  const listed = rows.map((r) => `${r.module} ${r.name}`).sort()
  t.same([...new Set(entered.map((e) => `${e.module} ${e.name}`))].sort(), listed)
})

t.test('the README\'s "How it works" links to the page', async (t) => {
  const readme = readFileSync(new URL('README.md', root), 'utf8')
  const howItWorks = readme.slice(readme.indexOf('## How it works'))
  t.match(howItWorks.slice(0, howItWorks.indexOf('\n## ', 3)), /\(docs\/architecture\.md\)/)
})
