// The testing kit under tap (`node --import tsx test/testing/runners/kit.tap.ts`):
// test/testing/runners.test.ts runs this file and reads the runner's report.
import t from 'tap'
import { assertDpopProofAccepted } from '../../../testing.js'
import { buildServer, everyHelper, toolsList } from './server.js'

t.test('every helper passes on mcpAuth', async (t) => {
  const { app, url } = await buildServer()
  t.teardown(() => app.close())
  await everyHelper(app, url)
})

t.test('a helper fails on an open route', async (t) => {
  const { app } = await buildServer(true)
  t.teardown(() => app.close())
  await assertDpopProofAccepted(app, toolsList) // the reported line
})
