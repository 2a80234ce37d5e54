// createMcpOAuthClient's options, validated, defaulted and frozen once: every
// later step reads the resolved form and does no checking of its own.
import { invalidSetting } from '../errors.js'
import { isLoopbackHost } from '../resource.js'
import { nearest } from '../suggest.js'
import type {
  AssertionContext,
  Authorizer,
  ClientAuthentication,
  ClientMetadata,
  DpopClientOptions,
  IdJagGrantOptions,
  McpOAuthClientOptions,
  McpOAuthGrant,
  PreRegisteredClient,
} from '../../types/client.js'
import { DPOP_ALGORITHMS, dpopKeyFromPair } from './dpop.js'
import { idJagAssertion } from './id-jag.js'
import type { DpopAlgorithm, DpopKey } from './dpop.js'
import { createOutbound } from './outbound.js'
import type { Outbound } from './outbound.js'
import { publicAddressFetch } from './public-fetch.js'
import type { FetchFunction } from './public-fetch.js'
import { isCredentialStore } from './stores/credential-store.js'
import type { CredentialStore } from './stores/credential-store.js'
import { memoryCredentialStore } from './stores/memory-credential-store.js'

export type DpopSetting =
  | { readonly key: 'generate', readonly algorithm: DpopAlgorithm }
  | { readonly key: Promise<DpopKey> }

export interface ResolvedClientOptions {
  readonly owner: string
  readonly preRegistered: (issuer: string) => Promise<PreRegisteredClient | undefined>
  readonly clientMetadataUrl: string | undefined
  /** The DCR request body (defaults applied), or undefined when DCR is not configured. */
  readonly registrationMetadata: Readonly<Record<string, unknown>> | undefined
  readonly authorize: Authorizer | undefined
  readonly redirectUri: string | undefined
  /** The ID-JAG grant arrives here as jwt-bearer with the token exchange as its assertion. */
  readonly grant: ResolvedGrant
  readonly store: CredentialStore
  readonly dpop: DpopSetting | undefined
  readonly maxAttempts: number
  readonly offlineAccess: boolean
  readonly allowMissingPkceMetadata: readonly string[]
  readonly outbound: Outbound
  /** Seconds a token request may take; the refresh lock lives this long plus 5 s. */
  readonly timeout: number
  readonly legacyDiscovery: boolean
}

export type ResolvedGrant = Exclude<McpOAuthGrant, IdJagGrantOptions>

export interface ResolveContext {
  /** Names the caller in errors ("createMcpOAuthClient", "mcpClient"). */
  readonly owner: string
  readonly allowPrivateNetworksByDefault: boolean
  /** The mcpClient plugin completes authorizations itself, through its callback route. */
  readonly authorizationDeferred: boolean
}

const KNOWN = [
  'preRegistered', 'clientMetadataUrl', 'clientMetadata', 'authorize', 'redirectUri', 'grant', 'store', 'dpop',
  'scopes', 'pkce', 'fetch', 'timeout', 'maxResponseBytes', 'allowUrl', 'allowPrivateNetworks', 'legacyDiscovery',
] as const

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']

function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  return value === null ? 'null' : typeof value
}

