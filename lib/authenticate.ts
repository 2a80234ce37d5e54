// The request pipeline, framework-free, in the order the RFCs give the checks:
// credentials (RFC 6750 §2.1) → verified token (cached) → issuer and audience
// for the route's resource (RFC 9068 §4, RFC 8707) → sender binding (a DPoP
// proof, its nonce and its replay record, RFC 9449 §7; or the client
// certificate, RFC 8705 §3) → the user's principal → request.mcp. Every
// refusal is an McpAuthError.
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import type { CredentialInput, Credentials } from './credentials.js'
import { extractCredentials } from './credentials.js'
import { issueNonce } from './dpop/nonce.js'
import type { NonceVerdict } from './dpop/nonce.js'
import { createProofVerifier, replayKey } from './dpop/proof.js'
import type { ProofVerifier } from './dpop/proof.js'
import { isRejection, reject } from './errors.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import { thumbprintsEqual } from './mtls/thumbprint.js'
import type { ResolvedDpop, ResolvedOptions, ResolvedResource } from './options.js'
import { ReplayStoreFullError } from './stores/replay-store.js'
import type { TokenVerifier } from './verifier.js'
import type { McpAuthContext, McpSender, PrincipalFunction } from '../types/index.js'

export interface AuthRequest extends CredentialInput {
  readonly method: string
  /** The request target the client sent (path and query), before any framework rewrite. */
  readonly url: string
  /** The framework request, passed to user callbacks and the certificate source. */
  readonly request: unknown
  /** The request's logger (a failing principal is logged there). */
  readonly log: Logger
}

export interface Authenticated {
  /** The token as sent (the context's `token`, read without its getter). */
  readonly token: string
  /** request.mcp: frozen, as is everything it holds. */
  readonly context: McpAuthContext
  /** A fresh nonce to send on the success response (rotation, RFC 9449 §8.2). */
  readonly nonce: string | undefined
  /** A DPoP header came beside the Bearer scheme with an unbound token; it was not checked. */
  readonly proofIgnored: boolean
}

export interface AuthenticatorDeps {
  readonly options: ResolvedOptions
  readonly verifyToken: TokenVerifier
  readonly clock: Clock
  readonly logger: Logger
  /**
   * The x5t#S256 of the client certificate the request presents, or undefined;
   * only called for certificate-bound tokens.
   */
  readonly certificateThumbprint: (request: unknown) => Promise<string | undefined>
}

/**
 * Authenticates one request against `resource`, which is undefined when the
 * request's route names no configured resource. Rejects with McpAuthError.
 */
export type Authenticate = (request: AuthRequest, resource: ResolvedResource | undefined) => Promise<Authenticated>

const BEARER: McpSender = Object.freeze({ binding: 'bearer' })

/**
 * request.mcp. Frozen, as is everything it holds, so the claims it shares with
 * the verified-token cache are never something a handler could change for
 * other requests.
 */
class AuthContext implements McpAuthContext<unknown> {
  readonly #token: string
  readonly claims: VerifiedToken['claims']
  readonly scopes: readonly string[]
  readonly subject: string | undefined
  readonly clientId: string | undefined
  readonly issuer: string
  readonly resource: string
  readonly expiresAt: number | undefined
  readonly sender: McpSender
  readonly principal: unknown

  constructor (token: string, verified: VerifiedToken, resource: ResolvedResource, sender: McpSender, principal: unknown) {
    this.#token = token
    this.claims = verified.claims
    this.scopes = verified.scopes
    this.subject = verified.subject
    this.clientId = verified.clientId
    this.issuer = verified.issuer ?? (resource.authorizationServers[0] as string)
    this.resource = resource.uri
    this.expiresAt = verified.expiresAt
    this.sender = sender
    this.principal = principal
    Object.freeze(this)
  }

  // A prototype getter over a private field: never enumerated, so JSON.stringify,
  // pino and util.inspect of request.mcp do not print the token.
  get token (): string {
    return this.#token
  }
}

