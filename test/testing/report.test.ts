// What every helper's failure looks like: node's AssertionError, which every
// runner reports, with the stack at the caller's line and a bounded wait.
import assert from 'node:assert'
import t from 'tap'
import { assertChallenge, assertDpopBoundBearerRejected, assertReplayRejected, createTestIssuer } from '../../testing.js'
import { RESOURCE, acceptAllApp } from './fixtures.js'

t.test('the helpers throw node:assert\'s AssertionError (code ERR_ASSERTION), which every runner reports as a failure', async (t) => {
  const { app } = await acceptAllApp(t)
  const issuer = await createTestIssuer({ audience: RESOURCE })
  for (const run of [
    () => assertDpopBoundBearerRejected(app, { url: '/mcp', issuer }),
    () => assertReplayRejected(app, { url: '/mcp', issuer }),
    async () => assertChallenge(await app.inject({ method: 'GET', url: '/mcp' }), { status: 401 }),
  ]) {
    const err = await run().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof assert.AssertionError)
    t.equal((err as assert.AssertionError).code, 'ERR_ASSERTION')
    t.equal((err as assert.AssertionError).generatedMessage, false)
  }
})
