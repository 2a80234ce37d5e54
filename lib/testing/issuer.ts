// A test authorization server: real key pairs, a JWKS, RFC 9068 access tokens
// with any claims (cnf included), and optionally a loopback HTTP server that
// publishes RFC 8414 metadata and the JWKS, with switches for fault tests.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK } from 'jose/key/export'
import { generateKeyPair } from 'jose/key/generate/keypair'
import { SignJWT } from 'jose/jwt/sign'
import type { CryptoKey, JWK } from 'jose'

export type TestAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256'

/** Something a token can be bound to: a DPoP key (`jkt`) or a client certificate (`x5t`). */
export type BindTarget = { readonly jkt: string } | { readonly x5t: string }

export interface MintOptions {
  /** Sets `cnf.jkt` (DPoP key) or `cnf["x5t#S256"]` (client certificate). */
  bindTo?: BindTarget
  /** Protected-header members to set or override (`typ`, `kid`, `alg`…); undefined removes one. */
  header?: Record<string, unknown>
  /** Lifetime in seconds when `exp` is not given (default 300). */
  expiresIn?: number
  /** Signs with another key of the same algorithm (a forged token). */
  signWith?: CryptoKey
}

export interface TestIssuer {
  /** The `iss` value. */
  readonly issuer: string
  readonly algorithm: TestAlgorithm
  readonly kid: string
  /** `{ keys: [public JWK] }`, usable as `jwks: issuer.jwks`. */
  readonly jwks: { keys: JWK[] }
  /** Default `aud` for minted tokens. */
  audience: string | undefined
  mintAccessToken (claims?: Record<string, unknown>, options?: MintOptions): Promise<string>
  /** Replaces the signing key with a new `kid`; the JWKS then holds both (or only the new one). */
  rotateKey (options?: { keepOld?: boolean }): Promise<void>
}

export interface TestIssuerOptions {
  /** The `iss` value (default `https://issuer.test`). Ignored by startTestIssuer, which uses its URL. */
  issuer?: string
  algorithm?: TestAlgorithm
  /** Default `aud` for minted tokens. */
  audience?: string
}

interface KeyEntry { kid: string, privateKey: CryptoKey, publicJwk: JWK }

async function createKey (algorithm: TestAlgorithm): Promise<KeyEntry> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true })
  const kid = randomUUID()
  const publicJwk = { ...await exportJWK(publicKey), kid, alg: algorithm, use: 'sig' }
  return { kid, privateKey, publicJwk }
}

class Issuer implements TestIssuer {
  issuer: string
  readonly algorithm: TestAlgorithm
  audience: string | undefined
  #keys: KeyEntry[]

  constructor (issuer: string, algorithm: TestAlgorithm, audience: string | undefined, key: KeyEntry) {
    this.issuer = issuer
    this.algorithm = algorithm
    this.audience = audience
    this.#keys = [key]
  }

  get kid (): string {
    return (this.#keys[0] as KeyEntry).kid
  }

  get jwks (): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => ({ ...k.publicJwk })) }
  }

  async rotateKey (options: { keepOld?: boolean } = {}): Promise<void> {
    const key = await createKey(this.algorithm)
    this.#keys = options.keepOld === false ? [key] : [key, ...this.#keys]
  }

  async mintAccessToken (claims: Record<string, unknown> = {}, options: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    const payload: Record<string, unknown> = {
      iss: this.issuer,
      sub: 'user-123',
      client_id: 'client-abc',
      iat: now,
      exp: now + (options.expiresIn ?? 300),
      jti: randomUUID(),
      scope: 'mcp:tools:read',
    }
    if (this.audience !== undefined) payload.aud = this.audience
    if (options.bindTo !== undefined) {
      payload.cnf = 'jkt' in options.bindTo ? { jkt: options.bindTo.jkt } : { 'x5t#S256': options.bindTo.x5t }
    }
    Object.assign(payload, claims)
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name]
    const key = this.#keys[0] as KeyEntry
    const header: Record<string, unknown> = { alg: this.algorithm, typ: 'at+jwt', kid: key.kid, ...options.header }
    for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name]
    return new SignJWT(payload).setProtectedHeader(header as never).sign(options.signWith ?? key.privateKey)
  }
}

