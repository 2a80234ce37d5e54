// Validates and defaults the user's options once, at registration. Every
// message names the option, what was received (never a secret) and the fix.
// The result is frozen and closed over by the hooks: no option work per request.
import { KeyObject } from 'node:crypto'
import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import type { CryptoKey, JSONWebKeySet, JWTVerifyGetKey } from 'jose'
import type { DpopNonceProvider } from './dpop/nonce.js'
import { createHmacNonceProvider } from './dpop/nonce.js'
import { invalidOption } from './errors.js'
import { hasPrivateMembers } from './jwk-thumbprint.js'
import { SCOPE_TOKEN } from './scopes.js'
import type { KeySource } from './key-resolver.js'
import { normalizeMediaType } from './compact-jws.js'
import type { ParsedResource } from './resource.js'
import { audienceKey, isLoopbackHost, parseResource } from './resource.js'
import { nearest } from './suggest.js'
import { MemoryReplayStore } from './stores/memory-replay-store.js'
import { MemorySessionStore } from './stores/memory-session-store.js'
import type { ReplayStore } from './stores/replay-store.js'
import type { SessionStore } from './stores/session-store.js'
import { ReadonlyURL } from './readonly-url.js'
import { routerPattern } from './uri-path.js'
import { protectedResourceMetadataPath, protectedResourceMetadataUrl } from './well-known.js'
import type { McpAuthOptions, ResourceOptions } from '../types/index.js'

export interface ResolvedResource {
  readonly parsed: ParsedResource
  /** Canonical URI, as advertised in metadata and on request.mcp.resource. */
  readonly uri: string
  /** The same as a read-only URL, shared by every request's AuthInfo.resource. */
  readonly url: URL
  readonly audienceKeys: ReadonlySet<string>
  readonly authorizationServers: readonly string[]
  readonly issuers: ReadonlySet<string>
  readonly scopesSupported: readonly string[] | undefined
  readonly resourceName: string | undefined
  readonly resourceDocumentation: string | undefined
  /** Absolute URL advertised in `resource_metadata`. */
  readonly metadataUrl: string
  /** Path of the metadata document on this origin, in RFC 3986 form. */
  readonly metadataPath: string
  /** The same as the route pattern Fastify's router matches (decoded, ":" doubled). */
  readonly metadataRoute: string
  /** True when the user supplied metadataUrl (no local route is required). */
  readonly externalMetadata: boolean
  /** Extra RFC 9728 fields. */
  readonly extraMetadata: Readonly<Record<string, unknown>> | undefined
}

export interface ResolvedMetadata {
  readonly root: ResolvedResource | undefined
  readonly cacheMaxAge: number
  readonly authorizationServerMirror: boolean
}

export type Verification =
  | { readonly kind: 'jwt' }
  | { readonly kind: 'custom', readonly verifyToken: NonNullable<McpAuthOptions['verifyToken']> }
  | {
    readonly kind: 'introspection'
    readonly endpoint: string | undefined
    readonly clientId: string
    readonly clientSecret: string
    readonly cacheTtl: number
    readonly timeoutMs: number
    readonly negativeCacheTtl: number
    readonly negativeCacheMaxEntries: number
    readonly maxConcurrent: number
  }

export interface ResolvedDpop {
  readonly required: boolean
  readonly algorithms: ReadonlySet<string>
  readonly algorithmList: readonly string[]
  readonly iatWindow: number
  readonly replayStore: ReplayStore | undefined
  /** True when we created the store (so we close it). */
  readonly ownsReplayStore: boolean
  readonly nonce: DpopNonceProvider | undefined
  readonly maxJtiLength: number
  readonly maxProofLength: number
}

export interface ResolvedSessionBinding {
  readonly store: SessionStore
  /** True when we created the store (so we close it). */
  readonly ownsStore: boolean
  /** Seconds. */
  readonly idleTtl: number
}

