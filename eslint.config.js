import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', '.node/**', 'benchmarks/.out/**'] }),
  {
    // jose's root entry loads all 46 of its modules; a subpath loads only what it
    // exports (`jose/jwks/local` 8). The package's own code imports jose by subpath so
    // `import('fastify-mcp-auth')` stays cheap (benchmarks/import-cost.js); types may
    // come from 'jose' (they are erased).
    files: ['*.ts', 'lib/**/*.ts', 'plugins/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'jose', allowTypeImports: true, message: 'import jose by subpath (jose/jwks/local, jose/errors, …): its root entry loads every jose module' }],
      }],
    },
  },
]
