// Validates and defaults mcpAuthorizationServer's options once, at register:
// every message names the option and the fix, secrets are never echoed, and the
// development shortcuts (a generated signing key, the development pages,
// unsigned cookies) are refused under NODE_ENV=production.
import { createHash, randomBytes } from 'node:crypto'
import { invalidSetting } from '../errors.js'
import { nearest } from '../suggest.js'
import { parseResource } from '../resource.js'
import { SCOPE_TOKEN } from '../scopes.js'
import type {
  AuthorizationServerResource,
  CimdOptions,
  McpAuthorizationServerOptions,
  StaticClientMetadata,
} from '../../types/authorization-server.js'
import type { Lookup } from './address-policy.js'
import { defaultLookup } from './outbound-fetch.js'
import { resolveSigningKeys } from './signing-keys.js'
import type { SigningKeys } from './signing-keys.js'
import { isDevelopmentInteractions } from './development-interactions.js'
import { resolveIdJag } from './id-jag-options.js'
import type { ResolvedIdJag } from './id-jag-options.js'

export interface ResolvedAsResource {
  readonly uri: string
  readonly scopes: readonly string[]
  readonly defaultScopes: readonly string[] | undefined
  readonly accessTokenTtl: number
}

export interface ResolvedAsOptions {
  readonly issuer: string
  readonly issuerUrl: URL
  /** The issuer's path without a trailing slash ('' for a bare origin). */
  readonly mountPath: string
  readonly resources: readonly ResolvedAsResource[]
  readonly signingKeys: SigningKeys
  readonly accounts: McpAuthorizationServerOptions['accounts']
  readonly claims: Readonly<Record<string, readonly string[]>>
  readonly interactions: McpAuthorizationServerOptions['interactions']
  readonly development: boolean
  readonly staticClients: readonly StaticClientMetadata[]
  readonly cimd: { readonly allowFetch: NonNullable<CimdOptions['allowFetch']>, readonly lookup: Lookup } | undefined
  readonly registration: { readonly initialAccessToken: string | undefined, readonly idleTtl: number, readonly perIpPerHour: number, readonly bindScope: boolean } | undefined
  readonly dpopNonceSecret: Buffer | undefined
  readonly cookieKeys: readonly string[]
  readonly cookieKeysGenerated: boolean
  readonly store: McpAuthorizationServerOptions['store']
  readonly rateLimit: { readonly failedLoginsPerMinute: number, readonly tokenPerMinute: number, readonly interactionsPerMinute: number } | undefined
  readonly ttl: { readonly authorizationCode: number, readonly refreshToken: number, readonly session: number, readonly interaction: number, readonly grant: number }
  readonly idJag: ResolvedIdJag | undefined
  readonly onEvent: McpAuthorizationServerOptions['onEvent']
  readonly configure: McpAuthorizationServerOptions['configure']
}

const TOP_LEVEL = ['issuer', 'resources', 'signingKeys', 'accounts', 'claims', 'interactions', 'clients', 'dpop', 'cookies', 'store', 'rateLimit', 'ttl', 'idJag', 'onEvent', 'configure']

function fail (message: string): never {
  throw invalidSetting(`mcpAuthorizationServer ${message}`)
}

function checkKeys (prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const hint = nearest(key, known)
    fail(`option "${prefix}${key}" is not known${hint === undefined ? '' : `; did you mean "${prefix}${hint}"?`}`)
  }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function seconds (name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail(`"${name}" must be a positive whole number of seconds; got ${String(value)}`)
  return value
}

function count (name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail(`"${name}" must be a positive whole number; got ${String(value)}`)
  return value
}

function scopeList (name: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))) {
    fail(`"${name}" must be an array of scope tokens (RFC 6749 §3.3)`)
  }
  return [...value as string[]]
}

function resolveIssuer (value: unknown): { issuer: string, issuerUrl: URL, mountPath: string } {
  const parsed = parseResource(value)
  if (typeof parsed === 'string') fail(`"issuer" ${parsed}`)
  if (parsed.query !== '') fail(`"issuer" must not have a query (RFC 8414 §2); got ${JSON.stringify(value)}`)
  // Used verbatim: clients compare the metadata's issuer with the configured one exactly.
  if (parsed.uri !== value) fail(`"issuer" must be written in canonical form (lowercase scheme and host, no default port): ${JSON.stringify(parsed.uri)}; got ${JSON.stringify(value)}`)
  if (parsed.path.endsWith('/')) fail(`"issuer" must not end with "/" (clients compare issuers exactly); got ${JSON.stringify(value)}`)
  return { issuer: parsed.uri, issuerUrl: new URL(parsed.uri), mountPath: parsed.path }
}