export interface ResolvedOptions {
  readonly resources: readonly ResolvedResource[]
  readonly issuers: ReadonlySet<string>
  readonly keySource: KeySource
  readonly network: {
    readonly timeoutMs: number
    readonly cooldownMs: number
    readonly maxAgeMs: number
    readonly staleIfErrorMs: number
  }
  /** When discovery and JWKS fetches start: at ready() in the background, at ready() awaited, or at the first request. */
  readonly warmUp: 'background' | 'required' | false
  readonly algorithms: ReadonlySet<string>
  readonly tokenTypes: ReadonlySet<string>
  readonly clockTolerance: number
  readonly secret: Uint8Array | KeyObject | CryptoKey | undefined
  readonly verification: Verification
  readonly dpop: ResolvedDpop | undefined
  readonly certificate: NonNullable<NonNullable<McpAuthOptions['mtls']>['certificate']> | undefined
  /** The `mtls` option is present: metadata advertises certificate-bound tokens. */
  readonly mtls: boolean
  /** undefined when `metadata: false`. */
  readonly metadata: ResolvedMetadata | undefined
  readonly onEvent: McpAuthOptions['onEvent']
  /** Options for @fastify/under-pressure, or undefined when off. */
  readonly underPressure: Readonly<Record<string, unknown>> | undefined
  readonly healthRoute: string | undefined
  readonly principal: McpAuthOptions['principal']
  readonly errorRenderer: McpAuthOptions['errorRenderer']
  readonly scopeMatching: 'hierarchical' | 'exact'
  readonly scopeWildcards: boolean
  readonly tokenCacheSize: number
  /** Seconds any verified-token cache entry is trusted without a new verification. */
  readonly tokenCacheMaxAge: number
  readonly maxTokenLength: number
  readonly retryAfter: number
  readonly sessionBinding: ResolvedSessionBinding | undefined
}

export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
])
const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512']
export const DEFAULT_ACCESS_TOKEN_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
])
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'])

const KNOWN_OPTIONS = [
  'resource', 'authorizationServers', 'jwks', 'algorithms', 'tokenTypes', 'clockTolerance', 'secret',
  'verifyToken', 'introspection', 'dpop', 'mtls', 'principal', 'errorRenderer', 'scopeMatching',
  'scopeWildcards', 'tokenCache', 'maxTokenLength', 'retryAfter', 'metadata', 'onEvent', 'underPressure', 'healthRoute',
  'sessionBinding',
] as const
const RESOURCE_KEYS = ['resource', 'scopesSupported', 'resourceName', 'resourceDocumentation', 'audiences', 'authorizationServers', 'resourceMetadataUrl', 'metadata']
const METADATA_KEYS = ['root', 'cacheMaxAge', 'authorizationServerMirror']
const JWKS_TUNING = ['timeout', 'cooldown', 'cacheMaxAge', 'staleIfError', 'warmUp']
const DPOP_KEYS = ['required', 'algorithms', 'iatWindow', 'replayStore', 'nonce']
const INTROSPECTION_KEYS = ['endpoint', 'clientId', 'clientSecret', 'cacheTtl', 'timeout', 'negativeCacheTtl', 'negativeCacheMaxEntries', 'maxConcurrent']
// Fastify passes its own register options (prefix…) to fastify-plugin plugins too.
const FASTIFY_REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers'])

