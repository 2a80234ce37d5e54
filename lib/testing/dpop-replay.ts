// assertReplayRejected: a DPoP proof is good once (RFC 9449 §11.1). The
// server must remember each jti (with the key), not the proof text, and not
// only the last one it saw.
import { decodeJwt } from 'jose/jwt/decode'
import { expectRejected } from './challenge.js'
import type { Step } from './http.js'
import type { HttpResponseLike, Injectable, InjectRequest } from './exchange.js'
import { callSite, fromCallSite } from './report.js'
import { expectSuccess, sendWithProof, startDpop } from './steps.js'
import type { DpopAssertionOptions } from './steps.js'

/**
 * An accepted DPoP request (2xx) must not be accepted again: the very same
 * proof, a new proof re-signed with the same jti, and (after another fresh
 * proof is accepted) the first proof once more each get 401
 * invalid_dpop_proof in the DPoP challenge. Returns the first replay's response.
 */
export async function assertReplayRejected (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  return fromCallSite(callSite(assertReplayRejected), replayRejected(app, options))
}

async function replayRejected (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  const { exchange, target, key, token } = await startDpop('assertReplayRejected', app, options)
  const accepted = { ...target, scheme: 'DPoP' as const }
  const refused = (step: Step, request: InjectRequest, response: HttpResponseLike, fix: string): void =>
    expectRejected(exchange.context(step, request), response, { error: 'invalid_dpop_proof', scheme: 'DPoP', fix })

  const firstStep = { step: 'the first use of a proof must be accepted' }
  const first = await sendWithProof(exchange, firstStep, target, { key, token, scheme: 'DPoP' })
  expectSuccess(exchange, firstStep, first.request, first.response, accepted, options)

  const replayStep = { step: 'the same DPoP proof sent a second time must be rejected with 401 invalid_dpop_proof' }
  const replay = await exchange.send(replayStep, first.request)
  refused(replayStep, first.request, replay,
    'the server accepted the same proof twice: record each proof\'s jti with the key\'s thumbprint until its iat leaves the acceptance window, and refuse a jti seen before (RFC 9449 §11.1)')

  // The same claims signed again: ECDSA signatures are randomized, so the proof text differs.
  const { jti, iat } = decodeJwt(first.proof)
  const resignStep = { step: 'a new proof re-signed with the jti of an accepted proof must be rejected with 401 invalid_dpop_proof' }
  const resigned = await sendWithProof(exchange, resignStep, target, { key, token, scheme: 'DPoP', nonce: first.nonce, jti, iat })
  refused(resignStep, resigned.request, resigned.response,
    'the server accepted a new proof carrying a jti it had already accepted: key the replay record on the jti (with the key\'s thumbprint), not on the proof text')

  const nextStep = { step: 'after that, the next valid proof (a new jti) must still be accepted' }
  const next = await sendWithProof(exchange, nextStep, target, { key, token, scheme: 'DPoP', nonce: resigned.nonce })
  expectSuccess(exchange, nextStep, next.request, next.response, accepted, options,
    'the replay check must refuse only a jti seen before, not every later proof of the key or token')

  const againStep = { step: 'the first proof, sent again after another proof was accepted, must be rejected with 401 invalid_dpop_proof' }
  const again = await exchange.send(againStep, first.request)
  refused(againStep, first.request, again,
    'the server forgot the first proof\'s jti once another proof was accepted: keep every jti until its iat leaves the acceptance window, not only the last one')
  return replay
}