function checkKeys (owner: string, prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const hint = nearest(key, known)
    throw invalidSetting(`${owner}: "${prefix}${key}" is not a known option${hint === undefined ? '' : `; did you mean "${prefix}${hint}"?`}`)
  }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function httpsOrLoopback (url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

function resolveAuthentication (owner: string, name: string, value: unknown): ClientAuthentication {
  if (value === undefined) return Object.freeze({ method: 'none' })
  if (!isObject(value) || typeof value.method !== 'string' || !AUTH_METHODS.includes(value.method)) {
    throw invalidSetting(`${owner}: ${name} must be { method: ${AUTH_METHODS.map((m) => `'${m}'`).join(' | ')}, … }`)
  }
  if ((value.method === 'client_secret_basic' || value.method === 'client_secret_post') && (typeof value.secret !== 'string' || value.secret === '')) {
    throw invalidSetting(`${owner}: ${name} with method ${value.method} needs a non-empty secret`)
  }
  if (value.method === 'private_key_jwt' && (value.key === undefined || value.key === null)) {
    throw invalidSetting(`${owner}: ${name} with method private_key_jwt needs a key (PEM, JWK or CryptoKey)`)
  }
  return Object.freeze({ ...value }) as ClientAuthentication
}

function resolvePreRegistered (owner: string, value: unknown): (issuer: string) => Promise<PreRegisteredClient | undefined> {
  if (value === undefined) return async () => undefined
  const check = (issuer: string, entry: unknown): PreRegisteredClient => {
    if (!isObject(entry) || typeof entry.clientId !== 'string' || entry.clientId === '') {
      throw invalidSetting(`${owner}: preRegistered[${JSON.stringify(issuer)}] must be { clientId, auth? }`)
    }
    return Object.freeze({ clientId: entry.clientId, auth: resolveAuthentication(owner, `preRegistered[${JSON.stringify(issuer)}].auth`, entry.auth) })
  }
  if (typeof value === 'function') {
    return async (issuer) => {
      const entry = await (value as (issuer: string) => unknown)(issuer)
      return entry === undefined || entry === null ? undefined : check(issuer, entry)
    }
  }
  if (!isObject(value)) throw invalidSetting(`${owner}: preRegistered must be an object keyed by issuer, or a function (issuer) => { clientId, auth }`)
  const table = new Map<string, PreRegisteredClient>()
  for (const [issuer, entry] of Object.entries(value)) {
    try {
      const url = new URL(issuer)
      if (!httpsOrLoopback(url)) throw new Error('scheme')
    } catch {
      throw invalidSetting(`${owner}: preRegistered keys are issuer identifiers (https URLs, http only for loopback); got ${JSON.stringify(issuer)}`)
    }
    table.set(issuer, check(issuer, entry))
  }
  // Exact match: a client registered with one issuer never goes to another (MCP "Authorization Server Binding").
  return async (issuer) => table.get(issuer)
}

function resolveClientMetadataUrl (owner: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  let url: URL | undefined
  try {
    url = new URL(String(value))
  } catch {}
  if (typeof value !== 'string' || url === undefined || url.protocol !== 'https:' || url.pathname === '/' || url.hash !== '') {
    throw invalidSetting(`${owner}: clientMetadataUrl must be an https URL with a path and no fragment (it is the client ID); got ${show(value)}`)
  }
  return value
}

function resolveRedirectUri (owner: string, value: unknown): string {
  let url: URL | undefined
  try {
    url = new URL(String(value))
  } catch {}
  if (typeof value !== 'string' || url === undefined || url.hash !== '' || (url.protocol === 'http:' && !isLoopbackHost(url.hostname))) {
    throw invalidSetting(`${owner}: the redirect URI must be an absolute URL without fragment, https or loopback http (or an app scheme); got ${show(value)}`)
  }
  return value
}

function defaultApplicationType (redirectUri: string | undefined): 'native' | 'web' {
  if (redirectUri === undefined) return 'native'
  const url = new URL(redirectUri)
  return url.protocol === 'https:' && !isLoopbackHost(url.hostname) ? 'web' : 'native'
}

function resolveRegistrationMetadata (owner: string, value: unknown, redirectUri: string | undefined, grant: ResolvedGrant): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined
  if (!isObject(value)) throw invalidSetting(`${owner}: clientMetadata must be an object of RFC 7591 client metadata`)
  const metadata = value as ClientMetadata
  for (const secret of ['client_secret', 'client_id']) {
    if (secret in metadata) throw invalidSetting(`${owner}: clientMetadata must not contain ${secret} (the authorization server assigns it)`)
  }
  if (metadata.application_type !== undefined && metadata.application_type !== 'native' && metadata.application_type !== 'web') {
    throw invalidSetting(`${owner}: clientMetadata.application_type must be 'native' or 'web'`)
  }
  const redirectUris = metadata.redirect_uris ?? (redirectUri === undefined ? undefined : [redirectUri])
  if (grant.type === 'authorization_code' && (!Array.isArray(redirectUris) || redirectUris.length === 0)) {
    throw invalidSetting(`${owner}: clientMetadata.redirect_uris is required for dynamic registration (or set redirectUri / authorize)`)
  }
  // No `scope` is added: an authorization server may hold a client to the scopes it
  // registered with, and step-up must stay possible (DESIGN "Step-up must survive…").
  return Object.freeze({
    ...metadata,
    ...(redirectUris === undefined ? {} : { redirect_uris: [...redirectUris] }),
    application_type: metadata.application_type ?? defaultApplicationType(redirectUris?.[0]),
    grant_types: metadata.grant_types ?? (grant.type === 'authorization_code' ? ['authorization_code', 'refresh_token'] : [grant.type === 'jwt-bearer' ? 'urn:ietf:params:oauth:grant-type:jwt-bearer' : 'client_credentials']),
    response_types: metadata.response_types ?? (grant.type === 'authorization_code' ? ['code'] : []),
    token_endpoint_auth_method: metadata.token_endpoint_auth_method ?? 'none',
  })
}