export function resolveOptions (input: McpAuthOptions | undefined): ResolvedOptions {
  if (typeof input !== 'object' || input === null) {
    throw invalidOption('object is required: pass { resource, authorizationServers }')
  }
  const options = input as unknown as Record<string, unknown>
  checkKeys('', options, KNOWN_OPTIONS, FASTIFY_REGISTER_KEYS)

  const topServers = options.authorizationServers === undefined
    ? undefined
    : issuerList('"authorizationServers"', options.authorizationServers)
  const resources = resolveResources(options.resource, topServers)
  const issuers = new Set(resources.flatMap((r) => r.authorizationServers))

  const secret = resolveSecret(options.secret)
  const algorithms = resolveAlgorithms(options.algorithms, secret !== undefined)
  const tokenTypes = stringList('"tokenTypes"', options.tokenTypes ?? ['at+jwt'], 'e.g. ["at+jwt", "JWT"]')
  const clockTolerance = seconds('"clockTolerance"', options.clockTolerance, 5, 0, 600)
  const { keySource, network, warmUp } = resolveJwks(options.jwks)
  const verification = resolveVerification(options, issuers)
  if (verification.kind !== 'jwt' && isConfiguredJwks(options.jwks)) {
    throw invalidOption(`"jwks" has no effect with "${verification.kind === 'custom' ? 'verifyToken' : 'introspection'}": remove one of them`)
  }

  const dpop = resolveDpop(options.dpop)
  const certificate = resolveMtls(options.mtls)
  optionalFunction('"principal"', options.principal)
  optionalFunction('"errorRenderer"', options.errorRenderer)
  optionalFunction('"onEvent"', options.onEvent)
  const scopeMatching = options.scopeMatching ?? 'hierarchical'
  if (scopeMatching !== 'hierarchical' && scopeMatching !== 'exact') {
    throw invalidOption(`"scopeMatching" must be "hierarchical" or "exact"; got ${show(scopeMatching)}`)
  }

  return Object.freeze({
    resources,
    issuers,
    keySource,
    network,
    warmUp,
    algorithms: new Set(algorithms),
    tokenTypes: new Set(tokenTypes.map(normalizeMediaType)),
    clockTolerance,
    secret,
    verification,
    dpop,
    certificate,
    mtls: options.mtls !== undefined,
    metadata: resolveMetadata(options.metadata, resources),
    onEvent: options.onEvent as McpAuthOptions['onEvent'],
    underPressure: resolveUnderPressure(options.underPressure),
    healthRoute: resolveHealthRoute(options.healthRoute),
    principal: options.principal as McpAuthOptions['principal'],
    errorRenderer: options.errorRenderer as McpAuthOptions['errorRenderer'],
    scopeMatching,
    scopeWildcards: booleanOption('"scopeWildcards"', options.scopeWildcards),
    ...resolveTokenCache(options.tokenCache),
    maxTokenLength: integer('"maxTokenLength"', options.maxTokenLength, 8192, 256, 65536),
    retryAfter: integer('"retryAfter"', options.retryAfter, 5, 0, 86400),
    sessionBinding: resolveSessionBinding(options.sessionBinding),
  })
}

function resolveResources (value: unknown, topServers: readonly string[] | undefined): ResolvedResource[] {
  if (value === undefined) {
    throw invalidOption('"resource" is required: the canonical URI of this MCP server, e.g. "https://mcp.example.com/mcp"')
  }
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw invalidOption('"resource" must list at least one resource URI')
  const seenPaths = new Map<string, string>()
  const resolved = list.map((item: unknown, index) => {
    const base = Array.isArray(value) ? `resource[${index}]` : 'resource'
    const name = `"${base}"`
    const field = (member: string): string => `"${base}.${member}"`
    const entry: ResourceOptions = typeof item === 'string' ? { resource: item } : item as ResourceOptions
    if (typeof entry !== 'object' || entry === null) {
      throw invalidOption(`${name} must be a URI string or { resource, … }; got ${show(item)}`)
    }
    checkKeys(base + '.', entry as unknown as Record<string, unknown>, RESOURCE_KEYS)
    const uriName = typeof item === 'string' ? name : field('resource')
    const parsed = parseResource(entry.resource)
    if (typeof parsed === 'string') throw invalidOption(`${uriName} ${parsed}`)
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(parsed.uri)) {
      throw invalidOption(`${uriName} must be ASCII without quotes or backslashes; percent-encode other characters`)
    }
    const servers = entry.authorizationServers === undefined
      ? topServers
      : issuerList(field('authorizationServers'), entry.authorizationServers)
    if (servers === undefined) {
      throw invalidOption('"authorizationServers" is required: the issuer identifiers whose tokens this server accepts, e.g. ["https://auth.example.com"]')
    }
    const previous = seenPaths.get(parsed.path)
    if (previous !== undefined) {
      throw invalidOption(`${name} has the same path as ${previous} (${show(parsed.path)}); the request path must pick one resource`)
    }
    seenPaths.set(parsed.path, name)
    const audiences = stringList(field('audiences'), entry.audiences ?? [], 'extra audience values')
    const keys = new Set<string>()
    for (const aud of [parsed.uri, ...audiences]) {
      const key = audienceKey(aud)
      if (key === undefined) throw invalidOption(`${field('audiences')} must not contain a fragment; got ${show(aud)}`)
      keys.add(key)
    }
    const scopesSupported = entry.scopesSupported === undefined
      ? undefined
      : scopeList(field('scopesSupported'), entry.scopesSupported)
    return Object.freeze({
      parsed,
      uri: parsed.uri,
      url: new ReadonlyURL(parsed.uri),
      audienceKeys: keys,
      authorizationServers: Object.freeze([...servers]),
      issuers: new Set(servers),
      scopesSupported,
      resourceName: optionalString(field('resourceName'), entry.resourceName),
      resourceDocumentation: optionalUrl(field('resourceDocumentation'), entry.resourceDocumentation),
      metadataUrl: entry.resourceMetadataUrl === undefined
        ? protectedResourceMetadataUrl(parsed)
        : endpointUrl(field('resourceMetadataUrl'), entry.resourceMetadataUrl),
      metadataPath: protectedResourceMetadataPath(parsed),
      // parseResource refuses the paths no route can match.
      metadataRoute: routerPattern(protectedResourceMetadataPath(parsed)) as string,
      externalMetadata: entry.resourceMetadataUrl !== undefined,
      extraMetadata: resolveExtraMetadata(field('metadata'), entry.metadata),
    })
  })
  return resolved
}

