// One cold process of benchmarks/import-cost.js: imports fastify, then the entry under
// test, and prints how long the second import took or which modules it loaded (the
// counting hooks would skew the time, so each run does one or the other). It imports
// nothing else, so nothing of the package is loaded before the measured import.
const [mode, entry] = process.argv.slice(2)
if (mode === 'count') {
  const { registerHooks } = await import('node:module')
  await import('fastify')
  const seen = new Set()
  registerHooks({
    load (url, context, next) {
      if (!url.startsWith('node:')) seen.add(url)
      return next(url, context)
    },
  })
  await import(entry)
  const urls = [...seen]
  // Where the modules come from: a package of node_modules, or this package's own files.
  const byPackage = {}
  for (const url of urls) {
    const name = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? 'fastify-mcp-auth'
    byPackage[name] = (byPackage[name] ?? 0) + 1
  }
  process.stdout.write(JSON.stringify({ modules: urls.length, byPackage, typebox: byPackage.typebox ?? 0, underPressure: byPackage['@fastify/under-pressure'] !== undefined }))
} else {
  await import('fastify')
  const t0 = performance.now()
  await import(entry)
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }))
}
