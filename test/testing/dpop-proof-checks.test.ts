// assertDpopProofChecksEnforced: passes on mcpAuth in every DPoP set-up, and
// fails, naming the flawed proof and what to fix, when one is accepted.
import t from 'tap'
import { assertDpopProofChecksEnforced, createTestIssuer } from '../../testing.js'
import { PRM, RESOURCE, acceptAllApp, failsWith, firstFrame, fixedApp, goodApp, invalidToken, noSecrets } from './fixtures.js'

t.test('assertDpopProofChecksEnforced passes on mcpAuth: defaults, server nonces, dpop.required, a POST with scopes, a longer iat window', async (t) => {
  const { app, issuer } = await goodApp(t)
  await assertDpopProofChecksEnforced(app, { url: '/mcp', issuer })
  await assertDpopProofChecksEnforced(app, { url: '/mcp', method: 'POST', issuer, claims: { scope: 'mcp:tools:call' }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  const nonce = await goodApp(t, { dpop: { nonce: { secret: 's'.repeat(32) } } })
  await assertDpopProofChecksEnforced(nonce.app, { url: '/mcp', issuer: nonce.issuer })
  const required = await goodApp(t, { dpop: { required: true } })
  await assertDpopProofChecksEnforced(required.app, { url: '/mcp', issuer: required.issuer })
  const longer = await goodApp(t, { dpop: { iatWindow: 900 } })
  await assertDpopProofChecksEnforced(longer.app, { url: '/mcp', issuer: longer.issuer, iatWindow: 900 })
  await failsWith(t, () => assertDpopProofChecksEnforced(longer.app, { url: '/mcp', issuer: longer.issuer }), [
    /a proof issued 360 s ago must be rejected with 401 invalid_dpop_proof in the DPoP challenge/,
    /fix: the server accepted a proof issued 360 s ago: refuse a proof whose iat lies more than the window \(300 s\) in the past .*pass iatWindow if yours is longer/,
  ], 'a window longer than the helper was told')
})

t.test('assertDpopProofChecksEnforced fails on a server that checks no proof, naming the first flaw it accepted', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const { app, seen } = await acceptAllApp(t)
  const err = await failsWith(t, () => assertDpopProofChecksEnforced(app, { url: '/mcp', issuer }), [
    /^assertDpopProofChecksEnforced: a proof whose htm names another method must be rejected with 401 invalid_dpop_proof in the DPoP challenge/,
    /- status: expected 401, got 200/,
    /fix: the server accepted a proof whose htm names another method: compare htm with the request method, case-sensitively \(RFC 9449 §4\.3 step 8\)/,
    /authorization: DPoP eyJ[\w-]{9}…\[\d+ chars\]\n {4}dpop: eyJ[\w-]{9}…\[\d+ chars\]/,
  ], 'no checks at all')
  noSecrets(t, err, seen)
  t.match(firstFrame(err), /dpop-proof-checks\.test\.ts:\d+/, 'the stack starts at the caller')
})

t.test('assertDpopProofChecksEnforced: each case must carry its own error in the DPoP challenge', async (t) => {
  const issuer = await createTestIssuer({ audience: RESOURCE })
  const challenge = (error: string): string => `Bearer resource_metadata="${PRM}", DPoP error="${error}", resource_metadata="${PRM}"`
  // Refuses every flawed proof, but always with invalid_dpop_proof: the key mismatch needs invalid_token (RFC 9449 §7.1).
  let calls = 0
  const oneCode = await fixedApp(t, (_headers, reply) => ++calls === 1 ? { ok: true } : invalidToken(reply, challenge('invalid_dpop_proof')))
  await failsWith(t, () => assertDpopProofChecksEnforced(oneCode, { url: '/mcp', issuer }), [
    /a valid proof signed by a key other than the token's cnf\.jkt must be rejected with 401 invalid_token in the DPoP challenge/,
    /DPoP challenge: expected error="invalid_token", got "invalid_dpop_proof"/,
  ], 'invalid_dpop_proof for a key mismatch')
  let bearerCalls = 0
  const inBearer = await fixedApp(t, (_headers, reply) => ++bearerCalls === 1 ? { ok: true } : invalidToken(reply, `Bearer error="invalid_dpop_proof", resource_metadata="${PRM}", DPoP algs="ES256", resource_metadata="${PRM}"`))
  await failsWith(t, () => assertDpopProofChecksEnforced(inBearer, { url: '/mcp', issuer }), [
    /DPoP challenge: expected error="invalid_dpop_proof", got none/,
  ], 'the error in the Bearer challenge of a DPoP request (RFC 9449 §7.2)')
})

t.test('assertDpopProofChecksEnforced fails when the control request is refused, and refuses a bad iatWindow', async (t) => {
  const { app, issuer } = await goodApp(t, { dpop: false })
  await failsWith(t, () => assertDpopProofChecksEnforced(app, { url: '/mcp', issuer }), [
    /^assertDpopProofChecksEnforced: control: a DPoP-bound token with a valid proof must be accepted/,
    /status: expected 2xx, got 401/,
    /hint: no DPoP challenge: is DPoP turned off \(dpop: false\)\?/,
  ], 'DPoP off')
  for (const iatWindow of [-1, Number.NaN, '300' as unknown as number]) {
    await t.rejects(assertDpopProofChecksEnforced(app, { url: '/mcp', issuer, iatWindow }), { name: 'TypeError', message: /assertDpopProofChecksEnforced: iatWindow must be a number of seconds/ }, String(iatWindow))
  }
})
