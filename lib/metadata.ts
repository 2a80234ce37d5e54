// Pure builders for RFC 9728 protected-resource metadata and RFC 8414
// authorization-server metadata. The one place camelCase options become
// snake_case wire fields; empty values are omitted (RFC 9728 §3.2), and
// offline_access is never advertised (MCP 2026-07-28 §10).
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from '../types/metadata.js'

export interface ProtectedResourceMetadataInput {
  /** The canonical resource URI, serialized verbatim. */
  resource: string
  authorizationServers: readonly string[]
  scopesSupported?: readonly string[]
  resourceName?: string
  resourceDocumentation?: string
  /** Default ['header']: tokens are never accepted in the query or a form body. */
  bearerMethodsSupported?: readonly string[]
  dpopSigningAlgValuesSupported?: readonly string[]
  dpopBoundAccessTokensRequired?: boolean
  tlsClientCertificateBoundAccessTokens?: boolean
  /** Further RFC 9728 (or extension) fields, written as given. */
  extra?: Record<string, unknown>
}

function list (values: readonly string[] | undefined, drop?: string): string[] | undefined {
  if (values === undefined) return undefined
  const out = values.filter((v) => v !== drop)
  return out.length === 0 ? undefined : out
}

function prune<T extends Record<string, unknown>> (document: T): T {
  for (const key of Object.keys(document)) {
    const value = document[key]
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) delete document[key]
  }
  return document
}

export function buildProtectedResourceMetadata (input: ProtectedResourceMetadataInput): ProtectedResourceMetadata {
  if (typeof input?.resource !== 'string' || input.resource === '') throw new TypeError('buildProtectedResourceMetadata: resource is required')
  return prune({
    ...input.extra,
    resource: input.resource,
    authorization_servers: list(input.authorizationServers),
    scopes_supported: list(input.scopesSupported, 'offline_access'),
    bearer_methods_supported: list(input.bearerMethodsSupported ?? ['header']),
    resource_name: input.resourceName,
    resource_documentation: input.resourceDocumentation,
    dpop_signing_alg_values_supported: list(input.dpopSigningAlgValuesSupported),
    dpop_bound_access_tokens_required: input.dpopBoundAccessTokensRequired,
    tls_client_certificate_bound_access_tokens: input.tlsClientCertificateBoundAccessTokens,
  }) as ProtectedResourceMetadata
}

export interface AuthorizationServerMetadataInput {
  issuer: string
  authorizationEndpoint?: string
  tokenEndpoint?: string
  jwksUri?: string
  registrationEndpoint?: string
  scopesSupported?: readonly string[]
  /** Default ['code']. */
  responseTypesSupported?: readonly string[]
  /** Default ['authorization_code', 'refresh_token']. */
  grantTypesSupported?: readonly string[]
  tokenEndpointAuthMethodsSupported?: readonly string[]
  /** Default ['S256'] (OAuth 2.1 and MCP require PKCE with S256). */
  codeChallengeMethodsSupported?: readonly string[]
  introspectionEndpoint?: string
  revocationEndpoint?: string
  serviceDocumentation?: string
  dpopSigningAlgValuesSupported?: readonly string[]
  clientIdMetadataDocumentSupported?: boolean
  authorizationResponseIssParameterSupported?: boolean
  extra?: Record<string, unknown>
}

export function buildAuthorizationServerMetadata (input: AuthorizationServerMetadataInput): AuthorizationServerMetadata {
  if (typeof input?.issuer !== 'string' || input.issuer === '') throw new TypeError('buildAuthorizationServerMetadata: issuer is required')
  const url = new URL(input.issuer)
  if (url.search !== '' || url.hash !== '') throw new TypeError('buildAuthorizationServerMetadata: issuer must not have a query or fragment (RFC 8414 §2)')
  return prune({
    ...input.extra,
    issuer: input.issuer,
    authorization_endpoint: input.authorizationEndpoint,
    token_endpoint: input.tokenEndpoint,
    jwks_uri: input.jwksUri,
    registration_endpoint: input.registrationEndpoint,
    scopes_supported: list(input.scopesSupported, 'offline_access'),
    response_types_supported: list(input.responseTypesSupported ?? ['code']),
    grant_types_supported: list(input.grantTypesSupported ?? ['authorization_code', 'refresh_token']),
    token_endpoint_auth_methods_supported: list(input.tokenEndpointAuthMethodsSupported),
    code_challenge_methods_supported: list(input.codeChallengeMethodsSupported ?? ['S256']),
    introspection_endpoint: input.introspectionEndpoint,
    revocation_endpoint: input.revocationEndpoint,
    service_documentation: input.serviceDocumentation,
    dpop_signing_alg_values_supported: list(input.dpopSigningAlgValuesSupported),
    client_id_metadata_document_supported: input.clientIdMetadataDocumentSupported,
    authorization_response_iss_parameter_supported: input.authorizationResponseIssParameterSupported,
  }) as AuthorizationServerMetadata
}
