// Steps the helpers share: the request to send, the token to mint, the
// resource found the way a client finds it, a proof-carrying request retried
// once with the server's nonce, and the control requests that show a helper
// reached a route that accepts good credentials.
import { challengeError, challengesOf, sameScheme } from './challenge.js'
import type { OAuthScheme } from './challenge.js'
import { createDpopKey, createDpopProof } from './dpop.js'
import type { DpopKey, DpopProofFlaw } from './dpop.js'
import { Exchange, injectTransport } from './http.js'
import type { Step, Transport } from './http.js'
import type { HttpResponseLike, Injectable, InjectPayload, InjectRequest } from './exchange.js'
import type { BindTarget, MintOptions, TestIssuer } from './issuer.js'
import { assertionError, header } from './report.js'

export interface HelperOptions {
  /** Milliseconds each request may take before the helper fails (default 10 000). */
  timeout?: number
}

/** The request the helpers send, and the token they mint for it. */
export interface DpopAssertionOptions extends HelperOptions {
  /** What to inject: a path (`/mcp`) or an absolute URL (`https://mcp.example.com/mcp`). */
  url: string
  /** Default `GET`. */
  method?: string
  /** Extra request headers (e.g. `accept`, `content-type`); the helper sets `authorization` and `dpop`. */
  headers?: Record<string, string>
  payload?: InjectPayload
  /** Mints the access tokens; the app must trust it (`jwks: issuer.jwks`, `authorizationServers: [issuer.issuer]`). */
  issuer: TestIssuer
  /** Extra claims for the minted token, e.g. `{ scope: 'mcp:tools:call' }` for a route that requires it. */
  claims?: Record<string, unknown>
  /**
   * The token's `aud`: the resource URI the app is configured with. Default:
   * `issuer.audience`, else discovered like a client would (the 401's
   * `resource_metadata`, then that document's `resource`).
   */
  resource?: string
  /**
   * The public URL of this request, which the proof's `htu` must name. Default:
   * `url` when absolute, else the resource's origin + the `url` path (what
   * mcpAuth expects). Set it when the injected path is not the public one.
   */
  publicUrl?: string
}

/** The request to send, without credentials. */
export interface Target {
  readonly method: string
  readonly url: string
  readonly headers?: Record<string, string> | undefined
  readonly payload?: InjectPayload | undefined
}

export interface DpopTarget extends Target {
  /** The minted token's `aud`. */
  readonly aud: string
  /** The proof's `htu`. */
  readonly htu: string
}

export function targetOf (options: Pick<DpopAssertionOptions, 'method' | 'headers' | 'payload'>, url: string): Target {
  return { method: (options.method ?? 'GET').toUpperCase(), url, headers: options.headers, payload: options.payload }
}

export function requestTo (target: Target, credentials: Record<string, string>): InjectRequest {
  const req: InjectRequest = { method: target.method, url: target.url, headers: { ...target.headers, ...credentials } }
  if (target.payload !== undefined) req.payload = target.payload
  return req
}

export function mint (options: Pick<DpopAssertionOptions, 'issuer' | 'claims'>, aud: string, bindTo?: BindTarget, extra: { claims?: Record<string, unknown> } & Omit<MintOptions, 'bindTo'> = {}): Promise<string> {
  const { claims, ...mintOptions } = extra
  return options.issuer.mintAccessToken({ aud, ...options.claims, ...claims }, bindTo === undefined ? mintOptions : { ...mintOptions, bindTo })
}

