// `npm run build`, after tsc has written the declarations: bundles the JavaScript of dist/.
// One ESM file per entry point, and chunks of the code several entries share (so each
// module still runs once and its classes and state are shared), instead of one file per
// source module: `import('fastify-mcp-auth')` reads a few files, not sixty
// (benchmarks/import-cost.js). Dependencies stay imports of node_modules, a lazy
// `import()` stays lazy, and the files an entry loads never import what only another
// entry needs (oidc-provider; test/bundle.test.ts). Nothing is minified and names are
// kept, so stack traces read like the sources; there are no source maps.
//
//   node scripts/build.js [outdir]     outdir defaults to dist
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const ENTRY_POINTS = ['index.ts', 'testing.ts', 'schemas.ts', 'authorization-server.ts', 'client.ts']

await build({
  absWorkingDir: fileURLToPath(new URL('..', import.meta.url)),
  entryPoints: ENTRY_POINTS,
  outdir: process.argv[2] ?? 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  keepNames: true,
  minify: false,
  sourcemap: false,
  logLevel: 'warning',
})
