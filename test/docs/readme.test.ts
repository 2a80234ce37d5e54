// The README stays short and the reference lives in docs/: nothing that used to be in the
// README is lost, every local link resolves, and the README cannot grow past 320 lines.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import t from 'tap'

const root = resolve(import.meta.dirname, '../..')
const README = join(root, 'README.md')
const pages = [
  README,
  join(root, 'CHANGELOG.md'),
  join(root, 'benchmarks/HISTORY.md'),
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f)),
]

// The H2/H3 headings of the README before it was split into docs/ (988 lines).
const FORMER_HEADINGS = [
  'Install', 'Quick start', 'How it works', '`request.mcp`', 'Options', '`resource` (required)',
  '`authorizationServers`', '`jwks`', '`algorithms`', '`secret`', '`tokenTypes`', '`clockTolerance`',
  '`verifyToken`', '`introspection`', '`dpop`', '`mtls`', '`principal`', '`errorRenderer`',
  '`scopeMatching`', '`scopeWildcards`', '`metadata`', '`onEvent`', '`underPressure`', '`healthRoute`',
  '`tokenCache`, `maxTokenLength`, `retryAfter`', 'Scope guards', 'Protected resource metadata',
  'Sender-constrained tokens', 'DPoP proof checks (RFC 9449 §4.3)', 'Replay stores', 'Nonces', 'mTLS',
  'Responses', 'Errors', 'TypeScript', 'Testing your server', 'A complete test file', 'Reference',
  'Running in production', 'Security notes', 'Limits', 'Attacks the test suite performs', 'Performance',
  'Specifications', 'License',
]

function headings (file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  return [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => (m[1] as string).trim())
}

t.test('README.md is at most 320 lines', async (t) => {
  const lines = readFileSync(README, 'utf8').split('\n').length
  t.ok(lines <= 320, `README.md has ${lines} lines; move reference material to docs/`)
})

t.test('every former README heading is still a heading in README.md or docs/', async (t) => {
  const all = new Set(pages.flatMap(headings))
  for (const heading of FORMER_HEADINGS) t.ok(all.has(heading), `"${heading}" is found`)
})

t.test('every relative link in README.md and docs/ points at a file that exists', async (t) => {
  for (const page of pages) {
    const text = readFileSync(page, 'utf8')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/i.test(target) || target.startsWith('#')) continue
      const path = target.split('#')[0] as string
      t.ok(existsSync(resolve(dirname(page), path)), `${page.slice(root.length + 1)}: ${target}`)
    }
  }
})