function resolveExtraMetadata (name: string, value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(`${name} must be an object of extra RFC 9728 fields; got ${show(value)}`)
  }
  if ('resource' in value) throw invalidOption(`${name} must not set "resource": it is always the canonical resource URI`)
  return Object.freeze(structuredClone(value as Record<string, unknown>))
}

export function resolveMetadata (value: unknown, resources: readonly ResolvedResource[]): ResolvedMetadata | undefined {
  if (value === false) return undefined
  const m = (value ?? {}) as Record<string, unknown>
  if (typeof m !== 'object' || m === null) throw invalidOption('"metadata" must be false or { root, cacheMaxAge, authorizationServerMirror }')
  checkKeys('metadata.', m, METADATA_KEYS)
  return Object.freeze({
    root: resolveRootDocument('"metadata.root"', m.root, resources),
    cacheMaxAge: integer('"metadata.cacheMaxAge"', m.cacheMaxAge, 3600, 0, 31536000),
    authorizationServerMirror: booleanOption('"metadata.authorizationServerMirror"', m.authorizationServerMirror),
  })
}

/** Which resource's document the root well-known URL serves. */
export function resolveRootDocument (name: string, value: unknown, resources: readonly ResolvedResource[]): ResolvedResource | undefined {
  if (value === false) return undefined
  if (value === undefined || value === 'first') return resources[0]
  const match = typeof value === 'string' ? resources.find((r) => r.uri === value || r.uri === parseResourceUri(value)) : undefined
  if (match === undefined) {
    throw invalidOption(`${name} must be 'first', false, or one of the configured resources (${resources.map((r) => r.uri).join(', ')}); got ${show(value)}`)
  }
  return match
}

function parseResourceUri (value: string): string | undefined {
  const parsed = parseResource(value)
  return typeof parsed === 'string' ? undefined : parsed.uri
}

function booleanOption (name: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidOption(`${name} must be a boolean; got ${show(value)}`)
  return value
}

function issuerList (name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption(`${name} must be a non-empty array of issuer identifiers, e.g. ["https://auth.example.com"]; got ${show(value)}`)
  }
  for (const issuer of value) {
    if (typeof issuer !== 'string') throw invalidOption(`${name} entries must be strings; got ${show(issuer)}`)
    let url: URL
    try {
      url = new URL(issuer)
    } catch {
      throw invalidOption(`${name} entries must be absolute https URLs (the exact "iss" value); got ${show(issuer)}`)
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw invalidOption(`${name} entries must use https (http only for loopback hosts); got ${show(issuer)}`)
    }
    if (url.search !== '' || url.hash !== '') {
      throw invalidOption(`${name} entries must not have a query or fragment (RFC 8414 §2); got ${show(issuer)}`)
    }
  }
  return Object.freeze([...new Set(value as string[])])
}

