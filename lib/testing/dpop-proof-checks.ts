// assertDpopProofChecksEnforced: every proof check of RFC 9449 §4.3 and the
// binding of §6.1, one flawed request at a time, each with its own key and
// token so no check can hide behind another's answer.
import { expectRejected } from './challenge.js'
import { createDpopKey } from './dpop.js'
import type { DpopKey, DpopProofFlaw } from './dpop.js'
import { Exchange, injectTransport } from './http.js'
import type { Injectable } from './exchange.js'
import { callSite, fromCallSite } from './report.js'
import { expectSuccess, mint, requestTo, resolveDpopTarget, sendWithProof } from './steps.js'
import type { DpopAssertionOptions, DpopTarget, ProofSpec } from './steps.js'

export interface DpopProofChecksOptions extends DpopAssertionOptions {
  /** Seconds a proof's iat may lie in the past or the future, as configured (mcpAuth's `dpop.iatWindow`, default 300). */
  iatWindow?: number
}

/** One request the server must refuse. */
interface ProofCase {
  /** What is sent, as a noun phrase. */
  readonly what: string
  readonly error: 'invalid_dpop_proof' | 'invalid_token'
  /** What the server must do instead of accepting it. */
  readonly fix: string
  /** The token and proof to send, for a fresh key; undefined: no DPoP header. */
  readonly build: (key: DpopKey, bound: string, unbound: () => Promise<string>, now: number) => Promise<Omit<ProofSpec, 'scheme' | 'nonce'> | { readonly token: string, readonly proof: false }>
}

const flawed = (flaw: DpopProofFlaw, what: string, fix: string): ProofCase => ({
  what,
  error: 'invalid_dpop_proof',
  fix,
  build: async (key, token) => ({ key, token, flaw }),
})

const SIGNATURE_ALGORITHMS = 'accept only the asymmetric algorithms you list, never none or HS* (RFC 9449 §4.3 step 5)'

function cases (iatWindow: number): ProofCase[] {
  const beyond = iatWindow + 60
  return [
    flawed('wrong-htm', 'a proof whose htm names another method', 'compare htm with the request method, case-sensitively (RFC 9449 §4.3 step 8)'),
    flawed('wrong-htu', 'a proof whose htu names another URL', 'compare htu with the public URL of the request (the configured origin + the request path, without query), never one built from Host (RFC 9449 §4.3 step 9)'),
    flawed('missing-ath', 'a proof without ath', 'require ath when an access token is presented (RFC 9449 §4.2)'),
    flawed('wrong-ath', 'a proof whose ath hashes another token', 'compare ath with base64url(SHA-256(the access token)) (RFC 9449 §4.3 step 12)'),
    {
      what: `a proof issued ${beyond} s ago`,
      error: 'invalid_dpop_proof',
      fix: `refuse a proof whose iat lies more than the window (${iatWindow} s) in the past (RFC 9449 §4.3 step 11, §11.1); pass iatWindow if yours is longer`,
      build: async (key, token, _unbound, now) => ({ key, token, iat: now - beyond }),
    },
    {
      what: `a proof dated ${beyond} s in the future`,
      error: 'invalid_dpop_proof',
      fix: `refuse a proof whose iat lies more than the window (${iatWindow} s) in the future: compare the absolute difference, not only the age (RFC 9449 §11.2)`,
      build: async (key, token, _unbound, now) => ({ key, token, iat: now + beyond }),
    },
    flawed('missing-jti', 'a proof without jti', 'require jti (RFC 9449 §4.3 step 3)'),
    flawed('missing-htm', 'a proof without htm', 'require htm (RFC 9449 §4.3 step 3)'),
    flawed('missing-htu', 'a proof without htu', 'require htu (RFC 9449 §4.3 step 3)'),
    flawed('missing-iat', 'a proof without iat', 'require iat (RFC 9449 §4.3 step 3)'),
    flawed('wrong-typ', 'a proof whose typ is JWT', 'require typ dpop+jwt (RFC 9449 §4.3 step 4)'),
    flawed('alg-none', 'an unsigned proof (alg none)', SIGNATURE_ALGORITHMS),
    flawed('hs256', 'a proof MACed with HS256 (a symmetric key)', SIGNATURE_ALGORITHMS),
    flawed('bad-signature', 'a proof whose signature does not verify', 'verify the proof\'s signature with the public key in its jwk header (RFC 9449 §4.3 step 6)'),
    flawed('missing-jwk', 'a proof without a jwk header', 'require the public key in the jwk header (RFC 9449 §4.3 step 7)'),
    flawed('private-key-in-jwk', 'a proof whose jwk holds the private key', 'refuse a jwk with private members (RFC 9449 §4.2)'),
    {
      what: 'a valid proof signed by a key other than the token\'s cnf.jkt',
      error: 'invalid_token',
      fix: 'compare the proof key\'s RFC 7638 thumbprint with the token\'s cnf.jkt (RFC 9449 §6.1)',
      build: async (_key, token) => ({ key: await createDpopKey(), token }),
    },
    {
      what: 'an unbound token (no cnf) under the DPoP scheme, with a valid proof',
      error: 'invalid_token',
      fix: 'a token without cnf.jkt has no key for a proof to confirm: refuse it under the DPoP scheme, so it is never reported as sender-constrained',
      build: async (key, _token, unbound) => ({ key, token: await unbound() }),
    },
    {
      what: 'a DPoP-bound token under the DPoP scheme with no DPoP header',
      error: 'invalid_dpop_proof',
      fix: 'require a DPoP header with the DPoP scheme (RFC 9449 §7.1)',
      build: async (_key, token) => ({ token, proof: false }),
    },
  ]
}

