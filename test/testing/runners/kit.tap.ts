// The testing kit under tap (`tap test/testing/runners/kit.tap.ts`):
// test/testing/runners.test.ts runs this file and reads the runner's report.
import t from 'tap'
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

t.test('every helper passes on mcpAuth', async (t) => {
  const { app, url } = await buildServer()
  t.teardown(() => app.close())
  assertChallenge(await app.inject({ method: 'POST', url: '/mcp' }), { status: 401, scheme: 'Bearer', first: true, error: null })
  await assertDpopBoundBearerRejected(app, toolsList)
  await assertDpopProofAccepted(app, toolsList)
  await assertReplayRejected(app, toolsList)
  await assertDpopProofChecksEnforced(app, toolsList)
  await assertTokenValidationEnforced(app, toolsList)
  await assertMtlsBindingEnforced({ ...toolsList, url, ca })
})

t.test('a helper fails on an open route', async (t) => {
  const { app } = await buildServer(true)
  t.teardown(() => app.close())
  await assertDpopProofAccepted(app, toolsList) // the reported line
})
