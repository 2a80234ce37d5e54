// Assertions for a user's own test suite: they drive the app with app.inject
// (mTLS: a real HTTPS listener, since inject has no TLS socket) and throw
// node:assert's AssertionError, so they work under tap, node:test, vitest and
// jest alike. Failure messages show the status, WWW-Authenticate, Cache-Control
// and body of the response, never a whole token or proof.
import { AssertionError } from 'node:assert'
import type { IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { TestCa, TestClientCertificate } from './certificates.js'
import { createDpopKey, createDpopProof } from './dpop.js'
import type { DpopKey } from './dpop.js'
import type { BindTarget, TestIssuer } from './issuer.js'

// ——— Types ———

/** What the helpers read from a response: the shape of light-my-request's (app.inject). */
export interface HttpResponseLike {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>
  readonly body: string
}

export type InjectPayload = string | Buffer | object

export interface InjectRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: InjectPayload
}

/** Anything with Fastify's `inject(options)`: a Fastify instance, or a light-my-request wrapper. */
export interface Injectable {
  inject (options: InjectRequest): PromiseLike<HttpResponseLike>
}

/** One challenge of a WWW-Authenticate field (RFC 9110 §11.6.1). */
export interface Challenge {
  /** As sent; schemes compare case-insensitively. */
  readonly scheme: string
  /** Parameter names lowercased, quoted-string values unescaped. */
  readonly params: Readonly<Record<string, string>>
  /** The token68 form (`Negotiate abc==`), for a challenge without parameters. */
  readonly token68?: string
}

export interface ChallengeExpectation {
  /** Expected status code; omitted: any status, but a challenge must be present. */
  status?: number
  /** Which challenge to check (case-insensitive); default: the first one. */
  scheme?: string
  /** The `error` parameter; `null`: the challenge must have none. */
  error?: string | null
  /** The `scope` parameter, compared as a set; `null`: the challenge must have none. */
  scope?: string | readonly string[] | null
  /** The `resource_metadata` parameter, compared exactly. */
  resourceMetadata?: string
  /** The `algs` parameter (DPoP), compared as a set. */
  algs?: string | readonly string[]
}

/** The request the DPoP helpers send, and the token they mint for it. */
export interface DpopAssertionOptions {
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

export interface DpopBoundBearerOptions extends DpopAssertionOptions {
  /** Also require the same token with a valid proof under the DPoP scheme to get a 2xx (default true). */
  expectAcceptedWithProof?: boolean
}

export interface MtlsBindingOptions extends Omit<DpopAssertionOptions, 'url' | 'publicUrl'> {
  /** An `https:` URL of the listening server, e.g. `https://127.0.0.1:${port}/mcp`. */
  url: string
  /**
   * Issues the bound client certificate and another one. The server must
   * request and trust it (`requestCert: true, ca: ca.certificatePem`) and let
   * the handshake finish without one (`rejectUnauthorized: false`) so the
   * plugin can answer 401.
   */
  ca: TestCa
  /** PEM that verifies the server's certificate; default `ca.certificatePem`. */
  serverCa?: string | readonly string[]
  /** Milliseconds per request (default 10000). */
  timeout?: number
}

// ——— WWW-Authenticate (RFC 9110 §11.6.1) ———

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y
const SPACES = / +/y
const OWS = /[ \t]*/y
// Empty list elements are allowed (RFC 9110 §5.6.1): ", ,".
const SEPARATORS = /(?:[ \t]*,)*[ \t]*/y
const COMMA_SEPARATORS = /[ \t]*,(?:[ \t]*,)*[ \t]*/y
// token68 only when it is all that follows the scheme.
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y
const PARAM = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)|"((?:[\t \x21\x23-\x5B\x5D-\x7E\x80-\xFF]|\\[\t \x21-\x7E\x80-\xFF])*)")/y
const PARAM_START = /[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*=/y

/**
 * Parses WWW-Authenticate (one value or several field lines) into challenges:
 * several challenges per line, quoted-string escapes, token68, case-insensitive
 * parameter names. Throws a SyntaxError on anything RFC 9110 does not allow.
 */
export function parseWwwAuthenticate (value: string | readonly string[] | number | undefined): Challenge[] {
  if (value === undefined) return []
  const lines = Array.isArray(value) ? value as readonly string[] : [String(value)]
  return lines.flatMap(parseLine)
}

function parseLine (text: string): Challenge[] {
  let pos = 0
  const take = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = pos
    const match = re.exec(text)
    if (match !== null) pos = re.lastIndex
    return match
  }
  const syntaxError = (expected: string): never => {
    throw new SyntaxError(`WWW-Authenticate: expected ${expected} at character ${pos + 1} of ${JSON.stringify(text)}`)
  }
  // Parameters and challenges share the comma: a list element is a parameter when it reads `name =`.
  const takeParams = (): Record<string, string> => {
    const params: Record<string, string> = {}
    for (let match = take(PARAM); match !== null; match = take(PARAM)) {
      const name = (match[1] as string).toLowerCase()
      if (Object.hasOwn(params, name)) syntaxError(`no second "${name}" parameter in one challenge`)
      params[name] = match[2] ?? (match[3] as string).replace(/\\(.)/g, '$1')
      const end = pos
      if (take(COMMA_SEPARATORS) === null) break
      PARAM_START.lastIndex = pos
      if (!PARAM_START.test(text)) {
        pos = end
        break
      }
    }
    return params
  }

  const challenges: Challenge[] = []
  take(SEPARATORS)
  while (pos < text.length) {
    const scheme = take(TOKEN)?.[0] ?? syntaxError('an auth-scheme')
    const spaced = take(SPACES) !== null
    const token68 = spaced ? take(TOKEN68)?.[0] : undefined
    const params = spaced && token68 === undefined ? takeParams() : {}
    challenges.push(token68 === undefined ? { scheme, params } : { scheme, params, token68 })
    take(OWS)
    if (pos < text.length && text[pos] !== ',') syntaxError('"," between challenges')
    take(SEPARATORS)
  }
  return challenges
}

