// The testing kit under node:test (run with `node --import tsx --test`):
// test/testing/runners.test.ts runs this file and reads the runner's report.
import { test } from 'node:test'
import { assertDpopProofAccepted } from '../../../testing.js'
import { buildServer, everyHelper, toolsList } from './server.js'

test('every helper passes on mcpAuth', async (t) => {
  const { app, url } = await buildServer()
  t.after(() => app.close())
  await everyHelper(app, url)
})

test('a helper fails on an open route', async (t) => {
  const { app } = await buildServer(true)
  t.after(() => app.close())
  await assertDpopProofAccepted(app, toolsList) // the reported line
})
