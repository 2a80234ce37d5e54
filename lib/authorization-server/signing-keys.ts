// The authorization server's signing keys: private JWKs checked at register
// (asymmetric only, each with an algorithm and a kid), the public set served
// at jwks_uri and handed to a co-hosted mcpAuth, and a generated key for
// development when none is configured.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { JWK } from 'jose'
import { invalidSetting } from '../errors.js'
import { jwkThumbprint } from '../jwk-thumbprint.js'

export interface SigningKeys {
  /** Private JWKs for the provider; the first signs. */
  readonly privateKeys: readonly JWK[]
  /** The same keys without their private members. */
  readonly publicKeys: readonly JWK[]
  /** The first key's algorithm: the one tokens are signed with. */
  readonly algorithm: string
  /** True when the key was generated at start (development only). */
  readonly generated: boolean
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv']
const CURVE_ALGORITHMS: Readonly<Record<string, string>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' }

function algorithmOf (jwk: JWK, index: number): string {
  if (typeof jwk.alg === 'string') {
    if (/^(HS|none)/i.test(jwk.alg)) throw invalidSetting(`mcpAuthorizationServer signingKeys.keys[${index}] must be asymmetric; got alg ${jwk.alg}`)
    return jwk.alg
  }
  if (jwk.kty === 'RSA') return 'PS256'
  const byCurve = typeof jwk.crv === 'string' ? CURVE_ALGORITHMS[jwk.crv] : undefined
  if (byCurve === undefined) throw invalidSetting(`mcpAuthorizationServer signingKeys.keys[${index}] needs an "alg"`)
  return byCurve
}

function checkKey (value: unknown, index: number): JWK {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidSetting(`mcpAuthorizationServer signingKeys.keys[${index}] must be a private JWK object`)
  }
  const jwk = value as JWK
  if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') {
    throw invalidSetting(`mcpAuthorizationServer signingKeys.keys[${index}] must be an EC, RSA or OKP key (asymmetric only); got kty ${JSON.stringify(jwk.kty)}`)
  }
  if (typeof jwk.d !== 'string') throw invalidSetting(`mcpAuthorizationServer signingKeys.keys[${index}] must be a private key (it has no "d")`)
  const alg = algorithmOf(jwk, index)
  const kid = typeof jwk.kid === 'string' ? jwk.kid : jwkThumbprint(jwk as Record<string, unknown>)
  return { ...jwk, alg, kid, use: 'sig' }
}

function publicPart (jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk }
  for (const member of PRIVATE_MEMBERS) delete copy[member]
  return copy as JWK
}

function generatedKey (): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...privateKey.export({ format: 'jwk' }), kid: `dev-${randomBytes(6).toString('base64url')}`, alg: 'ES256', use: 'sig' }
}

/** `option` is the user's `signingKeys`; undefined generates one key. */
export function resolveSigningKeys (option: unknown): SigningKeys {
  let privateKeys: JWK[]
  let generated = false
  if (option === undefined) {
    privateKeys = [generatedKey()]
    generated = true
  } else {
    const keys = (option as { keys?: unknown } | null)?.keys
    if (!Array.isArray(keys) || keys.length === 0) {
      throw invalidSetting('mcpAuthorizationServer signingKeys must be { keys: [ <private JWK>, … ] } with at least one key')
    }
    privateKeys = keys.map(checkKey)
    const kids = new Set(privateKeys.map((k) => k.kid))
    if (kids.size !== privateKeys.length) throw invalidSetting('mcpAuthorizationServer signingKeys.keys must have distinct "kid"s')
  }
  const first = privateKeys[0] as JWK
  return Object.freeze({
    privateKeys: Object.freeze(privateKeys),
    publicKeys: Object.freeze(privateKeys.map(publicPart)),
    algorithm: first.alg as string,
    generated,
  })
}