// ——— assertChallenge ———

/**
 * Asserts that a response carries the expected challenge, and Cache-Control:
 * no-store when it is a 4xx. Returns every parsed challenge.
 */
export function assertChallenge (response: HttpResponseLike, expected: ChallengeExpectation = {}): Challenge[] {
  const { problems, challenges } = checkChallenge(response, expected)
  if (problems.length > 0) {
    throw assertionError({ helper: 'assertChallenge', step: 'the response does not carry the expected challenge' }, problems, response, undefined, assertChallenge)
  }
  return challenges
}

/** Every way the response misses the expectation, as readable lines. */
function checkChallenge (response: HttpResponseLike, expected: ChallengeExpectation): { problems: string[], challenges: Challenge[] } {
  const problems: string[] = []
  if (expected.status !== undefined && response.statusCode !== expected.status) {
    problems.push(`status: expected ${expected.status}, got ${response.statusCode}`)
  }
  if (response.statusCode >= 400 && response.statusCode < 500 && !hasNoStore(response)) {
    problems.push(`Cache-Control: expected no-store on a ${response.statusCode}, got ${show(header(response, 'cache-control'))}`)
  }
  let challenges: Challenge[]
  try {
    challenges = parseWwwAuthenticate(response.headers['www-authenticate'])
  } catch (err) {
    problems.push((err as Error).message)
    return { problems, challenges: [] }
  }
  const challenge = expected.scheme === undefined
    ? challenges[0]
    : challenges.find((c) => c.scheme.toLowerCase() === expected.scheme?.toLowerCase())
  if (challenge === undefined) {
    problems.push(challenges.length === 0
      ? 'WWW-Authenticate: expected a challenge, got none'
      : `WWW-Authenticate: expected a ${expected.scheme} challenge, got only ${challenges.map((c) => c.scheme).join(', ')}`)
    return { problems, challenges }
  }
  const where = `${challenge.scheme} challenge`
  const { error, scope, resource_metadata: resourceMetadata, algs } = challenge.params
  if (expected.error === null && error !== undefined) problems.push(`${where}: expected no error parameter, got error="${error}"`)
  if (typeof expected.error === 'string' && error !== expected.error) problems.push(`${where}: expected error="${expected.error}", got ${param(error)}`)
  if (expected.scope === null && scope !== undefined) problems.push(`${where}: expected no scope parameter, got scope="${scope}"`)
  if (expected.scope !== undefined && expected.scope !== null && !sameSet(scope, expected.scope)) {
    problems.push(`${where}: expected scope="${words(expected.scope).join(' ')}" (any order), got ${param(scope)}`)
  }
  if (expected.resourceMetadata !== undefined && resourceMetadata !== expected.resourceMetadata) {
    problems.push(`${where}: expected resource_metadata="${expected.resourceMetadata}", got ${param(resourceMetadata)}`)
  }
  if (expected.algs !== undefined && !sameSet(algs, expected.algs)) {
    problems.push(`${where}: expected algs="${words(expected.algs).join(' ')}" (any order), got ${param(algs)}`)
  }
  return { problems, challenges }
}