function resolveSecret (value: unknown): Uint8Array | KeyObject | CryptoKey | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' || value instanceof Uint8Array) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    if (bytes.byteLength < 32) throw invalidOption('"secret" must be at least 32 bytes (RFC 7518 §3.2); use a longer random secret')
    return new Uint8Array(bytes)
  }
  if (value instanceof KeyObject) {
    if (value.type !== 'secret') throw invalidOption('"secret" must be a secret key; asymmetric keys belong in "jwks"')
    return value
  }
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'secret') return value as CryptoKey
  throw invalidOption('"secret" must be a string, Uint8Array or secret KeyObject of at least 32 bytes')
}

function resolveAlgorithms (value: unknown, hasSecret: boolean): readonly string[] {
  if (value === undefined) return DEFAULT_ACCESS_TOKEN_ALGORITHMS
  const list = stringList('"algorithms"', value, 'e.g. ["RS256", "ES256"]')
  if (list.length === 0) throw invalidOption('"algorithms" must list at least one algorithm')
  for (const alg of list) {
    if (alg.toLowerCase() === 'none') throw invalidOption('"algorithms" must not contain "none": unsigned tokens are never accepted (RFC 9068 §4)')
    if (HMAC_ALGORITHMS.includes(alg)) {
      if (!hasSecret) throw invalidOption(`"algorithms" lists ${alg}, which needs a shared key: set "secret", or remove ${alg}`)
    } else if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw invalidOption(`"algorithms" has unknown algorithm ${show(alg)}; supported: ${[...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS].join(', ')}`)
    }
  }
  return list
}

function resolveJwks (value: unknown): { keySource: KeySource, network: ResolvedOptions['network'], warmUp: ResolvedOptions['warmUp'] } {
  let keySource: KeySource = { kind: 'discovery' }
  let tuning: Record<string, unknown> = {}
  if (typeof value === 'function') {
    keySource = { kind: 'function', getKey: value as JWTVerifyGetKey }
  } else if (value !== undefined) {
    if (typeof value !== 'object' || value === null) {
      throw invalidOption('"jwks" must be { uri }, { keys }, a jose key function, or omitted to discover jwks_uri')
    }
    tuning = value as Record<string, unknown>
    checkKeys('jwks.', tuning, ['uri', 'keys', ...JWKS_TUNING])
    if (tuning.uri !== undefined && tuning.keys !== undefined) throw invalidOption('"jwks" takes either "uri" or "keys", not both')
    if (tuning.uri !== undefined) {
      keySource = { kind: 'uri', uri: endpointUrl('"jwks.uri"', tuning.uri) }
    } else if (tuning.keys !== undefined) {
      keySource = { kind: 'keys', keys: checkJwks(tuning.keys) }
    }
  }
  return {
    keySource,
    network: Object.freeze({
      timeoutMs: seconds('"jwks.timeout"', tuning.timeout, 5, 0.001, 60) * 1000,
      cooldownMs: seconds('"jwks.cooldown"', tuning.cooldown, 30, 0, 3600) * 1000,
      maxAgeMs: seconds('"jwks.cacheMaxAge"', tuning.cacheMaxAge, 600, 1, 604800) * 1000,
      staleIfErrorMs: seconds('"jwks.staleIfError"', tuning.staleIfError, 86400, 0, 604800) * 1000,
    }),
    warmUp: resolveWarmUp(tuning.warmUp),
  }
}

function resolveWarmUp (value: unknown): ResolvedOptions['warmUp'] {
  if (value === undefined) return 'background'
  if (value !== 'background' && value !== 'required' && value !== false) {
    throw invalidOption(`"jwks.warmUp" must be 'background' (fetch at ready() without waiting), 'required' (ready() fails without keys) or false (fetch at the first request); got ${show(value)}`)
  }
  return value
}

function isConfiguredJwks (value: unknown): boolean {
  return typeof value === 'function' ||
    (typeof value === 'object' && value !== null && ('uri' in value || 'keys' in value))
}

