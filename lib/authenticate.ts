// The request pipeline, framework-free: credentials → token (cached) →
// issuer and audience for the selected resource → sender binding (DPoP proof
// or client certificate) → nonce → replay record. Throws McpAuthError on
// every rejection; returns the facts request.mcp is built from.
import type { Binding, VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import type { Credentials, CredentialInput, KeptToken } from './credentials.js'
import { extractCredentials } from './credentials.js'
import { createExpectedHtu } from './dpop/htu.js'
import type { NonceVerdict } from './dpop/nonce.js'
import { createProofVerifier, replayKey } from './dpop/proof.js'
import type { ProofVerifier, VerifiedProof } from './dpop/proof.js'
import { isMcpAuthError, reject } from './errors.js'
import type { McpAuthError } from './errors.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import { thumbprintsEqual } from './mtls/thumbprint.js'
import type { ResolvedDpop, ResolvedOptions, ResolvedResource } from './options.js'
import { requestPath } from './resource.js'
import { hashToken } from './token-hash.js'
import { ReplayStoreFullError } from './stores/replay-store.js'
import type { TokenVerifier, VerifiedEntry } from './verifier.js'
import type { McpSender } from '../types/index.js'

export interface AuthRequest extends CredentialInput {
  readonly method: string
  /** The request target the client sent (path and query), before any framework rewrite. */
  readonly url: string
  /** The framework request, passed to user callbacks and the certificate source. */
  readonly request: unknown
}

export interface AuthResult {
  readonly token: string
  readonly verified: VerifiedToken
  readonly sender: McpSender
  /** A fresh nonce to send on the success response (rotation, RFC 9449 §8.2). */
  readonly nonce: string | undefined
  /** A DPoP header came beside the Bearer scheme with an unbound token; it was not checked. */
  readonly proofIgnored: boolean
  /** The token is kept by value (Credentials.kept): what is built from it may be kept there. */
  readonly kept: KeptToken | undefined
}

export interface AuthenticatorDeps {
  readonly options: ResolvedOptions
  readonly verifyToken: TokenVerifier
  readonly clock: Clock
  readonly logger: Logger
  /**
   * The x5t#S256 of the client certificate the request presents (see
   * certificateThumbprint), or undefined; only called for certificate-bound tokens.
   */
  readonly certificateThumbprint: (request: unknown) => Promise<string | undefined>
}

const BEARER: McpSender = Object.freeze({ binding: 'bearer' })

// request.mcp.sender once a binding (cnf.jkt or, else, cnf x5t#S256; never both,
// see decide) is confirmed: it depends on the token's cnf alone, so one frozen
// object per cached token serves all of its requests.
const senders = new WeakMap<Binding, McpSender>()

function confirmedSender (binding: Binding): McpSender {
  let sender = senders.get(binding)
  if (sender === undefined) {
    const { jkt, x5t } = binding
    sender = Object.freeze(jkt !== undefined ? { binding: 'dpop', jkt } : { binding: 'mtls', x5t: x5t as string })
    senders.set(binding, sender)
  }
  return sender
}

/** 'valid' → nothing to send; 'rotate' → a fresh nonce to send; anything else → use_dpop_nonce. */
function applyVerdict (config: ResolvedDpop, verdict: NonceVerdict): undefined | Promise<string | undefined> {
  if (verdict === 'valid') return undefined
  if (verdict === 'rotate') return issueNonce(config)
  throw reject.useNonce('dpop.nonce_invalid')
}

/**
 * Calls a store or provider method that answers with a value or a promise (any
 * thenable): `next` gets the value at once when it is one, so a synchronous
 * store keeps the request synchronous. A throw or rejection of the call becomes
 * `failure(err)`; what `next` throws is passed on as it is.
 */
function settle<T, R> (call: () => T | PromiseLike<T>, next: (value: T) => R, failure: (err: unknown) => McpAuthError): R | Promise<Awaited<R>> {
  let answer: T | PromiseLike<T>
  let deferred: boolean
  try {
    answer = call()
    deferred = typeof (answer as PromiseLike<T> | null)?.then === 'function'
  } catch (err) {
    throw failure(err)
  }
  if (deferred) return Promise.resolve(answer).then(next, (err: unknown) => { throw failure(err) }) as Promise<Awaited<R>>
  return next(answer as T)
}

/** A replay store's answer: anything but true is a replay (fails closed). */
function requireFresh (fresh: boolean): void {
  if (fresh !== true) throw reject.invalidProof('dpop.replay')
}

/**
 * Synchronous for a cached bearer token; may throw or reject with McpAuthError.
 * `resource` is undefined when the request's route names no configured resource.
 */
export type Authenticate = (request: AuthRequest, resource: ResolvedResource | undefined) => AuthResult | Promise<AuthResult>

export function createAuthenticator (deps: AuthenticatorDeps): Authenticate {
  const { options, verifyToken, clock, logger } = deps
  const dpop = options.dpop
  const extractOptions = { dpopEnabled: dpop !== undefined, maxTokenLength: options.maxTokenLength, knownToken: verifyToken.knows }
  const verifyProof = dpop === undefined ? undefined : createProofVerifier(dpop)
  const expectedHtu = createExpectedHtu()

  // Synchronous with no nonce provider and a store that answers synchronously
  // (MemoryReplayStore): the usual DPoP request then costs no microtask hops.
  function checkDpop (
    dpop: ResolvedDpop,
    verifyProof: ProofVerifier,
    credentials: Credentials,
    request: AuthRequest,
    resource: ResolvedResource,
    tokenHash: string | undefined,
    jkt: string
  ): string | undefined | Promise<string | undefined> {
    const now = clock()
    const proof = verifyProof(credentials.proof, credentials.proofLines, {
      method: request.method,
      htu: expectedHtu(resource.parsed.origin, requestPath(request.url)),
      ath: tokenHash ?? hashToken(credentials.token),
      jkt,
      now,
    })
    const record = (nonce: string | undefined): string | undefined | Promise<string | undefined> => {
      const recorded = recordProof(dpop, proof, now)
      return recorded instanceof Promise ? recorded.then(() => nonce) : nonce
    }
    // The nonce is checked before the proof is recorded: a refused proof takes no store entry.
    const nonce = checkNonce(dpop, proof)
    return nonce instanceof Promise ? nonce.then(record) : record(nonce)
  }

  /** The nonce to send back (a rotation), or undefined; a promise only for an asynchronous provider or a rotation. */
  function checkNonce (config: ResolvedDpop, proof: VerifiedProof): string | undefined | Promise<string | undefined> {
    const provider = config.nonce
    if (provider === undefined) return undefined
    if (proof.nonce === undefined) throw reject.useNonce('dpop.nonce_missing')
    const nonce = proof.nonce
    return settle(() => provider.check(nonce), (verdict) => applyVerdict(config, verdict), nonceFailure)
  }

  function nonceFailure (err: unknown): McpAuthError {
    logger.error({ err: describeError(err) }, 'mcp-auth: DPoP nonce check failed')
    return reject.unavailable('nonce.failed', err)
  }

  /** Undefined when recorded synchronously; a promise when the store answers with one. Throws or rejects with McpAuthError. */
  function recordProof (config: ResolvedDpop, proof: VerifiedProof, now: number): void | Promise<void> {
    const store = config.replayStore
    if (store === undefined) return undefined
    // Remember the jti for as long as the proof could still be accepted.
    const ttl = Math.max(1, proof.iat + config.iatWindow - now + 1)
    return settle(() => store.claim(replayKey(proof.jkt, proof.jti), ttl), requireFresh, storeFailure)
  }

  function storeFailure (err: unknown): McpAuthError {
    if (err instanceof ReplayStoreFullError) {
      logger.error({ err: describeError(err) }, 'mcp-auth: DPoP replay store is full; refusing proofs until entries expire')
      return reject.unavailable('replay_store.full', err)
    }
    logger.error({ err: describeError(err) }, 'mcp-auth: DPoP replay store failed')
    return reject.unavailable('replay_store.failed', err)
  }

  async function checkCertificate (request: AuthRequest, x5t: string): Promise<void> {
    let presented
    try {
      presented = await deps.certificateThumbprint(request.request)
    } catch (err) {
      if (isMcpAuthError(err)) throw err
      logger.warn({ err: describeError(err) }, 'mcp-auth: reading the client certificate failed')
      throw reject.invalidToken('binding.certificate_missing', err)
    }
    if (presented === undefined) throw reject.invalidToken('binding.certificate_missing')
    if (!thumbprintsEqual(presented, x5t)) throw reject.invalidToken('binding.x5t')
  }

  // A bound token's checks are asynchronous; a cached bearer token's are not, so
  // that path returns a plain result (no promise, no microtask hop per request).
  function decide (request: AuthRequest, resource: ResolvedResource, credentials: Credentials, entry: VerifiedEntry): AuthResult | Promise<AuthResult> {
    const { verified, tokenHash } = entry
    const { token } = credentials
    // Per resource, on every request (cache hits included).
    if (verified.issuer !== undefined && !resource.issuers.has(verified.issuer)) throw reject.invalidToken('token.issuer')
    if (!hasAudience(verified, resource)) throw reject.invalidToken('token.audience')

    // Binding is driven by the token's cnf, whatever scheme the client used.
    const { jkt, x5t } = verified.binding
    if (jkt !== undefined && x5t !== undefined) throw reject.invalidToken('binding.conflict')
    if (jkt !== undefined) {
      // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is rejected
      // (the DPoP scheme is only recognised when DPoP is on).
      if (credentials.scheme !== 'dpop' || dpop === undefined || verifyProof === undefined) throw reject.invalidToken('binding.dpop_required')
      // Throws (or rejects) unless the proof confirms the binding.
      const nonce = checkDpop(dpop, verifyProof, credentials, request, resource, tokenHash, jkt)
      const sender = confirmedSender(verified.binding)
      if (nonce instanceof Promise) return nonce.then((next) => ({ token, verified, sender, nonce: next, proofIgnored: false, kept: credentials.kept }))
      return { token, verified, sender, nonce, proofIgnored: false, kept: credentials.kept }
    }
    // Nothing to confirm: a DPoP request must carry a DPoP-bound token.
    if (credentials.scheme === 'dpop') throw reject.invalidToken('binding.unbound_dpop')
    if (x5t !== undefined) {
      return checkCertificate(request, x5t).then(() => ({ token, verified, sender: confirmedSender(verified.binding), nonce: undefined, proofIgnored: false, kept: credentials.kept }))
    }
    if (dpop?.required === true) throw reject.invalidToken('binding.dpop_required')
    return { token, verified, sender: BEARER, nonce: undefined, proofIgnored: credentials.proof !== undefined, kept: credentials.kept }
  }

  /** Throws (synchronously) or rejects with McpAuthError on every refusal. */
  return function authenticate (request, resource) {
    const credentials = extractCredentials(request, extractOptions)
    // No token can be for a path that names no resource, and none is checked against another.
    if (resource === undefined) throw reject.invalidToken('resource.unmatched')
    const pending = verifyToken(credentials.token, { resource, request: request.request })
    if (pending instanceof Promise) return pending.then((entry) => decide(request, resource, credentials, entry))
    return decide(request, resource, credentials, pending)
  }
}

function hasAudience (verified: VerifiedToken, resource: ResolvedResource): boolean {
  for (const aud of verified.audiences) if (resource.audienceKeys.has(aud)) return true
  return false
}

// RFC 9449 §8.1: nonce = 1*NQCHAR
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** A fresh nonce for a use_dpop_nonce answer or a rotation; a provider failure is a 503. */
export async function issueNonce (config: ResolvedDpop): Promise<string | undefined> {
  if (config.nonce === undefined) return undefined
  let nonce: unknown
  try {
    nonce = await config.nonce.issue()
  } catch (err) {
    throw reject.unavailable('nonce.failed', err)
  }
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
    throw reject.unavailable('nonce.failed', new TypeError('the nonce provider returned a value that is not 1*NQCHAR (RFC 9449 §8.1)'))
  }
  return nonce
}