function hasNoStore (response: HttpResponseLike): boolean {
  const value = header(response, 'cache-control') ?? ''
  return value.split(',').some((directive) => directive.trim().toLowerCase() === 'no-store')
}

const words = (value: string | readonly string[]): string[] =>
  (typeof value === 'string' ? value.split(/\s+/) : [...value]).filter((word) => word !== '')

function sameSet (actual: string | undefined, expected: string | readonly string[]): boolean {
  if (actual === undefined) return false
  const a = new Set(words(actual))
  const b = new Set(words(expected))
  return a.size === b.size && [...a].every((word) => b.has(word))
}

const param = (value: string | undefined): string => (value === undefined ? 'none' : `"${value}"`)

// ——— DPoP ———

/**
 * A DPoP-bound token (fresh key) sent under the Bearer scheme, without and
 * with a valid proof, must get 401 invalid_token. Unless
 * `expectAcceptedWithProof: false`, the same token with a valid proof under
 * the DPoP scheme must get a 2xx, so the rejections cannot come from a token
 * the app would refuse anyway.
 */
export async function assertDpopBoundBearerRejected (app: Injectable, options: DpopBoundBearerOptions): Promise<void> {
  const helper = 'assertDpopBoundBearerRejected'
  const send = injectSender(app)
  const target = await resolveDpopTarget(send, options, helper)
  const key = await createDpopKey()
  const token = await mint(options, target.aud, { jkt: key.jkt })

  // First, so the Bearer attempts below also meet a warm token cache.
  let nonce: string | undefined
  if (options.expectAcceptedWithProof !== false) {
    const accepted = await sendWithProof(send, target, key, token, 'DPoP')
    expectSuccess({ helper, step: 'the DPoP-bound token with a valid proof under the DPoP scheme must be accepted', request: accepted.request }, accepted.response, target, options)
    nonce = accepted.nonce
  }

  const bare = request(target, { authorization: `Bearer ${token}` })
  expectRejected({ helper, step: 'a DPoP-bound token sent as a Bearer token (no DPoP header) must be rejected with 401 invalid_token', request: bare }, await send(bare), 'invalid_token')

  const withProof = await sendWithProof(send, target, key, token, 'Bearer', nonce)
  expectRejected({ helper, step: 'a DPoP-bound token under the Bearer scheme must be rejected with 401 invalid_token even with a valid DPoP proof', request: withProof.request }, withProof.response, 'invalid_token')
}

/** A DPoP-bound token (fresh key) with a valid proof must get a 2xx (a use_dpop_nonce answer is retried once). Returns that response. */
export async function assertDpopProofAccepted (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  const helper = 'assertDpopProofAccepted'
  const send = injectSender(app)
  const target = await resolveDpopTarget(send, options, helper)
  const key = await createDpopKey()
  const token = await mint(options, target.aud, { jkt: key.jkt })
  const { request: sent, response } = await sendWithProof(send, target, key, token, 'DPoP')
  expectSuccess({ helper, step: 'a DPoP-bound token with a valid proof must be accepted', request: sent }, response, target, options)
  return response
}

/** An accepted DPoP request (2xx), sent again with the very same proof, must get 401 invalid_dpop_proof. Returns the replay's response. */
export async function assertReplayRejected (app: Injectable, options: DpopAssertionOptions): Promise<HttpResponseLike> {
  const helper = 'assertReplayRejected'
  const send = injectSender(app)
  const target = await resolveDpopTarget(send, options, helper)
  const key = await createDpopKey()
  const token = await mint(options, target.aud, { jkt: key.jkt })
  const first = await sendWithProof(send, target, key, token, 'DPoP')
  expectSuccess({ helper, step: 'the first use of the proof must be accepted', request: first.request }, first.response, target, options)
  const replay = await send(first.request)
  expectRejected({ helper, step: 'the same DPoP proof sent a second time must be rejected with 401 invalid_dpop_proof', request: first.request }, replay, 'invalid_dpop_proof', 'DPoP')
  return replay
}