/** The resource URI, found the way an MCP client finds it: 401 → resource_metadata → that document's `resource`. */
export async function discoverResource (exchange: Exchange, target: Target, transport?: Transport): Promise<string> {
  const step = { step: 'finding the resource URI (the token\'s aud) from the app, since neither `resource` nor `issuer.audience` is set' }
  const unauthenticated = requestTo(target, {})
  const response = await exchange.send(step, unauthenticated, transport)
  const metadataUrl = challengesOf(response).map((c) => c.params.resource_metadata).find((url) => url !== undefined)
  const hint = 'pass `resource`: the resource URI configured in mcpAuth'
  if (response.statusCode !== 401 || metadataUrl === undefined || !URL.canParse(metadataUrl)) {
    throw assertionError(exchange.context(step, unauthenticated), ['expected a 401 with an absolute resource_metadata challenge parameter to a request without credentials'], { response, hint })
  }
  const metadataPath = new URL(metadataUrl)
  const metadataRequest: InjectRequest = { method: 'GET', url: metadataPath.pathname + metadataPath.search, headers: {} }
  const metadata = await exchange.send(step, metadataRequest, transport)
  const resource = metadata.statusCode === 200 ? jsonField(metadata.body, 'resource') : undefined
  if (resource === undefined) {
    throw assertionError(exchange.context(step, metadataRequest), [`expected a 200 JSON metadata document with "resource" at ${metadataUrl}`], { response: metadata, hint })
  }
  return resource
}

/** The token's aud and the proof's htu for a DPoP helper's request. */
export async function resolveDpopTarget (exchange: Exchange, options: DpopAssertionOptions): Promise<DpopTarget> {
  const target = targetOf(options, options.url)
  let discovered: string | undefined
  const discover = async (): Promise<string> => (discovered ??= await discoverResource(exchange, target))
  const aud = options.resource ?? options.issuer.audience ?? await discover()
  const htu = options.publicUrl ?? (isAbsolute(options.url) ? options.url : await publicUrlOf(exchange.helper, options.url, aud, discover))
  return { ...target, aud, htu }
}

/** mcpAuth checks htu against the configured resource's origin + the request path. */
export async function publicUrlOf (helper: string, url: string, aud: string, discover: () => Promise<string>): Promise<string> {
  const origin = httpOrigin(aud) ?? httpOrigin(await discover())
  if (origin === undefined) throw new TypeError(`${helper}: cannot tell the public URL of ${url}; pass publicUrl`)
  return origin + new URL(url, 'http://x').pathname
}

/** What every DPoP helper starts from: its exchange with the app, the target, a fresh key and a token bound to it. */
export async function startDpop (helper: string, app: Injectable, options: DpopAssertionOptions): Promise<{ exchange: Exchange, target: DpopTarget, key: DpopKey, token: string }> {
  const exchange = new Exchange(helper, injectTransport(app), options.timeout)
  const target = await resolveDpopTarget(exchange, options)
  const key = await createDpopKey()
  return { exchange, target, key, token: await mint(options, target.aud, { jkt: key.jkt }) }
}

export interface ProofSpec {
  readonly key: DpopKey
  readonly token: string
  readonly scheme: OAuthScheme
  /** The DPoP-Nonce to put in the first proof. */
  readonly nonce?: string | undefined
  readonly flaw?: DpopProofFlaw | undefined
  readonly iat?: number | undefined
  readonly jti?: string | undefined
}

export interface Sent {
  readonly request: InjectRequest
  readonly response: HttpResponseLike
  /** The proof sent last. */
  readonly proof: string
  /** The last DPoP-Nonce the server sent, or the one used. */
  readonly nonce: string | undefined
}

/** Sends the token with a fresh proof; a use_dpop_nonce answer is retried once with the nonce, as a client would. */
export async function sendWithProof (exchange: Exchange, step: Step, target: DpopTarget, spec: ProofSpec, transport?: Transport): Promise<Sent> {
  const attempt = async (nonce: string | undefined): Promise<Sent> => {
    const proof = await createDpopProof(spec.key, { method: target.method, url: target.htu, accessToken: spec.token, nonce, flaw: spec.flaw, iat: spec.iat, jti: spec.jti })
    const request = requestTo(target, { authorization: `${spec.scheme} ${spec.token}`, dpop: proof })
    const response = await exchange.send(step, request, transport)
    return { request, response, proof, nonce: header(response, 'dpop-nonce') ?? nonce }
  }
  const first = await attempt(spec.nonce)
  const fresh = header(first.response, 'dpop-nonce')
  if (first.response.statusCode !== 401 || fresh === undefined || challengeError(first.response) !== 'use_dpop_nonce') return first
  return attempt(fresh)
}

