// assertReplayRejected: passes on mcpAuth and fails on every way a server can
// let a proof be used twice.
import type { FastifyInstance } from 'fastify'
import { decodeJwt } from 'jose'
import t from 'tap'
import { assertReplayRejected, createTestIssuer } from '../../testing.js'
import { PRM, RESOURCE, firstFrame, goodApp, acceptAllApp, fixedApp, invalidToken, failsWith, noSecrets } from './fixtures.js'
import type { Test } from './fixtures.js'

t.test('assertReplayRejected passes on mcpAuth (with and without nonces) and returns the replay\'s response', async (t) => {
  const { app, issuer } = await goodApp(t)
  const replay = await assertReplayRejected(app, { url: '/mcp', issuer })
  t.equal(replay.statusCode, 401)
  t.equal(JSON.parse(replay.body).error, 'invalid_dpop_proof')
  const nonce = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  await assertReplayRejected(nonce.app, { url: '/mcp', issuer: nonce.issuer })
})

t.test('assertReplayRejected fails when a replayed proof is accepted', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: { replayStore: false } })
  await failsWith(t, () => assertReplayRejected(app, { url: '/mcp', issuer }), [
    /^assertReplayRejected: the same DPoP proof sent a second time must be rejected with 401 invalid_dpop_proof/, /status: expected 401, got 200/, /dpop: eyJ/,
  ], 'replay detection off')
  const { app: open, seen } = await acceptAllApp(t)
  noSecrets(t, await failsWith(t, () => assertReplayRejected(open, { url: '/mcp', issuer }), [/status: expected 401, got 200/], 'no authentication'), seen)
})

t.test('assertReplayRejected fails when the first use is refused, or the replay gets another error', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertReplayRejected(app, { url: '/mcp', issuer }), [/the first use of a proof must be accepted/, /status: expected 2xx, got 401/, /hint: no DPoP challenge: is DPoP turned off/], 'DPoP off')
  let calls = 0
  const wrong = await fixedApp(t, (_headers, reply) => ++calls === 1 ? { ok: true } : invalidToken(reply, `Bearer resource_metadata="${PRM}", DPoP error="invalid_token", resource_metadata="${PRM}"`))
  await failsWith(t, () => assertReplayRejected(wrong, { url: '/mcp', issuer }), [/DPoP challenge: expected error="invalid_dpop_proof", got "invalid_token"/], 'invalid_token instead of invalid_dpop_proof')
})

/** Accepts a DPoP request when `accept` says so for its proof, else answers 401 invalid_dpop_proof. */
function replayServer (t: Test, accept: (proof: string) => boolean): Promise<FastifyInstance> {
  return fixedApp(t, (headers, reply) => headers.authorization === undefined || accept(String(headers.dpop))
    ? headers.authorization === undefined ? invalidToken(reply, `Bearer resource_metadata="${PRM}"`) : { ok: true }
    : invalidToken(reply, `Bearer resource_metadata="${PRM}", DPoP error="invalid_dpop_proof", resource_metadata="${PRM}"`))
}

t.test('assertReplayRejected fails on a replay record keyed on the proof text, or on the last jti only', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const proofs = new Set<string>()
  const byText = await replayServer(t, (proof) => !proofs.has(proof) && proofs.add(proof) !== undefined)
  const err = await failsWith(t, () => assertReplayRejected(byText, { url: '/mcp', issuer }), [
    /^assertReplayRejected: a new proof re-signed with the jti of an accepted proof must be rejected with 401 invalid_dpop_proof/,
    /fix: the server accepted a new proof carrying a jti it had already accepted: key the replay record on the jti \(with the key's thumbprint\), not on the proof text/,
  ], 'keyed on the proof text')
  t.match(firstFrame(err), /dpop-replay\.test\.ts:\d+/, 'the stack starts at the caller')

  let last: string | undefined
  const lastOnly = await replayServer(t, (proof) => {
    const jti = decodeJwt(proof).jti
    if (jti === last) return false
    last = jti
    return true
  })
  await failsWith(t, () => assertReplayRejected(lastOnly, { url: '/mcp', issuer }), [
    /the first proof, sent again after another proof was accepted, must be rejected/,
    /fix: the server forgot the first proof's jti once another proof was accepted/,
  ], 'the last jti only')
})

t.test('assertReplayRejected fails when, after a replay, the next fresh proof is refused too (a server that blocks the key)', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  let used = false
  const once = await replayServer(t, () => !used && (used = true))
  await failsWith(t, () => assertReplayRejected(once, { url: '/mcp', issuer }), [
    /after that, the next valid proof \(a new jti\) must still be accepted/,
    /status: expected 2xx, got 401/,
    /hint: the replay check must refuse only a jti seen before, not every later proof of the key or token/,
  ], 'one request per key')
})