/** The request to send, without credentials. */
interface Target {
  readonly method: string
  readonly url: string
  readonly headers?: Record<string, string>
  readonly payload?: InjectPayload
}

interface DpopTarget extends Target {
  /** The minted token's `aud`. */
  readonly aud: string
  /** The proof's `htu`. */
  readonly htu: string
}

async function resolveDpopTarget (send: Send, options: DpopAssertionOptions, helper: string): Promise<DpopTarget> {
  const method = (options.method ?? 'GET').toUpperCase()
  const target: Target = { method, url: options.url, headers: options.headers, payload: options.payload }
  let discovered: string | undefined
  const discover = async (): Promise<string> => (discovered ??= await discoverResource(send, target, helper))
  const aud = options.resource ?? options.issuer.audience ?? await discover()
  let htu = options.publicUrl ?? (isAbsolute(options.url) ? options.url : undefined)
  if (htu === undefined) {
    // mcpAuth checks htu against the configured resource's origin + the request path.
    const origin = httpOrigin(aud) ?? httpOrigin(await discover())
    if (origin === undefined) throw new TypeError(`${helper}: cannot tell the public URL of ${options.url}; pass publicUrl`)
    htu = origin + new URL(options.url, 'http://x').pathname
  }
  return { ...target, aud, htu }
}

interface Sent {
  readonly request: InjectRequest
  readonly response: HttpResponseLike
  /** The last DPoP-Nonce the server sent. */
  readonly nonce: string | undefined
}

/** Sends the token with a fresh proof; a use_dpop_nonce answer is retried once with the nonce, as a client would. */
async function sendWithProof (send: Send, target: DpopTarget, key: DpopKey, token: string, scheme: 'DPoP' | 'Bearer', nonce?: string): Promise<Sent> {
  const attempt = async (withNonce: string | undefined): Promise<Sent> => {
    const proof = await createDpopProof(key, { method: target.method, url: target.htu, accessToken: token, nonce: withNonce })
    const req = request(target, { authorization: `${scheme} ${token}`, dpop: proof })
    const response = await send(req)
    return { request: req, response, nonce: header(response, 'dpop-nonce') ?? withNonce }
  }
  const first = await attempt(nonce)
  const fresh = header(first.response, 'dpop-nonce')
  if (first.response.statusCode !== 401 || fresh === undefined || challengeError(first.response) !== 'use_dpop_nonce') return first
  return attempt(fresh)
}

// ——— mTLS ———

/**
 * Against a listening HTTPS server: a token bound to a client certificate
 * (cnf["x5t#S256"]) must get a 2xx with that certificate, and 401
 * invalid_token without a certificate and with another certificate from the
 * same CA. Returns the accepted response.
 */
export async function assertMtlsBindingEnforced (options: MtlsBindingOptions): Promise<HttpResponseLike> {
  const helper = 'assertMtlsBindingEnforced'
  const base = new URL(options.url)
  if (base.protocol !== 'https:') throw new TypeError(`${helper}: url must be an https: URL of a listening server; got ${options.url}`)
  const target: Target = { method: (options.method ?? 'GET').toUpperCase(), url: base.pathname + base.search, headers: options.headers, payload: options.payload }
  const [bound, other] = await Promise.all([
    options.ca.issueClientCertificate({ commonName: 'bound-client' }),
    options.ca.issueClientCertificate({ commonName: 'other-client' }),
  ])
  const withCertificate = (cert: TestClientCertificate | undefined): Send => httpsSender(base, options, cert)
  const aud = options.resource ?? options.issuer.audience ?? await discoverResource(withCertificate(bound), target, helper)
  const token = await mint(options, aud, { x5t: bound.x5t })
  const req = request(target, { authorization: `Bearer ${token}` })

  const sendWith = async (cert: TestClientCertificate | undefined, label: string, expectation: string): Promise<{ context: Context, response: HttpResponseLike }> => {
    const context = { helper, step: `a certificate-bound token presented with ${label} ${expectation}`, request: req, note: `client certificate: ${label}` }
    try {
      return { context, response: await withCertificate(cert)(req) }
    } catch (err) {
      throw assertionError(context, [`the request failed: ${(err as Error).message.trim()}`], undefined, cert === undefined
        ? 'a server with rejectUnauthorized: true ends the TLS handshake without a client certificate; use requestCert: true, rejectUnauthorized: false and let the plugin answer 401'
        : 'does the server trust the CA (ca: ca.certificatePem), and does serverCa verify the server certificate?')
    }
  }

  const accepted = await sendWith(bound, 'the bound client certificate', 'must be accepted')
  expectSuccess(accepted.context, accepted.response, { aud }, options)
  for (const [cert, label] of [[undefined, 'no client certificate'], [other, 'another client certificate from the same CA']] as const) {
    const { context, response } = await sendWith(cert, label, 'must be rejected with 401 invalid_token')
    expectRejected(context, response, 'invalid_token')
  }
  return accepted.response
}

