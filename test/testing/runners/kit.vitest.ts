// The testing kit under vitest (`vitest run --config test/testing/runners/vitest.config.ts`):
// test/testing/runners.test.ts runs this file and reads the runner's report.
import { onTestFinished, test } from 'vitest'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertDpopProofChecksEnforced,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  assertTokenValidationEnforced,
} from '../../../testing.js'
import { buildServer, ca, toolsList } from './server.js'

test('every helper passes on mcpAuth', async () => {
  const { app, url } = await buildServer()
  onTestFinished(() => app.close())
  assertChallenge(await app.inject({ method: 'POST', url: '/mcp' }), { status: 401, scheme: 'Bearer', first: true, error: null })
  await assertDpopBoundBearerRejected(app, toolsList)
  await assertDpopProofAccepted(app, toolsList)
  await assertReplayRejected(app, toolsList)
  await assertDpopProofChecksEnforced(app, toolsList)
  await assertTokenValidationEnforced(app, toolsList)
  await assertMtlsBindingEnforced({ ...toolsList, url, ca })
})

test('a helper fails on an open route', async () => {
  const { app } = await buildServer(true)
  onTestFinished(() => app.close())
  await assertDpopProofAccepted(app, toolsList) // the reported line
})