function resolveResource (value: unknown, index: number): ResolvedAsResource {
  const name = `resources[${index}]`
  if (!isObject(value)) fail(`"${name}" must be { uri, scopes, defaultScopes? }`)
  checkKeys(`${name}.`, value, ['uri', 'scopes', 'defaultScopes', 'accessTokenTtl'])
  const parsed = parseResource(value.uri)
  if (typeof parsed === 'string') fail(`"${name}.uri" ${parsed}`)
  const scopes = scopeList(`${name}.scopes`, value.scopes)
  if (scopes.length === 0) fail(`"${name}.scopes" must list at least one scope`)
  let defaultScopes: string[] | undefined
  if (value.defaultScopes !== undefined) {
    defaultScopes = scopeList(`${name}.defaultScopes`, value.defaultScopes)
    const stray = defaultScopes.find((s) => !scopes.includes(s))
    if (stray !== undefined) fail(`"${name}.defaultScopes" lists ${JSON.stringify(stray)}, which is not in "${name}.scopes"`)
  }
  return Object.freeze({
    uri: parsed.uri,
    scopes: Object.freeze(scopes),
    defaultScopes: defaultScopes === undefined ? undefined : Object.freeze(defaultScopes),
    accessTokenTtl: seconds(`${name}.accessTokenTtl`, value.accessTokenTtl, 300),
  })
}

function resolveSecret (value: unknown): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value instanceof Uint8Array ? Buffer.from(value) : undefined
  if (bytes === undefined || bytes.length < 32) fail('"dpop.nonce.secret" must be a string or bytes of at least 32 bytes, the same on every instance')
  // oidc-provider takes exactly 32 bytes: a longer secret is hashed down to 32.
  return bytes.length === 32 ? bytes : createHash('sha256').update(bytes).digest()
}

function resolveCimd (value: unknown): ResolvedAsOptions['cimd'] {
  if (value === false) return undefined
  const cimd = value ?? {}
  if (!isObject(cimd)) fail('"clients.cimd" must be false or { allowFetch?, lookup? }')
  checkKeys('clients.cimd.', cimd, ['allowFetch', 'lookup'])
  if (cimd.allowFetch !== undefined && typeof cimd.allowFetch !== 'function') fail('"clients.cimd.allowFetch" must be a function (url) => boolean')
  if (cimd.lookup !== undefined && typeof cimd.lookup !== 'function') fail('"clients.cimd.lookup" must be a function (hostname) => Promise<addresses>')
  return Object.freeze({
    allowFetch: (cimd.allowFetch as CimdOptions['allowFetch']) ?? (() => true),
    lookup: (cimd.lookup as Lookup | undefined) ?? defaultLookup,
  })
}

function resolveRegistration (value: unknown): ResolvedAsOptions['registration'] {
  if (value === false) return undefined
  const registration = value ?? {}
  if (!isObject(registration)) fail('"clients.registration" must be false or { enabled?, initialAccessToken?, idleTtl?, perIpPerHour?, bindScope? }')
  checkKeys('clients.registration.', registration, ['enabled', 'initialAccessToken', 'idleTtl', 'perIpPerHour', 'bindScope'])
  if (registration.bindScope !== undefined && typeof registration.bindScope !== 'boolean') fail('"clients.registration.bindScope" must be a boolean')
  if (registration.enabled === false) return undefined
  const token = registration.initialAccessToken
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) fail('"clients.registration.initialAccessToken" must be a string of at least 16 characters')
  return Object.freeze({
    initialAccessToken: token as string | undefined,
    idleTtl: seconds('clients.registration.idleTtl', registration.idleTtl, 30 * 24 * 3600),
    perIpPerHour: count('clients.registration.perIpPerHour', registration.perIpPerHour, 20),
    bindScope: registration.bindScope === true,
  })
}