// ——— Transports ———

type Send = (request: InjectRequest) => Promise<HttpResponseLike>

const injectSender = (app: Injectable): Send => async (req) => app.inject(req)

/** node:https, one fresh connection per request (a pooled one would carry another certificate). */
function httpsSender (base: URL, options: MtlsBindingOptions, cert: TestClientCertificate | undefined): Send {
  return (req) => new Promise((resolve, reject) => {
    const headers = { ...req.headers }
    let body: string | Buffer | undefined
    if (typeof req.payload === 'string' || Buffer.isBuffer(req.payload)) {
      body = req.payload
    } else if (req.payload !== undefined) {
      body = JSON.stringify(req.payload)
      headers['content-type'] ??= 'application/json'
    }
    const outgoing = httpsRequest(new URL(req.url, base), {
      method: req.method,
      headers,
      ca: options.serverCa === undefined ? options.ca.certificatePem : [options.serverCa].flat(),
      agent: false,
      timeout: options.timeout ?? 10_000,
      ...(cert === undefined ? {} : { cert: cert.certificatePem, key: cert.keyPem }),
    }, (res: IncomingMessage) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { data += chunk })
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: data }))
      res.on('error', reject)
    })
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${options.timeout ?? 10_000} ms`)))
    outgoing.on('error', reject)
    outgoing.end(body)
  })
}

// ——— Shared steps ———

function request (target: Target, credentials: Record<string, string>): InjectRequest {
  const req: InjectRequest = { method: target.method, url: target.url, headers: { ...target.headers, ...credentials } }
  if (target.payload !== undefined) req.payload = target.payload
  return req
}

function mint (options: Pick<DpopAssertionOptions, 'issuer' | 'claims'>, aud: string, bindTo: BindTarget): Promise<string> {
  return options.issuer.mintAccessToken({ aud, ...options.claims }, { bindTo })
}

/** The resource URI, found the way an MCP client finds it: 401 → resource_metadata → that document's `resource`. */
async function discoverResource (send: Send, target: Target, helper: string): Promise<string> {
  const step = 'finding the resource URI (the token\'s aud) from the app, since neither `resource` nor `issuer.audience` is set'
  const unauthenticated = request(target, {})
  const response = await send(unauthenticated)
  const metadataUrl = challengesOf(response).map((c) => c.params.resource_metadata).find((url) => url !== undefined)
  if (response.statusCode !== 401 || metadataUrl === undefined) {
    throw assertionError({ helper, step, request: unauthenticated }, ['expected a 401 with a resource_metadata challenge parameter to a request without credentials'], response, 'pass `resource`: the resource URI configured in mcpAuth')
  }
  const metadataPath = new URL(metadataUrl)
  const metadataRequest: InjectRequest = { method: 'GET', url: metadataPath.pathname + metadataPath.search, headers: {} }
  const metadata = await send(metadataRequest)
  const resource = metadata.statusCode === 200 ? jsonField(metadata.body, 'resource') : undefined
  if (resource === undefined) {
    throw assertionError({ helper, step, request: metadataRequest }, [`expected a 200 JSON metadata document with "resource" at ${metadataUrl}`], metadata, 'pass `resource`: the resource URI configured in mcpAuth')
  }
  return resource
}

interface Context {
  readonly helper: string
  /** What was being checked, as a sentence. */
  readonly step: string
  readonly request?: InjectRequest
  readonly note?: string
}

function expectSuccess (context: Context, response: HttpResponseLike, target: { aud: string, htu?: string }, options: Pick<DpopAssertionOptions, 'claims'>): void {
  if (response.statusCode >= 200 && response.statusCode < 300) return
  throw assertionError(context, [`status: expected 2xx, got ${response.statusCode}`], response, hintFor(response, target, options))
}

function expectRejected (context: Context, response: HttpResponseLike, error: string, scheme?: string): void {
  // The error belongs in the challenge of the scheme used; look where the server put it.
  const { problems } = checkChallenge(response, { status: 401, error, scheme: scheme ?? challengesOf(response).find((c) => c.params.error !== undefined)?.scheme })
  if (problems.length > 0) throw assertionError(context, problems, response)
}

/** A next step for the user, from the OAuth error of an unexpected rejection. */
function hintFor (response: HttpResponseLike, target: { aud: string, htu?: string }, options: Pick<DpopAssertionOptions, 'claims'>): string | undefined {
  switch (challengeError(response) ?? jsonField(response.body, 'error')) {
    case 'insufficient_scope':
      return `the token's scope was ${options.claims?.scope === undefined ? 'the issuer default' : `"${String(options.claims.scope)}"`}; pass claims: { scope: '…' } with the scopes the route requires`
    case 'invalid_token':
      return `does the app trust the issuer (jwks: issuer.jwks, authorizationServers: [issuer.issuer]), and is ${target.aud} (the token's aud) its configured resource? Otherwise pass \`resource\``
    case 'invalid_dpop_proof':
      return `the proof's htu was ${target.htu ?? '(none)'}; if clients reach this route at another URL, pass \`publicUrl\``
    case 'use_dpop_nonce':
      return 'the server asked for a DPoP nonce again after a retry with the nonce it sent'
    default:
      return undefined
  }
}

