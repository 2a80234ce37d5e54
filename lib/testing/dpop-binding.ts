// assertDpopBoundBearerRejected and assertDpopProofAccepted: a DPoP-bound
// token works only with its proof under the DPoP scheme (RFC 9449 §7.1, §7.2),
// shown against a route that is protected and reachable.
import { expectRejected } from './challenge.js'
import type { HttpResponseLike, Injectable } from './exchange.js'
import { callSite, fromCallSite } from './report.js'
import { expectProtected, expectSuccess, mint, requestTo, sendWithProof, startDpop } from './steps.js'
import type { DpopAssertionOptions } from './steps.js'

export interface DpopBoundBearerOptions extends DpopAssertionOptions {
  /**
   * Also require the same token with a valid proof under the DPoP scheme to get
   * a 2xx (default true). With false, an unbound token under Bearer must get a
   * 2xx instead, so the rejections cannot come from a wrong url, method or
   * resource, or from an app that refuses every token.
   */
  expectAcceptedWithProof?: boolean
}

/**
 * A DPoP-bound token (fresh key) sent under the Bearer scheme, without and
 * with a valid proof, must get 401 invalid_token, after a control request
 * shows the route accepts a good request: the same token with its proof under
 * DPoP, or (`expectAcceptedWithProof: false`) an unbound token under Bearer.
 */
export async function assertDpopBoundBearerRejected (app: Injectable, options: DpopBoundBearerOptions): Promise<void> {
  return fromCallSite(callSite(assertDpopBoundBearerRejected), boundBearerRejected(app, options))
}

async function boundBearerRejected (app: Injectable, options: DpopBoundBearerOptions): Promise<void> {
  const { exchange, target, key, token } = await startDpop('assertDpopBoundBearerRejected', app, options)

  // First, so the Bearer attempts below also meet a warm token cache.
  let nonce: string | undefined
  if (options.expectAcceptedWithProof !== false) {
    const step = { step: 'the DPoP-bound token with a valid proof under the DPoP scheme must be accepted' }
    const accepted = await sendWithProof(exchange, step, target, { key, token, scheme: 'DPoP' })
    expectSuccess(exchange, step, accepted.request, accepted.response, { ...target, scheme: 'DPoP' }, options)
    nonce = accepted.nonce
  } else {
    const step = { step: 'control: the same request with an unbound token under Bearer must be accepted (expectAcceptedWithProof: false)' }
    const control = requestTo(target, { authorization: `Bearer ${await mint(options, target.aud)}` })
    expectSuccess(exchange, step, control, await exchange.send(step, control), target, options,
      'this control shows the url, method and resource reach a route that accepts the issuer\'s tokens; if the app requires DPoP (dpop.required), leave expectAcceptedWithProof on')
  }

  const bareStep = { step: 'a DPoP-bound token sent as a Bearer token (no DPoP header) must be rejected with 401 invalid_token' }
  const bare = requestTo(target, { authorization: `Bearer ${token}` })
  expectRejected(exchange.context(bareStep, bare), await exchange.send(bareStep, bare), {
    error: 'invalid_token',
    fix: 'the server accepted a DPoP-bound token (cnf.jkt) as a plain bearer token: a token with cnf.jkt needs the DPoP scheme and a proof by that key, whatever scheme the client chose (RFC 9449 §7.2)',
  })

  const proofStep = { step: 'a DPoP-bound token under the Bearer scheme must be rejected with 401 invalid_token even with a valid DPoP proof' }
  const withProof = await sendWithProof(exchange, proofStep, target, { key, token, scheme: 'Bearer', nonce })
  expectRejected(exchange.context(proofStep, withProof.request), withProof.response, {
    error: 'invalid_token',
    fix: 'the server accepted a DPoP-bound token under the Bearer scheme because a valid DPoP header came with it: require the DPoP scheme for a token with cnf.jkt (RFC 9449 §7.2)',
  })
}

/**
 * The route refuses the request without credentials (401 with a Bearer or
 * DPoP challenge), and a DPoP-bound token (fresh key) with a valid proof gets
 * a 2xx (a use_dpop_nonce answer is retried once). Returns that response.
 */
export async function assertDpopProofAccepted (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  return fromCallSite(callSite(assertDpopProofAccepted), proofAccepted(app, options))
}

async function proofAccepted (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  const { exchange, target, key, token } = await startDpop('assertDpopProofAccepted', app, options)
  await expectProtected(exchange, target)
  const step = { step: 'a DPoP-bound token with a valid proof must be accepted' }
  const { request, response } = await sendWithProof(exchange, step, target, { key, token, scheme: 'DPoP' })
  expectSuccess(exchange, step, request, response, { ...target, scheme: 'DPoP' }, options)
  return response
}