function checkJwks (value: unknown): JSONWebKeySet {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption('"jwks.keys" must be a non-empty array of public JWKs: jwks: { keys: [ … ] }')
  }
  for (const key of value) {
    if (typeof key !== 'object' || key === null || typeof (key as { kty?: unknown }).kty !== 'string') {
      throw invalidOption('"jwks.keys" entries must be JWK objects with a "kty"')
    }
    const jwk = key as Record<string, unknown>
    if (jwk.kty === 'oct' || hasPrivateMembers(jwk)) {
      throw invalidOption('"jwks.keys" must hold public keys only; remove private or symmetric members (use "secret" for HS*)')
    }
  }
  return { keys: structuredClone(value) } as JSONWebKeySet
}

function resolveVerification (options: Record<string, unknown>, issuers: ReadonlySet<string>): Verification {
  const { verifyToken, introspection } = options
  if (verifyToken !== undefined && introspection !== undefined) {
    throw invalidOption('"verifyToken" and "introspection" are alternatives: configure one of them')
  }
  if (verifyToken !== undefined) {
    optionalFunction('"verifyToken"', verifyToken)
    return { kind: 'custom', verifyToken: verifyToken as NonNullable<McpAuthOptions['verifyToken']> }
  }
  if (introspection === undefined) return { kind: 'jwt' }
  if (typeof introspection !== 'object' || introspection === null) {
    throw invalidOption('"introspection" must be { endpoint, clientId, clientSecret, cacheTtl }')
  }
  const i = introspection as Record<string, unknown>
  checkKeys('introspection.', i, INTROSPECTION_KEYS)
  const endpoint = i.endpoint === undefined ? undefined : endpointUrl('"introspection.endpoint"', i.endpoint)
  if (endpoint === undefined && issuers.size !== 1) {
    throw invalidOption('"introspection.endpoint" is required when more than one authorization server is configured')
  }
  if (typeof i.clientId !== 'string' || i.clientId === '') throw invalidOption('"introspection.clientId" must be a non-empty string')
  if (typeof i.clientSecret !== 'string' || i.clientSecret === '') {
    throw invalidOption('"introspection.clientSecret" must be a non-empty string (the resource server\'s own credential)')
  }
  return {
    kind: 'introspection',
    endpoint,
    clientId: i.clientId,
    clientSecret: i.clientSecret,
    cacheTtl: seconds('"introspection.cacheTtl"', i.cacheTtl, 60, 0, 86400),
    timeoutMs: seconds('"introspection.timeout"', i.timeout, 5, 0.001, 60) * 1000,
    negativeCacheTtl: seconds('"introspection.negativeCacheTtl"', i.negativeCacheTtl, 10, 0, 3600),
    negativeCacheMaxEntries: integer('"introspection.negativeCacheMaxEntries"', i.negativeCacheMaxEntries, 10_000, 1, 10_000_000),
    maxConcurrent: integer('"introspection.maxConcurrent"', i.maxConcurrent, 32, 1, 10_000),
  }
}

function resolveDpop (value: unknown): ResolvedDpop | undefined {
  if (value === false) return undefined
  const d = (value ?? {}) as Record<string, unknown>
  if (typeof d !== 'object' || d === null) throw invalidOption('"dpop" must be false or { required, algorithms, iatWindow, replayStore, nonce }')
  checkKeys('dpop.', d, DPOP_KEYS)
  if (d.required !== undefined && typeof d.required !== 'boolean') throw invalidOption(`"dpop.required" must be a boolean; got ${show(d.required)}`)
  const algorithmList = d.algorithms === undefined ? DEFAULT_DPOP_ALGORITHMS : stringList('"dpop.algorithms"', d.algorithms, 'e.g. ["ES256"]')
  if (algorithmList.length === 0) throw invalidOption('"dpop.algorithms" must list at least one algorithm')
  for (const alg of algorithmList) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw invalidOption(`"dpop.algorithms" allows asymmetric algorithms only (RFC 9449 §4.2); got ${show(alg)}`)
    }
  }
  let replayStore: ReplayStore | undefined
  let ownsReplayStore = false
  if (d.replayStore === undefined) {
    replayStore = new MemoryReplayStore()
    ownsReplayStore = true
  } else if (d.replayStore !== false) {
    if (typeof (d.replayStore as ReplayStore | null)?.claim !== 'function') {
      throw invalidOption('"dpop.replayStore" must have a claim(key, ttlSeconds) method (e.g. new MemoryReplayStore()), or be false')
    }
    replayStore = d.replayStore as ReplayStore
  }
  return Object.freeze({
    required: d.required === true,
    algorithms: new Set(algorithmList),
    algorithmList: Object.freeze([...algorithmList]),
    iatWindow: seconds('"dpop.iatWindow"', d.iatWindow, 300, 1, 3600),
    replayStore,
    ownsReplayStore,
    nonce: resolveNonce(d.nonce),
    maxJtiLength: 256,
    maxProofLength: 8192,
  })
}