/**
 * After a 2xx control request (a bound token with a valid proof), each flawed
 * proof the kit's proof builder makes, a proof by another key, an unbound
 * token under DPoP and a missing proof each get 401 with the right error in
 * the DPoP challenge.
 */
export async function assertDpopProofChecksEnforced (app: Injectable, options: DpopProofChecksOptions): Promise<void> {
  return fromCallSite(callSite(assertDpopProofChecksEnforced), proofChecksEnforced(app, options))
}

async function proofChecksEnforced (app: Injectable, options: DpopProofChecksOptions): Promise<void> {
  const helper = 'assertDpopProofChecksEnforced'
  const iatWindow = options.iatWindow ?? 300
  if (!(typeof iatWindow === 'number' && iatWindow >= 0 && Number.isFinite(iatWindow))) {
    throw new TypeError(`${helper}: iatWindow must be a number of seconds; got ${String(options.iatWindow)}`)
  }
  const exchange = new Exchange(helper, injectTransport(app), options.timeout)
  const target = await resolveDpopTarget(exchange, options)
  const control = await createDpopKey()
  const controlStep = { step: 'control: a DPoP-bound token with a valid proof must be accepted' }
  const accepted = await sendWithProof(exchange, controlStep, target, { key: control, token: await mint(options, target.aud, { jkt: control.jkt }), scheme: 'DPoP' })
  expectSuccess(exchange, controlStep, accepted.request, accepted.response, { ...target, scheme: 'DPoP' }, options)

  let nonce = accepted.nonce
  for (const check of cases(iatWindow)) {
    nonce = await refused(exchange, target, options, check, nonce)
  }
}

/** Sends one flawed request and checks its rejection; returns the nonce to use next. */
async function refused (exchange: Exchange, target: DpopTarget, options: DpopProofChecksOptions, check: ProofCase, nonce: string | undefined): Promise<string | undefined> {
  const step = { step: `${check.what} must be rejected with 401 ${check.error} in the DPoP challenge` }
  const key = await createDpopKey()
  const bound = await mint(options, target.aud, { jkt: key.jkt })
  const spec = await check.build(key, bound, () => mint(options, target.aud), Math.floor(Date.now() / 1000))
  const rejection = { error: check.error, scheme: 'DPoP' as const, fix: `the server accepted ${check.what}: ${check.fix}` }
  if ('proof' in spec) {
    const request = requestTo(target, { authorization: `DPoP ${spec.token}` })
    expectRejected(exchange.context(step, request), await exchange.send(step, request), rejection)
    return nonce
  }
  const sent = await sendWithProof(exchange, step, target, { ...spec, scheme: 'DPoP', nonce })
  expectRejected(exchange.context(step, sent.request), sent.response, rejection)
  return sent.nonce
}
