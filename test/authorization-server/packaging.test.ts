// Packaging: oidc-provider and @fastify/rate-limit are optional peer
// dependencies that only the authorization-server entry reaches, so users of
// the resource server (the root and testing entries) install nothing new.
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const OPTIONAL = ['oidc-provider', '@fastify/rate-limit']

/** Every bare module a source file reaches through its relative imports (type-only imports excluded). */
function reachable (entry: string): Set<string> {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const source = readFileSync(file, 'utf8')
    for (const [, specifier] of source.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
      if (specifier === undefined) continue
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')))
      else packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0] as string)
    }
  }
  visit(join(root, entry))
  return packages
}

t.test('the root and testing entries never import the authorization server\'s peers', async (t) => {
  for (const entry of ['index.ts', 'testing.ts', 'schemas.ts']) {
    const packages = reachable(entry)
    for (const name of OPTIONAL) t.notOk(packages.has(name), `${entry} does not reach ${name}`)
  }
  const server = reachable('authorization-server.ts')
  for (const name of OPTIONAL) t.ok(server.has(name), `authorization-server.ts reaches ${name}`)
})

t.test('package.json: the entry is exported, its peers are optional', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>
  t.same(pkg.exports?.['./authorization-server'], { types: './dist/authorization-server.d.ts', default: './dist/authorization-server.js' })
  for (const name of OPTIONAL) {
    t.type(pkg.peerDependencies?.[name], 'string', `${name} is a peer dependency`)
    t.same(pkg.peerDependenciesMeta?.[name], { optional: true }, `${name} is optional`)
    t.notOk(pkg.dependencies?.[name], `${name} is not a dependency`)
  }
})