function resolveNonce (value: unknown): DpopNonceProvider | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) {
    throw invalidOption('"dpop.nonce" must be { secret } or a provider { issue(), check(nonce) }')
  }
  const n = value as Record<string, unknown>
  if (typeof n.issue === 'function' && typeof n.check === 'function') return value as DpopNonceProvider
  checkKeys('dpop.nonce.', n, ['secret', 'step'])
  const secret = n.secret
  const length = typeof secret === 'string' ? Buffer.byteLength(secret) : secret instanceof Uint8Array ? secret.byteLength : -1
  if (length < 32) {
    throw invalidOption('"dpop.nonce.secret" must be a string or Uint8Array of at least 32 bytes, shared by every instance')
  }
  return createHmacNonceProvider({
    secret: secret as string | Uint8Array,
    step: seconds('"dpop.nonce.step"', n.step, 60, 1, 3600),
  })
}

function resolveMtls (value: unknown): ResolvedOptions['certificate'] {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) throw invalidOption('"mtls" must be { certificate?: (request) => DER | PEM | null }')
  checkKeys('mtls.', value as Record<string, unknown>, ['certificate'])
  const certificate = (value as { certificate?: unknown }).certificate
  optionalFunction('"mtls.certificate"', certificate)
  return certificate as ResolvedOptions['certificate']
}

// Defaults that shed load well before a process falls over, and never on a healthy one:
// a request that would wait a second for the event loop, or a heap (or the container's
// memory) nearly full. Event-loop utilisation is not a default: a healthy process at full
// throughput, or one that shares its loop with other work, reads close to 1.0.
function defaultUnderPressure (): Record<string, number> {
  const defaults: Record<string, number> = {
    maxEventLoopDelay: 1000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
  }
  // process.constrainedMemory(): the cgroup limit, or a huge sentinel when there is none.
  const limit = process.constrainedMemory?.() ?? 0
  if (limit > 0 && limit < totalmem()) defaults.maxRssBytes = Math.floor(limit * 0.9)
  return defaults
}

function resolveUnderPressure (value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined || value === false) return undefined
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('"underPressure" must be true, false, or @fastify/under-pressure options')
  }
  const custom = value === true ? {} : value as Record<string, unknown>
  for (const key of ['pressureHandler', 'customError', 'message']) {
    if (key in custom) throw invalidOption(`"underPressure.${key}" is set by mcpAuth (overload answers are OAuth-style 503s); remove it`)
  }
  return Object.freeze({ ...defaultUnderPressure(), ...custom })
}

function resolveHealthRoute (value: unknown): string | undefined {
  if (value === undefined || value === false) return undefined
  if (typeof value !== 'string' || !value.startsWith('/')) throw invalidOption(`"healthRoute" must be a path such as "/health", or false; got ${show(value)}`)
  return value
}

function resolveTokenCache (value: unknown): { tokenCacheSize: number, tokenCacheMaxAge: number } {
  if (value === false) return { tokenCacheSize: 0, tokenCacheMaxAge: 300 }
  if (value === undefined) return { tokenCacheSize: 10_000, tokenCacheMaxAge: 300 }
  if (typeof value !== 'object' || value === null) throw invalidOption('"tokenCache" must be false or { maxEntries, maxAge }')
  const cache = value as Record<string, unknown>
  checkKeys('tokenCache.', cache, ['maxEntries', 'maxAge'])
  return {
    tokenCacheSize: integer('"tokenCache.maxEntries"', cache.maxEntries, 10_000, 1, 10_000_000),
    tokenCacheMaxAge: seconds('"tokenCache.maxAge"', cache.maxAge, 300, 1, 86400),
  }
}

