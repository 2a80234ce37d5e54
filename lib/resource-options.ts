// One resource's options checked and resolved into the record requests are
// checked against: a configured resource (lib/options.ts) or a tenant's
// descriptor (lib/tenant-options.ts), by the same rules.
import { invalidOption } from './errors.js'
import { endpointUrl, issuerList, optionalString, optionalUrl, scopeList, show, stringList } from './option-checks.js'
import { ReadonlyURL } from './readonly-url.js'
import type { ParsedResource } from './resource.js'
import { audienceKey } from './resource.js'
import { routerPattern } from './uri-path.js'
import { protectedResourceMetadataPath, protectedResourceMetadataUrl } from './well-known.js'
import type { ResourceOptions } from '../types/index.js'

export interface ResourceEntryNames {
  /** How messages name the resource URI. */
  readonly uriName: string
  /** How messages name a member of the entry. */
  readonly field: (member: string) => string
  /** The issuers used when the entry names none. */
  readonly servers: readonly string[] | undefined
}

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

export function resolveExtraMetadata (name: string, value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(`${name} must be an object of extra RFC 9728 fields; got ${show(value)}`)
  }
  if ('resource' in value) throw invalidOption(`${name} must not set "resource": it is always the canonical resource URI`)
  return Object.freeze(structuredClone(value as Record<string, unknown>))
}

/** What a resource's options hold once checked, apart from what derives from its URI. */
export type ResourceFields = Pick<ResolvedResource, 'audienceKeys' | 'authorizationServers' | 'issuers' | 'scopesSupported' | 'resourceName' | 'resourceDocumentation' | 'extraMetadata'>

/**
 * One resource's options checked, with its URI already parsed: a configured
 * resource, or a tenant's descriptor (lib/tenant-options.ts). Throws
 * FST_MCP_AUTH_INVALID_OPTION naming the field.
 */
export function checkResourceEntry (entry: ResourceOptions, parsed: ParsedResource, names: ResourceEntryNames): ResourceFields {
  const { uriName, field } = names
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(parsed.uri)) {
    throw invalidOption(`${uriName} must be ASCII without quotes or backslashes; percent-encode other characters`)
  }
  const servers = entry.authorizationServers === undefined
    ? names.servers
    : issuerList(field('authorizationServers'), entry.authorizationServers)
  if (servers === undefined) {
    throw invalidOption('"authorizationServers" is required: the issuer identifiers whose tokens this server accepts, e.g. ["https://auth.example.com"]')
  }
  const audiences = stringList(field('audiences'), entry.audiences ?? [], 'extra audience values')
  const keys = new Set<string>()
  for (const aud of [parsed.uri, ...audiences]) {
    const key = audienceKey(aud)
    if (key === undefined) throw invalidOption(`${field('audiences')} must not contain a fragment; got ${show(aud)}`)
    // The URI itself when it is its own key: one string less per resource.
    keys.add(key === parsed.uri ? parsed.uri : key)
  }
  return {
    audienceKeys: keys,
    authorizationServers: Object.freeze([...servers]),
    issuers: new Set(servers),
    scopesSupported: entry.scopesSupported === undefined ? undefined : scopeList(field('scopesSupported'), entry.scopesSupported),
    resourceName: optionalString(field('resourceName'), entry.resourceName),
    resourceDocumentation: optionalUrl(field('resourceDocumentation'), entry.resourceDocumentation),
    extraMetadata: resolveExtraMetadata(field('metadata'), entry.metadata),
  }
}

/** A configured resource: its checked options and everything its URI gives, made once at registration. */
export function resolveResourceEntry (entry: ResourceOptions, parsed: ParsedResource, names: ResourceEntryNames): ResolvedResource {
  const fields = checkResourceEntry(entry, parsed, names)
  return Object.freeze({
    parsed,
    uri: parsed.uri,
    url: new ReadonlyURL(parsed.uri),
    ...fields,
    metadataUrl: entry.resourceMetadataUrl === undefined
      ? protectedResourceMetadataUrl(parsed)
      : endpointUrl(names.field('resourceMetadataUrl'), entry.resourceMetadataUrl),
    metadataPath: protectedResourceMetadataPath(parsed),
    // parseResource refuses the paths no route can match.
    metadataRoute: routerPattern(protectedResourceMetadataPath(parsed)) as string,
    externalMetadata: entry.resourceMetadataUrl !== undefined,
  })
}

/**
 * A tenant's resource, as the tenant cache holds up to 100,000 of them: the
 * checked fields, and what derives from its URI (the URL shared by its requests'
 * AuthInfo, the metadata URL of its challenges) made when first asked for.
 */
export class TenantResource implements ResolvedResource, ParsedResource {
  readonly uri: string
  readonly origin: string
  /** The tenant's path in RFC 3986 form (also its cache key). */
  readonly path: string
  readonly audienceKeys: ReadonlySet<string>
  readonly authorizationServers: readonly string[]
  readonly issuers: ReadonlySet<string>
  readonly scopesSupported: readonly string[] | undefined
  readonly resourceName: string | undefined
  readonly resourceDocumentation: string | undefined
  readonly extraMetadata: Readonly<Record<string, unknown>> | undefined
  #url: URL | undefined

  constructor (parsed: ParsedResource, fields: ResourceFields) {
    this.uri = parsed.uri
    this.origin = parsed.origin
    this.path = parsed.path
    this.audienceKeys = fields.audienceKeys
    this.authorizationServers = fields.authorizationServers
    this.issuers = fields.issuers
    this.scopesSupported = fields.scopesSupported
    this.resourceName = fields.resourceName
    this.resourceDocumentation = fields.resourceDocumentation
    this.extraMetadata = fields.extraMetadata
    // The private memo stays writable; nothing else does.
    Object.freeze(this)
  }

  get parsed (): ParsedResource { return this }
  get query (): string { return '' }
  get url (): URL { return (this.#url ??= new ReadonlyURL(this.uri)) }
  get metadataPath (): string { return protectedResourceMetadataPath(this) }
  get metadataUrl (): string { return protectedResourceMetadataUrl(this) }
  get metadataRoute (): string { return routerPattern(this.metadataPath) as string }
  get externalMetadata (): boolean { return false }
}
