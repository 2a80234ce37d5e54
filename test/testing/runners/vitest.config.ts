// vitest for the runner fixture only: the project's own suites run under tap.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['kit.vitest.ts'],
    testTimeout: 60_000,
  },
})
