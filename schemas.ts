// fastify-mcp-auth/schemas: the TypeBox schemas of the metadata documents and the error
// body. A separate entry, so importing the plugin never loads TypeBox.
export { AuthorizationServerMetadataSchema, OAuthErrorBodySchema, ProtectedResourceMetadataSchema } from './lib/schemas.js'
export type { AuthorizationServerMetadata, OAuthErrorBody, ProtectedResourceMetadata } from './types/metadata.js'
