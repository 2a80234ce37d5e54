// TypeBox schemas of what the plugin serves: RFC 9728 protected-resource metadata,
// RFC 8414 authorization-server metadata and the OAuth error body, for hosts that
// validate or document them (entry `fastify-mcp-auth/schemas`; the root entry never
// loads TypeBox). Their static types match the plain types in types/metadata.ts.
import { Type } from 'typebox'

const StringList = Type.Array(Type.String())

export const ProtectedResourceMetadataSchema = Type.Object({
  resource: Type.String(),
  authorization_servers: Type.Optional(StringList),
  jwks_uri: Type.Optional(Type.String()),
  scopes_supported: Type.Optional(StringList),
  bearer_methods_supported: Type.Optional(StringList),
  resource_signing_alg_values_supported: Type.Optional(StringList),
  resource_name: Type.Optional(Type.String()),
  resource_documentation: Type.Optional(Type.String()),
  resource_policy_uri: Type.Optional(Type.String()),
  resource_tos_uri: Type.Optional(Type.String()),
  tls_client_certificate_bound_access_tokens: Type.Optional(Type.Boolean()),
  authorization_details_types_supported: Type.Optional(StringList),
  dpop_signing_alg_values_supported: Type.Optional(StringList),
  dpop_bound_access_tokens_required: Type.Optional(Type.Boolean()),
}, { additionalProperties: true, $id: 'fastify-mcp-auth/ProtectedResourceMetadata' })

export const AuthorizationServerMetadataSchema = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.Optional(Type.String()),
  token_endpoint: Type.Optional(Type.String()),
  jwks_uri: Type.Optional(Type.String()),
  registration_endpoint: Type.Optional(Type.String()),
  scopes_supported: Type.Optional(StringList),
  response_types_supported: StringList,
  response_modes_supported: Type.Optional(StringList),
  grant_types_supported: Type.Optional(StringList),
  token_endpoint_auth_methods_supported: Type.Optional(StringList),
  token_endpoint_auth_signing_alg_values_supported: Type.Optional(StringList),
  service_documentation: Type.Optional(Type.String()),
  revocation_endpoint: Type.Optional(Type.String()),
  introspection_endpoint: Type.Optional(Type.String()),
  code_challenge_methods_supported: Type.Optional(StringList),
  dpop_signing_alg_values_supported: Type.Optional(StringList),
  client_id_metadata_document_supported: Type.Optional(Type.Boolean()),
  authorization_response_iss_parameter_supported: Type.Optional(Type.Boolean()),
}, { additionalProperties: true, $id: 'fastify-mcp-auth/AuthorizationServerMetadata' })

export const OAuthErrorBodySchema = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String()),
}, { additionalProperties: true, $id: 'fastify-mcp-auth/OAuthErrorBody' })