/** What a 2xx step needs to say why it failed. */
export interface SuccessTarget {
  readonly aud: string
  readonly htu?: string | undefined
  /** The scheme the request used. */
  readonly scheme?: OAuthScheme | undefined
}

export function expectSuccess (exchange: Exchange, step: Step, request: InjectRequest, response: HttpResponseLike, target: SuccessTarget, options: Pick<DpopAssertionOptions, 'claims'>, hint?: string): void {
  if (response.statusCode >= 200 && response.statusCode < 300) return
  throw assertionError(exchange.context(step, request), [`status: expected 2xx, got ${response.statusCode}`], { response, hint: [hintFor(response, target, options), hint] })
}

/** A next step for the user, from the OAuth error of an unexpected rejection. */
function hintFor (response: HttpResponseLike, target: SuccessTarget, options: Pick<DpopAssertionOptions, 'claims'>): string | undefined {
  const challenges = challengesOf(response)
  if (target.scheme === 'DPoP' && response.statusCode === 401 && challenges.length > 0 && !challenges.some((c) => sameScheme(c, 'dpop'))) {
    return 'no DPoP challenge: is DPoP turned off (dpop: false)?'
  }
  switch (challengeError(response) ?? jsonField(response.body, 'error')) {
    case 'insufficient_scope':
      return `the token's scope was ${options.claims?.scope === undefined ? 'the issuer default' : `"${String(options.claims.scope)}"`}; pass claims: { scope: '…' } with the scopes the route requires`
    case 'invalid_token':
      return `does the app trust the issuer (jwks: issuer.jwks, authorizationServers: [issuer.issuer]), and is ${target.aud} (the token's aud) its configured resource? Otherwise pass \`resource\``
    case 'invalid_dpop_proof':
      return `the proof's htu was ${target.htu ?? '(none)'}; if clients reach this route at another URL, pass \`publicUrl\``
    case 'use_dpop_nonce':
      return 'the server asked for a DPoP nonce again after a retry with the nonce it sent'
    case 'temporarily_unavailable':
      return 'the app could not reach what authentication needs (most often the issuer\'s keys): give it the test issuer\'s keys with jwks: issuer.jwks, or check its replay store and nonce provider'
    default:
      return response.statusCode === 404 ? 'no route answers this method and url: check `url` and `method`' : undefined
  }
}

/** The route refuses a request without credentials with a 401 Bearer or DPoP challenge, so an open route cannot pass. */
export async function expectProtected (exchange: Exchange, target: Target, transport?: Transport): Promise<HttpResponseLike> {
  const step = { step: 'the same request without credentials must be refused with 401 and a Bearer or DPoP challenge' }
  const request = requestTo(target, {})
  const response = await exchange.send(step, request, transport)
  const challenged = challengesOf(response).some((c) => sameScheme(c, 'bearer') || sameScheme(c, 'dpop'))
  if (response.statusCode === 401 && challenged) return response
  const problems = [
    ...(response.statusCode === 401 ? [] : [`status: expected 401, got ${response.statusCode}`]),
    ...(challenged ? [] : ['WWW-Authenticate: expected a Bearer or DPoP challenge']),
  ]
  const open = response.statusCode >= 200 && response.statusCode < 300
  throw assertionError(exchange.context(step, request), problems, {
    response,
    fix: open ? 'the route answered a request without credentials: register mcpAuth for it (it is not turned off with config: { mcpAuth: false }), or point `url` at the protected route' : undefined,
  })
}

// ——— Small readers ———

export function jsonField (body: string, name: string): string | undefined {
  try {
    const value: unknown = JSON.parse(body)?.[name]
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

export const isAbsolute = (url: string): boolean => /^https?:\/\//i.test(url)

function httpOrigin (uri: string): string | undefined {
  return isAbsolute(uri) ? new URL(uri).origin : undefined
}