function resolveIdJag (owner: string, value: Record<string, unknown>, outbound: Outbound): ResolvedGrant {
  checkKeys(owner, 'grant.', value, ['type', 'idp', 'idToken'])
  if (typeof value.idToken !== 'function') throw invalidSetting(`${owner}: grant { type: 'id-jag' } needs idToken: (context) => the user's ID token from the identity provider`)
  const idp = value.idp
  if (!isObject(idp)) throw invalidSetting(`${owner}: grant { type: 'id-jag' } needs idp: { issuer, tokenEndpoint, clientId, auth? }`)
  checkKeys(owner, 'grant.idp.', idp, ['issuer', 'tokenEndpoint', 'clientId', 'auth'])
  for (const name of ['issuer', 'tokenEndpoint'] as const) {
    let url: URL | undefined
    try {
      url = new URL(String(idp[name]))
    } catch {}
    if (typeof idp[name] !== 'string' || url === undefined || !httpsOrLoopback(url)) {
      throw invalidSetting(`${owner}: grant.idp.${name} must be an https URL (http only on loopback); got ${show(idp[name])}`)
    }
  }
  if (typeof idp.clientId !== 'string' || idp.clientId === '') throw invalidSetting(`${owner}: grant.idp.clientId must be this client's ID at the identity provider`)
  const options: IdJagGrantOptions = Object.freeze({
    type: 'id-jag',
    idp: Object.freeze({ issuer: idp.issuer as string, tokenEndpoint: idp.tokenEndpoint as string, clientId: idp.clientId, auth: resolveAuthentication(owner, 'grant.idp.auth', idp.auth) }),
    idToken: value.idToken as IdJagGrantOptions['idToken'],
  })
  return Object.freeze({ type: 'jwt-bearer', assertion: idJagAssertion(options, outbound) })
}

function resolveGrant (owner: string, value: unknown, outbound: Outbound): ResolvedGrant {
  if (value === undefined) return Object.freeze({ type: 'authorization_code' })
  if (isObject(value) && (value.type === 'authorization_code' || value.type === 'client_credentials')) return Object.freeze({ type: value.type })
  if (isObject(value) && value.type === 'jwt-bearer') {
    if (typeof value.assertion !== 'function') throw invalidSetting(`${owner}: grant { type: 'jwt-bearer' } needs assertion: (context) => jwt`)
    const grant: ResolvedGrant = { type: 'jwt-bearer', assertion: value.assertion as (context: AssertionContext) => string | Promise<string> }
    return Object.freeze(grant)
  }
  if (isObject(value) && value.type === 'id-jag') return resolveIdJag(owner, value, outbound)
  throw invalidSetting(`${owner}: grant must be { type: 'authorization_code' | 'client_credentials' }, { type: 'jwt-bearer', assertion } or { type: 'id-jag', idp, idToken }; got ${show(value)}`)
}

function resolveDpop (owner: string, value: unknown): DpopSetting | undefined {
  if (value === undefined || value === false) return undefined
  if (!isObject(value)) throw invalidSetting(`${owner}: dpop must be false or { key: 'generate' | CryptoKeyPair, algorithm? }`)
  checkKeys(owner, 'dpop.', value, ['key', 'algorithm'])
  const { key, algorithm = 'ES256' } = value as unknown as DpopClientOptions
  if (!DPOP_ALGORITHMS.includes(algorithm)) throw invalidSetting(`${owner}: dpop.algorithm must be one of ${DPOP_ALGORITHMS.join(', ')}; got ${show(algorithm)}`)
  if (key === 'generate') return Object.freeze({ key, algorithm })
  if (!isObject(key) || !isObject(key.privateKey) || !isObject(key.publicKey)) {
    throw invalidSetting(`${owner}: dpop.key must be 'generate' or a CryptoKeyPair with an extractable public key`)
  }
  const pair = dpopKeyFromPair(key)
  // Surfaced on first use; never an unhandled rejection meanwhile.
  pair.catch(() => {})
  return Object.freeze({ key: pair })
}

function number (owner: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidSetting(`${owner}: ${name} must be a number between ${min} and ${max}; got ${show(value)}`)
  }
  return value
}

function resolveFunction<T> (owner: string, name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw invalidSetting(`${owner}: ${name} must be a function; got ${show(value)}`)
  return value as T
}

