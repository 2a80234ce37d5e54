// The testing kit under vitest (`vitest run --config test/testing/runners/vitest.config.ts`):
// test/testing/runners.test.ts runs this file and reads the runner's report.
import { onTestFinished, test } from 'vitest'
import { assertDpopProofAccepted } from '../../../testing.js'
import { buildServer, everyHelper, toolsList } from './server.js'

test('every helper passes on mcpAuth', async () => {
  const { app, url } = await buildServer()
  onTestFinished(() => app.close())
  await everyHelper(app, url)
})

test('a helper fails on an open route', async () => {
  const { app } = await buildServer(true)
  onTestFinished(() => app.close())
  await assertDpopProofAccepted(app, toolsList) // the reported line
})
