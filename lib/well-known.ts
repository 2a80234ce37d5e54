// Well-known URL construction by path insertion (RFC 9728 §3.1, RFC 8414 §3.1).
import type { ParsedResource } from './resource.js'

export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource'
export const AUTHORIZATION_SERVER_WELL_KNOWN = '/.well-known/oauth-authorization-server'
export const OPENID_WELL_KNOWN = '/.well-known/openid-configuration'

/** Route path (no origin) of a resource's metadata document: inserted, never appended. */
export function protectedResourceMetadataPath (resource: ParsedResource): string {
  // "any terminating slash (/) following the host component MUST be removed"
  const path = resource.path === '/' ? '' : resource.path
  return PROTECTED_RESOURCE_WELL_KNOWN + path
}

/** Absolute metadata URL advertised in `resource_metadata`. */
export function protectedResourceMetadataUrl (resource: ParsedResource): string {
  return resource.origin + protectedResourceMetadataPath(resource) + resource.query
}

/**
 * Where an issuer's metadata may live, in the order a resource server tries
 * them: RFC 8414 insertion, then OpenID Connect Discovery (appended), then the
 * OpenID insertion variant some providers use for issuers with a path.
 */
export function authorizationServerMetadataUrls (issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const origin = url.origin
  const urls = [origin + AUTHORIZATION_SERVER_WELL_KNOWN + path, origin + path + OPENID_WELL_KNOWN]
  if (path !== '') urls.push(origin + OPENID_WELL_KNOWN + path)
  return urls
}