// ——— Reading responses ———

function header (response: HttpResponseLike, name: string): string | undefined {
  const value = response.headers[name]
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value)
}

/** Challenges, or none when the header is absent or malformed (checkChallenge reports that). */
function challengesOf (response: HttpResponseLike): Challenge[] {
  try {
    return parseWwwAuthenticate(response.headers['www-authenticate'])
  } catch {
    return []
  }
}

const challengeError = (response: HttpResponseLike): string | undefined =>
  challengesOf(response).find((c) => c.params.error !== undefined)?.params.error

function jsonField (body: string, name: string): string | undefined {
  try {
    const value: unknown = JSON.parse(body)?.[name]
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

// ——— Messages ———

// A JWS in compact form: header and payload are base64url JSON objects ("eyJ" = '{"').
const JWS = /eyJ[\w-]*\.eyJ[\w-]*(?:\.[\w-]*)?/g
const MAX_BODY = 500

/** Shortens every token and proof in a message to its first characters. */
export function redactTokens (text: string): string {
  return text.replace(JWS, (jws) => `${jws.slice(0, 12)}…[${jws.length} chars]`)
}

const isAbsolute = (url: string): boolean => /^https?:\/\//i.test(url)

function httpOrigin (uri: string): string | undefined {
  return isAbsolute(uri) ? new URL(uri).origin : undefined
}

function show (value: string | undefined): string {
  return value === undefined ? '(none)' : value
}

function describeRequest (req: InjectRequest): string {
  const shown = ['authorization', 'dpop'].filter((name) => req.headers[name] !== undefined).map((name) => `${name}: ${req.headers[name]}`)
  return [`${req.method} ${req.url}`, ...shown].join('\n    ')
}

function describeResponse (response: HttpResponseLike): string {
  // Redacted before truncation, so a cut never leaves a partial token unrecognized.
  const text = redactTokens(response.body)
  const body = text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}… (${text.length} chars)` : text
  return [
    `status ${response.statusCode}`,
    `www-authenticate: ${show(header(response, 'www-authenticate'))}`,
    `cache-control: ${show(header(response, 'cache-control'))}`,
    ...(header(response, 'dpop-nonce') === undefined ? [] : [`dpop-nonce: ${header(response, 'dpop-nonce')}`]),
    `body: ${body === '' ? '(empty)' : body}`,
  ].join('\n    ')
}

function assertionError (context: Context, problems: string[], response?: HttpResponseLike, hint?: string, stackStartFn?: (...args: never[]) => unknown): AssertionError {
  const lines = [
    `${context.helper}: ${context.step}`,
    ...problems.map((problem) => `  - ${problem}`),
    ...(context.request === undefined ? [] : [`  request: ${describeRequest(context.request)}`]),
    ...(context.note === undefined ? [] : [`  ${context.note}`]),
    ...(response === undefined ? [] : [`  response: ${describeResponse(response)}`]),
    ...(hint === undefined ? [] : [`  hint: ${hint}`]),
  ]
  // No actual/expected: runners would render a diff of values the message already explains.
  return new AssertionError({ message: redactTokens(lines.join('\n')), operator: context.helper, stackStartFn })
}