export function resolveAsOptions (options: McpAuthorizationServerOptions, environment = process.env.NODE_ENV): ResolvedAsOptions {
  if (!isObject(options)) fail('options must be an object such as { issuer, resources, accounts, interactions }')
  checkKeys('', options, TOP_LEVEL)
  const production = environment === 'production'
  const { issuer, issuerUrl, mountPath } = resolveIssuer(options.issuer)
  if (!Array.isArray(options.resources) || options.resources.length === 0) fail('"resources" must list at least one { uri, scopes }')
  const resources = (options.resources as readonly AuthorizationServerResource[]).map(resolveResource)
  if (new Set(resources.map((r) => r.uri)).size !== resources.length) fail('"resources" must not list a URI twice')

  if (!isObject(options.accounts) || typeof options.accounts.find !== 'function') fail('"accounts" must be { find: async (subject) => account | undefined }')
  const interactions = options.interactions
  if (!isObject(interactions) || typeof interactions.login !== 'function' || typeof interactions.consent !== 'function') {
    fail('"interactions" must be { login, consent } (your pages) or developmentInteractions(...)')
  }
  const development = isDevelopmentInteractions(interactions)
  if (development && production) fail('refuses the development login and consent pages under NODE_ENV=production: pass your own "interactions"')
  if (options.signingKeys === undefined && production) fail('needs "signingKeys" under NODE_ENV=production (a generated key changes at every start)')
  const signingKeys = resolveSigningKeys(options.signingKeys)

  let cookieKeys: string[]
  const cookieKeysGenerated = options.cookies === undefined
  if (options.cookies === undefined) {
    if (!development) fail('needs "cookies.keys" (secrets that sign the login and interaction cookies) outside development')
    cookieKeys = [randomBytes(32).toString('base64url')]
  } else {
    const keys = (options.cookies as { keys?: unknown }).keys
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k.length < 32)) {
      fail('"cookies.keys" must be a non-empty array of secrets, each at least 32 characters')
    }
    cookieKeys = [...keys as string[]]
  }

  const clients = options.clients ?? {}
  if (!isObject(clients)) fail('"clients" must be { static?, cimd?, registration? }')
  checkKeys('clients.', clients, ['static', 'cimd', 'registration'])
  const staticClients = clients.static ?? []
  if (!Array.isArray(staticClients) || staticClients.some((c) => !isObject(c) || typeof c.client_id !== 'string')) {
    fail('"clients.static" must be an array of client metadata objects with a "client_id"')
  }

  let dpopNonceSecret: Buffer | undefined
  if (options.dpop !== undefined) {
    if (!isObject(options.dpop)) fail('"dpop" must be { nonce?: { secret } }')
    checkKeys('dpop.', options.dpop, ['nonce'])
    const nonce = options.dpop.nonce
    if (nonce !== undefined) {
      if (!isObject(nonce)) fail('"dpop.nonce" must be { secret }')
      dpopNonceSecret = resolveSecret(nonce.secret)
    }
  }

  let rateLimit: ResolvedAsOptions['rateLimit']
  if (options.rateLimit !== false) {
    const limits = options.rateLimit ?? {}
    if (!isObject(limits)) fail('"rateLimit" must be false or { failedLoginsPerMinute?, tokenPerMinute?, interactionsPerMinute? }')
    checkKeys('rateLimit.', limits, ['failedLoginsPerMinute', 'tokenPerMinute', 'interactionsPerMinute'])
    rateLimit = Object.freeze({
      failedLoginsPerMinute: count('rateLimit.failedLoginsPerMinute', limits.failedLoginsPerMinute, 10),
      tokenPerMinute: count('rateLimit.tokenPerMinute', limits.tokenPerMinute, 300),
      interactionsPerMinute: count('rateLimit.interactionsPerMinute', limits.interactionsPerMinute, 60),
    })
  }

  const ttl = options.ttl ?? {}
  if (!isObject(ttl)) fail('"ttl" must be an object of lifetimes in seconds')
  checkKeys('ttl.', ttl, ['authorizationCode', 'refreshToken', 'session', 'interaction', 'grant'])
  if (options.store !== undefined && typeof options.store !== 'function') fail('"store" must be an adapter factory such as redisAdapter(client)')
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') fail('"onEvent" must be a function')
  if (options.configure !== undefined && typeof options.configure !== 'function') fail('"configure" must be a function (configuration) => void')
  if (options.claims !== undefined && !isObject(options.claims)) fail('"claims" must map scopes to claim names, e.g. { profile: ["name"] }')

  return Object.freeze({
    issuer,
    issuerUrl,
    mountPath,
    resources: Object.freeze(resources),
    signingKeys,
    accounts: options.accounts,
    claims: Object.freeze({ ...options.claims }),
    interactions: options.interactions,
    development,
    staticClients: Object.freeze([...staticClients as StaticClientMetadata[]]),
    cimd: resolveCimd(clients.cimd),
    registration: resolveRegistration(clients.registration),
    dpopNonceSecret,
    cookieKeys: Object.freeze(cookieKeys),
    cookieKeysGenerated,
    store: options.store,
    rateLimit,
    ttl: Object.freeze({
      authorizationCode: seconds('ttl.authorizationCode', ttl.authorizationCode, 60),
      refreshToken: seconds('ttl.refreshToken', ttl.refreshToken, 14 * 24 * 3600),
      session: seconds('ttl.session', ttl.session, 24 * 3600),
      interaction: seconds('ttl.interaction', ttl.interaction, 600),
      grant: seconds('ttl.grant', ttl.grant, 14 * 24 * 3600),
    }),
    idJag: resolveIdJag(options.idJag),
    onEvent: options.onEvent,
    configure: options.configure,
  })
}
