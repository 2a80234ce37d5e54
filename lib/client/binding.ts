// Everything a 401 from an MCP server leads to before any token request: the
// resource (RFC 9728), its authorization server (RFC 8414 / OIDC discovery)
// and this client's ID there. Done afresh on every 401, so a server that moves
// to another authorization server is followed (MCP SEP-2352).
import type * as oauth from 'oauth4webapi'
import { discoverAuthorizationServer } from './as-discovery.js'
import type { ServerChallenge } from './challenge.js'
import { fail } from './errors.js'
import type { ResolvedClientOptions } from './options.js'
import type { RegisteredClient, Registrar } from './registration.js'
import { canonicalServerUrl, discoverResourceMetadata } from './resource-metadata.js'

export interface Binding {
  /** The MCP server URL the binding was made for (no query, no fragment). */
  readonly serverUrl: string
  /** The resource identifier sent as `resource` and keying the credential. */
  readonly resource: string
  readonly scopesSupported: readonly string[] | undefined
  readonly as: oauth.AuthorizationServer
  readonly client: RegisteredClient
}

// MCP 2025-03-26: an authorization server at the MCP server's origin with fixed endpoints.
function legacyMetadata (origin: string): oauth.AuthorizationServer {
  return Object.freeze({
    issuer: origin,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    registration_endpoint: `${origin}/register`,
    response_types_supported: ['code'],
    // That revision requires PKCE S256 of every client and every server.
    code_challenge_methods_supported: ['S256'],
  })
}

async function chooseIssuer (servers: readonly string[], options: ResolvedClientOptions): Promise<string> {
  // One the caller registered with beforehand wins: MCP's registration priority starts there.
  for (const issuer of servers) {
    if (await options.preRegistered(issuer) !== undefined) return issuer
  }
  return servers[0] as string
}

export async function bindServer (
  url: URL,
  challenge: ServerChallenge,
  options: ResolvedClientOptions,
  registrar: Registrar
): Promise<Binding> {
  const server = canonicalServerUrl(url)
  const metadata = await discoverResourceMetadata(server, challenge.resourceMetadata, options.outbound)
  let as: oauth.AuthorizationServer | undefined
  let resource: string
  if (metadata !== undefined) {
    resource = metadata.resource
    const issuer = await chooseIssuer(metadata.authorizationServers, options)
    as = await discoverAuthorizationServer(issuer, options.outbound)
    if (as === undefined) throw fail.discovery('as_metadata.missing', `the authorization server ${issuer} publishes no metadata at any of the locations MCP names`)
  } else {
    if (!options.legacyDiscovery) {
      throw fail.discovery('resource_metadata.missing', `${server.href} publishes no protected resource metadata (RFC 9728); set legacyDiscovery: true to talk to an MCP 2025-03-26 server`)
    }
    // The resource is still named, from the server URL (MCP: send `resource` even then).
    resource = server.href
    as = await discoverAuthorizationServer(server.origin, options.outbound) ?? legacyMetadata(server.origin)
  }
  const client = await registrar.register(as)
  return Object.freeze({ serverUrl: server.href, resource, scopesSupported: metadata?.scopesSupported, as, client })
}
