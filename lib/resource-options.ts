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

/**
 * One resource's options checked and resolved, with its URI already parsed:
 * a configured resource, or a tenant's descriptor (lib/tenancy.ts). Throws
 * FST_MCP_AUTH_INVALID_OPTION naming the field.
 */
export function resolveResourceEntry (entry: ResourceOptions, parsed: ParsedResource, names: ResourceEntryNames): ResolvedResource {
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
}