export async function createTestIssuer (options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const algorithm = options.algorithm ?? 'ES256'
  return new Issuer(options.issuer ?? 'https://issuer.test', algorithm, options.audience, await createKey(algorithm))
}

export interface ServedTestIssuer extends TestIssuer {
  /** Base URL of the loopback server (equals `issuer` unless a path was given). */
  readonly url: string
  readonly jwksUri: string
  /** Every request the server received: method and path. */
  readonly requests: Array<{ method: string, path: string }>
  /** Answer every request with 503 (true), or hang without answering ('hang'). */
  failure: false | true | 'hang'
  /** Extra metadata fields, or overrides (e.g. a wrong `issuer`). */
  metadata: Record<string, unknown>
  /** Introspection answers by token (RFC 7662); unknown tokens are inactive. */
  readonly introspection: Map<string, Record<string, unknown>>
  close (): Promise<void>
}

export interface StartTestIssuerOptions extends Omit<TestIssuerOptions, 'issuer'> {
  /** Issuer path, e.g. '/tenant1' (RFC 8414 path insertion). */
  path?: string
  /** Where metadata is published: 'oauth' (RFC 8414, default) or 'openid' (OIDC discovery only). */
  discovery?: 'oauth' | 'openid'
  /** Credentials the introspection endpoint requires (client_secret_basic). */
  introspectionClient?: { clientId: string, clientSecret: string }
}

/** Starts a loopback authorization server publishing metadata and JWKS (and an introspection endpoint). */
export async function startTestIssuer (options: StartTestIssuerOptions = {}): Promise<ServedTestIssuer> {
  const path = options.path ?? ''
  const issuer = await createTestIssuer({ algorithm: options.algorithm, audience: options.audience }) as Issuer
  const requests: Array<{ method: string, path: string }> = []
  const hanging = new Set<ServerResponse>()
  const introspection = new Map<string, Record<string, unknown>>()
  let base = ''
  const state = { failure: false as false | true | 'hang', metadata: {} as Record<string, unknown> }

  function metadataDocument (): Record<string, unknown> {
    return {
      issuer: issuer.issuer,
      jwks_uri: `${base}/jwks${path}`,
      introspection_endpoint: `${base}/introspect${path}`,
      token_endpoint: `${base}/token${path}`,
      response_types_supported: ['code'],
      ...state.metadata,
    }
  }

  async function readBody (req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  function json (res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base)
    requests.push({ method: req.method ?? 'GET', path: url.pathname })
    if (state.failure === 'hang') {
      hanging.add(res)
      return
    }
    if (state.failure) return json(res, 503, { error: 'temporarily_unavailable' })
    const p = url.pathname
    const oauth = options.discovery !== 'openid'
    if ((oauth && p === `/.well-known/oauth-authorization-server${path}`) || (!oauth && p === `${path}/.well-known/openid-configuration`)) {
      return json(res, 200, metadataDocument())
    }
    if (p === `/jwks${path}`) return json(res, 200, issuer.jwks)
    if (p === `/introspect${path}` && req.method === 'POST') {
      readBody(req).then((body) => {
        const client = options.introspectionClient
        if (client !== undefined) {
          const expected = 'Basic ' + Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')
          if (req.headers.authorization !== expected) return json(res, 401, { error: 'invalid_client' })
        }
        const token = new URLSearchParams(body).get('token') ?? ''
        return json(res, 200, introspection.get(token) ?? { active: false })
      }).catch(() => json(res, 500, {}))
      return
    }
    json(res, 404, { error: 'not_found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  issuer.issuer = base + path

  Object.defineProperties(issuer, {
    url: { value: base, enumerable: true },
    jwksUri: { value: `${base}/jwks${path}`, enumerable: true },
    requests: { value: requests, enumerable: true },
    introspection: { value: introspection, enumerable: true },
    failure: {
      enumerable: true,
      get: () => state.failure,
      set: (value: false | true | 'hang') => {
        state.failure = value
        if (value !== 'hang') {
          for (const res of hanging) res.destroy()
          hanging.clear()
        }
      },
    },
    metadata: { enumerable: true, get: () => state.metadata, set: (value: Record<string, unknown>) => { state.metadata = value } },
    close: {
      value: async () => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      },
    },
  })
  return issuer as unknown as ServedTestIssuer
}
