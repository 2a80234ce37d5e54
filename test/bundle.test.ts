// The bundled dist/ (scripts/build.js): each entry loads only its own dependencies.
// Bundles the current source into a scratch directory, imports an entry in a child
// process and lists every module it loads; the root entry's files, lazy chunks
// included, are also read for every package they name. oidc-provider (an optional
// peer dependency) and oauth4webapi belong to their own entries; @fastify/under-pressure
// is imported only when `underPressure` is set.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Inside the project, so the bundle's imports of dependencies resolve to node_modules.
mkdirSync(join(root, 'node_modules/.cache'), { recursive: true })
const outdir = mkdtempSync(join(root, 'node_modules/.cache/bundle-test-'))
t.teardown(() => rmSync(outdir, { recursive: true, force: true }))
execFileSync(process.execPath, [join(root, 'scripts/build.js'), outdir], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })

/** The packages (node_modules/<name>/) one import of the entry loads, in a fresh process. */
function packagesLoaded (entry: string): Set<string> {
  const child = `
    const { registerHooks } = await import('node:module')
    const urls = []
    registerHooks({ load (url, context, next) { urls.push(url); return next(url, context) } })
    await import(process.argv[1])
    process.stdout.write(JSON.stringify(urls))`
  const urls = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child, pathToFileURL(join(outdir, entry)).href], { cwd: root, encoding: 'utf8' })) as string[]
  return new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []))
}

/** Every package named by the files an entry can load, statically or through `import()`. */
function packagesNamed (entry: string): { static: Set<string>, lazy: Set<string>, specifiers: Set<string> } {
  const named = { static: new Set<string>(), lazy: new Set<string>(), specifiers: new Set<string>() }
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const code = readFileSync(file, 'utf8')
    for (const [, from, bare, lazy] of code.matchAll(/\bfrom\s*"([^"]+)"|\bimport\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)) {
      const specifier = (from ?? bare ?? lazy) as string
      named.specifiers.add(specifier)
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier))
      else if (!specifier.startsWith('node:')) (lazy === undefined ? named.static : named.lazy).add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0] as string)
    }
  }
  visit(join(outdir, entry))
  return named
}

const PEERS_OF_OTHER_ENTRIES = ['oidc-provider', 'oauth4webapi', '@fastify/rate-limit']

t.test('importing the root entry loads no other entry\'s dependencies, no TypeBox and no @fastify/under-pressure', async (t) => {
  const loaded = packagesLoaded('index.js')
  for (const name of [...PEERS_OF_OTHER_ENTRIES, 'typebox', '@fastify/under-pressure']) t.notOk(loaded.has(name), `${name} is not loaded`)
  t.ok(loaded.has('fastify-plugin'), 'the hook sees the dependencies the entry loads')
})

t.test('no file the root entry can load, lazily or not, names another entry\'s dependencies; @fastify/under-pressure stays lazy', async (t) => {
  const named = packagesNamed('index.js')
  for (const name of PEERS_OF_OTHER_ENTRIES) t.notOk(named.static.has(name) || named.lazy.has(name), `${name} is not named`)
  t.notOk(named.static.has('@fastify/under-pressure'), '@fastify/under-pressure is not a static import')
  t.ok(named.lazy.has('@fastify/under-pressure'), '@fastify/under-pressure is a lazy import()')
  // jose's root entry loads all of its modules; the package imports it by subpath.
  t.ok(named.specifiers.has('jose/jws/compact/verify'), 'jose is imported by subpath')
  t.notOk(named.specifiers.has('jose'), 'never jose\'s root entry')
})

t.test('the testing and schemas entries load no authorization-server or client dependency', async (t) => {
  for (const entry of ['testing.js', 'schemas.js']) {
    const loaded = packagesLoaded(entry)
    for (const name of PEERS_OF_OTHER_ENTRIES) t.notOk(loaded.has(name), `${entry}: ${name} is not loaded`)
  }
})

t.test('the authorization-server entry loads oidc-provider and the client entry oauth4webapi, each only its own', async (t) => {
  const server = packagesLoaded('authorization-server.js')
  t.ok(server.has('oidc-provider'), 'authorization-server.js loads oidc-provider')
  t.notOk(server.has('oauth4webapi'), 'authorization-server.js does not load oauth4webapi')
  const client = packagesLoaded('client.js')
  t.ok(client.has('oauth4webapi'), 'client.js loads oauth4webapi')
  t.notOk(client.has('oidc-provider'), 'client.js does not load oidc-provider')
})
