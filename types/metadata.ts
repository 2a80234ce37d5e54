// The metadata documents and the error body, as plain types: the root entry serves and
// builds them without TypeBox; `fastify-mcp-auth/schemas` has their TypeBox schemas.

/** RFC 9728 protected-resource metadata (§2), with any further fields. */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers?: string[]
  jwks_uri?: string
  scopes_supported?: string[]
  bearer_methods_supported?: string[]
  resource_signing_alg_values_supported?: string[]
  resource_name?: string
  resource_documentation?: string
  resource_policy_uri?: string
  resource_tos_uri?: string
  tls_client_certificate_bound_access_tokens?: boolean
  authorization_details_types_supported?: string[]
  dpop_signing_alg_values_supported?: string[]
  dpop_bound_access_tokens_required?: boolean
  [field: string]: unknown
}

/** RFC 8414 authorization-server metadata (§2), with any further fields. */
export interface AuthorizationServerMetadata {
  issuer: string
  authorization_endpoint?: string
  token_endpoint?: string
  jwks_uri?: string
  registration_endpoint?: string
  scopes_supported?: string[]
  response_types_supported: string[]
  response_modes_supported?: string[]
  grant_types_supported?: string[]
  token_endpoint_auth_methods_supported?: string[]
  token_endpoint_auth_signing_alg_values_supported?: string[]
  service_documentation?: string
  revocation_endpoint?: string
  introspection_endpoint?: string
  code_challenge_methods_supported?: string[]
  dpop_signing_alg_values_supported?: string[]
  client_id_metadata_document_supported?: boolean
  authorization_response_iss_parameter_supported?: boolean
  [field: string]: unknown
}

/** The JSON body of every error response (RFC 6750 §3, RFC 6749 §5.2). */
export interface OAuthErrorBody {
  error: string
  error_description?: string
  [field: string]: unknown
}
