// Validates and defaults mcpAuthorizationServer's `idJag` option once, at
// register: the trusted identity providers (exact issuer, public keys as a JWKS
// or an https jwks_uri, asymmetric algorithms only) and the time bounds of an
// Identity Assertion JWT Authorization Grant.
import { createLocalJWKSet, createRemoteJWKSet } from 'jose'
import type { JWK, JWTVerifyGetKey } from 'jose'
import { invalidSetting } from '../errors.js'
import { ASYMMETRIC_ALGORITHMS } from '../options.js'
import { isLoopbackHost } from '../resource.js'
import { nearest } from '../suggest.js'
import type { IdJagClaims, IdJagOptions, IdJagTrustedIssuer } from '../../types/authorization-server.js'

export interface ResolvedTrustedIssuer {
  readonly issuer: string
  readonly keys: JWTVerifyGetKey
  readonly algorithms: readonly string[]
  readonly accountId: ((claims: IdJagClaims) => string | undefined | Promise<string | undefined>) | undefined
}

export interface ResolvedIdJag {
  /** Keyed by the exact issuer identifier (issuers compare exactly). */
  readonly issuers: ReadonlyMap<string, ResolvedTrustedIssuer>
  /** Longest accepted `exp - iat`, in seconds. */
  readonly maxLifetime: number
  readonly clockTolerance: number
}

const KNOWN = ['trustedIssuers', 'maxLifetime', 'clockTolerance']
const ISSUER_KNOWN = ['issuer', 'jwks', 'algorithms', 'accountId']

function fail (message: string): never {
  throw invalidSetting(`mcpAuthorizationServer "idJag${message}`)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkKeys (prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const hint = nearest(key, known)
    fail(`${prefix}${key}" is not a known option${hint === undefined ? '' : `; did you mean "idJag${prefix}${hint}"?`}`)
  }
}

/** https, or http on a loopback host (development and tests). */
function secureUrl (value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return url
  return undefined
}

function resolveKeys (name: string, value: unknown): JWTVerifyGetKey {
  if (typeof value === 'string') {
    const url = secureUrl(value)
    if (url === undefined) fail(`${name}" must be an https URL (http only on loopback) or { keys: [public JWK] }; got ${JSON.stringify(value)}`)
    // jose refetches on an unknown `kid` (at most every 30 s) and every 10 minutes.
    return createRemoteJWKSet(url, { timeoutDuration: 5000 })
  }
  if (!isObject(value) || !Array.isArray(value.keys) || value.keys.length === 0) fail(`${name}" must be { keys: [public JWK, …] } or the identity provider's jwks_uri`)
  const keys = value.keys as unknown[]
  keys.forEach((key, index) => {
    if (!isObject(key) || (key.kty !== 'EC' && key.kty !== 'RSA' && key.kty !== 'OKP')) fail(`${name}.keys[${index}]" must be an asymmetric public JWK (kty EC, RSA or OKP)`)
    if ('d' in key) fail(`${name}.keys[${index}]" is a private key: list the identity provider's public keys only`)
  })
  return createLocalJWKSet({ keys: keys.map((key) => ({ ...key as JWK })) })
}

function resolveIssuer (value: unknown, index: number): ResolvedTrustedIssuer {
  const name = `.trustedIssuers[${index}]`
  if (!isObject(value)) fail(`${name}" must be { issuer, jwks, algorithms?, accountId? }`)
  checkKeys(`${name}.`, value, ISSUER_KNOWN)
  if (secureUrl(value.issuer) === undefined) fail(`${name}.issuer" must be the identity provider's issuer identifier, an https URL (http only on loopback)`)
  const algorithms = value.algorithms ?? ASYMMETRIC_ALGORITHMS
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((alg) => typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(alg))) {
    fail(`${name}.algorithms" must list asymmetric JWS algorithms among ${ASYMMETRIC_ALGORITHMS.join(', ')}`)
  }
  if (value.accountId !== undefined && typeof value.accountId !== 'function') fail(`${name}.accountId" must be a function (claims) => account ID | undefined`)
  return Object.freeze({
    issuer: value.issuer as string,
    keys: resolveKeys(`${name}.jwks`, value.jwks),
    algorithms: Object.freeze([...algorithms as string[]]),
    accountId: value.accountId as IdJagTrustedIssuer['accountId'],
  })
}

function seconds (name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) fail(`${name}" must be a whole number of seconds between 0 and ${max}; got ${String(value)}`)
  return value
}

export function resolveIdJag (value: unknown): ResolvedIdJag | undefined {
  if (value === undefined) return undefined
  if (!isObject(value)) fail('" must be { trustedIssuers: [{ issuer, jwks }] }')
  checkKeys('.', value, KNOWN)
  const options = value as Partial<IdJagOptions>
  if (!Array.isArray(options.trustedIssuers) || options.trustedIssuers.length === 0) fail('.trustedIssuers" must list at least one { issuer, jwks }')
  const issuers = new Map<string, ResolvedTrustedIssuer>()
  options.trustedIssuers.forEach((entry, index) => {
    const resolved = resolveIssuer(entry, index)
    if (issuers.has(resolved.issuer)) fail(`.trustedIssuers" lists ${JSON.stringify(resolved.issuer)} twice`)
    issuers.set(resolved.issuer, resolved)
  })
  const maxLifetime = seconds('.maxLifetime', options.maxLifetime, 600, 3600)
  if (maxLifetime === 0) fail('.maxLifetime" must be at least 1 second')
  return Object.freeze({
    issuers,
    maxLifetime,
    clockTolerance: seconds('.clockTolerance', options.clockTolerance, 30, 300),
  })
}
