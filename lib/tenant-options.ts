// The resolver form of `resource` checked once at registration, and each
// tenant's descriptor checked like a configured resource when the resolver
// returns it. Issuer templates are filled only here, with parameters that
// passed `tenantPattern`, for a tenant the resolver just returned.
import { invalidOption } from './errors.js'
import { checkKeys, integer, issuerList, seconds, show } from './option-checks.js'
import { checkResourceEntry, TenantResource } from './resource-options.js'
import { parseResource } from './resource.js'
import { createTenantPath, fillTemplate, resolveTenantPattern, templateNames } from './tenant-path.js'
import type { TenantPath } from './tenant-path.js'
import { PROTECTED_RESOURCE_WELL_KNOWN } from './well-known.js'
import type { ResourceOptions, TenantResolver, TenantParams } from '../types/index.js'

export interface ResolvedTenancy {
  /** The public origin: scheme and host lower-case, default port dropped. */
  readonly origin: string
  readonly path: TenantPath
  readonly resolve: TenantResolver
  /** Seconds. */
  readonly cacheTtl: number
  /** Seconds. */
  readonly negativeCacheTtl: number
  readonly maxEntries: number
  readonly timeoutMs: number
  readonly maxIssuers: number
  readonly maxConcurrentDiscovery: number
  /** The top-level `authorizationServers`, `{param}` placeholders kept; undefined when not set. */
  readonly issuerTemplates: readonly string[] | undefined
  /** The route pattern of the tenants' metadata documents. */
  readonly metadataRoute: string
}

const TENANCY_KEYS = ['origin', 'path', 'resolve', 'cacheTtl', 'negativeCacheTtl', 'maxEntries', 'timeout', 'tenantPattern', 'maxIssuers', 'maxConcurrentDiscovery']
// A descriptor is a resource's options, less what the route decides (the metadata URL).
const DESCRIPTOR_KEYS = ['resource', 'scopesSupported', 'resourceName', 'resourceDocumentation', 'audiences', 'authorizationServers', 'metadata']

export function resolveTenancy (value: Record<string, unknown>, authorizationServers: unknown): ResolvedTenancy {
  checkKeys('resource.', value, TENANCY_KEYS)
  if (typeof value.resolve !== 'function') {
    throw invalidOption(`"resource.resolve" must be a function (params, request) => descriptor | undefined; got ${show(value.resolve)}`)
  }
  const parsedOrigin = parseResource(value.origin)
  if (typeof parsedOrigin === 'string' || (parsedOrigin.path !== '' && parsedOrigin.path !== '/') || parsedOrigin.query !== '') {
    throw invalidOption(`"resource.origin" must be this server's public origin, such as "https://mcp.example.com" (no path: that is "resource.path"); got ${show(value.origin)}`)
  }
  const tenantPattern = resolveTenantPattern('"resource.tenantPattern"', value.tenantPattern)
  const path = createTenantPath('"resource.path"', value.path, tenantPattern)
  const metadataRoute = PROTECTED_RESOURCE_WELL_KNOWN + path.pattern
  return Object.freeze({
    origin: parsedOrigin.origin,
    path,
    resolve: value.resolve as TenantResolver,
    cacheTtl: seconds('"resource.cacheTtl"', value.cacheTtl, 60, 0, 86400),
    negativeCacheTtl: seconds('"resource.negativeCacheTtl"', value.negativeCacheTtl, 10, 0, 3600),
    maxEntries: integer('"resource.maxEntries"', value.maxEntries, 100_000, 1, 10_000_000),
    timeoutMs: seconds('"resource.timeout"', value.timeout, 5, 0.001, 60) * 1000,
    maxIssuers: integer('"resource.maxIssuers"', value.maxIssuers, 1000, 1, 1_000_000),
    maxConcurrentDiscovery: integer('"resource.maxConcurrentDiscovery"', value.maxConcurrentDiscovery, 8, 1, 1000),
    issuerTemplates: authorizationServers === undefined ? undefined : issuerTemplates(authorizationServers, path),
    metadataRoute,
  })
}

/** Top-level issuers with `{param}` placeholders, each checked with every placeholder filled. */
function issuerTemplates (value: unknown, path: TenantPath): readonly string[] {
  issuerList('"authorizationServers"', fillSample(value, path))
  return Object.freeze([...new Set(value as string[])])
}

function fillSample (value: unknown, path: TenantPath): unknown {
  if (!Array.isArray(value)) return value
  return value.map((entry: unknown) => {
    if (typeof entry !== 'string') return entry
    for (const name of templateNames(entry)) {
      if (!path.names.includes(name)) {
        throw invalidOption(`"authorizationServers" entry ${show(entry)} has the placeholder {${name}}, which "resource.path" does not name (${path.names.map((n) => `{${n}}`).join(', ')})`)
      }
    }
    // A value tenantPattern's default allows, so the URL check sees a real issuer.
    return fillTemplate(entry, Object.fromEntries(path.names.map((n) => [n, 'tenant'])))
  })
}

/** The concrete top-level issuers (no placeholder): configured for good (warm-up, health). */
export function fixedIssuers (tenancy: ResolvedTenancy): string[] {
  return (tenancy.issuerTemplates ?? []).filter((issuer) => templateNames(issuer).length === 0)
}

/**
 * A tenant's resource from its descriptor; undefined for an unknown tenant.
 * Throws FST_MCP_AUTH_INVALID_OPTION naming the field that is wrong.
 */
export function describeTenant (tenancy: ResolvedTenancy, key: string, params: TenantParams, descriptor: unknown): TenantResource | undefined {
  if (descriptor === undefined || descriptor === null) return undefined
  if (typeof descriptor !== 'object' || Array.isArray(descriptor)) {
    throw invalidOption(`"descriptor" must be an object (a resource's options) or undefined for an unknown tenant; got ${show(descriptor)}`)
  }
  const entry = descriptor as ResourceOptions
  checkKeys('descriptor.', entry as unknown as Record<string, unknown>, DESCRIPTOR_KEYS)
  const uri = tenancy.origin + key
  if (entry.resource !== undefined) {
    const stated = parseResource(entry.resource)
    if (typeof stated === 'string' || stated.uri !== uri) {
      throw invalidOption(`"descriptor.resource" must be ${uri}, the URI this tenant's path names; got ${show(entry.resource)}`)
    }
  }
  const templates = tenancy.issuerTemplates
  const servers = templates === undefined || entry.authorizationServers !== undefined
    ? undefined
    : issuerList('"authorizationServers" (filled for the tenant)', templates.map((t) => fillTemplate(t, params)))
  const parsed = { uri, origin: tenancy.origin, path: key, query: '' }
  const fields = checkResourceEntry(entry, parsed, { uriName: '"descriptor.resource"', field: (m) => `"descriptor.${m}"`, servers })
  return new TenantResource(parsed, fields)
}