function resolveSessionBinding (value: unknown): ResolvedSessionBinding | undefined {
  if (value === undefined || value === false) return undefined
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption(`"sessionBinding" must be true, false or { store, idleTtl }; got ${show(value)}`)
  }
  const s = value === true ? {} : value as Record<string, unknown>
  checkKeys('sessionBinding.', s, ['store', 'idleTtl'])
  const idleTtl = integer('"sessionBinding.idleTtl"', s.idleTtl, 3600, 1, 2_592_000)
  if (s.store === undefined) return Object.freeze({ store: new MemorySessionStore(), ownsStore: true, idleTtl })
  const store = s.store as Partial<Record<keyof SessionStore, unknown>> | null
  if (typeof store !== 'object' || store === null || ['create', 'get', 'refresh', 'delete'].some((m) => typeof store[m as keyof SessionStore] !== 'function')) {
    throw invalidOption('"sessionBinding.store" must be a session store with create, get, refresh and delete methods (new MemorySessionStore() or new RedisSessionStore({ client }))')
  }
  return Object.freeze({ store: s.store as SessionStore, ownsStore: false, idleTtl })
}

// ——— small validators ———

function checkKeys (prefix: string, value: Record<string, unknown>, known: readonly string[], ignored?: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || ignored?.has(key)) continue
    const hint = nearest(key, known)
    throw invalidOption(`"${prefix}${key}" is not a known option${hint === undefined ? '' : `; did you mean "${prefix}${hint}"?`}`)
  }
}

function stringList (name: string, value: unknown, example: string): readonly string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw invalidOption(`${name} must be an array of non-empty strings (${example}); got ${show(value)}`)
  }
  return Object.freeze([...value as string[]])
}

function scopeList (name: string, value: unknown): readonly string[] {
  const list = stringList(name, value, 'e.g. ["mcp:tools:read"]')
  for (const scope of list) {
    if (!SCOPE_TOKEN.test(scope)) throw invalidOption(`${name} has an invalid scope token ${show(scope)} (RFC 6749 §3.3: no spaces, quotes or backslashes)`)
  }
  // MCP 2026-07-28 §10: never advertise offline_access.
  return Object.freeze(list.filter((s) => s !== 'offline_access'))
}

function seconds (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidOption(`${name} must be a number of seconds between ${min} and ${max}; got ${show(value)}`)
  }
  return value
}

function integer (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalidOption(`${name} must be an integer between ${min} and ${max}; got ${show(value)}`)
  }
  return value as number
}

function optionalFunction (name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(`${name} must be a function; got ${show(value)}`)
}

function optionalString (name: string, value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalidOption(`${name} must be a non-empty string; got ${show(value)}`)
  return value as string | undefined
}

function optionalUrl (name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  try {
    if (typeof value === 'string' && /^https?:$/.test(new URL(value).protocol)) return value
  } catch {}
  throw invalidOption(`${name} must be an absolute http(s) URL; got ${show(value)}`)
}

function endpointUrl (name: string, value: unknown): string {
  let url: URL | undefined
  try {
    // Printable ASCII without quotes or backslashes: these URLs reach challenges and logs.
    url = typeof value === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value) ? new URL(value) : undefined
  } catch {}
  if (url !== undefined && (url.username !== '' || url.password !== '')) throw invalidOption(`${name} must not contain user information (user:password@)`)
  if (url === undefined) throw invalidOption(`${name} must be an absolute https URL (printable ASCII, no quotes); got ${show(value)}`)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw invalidOption(`${name} must use https (http only for loopback hosts); got ${show(value)}`)
  }
  return value as string
}

function show (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try {
    const text = JSON.stringify(value)
    if (text === undefined) return String(value)
    return text.length > 80 ? text.slice(0, 77) + '...' : text
  } catch {
    return typeof value
  }
}