export function createAuthenticator (deps: AuthenticatorDeps): Authenticate {
  const { options, verifyToken, clock, logger } = deps
  const { dpop, principal } = options
  const extractOptions = { dpopEnabled: dpop !== undefined, maxTokenLength: options.maxTokenLength }
  const verifyProof = dpop === undefined ? undefined : createProofVerifier(dpop)

  return async function authenticate (request, resource) {
    const credentials = extractCredentials(request, extractOptions)
    // No token can be for a path that names no resource, and none is checked against another.
    if (resource === undefined) throw reject.invalidToken('resource.unmatched')
    const { verified, tokenHash } = await verifyToken(credentials.token, { resource, request: request.request })
    // Per resource, on every request (cache hits included).
    if (verified.issuer !== undefined && !resource.issuers.has(verified.issuer)) throw reject.invalidToken('token.issuer')
    let forResource = false
    for (const aud of verified.audiences) {
      if (resource.audienceKeys.has(aud)) {
        forResource = true
        break
      }
    }
    if (!forResource) throw reject.invalidToken('token.audience')

    // Binding is driven by the token's cnf, whatever scheme the client used.
    const { jkt, x5t } = verified.binding
    let sender = BEARER
    let nonce: string | undefined
    if (jkt !== undefined && x5t !== undefined) throw reject.invalidToken('binding.conflict')
    if (jkt !== undefined) {
      // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is rejected
      // (the DPoP scheme is only recognised when DPoP is on).
      if (credentials.scheme !== 'dpop' || dpop === undefined || verifyProof === undefined) throw reject.invalidToken('binding.dpop_required')
      nonce = await checkDpop(dpop, verifyProof, credentials, request, resource, tokenHash, jkt)
      sender = Object.freeze({ binding: 'dpop', jkt })
    } else if (credentials.scheme === 'dpop') {
      // Nothing to confirm: a DPoP request must carry a DPoP-bound token.
      throw reject.invalidToken('binding.unbound_dpop')
    } else if (x5t !== undefined) {
      await checkCertificate(request, x5t)
      sender = Object.freeze({ binding: 'mtls', x5t })
    } else if (dpop?.required === true) {
      throw reject.invalidToken('binding.dpop_required')
    }

    const user = principal === undefined ? undefined : await principalOf(principal, verified, sender, request)
    return {
      token: credentials.token,
      context: new AuthContext(credentials.token, verified, resource, sender, user) as McpAuthContext,
      nonce,
      proofIgnored: sender === BEARER && credentials.proof !== undefined,
    }
  }

  /**
   * RFC 9449 §4.3 and §11.1: the proof, then the server nonce, then the replay
   * record, so a refused proof takes no store entry. Answers the nonce to send
   * back (a rotation), or undefined.
   */
  async function checkDpop (
    config: ResolvedDpop,
    verify: ProofVerifier,
    credentials: Credentials,
    request: AuthRequest,
    resource: ResolvedResource,
    tokenHash: string,
    jkt: string
  ): Promise<string | undefined> {
    const now = Math.floor(clock() / 1000)
    const proof = await verify(credentials.proof, credentials.proofLines, { method: request.method, origin: resource.parsed.origin, url: request.url, ath: tokenHash, jkt, now })

    let next: string | undefined
    if (config.nonce !== undefined) {
      if (proof.nonce === undefined) throw reject.useNonce('dpop.nonce_missing')
      let verdict: NonceVerdict
      try {
        verdict = await config.nonce.check(proof.nonce)
      } catch (err) {
        logger.error({ err: describeError(err) }, 'mcp-auth: DPoP nonce check failed')
        throw reject.unavailable('nonce.failed', err)
      }
      if (verdict === 'rotate') next = await issueNonce(config.nonce)
      else if (verdict !== 'valid') throw reject.useNonce('dpop.nonce_invalid')
    }

    const store = config.replayStore
    if (store !== undefined) {
      // Remember the jti for as long as the proof could still be accepted.
      const ttl = Math.max(1, proof.iat + config.iatWindow - now + 1)
      let fresh: boolean
      try {
        fresh = await store.claim(replayKey(proof.jkt, proof.jti), ttl)
      } catch (err) {
        throw storeFailure(err)
      }
      // Anything but true is a replay: fail closed.
      if (fresh !== true) throw reject.invalidProof('dpop.replay')
    }
    return next
  }

  function storeFailure (err: unknown): Error {
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
      if (isRejection(err)) throw err
      logger.warn({ err: describeError(err) }, 'mcp-auth: reading the client certificate failed')
      throw reject.invalidToken('binding.certificate_missing', err)
    }
    if (presented === undefined) throw reject.invalidToken('binding.certificate_missing')
    if (!thumbprintsEqual(presented, x5t)) throw reject.invalidToken('binding.x5t')
  }
}

/**
 * The user's principal for a verified request. An McpAuthError it throws is its
 * answer; anything else is a failure whose message stays in the log (it may name
 * a database, a URL with credentials…): the client gets 500 "Internal error".
 */
async function principalOf (principal: PrincipalFunction, verified: VerifiedToken, sender: McpSender, request: AuthRequest): Promise<unknown> {
  try {
    return await principal(verified.claims, sender, request.request as never)
  } catch (err) {
    if (isRejection(err)) throw err
    request.log.error({ reason: 'principal.failed', err: describeError(err) }, 'mcp-auth: principal threw')
    throw reject.internal('principal.failed', err)
  }
}
