// A hand-written MCP resource server on jose and Fastify, sharing no code with
// the plugin: correct in every check the testing kit covers, or, when told,
// with exactly one flaw. The honesty suite runs every helper against it.
import { createHash, X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from 'jose'
import type { JWK, JWTPayload } from 'jose'
import type { TestIssuer } from '../../../testing.js'

export type Flaw =
  // Access token
  | 'audience-unchecked' | 'audience-prefix' | 'token-signature-unchecked' | 'issuer-unchecked' | 'expiry-unchecked' | 'token-typ-unchecked'
  // DPoP binding and proof
  | 'bound-token-as-bearer' | 'proof-header-trusted-under-bearer' | 'unbound-dpop-accepted' | 'jkt-unchecked'
  | 'htm-ignored' | 'htu-ignored' | 'iat-ignored' | 'iat-future-unchecked' | 'ath-ignored' | 'proof-signature-unchecked' | 'proof-typ-unchecked'
  | 'jti-unchecked' | 'dpop-header-optional'
  // Replay
  | 'replay-unchecked' | 'replay-keyed-on-proof' | 'replay-remembers-last'
  // mTLS
  | 'x5t-token-under-dpop' | 'certificate-from-header' | 'any-certificate'
  // Challenges
  | 'error-in-basic-challenge' | 'no-resource-metadata' | 'bearer-challenge-second'

export interface HandWrittenOptions {
  readonly issuer: TestIssuer
  /** The canonical resource URI; the route is its path. */
  readonly resource: string
  readonly flaw?: Flaw | undefined
  readonly https: { key: string, cert: string, ca: string }
}

const ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']
const IAT_WINDOW = 300
type Scheme = 'Bearer' | 'DPoP'

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('base64url')

/** Builds the server (not listening). */
export function handWrittenServer (options: HandWrittenOptions): FastifyInstance {
  const { issuer, resource, flaw } = options
  const resourceUrl = new URL(resource)
  const metadataPath = `/.well-known/oauth-protected-resource${resourceUrl.pathname}`
  const metadataUrl = resourceUrl.origin + metadataPath
  const keys = createLocalJWKSet(issuer.jwks)
  const seen = new Set<string>()
  let last: string | undefined

  function challenges (scheme?: Scheme, error?: string): string {
    const params = (own: Scheme, first: string): string => [
      first,
      ...(flaw === 'no-resource-metadata' ? [] : [`resource_metadata="${metadataUrl}"`]),
      ...(error !== undefined && scheme === own && flaw !== 'error-in-basic-challenge' ? [`error="${error}"`] : []),
    ].join(', ')
    const bearer = `Bearer ${params('Bearer', 'realm="mcp"')}`
    const dpop = `DPoP ${params('DPoP', `algs="${ALGS.join(' ')}"`)}`
    const list = flaw === 'bearer-challenge-second' ? [dpop, bearer] : [bearer, dpop]
    if (flaw === 'error-in-basic-challenge' && error !== undefined) list.unshift(`Basic realm="mcp", error="${error}"`)
    return list.join(', ')
  }

  function refuse (reply: FastifyReply, scheme?: Scheme, error?: string): FastifyReply {
    return reply.code(401).header('cache-control', 'no-store').header('www-authenticate', challenges(scheme, error)).send({ error: error ?? 'unauthorized' })
  }

  async function verifyAccessToken (token: string): Promise<JWTPayload> {
    if (flaw === 'token-signature-unchecked') {
      const header = decodeProtectedHeader(token)
      const claims = decodeJwt(token)
      if (header.typ !== 'at+jwt' || claims.iss !== issuer.issuer || claims.aud !== resource || typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) throw new Error('invalid')
      return claims
    }
    const { payload } = await jwtVerify(token, keys, {
      issuer: flaw === 'issuer-unchecked' ? undefined : issuer.issuer,
      audience: flaw === 'audience-unchecked' || flaw === 'audience-prefix' ? undefined : resource,
      typ: flaw === 'token-typ-unchecked' ? undefined : 'at+jwt',
      algorithms: ALGS,
      requiredClaims: ['exp'],
      clockTolerance: flaw === 'expiry-unchecked' ? 10 * 365 * 86_400 : 0,
    })
    if (flaw === 'audience-prefix' && ![payload.aud].flat().some((aud) => typeof aud === 'string' && aud.startsWith(resource))) throw new Error('audience')
    return payload
  }

  /** Undefined when the proof confirms the key (or, jkt undefined, is merely valid); else the OAuth error. */
  async function checkProof (request: FastifyRequest, token: string, jkt: string | undefined): Promise<string | undefined> {
    const proof = request.headers.dpop
    if (typeof proof !== 'string') return flaw === 'dpop-header-optional' ? undefined : 'invalid_dpop_proof'
    let header: { jwk?: JWK }
    let claims: JWTPayload
    try {
      if (flaw === 'proof-signature-unchecked') {
        header = decodeProtectedHeader(proof) as { jwk?: JWK }
        const { typ, alg } = decodeProtectedHeader(proof)
        if (typ !== 'dpop+jwt' || !ALGS.includes(alg ?? '') || header.jwk === undefined || 'd' in header.jwk) return 'invalid_dpop_proof'
        claims = decodeJwt(proof)
      } else {
        const verified = await jwtVerify(proof, EmbeddedJWK, { typ: flaw === 'proof-typ-unchecked' ? undefined : 'dpop+jwt', algorithms: ALGS })
        header = verified.protectedHeader as { jwk?: JWK }
        claims = verified.payload
      }
    } catch {
      return 'invalid_dpop_proof'
    }
    const { jti, htm, htu, iat, ath } = claims as Record<string, unknown>
    if ((typeof jti !== 'string' && flaw !== 'jti-unchecked') || typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number') return 'invalid_dpop_proof'
    const path = request.url.split('?')[0] as string
    if (flaw !== 'htm-ignored' && htm !== request.method) return 'invalid_dpop_proof'
    if (flaw !== 'htu-ignored' && htu !== resourceUrl.origin + path) return 'invalid_dpop_proof'
    const age = Date.now() / 1000 - iat
    if (flaw !== 'iat-ignored' && (age > IAT_WINDOW || (flaw !== 'iat-future-unchecked' && -age > IAT_WINDOW))) return 'invalid_dpop_proof'
    if (flaw !== 'ath-ignored' && ath !== sha256(token)) return 'invalid_dpop_proof'
    const thumbprint = await calculateJwkThumbprint(header.jwk as JWK)
    if (jkt !== undefined && flaw !== 'jkt-unchecked' && thumbprint !== jkt) return 'invalid_token'
    if (flaw === 'replay-unchecked') return undefined
    const key = flaw === 'replay-keyed-on-proof' ? proof : `${thumbprint}.${String(jti)}`
    if (flaw === 'replay-remembers-last') {
      if (key === last) return 'invalid_dpop_proof'
      last = key
      return undefined
    }
    if (seen.has(key)) return 'invalid_dpop_proof'
    seen.add(key)
    return undefined
  }

  /** The client certificate's x5t#S256, from the TLS connection (or, flawed, a header). */
  function presentedCertificate (request: FastifyRequest): string | undefined {
    const fromHeader = request.headers['x-client-cert']
    if (flaw === 'certificate-from-header' && typeof fromHeader === 'string') return sha256(new X509Certificate(decodeURIComponent(fromHeader)).raw)
    const socket = request.raw.socket as Partial<TLSSocket>
    const raw = socket.getPeerCertificate?.()?.raw
    return raw === undefined ? undefined : sha256(raw)
  }

  async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const match = /^(Bearer|DPoP) +([\w.~+/-]+=*)$/i.exec(request.headers.authorization ?? '')
    if (match === null) return refuse(reply)
    const scheme: Scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
    const token = match[2] as string
    let claims: JWTPayload
    try {
      claims = await verifyAccessToken(token)
    } catch {
      return refuse(reply, scheme, 'invalid_token')
    }
    const cnf = (claims.cnf ?? {}) as { jkt?: string, 'x5t#S256'?: string }
    if (cnf.jkt !== undefined) {
      if (scheme === 'Bearer') {
        if (flaw === 'bound-token-as-bearer') return undefined
        if (flaw !== 'proof-header-trusted-under-bearer' || request.headers.dpop === undefined) return refuse(reply, scheme, 'invalid_token')
      }
      const error = await checkProof(request, token, cnf.jkt)
      return error === undefined ? undefined : refuse(reply, scheme, error)
    }
    if (scheme === 'DPoP') {
      const accepted = (cnf['x5t#S256'] !== undefined && flaw === 'x5t-token-under-dpop') || (cnf['x5t#S256'] === undefined && flaw === 'unbound-dpop-accepted')
      if (!accepted) return refuse(reply, scheme, 'invalid_token')
      const error = await checkProof(request, token, undefined)
      return error === undefined ? undefined : refuse(reply, scheme, error)
    }
    if (cnf['x5t#S256'] !== undefined) {
      const presented = presentedCertificate(request)
      const matches = flaw === 'any-certificate' ? presented !== undefined : presented === cnf['x5t#S256']
      if (!matches) return refuse(reply, scheme, 'invalid_token')
    }
    return undefined
  }

  const app = Fastify({ https: { ...options.https, requestCert: true, rejectUnauthorized: false } }) as unknown as FastifyInstance
  app.get(metadataPath, async () => ({ resource, authorization_servers: [issuer.issuer] }))
  app.route({
    method: ['GET', 'POST'],
    url: resourceUrl.pathname,
    // An early answer is sent by the hook, which then returns the reply.
    onRequest: async (request, reply) => authenticate(request, reply),
    handler: async () => ({ ok: true }),
  })
  return app
}