export function resolveClientOptions (input: unknown, context: ResolveContext): ResolvedClientOptions {
  const { owner } = context
  if (!isObject(input)) throw invalidSetting(`${owner}: options must be an object`)
  checkKeys(owner, '', input, KNOWN)
  const options = input as McpOAuthClientOptions

  const allowPrivateNetworks = options.allowPrivateNetworks ?? context.allowPrivateNetworksByDefault
  if (typeof allowPrivateNetworks !== 'boolean') throw invalidSetting(`${owner}: allowPrivateNetworks must be a boolean`)
  const customFetch = resolveFunction<FetchFunction>(owner, 'fetch', options.fetch)
  if (customFetch !== undefined && !allowPrivateNetworks) {
    // The address check happens inside the built-in transport's connection; a caller's fetch cannot be held to it.
    throw invalidSetting(`${owner}: a custom fetch cannot enforce allowPrivateNetworks: false; drop fetch, or set allowPrivateNetworks: true and filter addresses in your fetch`)
  }
  const baseFetch: FetchFunction = customFetch ?? (allowPrivateNetworks ? (input, init) => globalThis.fetch(input, init) : publicAddressFetch)

  const timeout = number(owner, 'timeout (seconds)', options.timeout, 5, 0.001, 120)
  // Every request goes through it: the MCP server's, its authorization server's and an identity provider's.
  const outbound = createOutbound({
    fetch: baseFetch,
    timeoutMs: timeout * 1000,
    maxBytes: number(owner, 'maxResponseBytes', options.maxResponseBytes, 1024 * 1024, 1024, 64 * 1024 * 1024),
    allowUrl: resolveFunction(owner, 'allowUrl', options.allowUrl),
  })
  const grant = resolveGrant(owner, options.grant, outbound)
  const authorize = resolveFunction<Authorizer>(owner, 'authorize', options.authorize)
  if (grant.type === 'authorization_code' && authorize === undefined && !context.authorizationDeferred) {
    throw invalidSetting(`${owner}: authorize is required for the authorization-code grant (e.g. loopbackAuthorizer({ port, open })), or choose grant: { type: 'client_credentials' }, { type: 'jwt-bearer', assertion } or { type: 'id-jag', idp, idToken }`)
  }
  const rawRedirect = options.redirectUri ?? authorize?.redirectUri ?? options.clientMetadata?.redirect_uris?.[0]
  const redirectUri = rawRedirect === undefined ? undefined : resolveRedirectUri(owner, rawRedirect)
  if (grant.type === 'authorization_code' && redirectUri === undefined) {
    throw invalidSetting(`${owner}: no redirect URI: set redirectUri, use an authorizer that has one, or list clientMetadata.redirect_uris`)
  }

  const store = options.store ?? memoryCredentialStore()
  if (!isCredentialStore(store)) throw invalidSetting(`${owner}: store must be a CredentialStore (memoryCredentialStore(), redisCredentialStore(client, options))`)

  const scopes = options.scopes ?? {}
  if (!isObject(scopes)) throw invalidSetting(`${owner}: scopes must be { maxAttempts?, offlineAccess? }`)
  checkKeys(owner, 'scopes.', scopes, ['maxAttempts', 'offlineAccess'])
  const pkce = options.pkce ?? {}
  if (!isObject(pkce)) throw invalidSetting(`${owner}: pkce must be { allowMissingMetadata? }`)
  checkKeys(owner, 'pkce.', pkce, ['allowMissingMetadata'])
  const allowMissing = pkce.allowMissingMetadata ?? []
  if (!Array.isArray(allowMissing) || !allowMissing.every((issuer) => typeof issuer === 'string')) {
    throw invalidSetting(`${owner}: pkce.allowMissingMetadata must be an array of issuer identifiers`)
  }
  if (scopes.offlineAccess !== undefined && typeof scopes.offlineAccess !== 'boolean') throw invalidSetting(`${owner}: scopes.offlineAccess must be a boolean`)
  if (options.legacyDiscovery !== undefined && typeof options.legacyDiscovery !== 'boolean') throw invalidSetting(`${owner}: legacyDiscovery must be a boolean`)

  return Object.freeze({
    owner,
    preRegistered: resolvePreRegistered(owner, options.preRegistered),
    clientMetadataUrl: resolveClientMetadataUrl(owner, options.clientMetadataUrl),
    registrationMetadata: resolveRegistrationMetadata(owner, options.clientMetadata, redirectUri, grant),
    authorize,
    redirectUri,
    grant,
    store,
    dpop: resolveDpop(owner, options.dpop),
    maxAttempts: number(owner, 'scopes.maxAttempts', scopes.maxAttempts, 3, 1, 10),
    offlineAccess: scopes.offlineAccess ?? true,
    allowMissingPkceMetadata: Object.freeze([...allowMissing]),
    outbound,
    timeout,
    legacyDiscovery: options.legacyDiscovery ?? false,
  })
}
