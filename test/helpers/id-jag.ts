// An enterprise identity provider's signing side for the ID-JAG tests: a real
// key pair and `mint`, which signs an Identity Assertion JWT Authorization
// Grant with sound defaults that each test overrides (claims set to undefined
// are left out), and the token request that presents one.
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { CryptoKey, JWK, JWTHeaderParameters } from 'jose'

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const ID_JAG_TYP = 'oauth-id-jag+jwt'

export interface TestIdp {
  readonly issuer: string
  readonly publicJwk: JWK
  readonly privateKey: CryptoKey
  /** Signs an ID-JAG: defaults for `aud`, `client_id`, `resource` and `scope` come from `defaults`. */
  mint (claims?: Record<string, unknown>, header?: Partial<JWTHeaderParameters>, key?: CryptoKey): Promise<string>
}

export interface IdJagDefaults {
  readonly audience: string
  readonly clientId: string
  readonly resource: string
  readonly scope?: string
  readonly subject?: string
}

export async function createIdp (issuer: string, defaults: IdJagDefaults, algorithm = 'ES256', kid = 'idp-key'): Promise<TestIdp> {
  const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true })
  const publicJwk = { ...await exportJWK(publicKey), kid, alg: algorithm, use: 'sig' }
  async function mint (claims: Record<string, unknown> = {}, header: Partial<JWTHeaderParameters> = {}, key: CryptoKey = privateKey): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    const all: Record<string, unknown> = {
      iss: issuer,
      sub: defaults.subject ?? 'demo-user',
      aud: defaults.audience,
      client_id: defaults.clientId,
      jti: randomUUID(),
      iat: now,
      exp: now + 300,
      resource: defaults.resource,
      scope: defaults.scope,
      ...claims,
    }
    const payload = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined))
    return await new SignJWT(payload).setProtectedHeader({ alg: algorithm, typ: ID_JAG_TYP, kid, ...header } as JWTHeaderParameters).sign(key)
  }
  return { issuer, publicJwk, privateKey, mint }
}

export interface TokenAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers: Headers
}

/** POSTs a jwt-bearer token request with client_secret_basic (or the headers given). */
export async function presentIdJag (tokenEndpoint: string, assertion: string | undefined, client: { id: string, secret?: string }, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const body = new URLSearchParams({ grant_type: JWT_BEARER, ...(assertion === undefined ? {} : { assertion }), ...extra })
  if (client.secret === undefined) body.set('client_id', client.id)
  const auth: Record<string, string> = client.secret === undefined ? {} : { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}` }
  const res = await fetch(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth, ...headers }, body })
  return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers }
}
