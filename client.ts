// fastify-mcp-auth/client: the MCP client side of OAuth. Explicit named exports only.
export { createMcpOAuthClient } from './lib/client/client.js'
export { memoryCredentialStore } from './lib/client/stores/memory-credential-store.js'
export { redisCredentialStore } from './lib/client/stores/redis-credential-store.js'
export type { RedisCredentialStoreOptions, UnreadableRecord } from './lib/client/stores/redis-credential-store.js'
export type { EncryptionKey, EncryptionKeyOption } from './lib/client/stores/encryption.js'
export { loopbackAuthorizer } from './lib/client/loopback-authorizer.js'
export { McpClientError, McpAuthorizationRequiredError, isMcpClientError } from './lib/client/errors.js'
export type {
  AssertionContext,
  AuthorizeContext,
  Authorizer,
  ClientAuthentication,
  ClientMetadata,
  ClientMetadataDocumentOptions,
  CredentialStore,
  DpopAlgorithm,
  DpopClientOptions,
  IdentityProvider,
  IdJagGrantOptions,
  LoopbackAuthorizerOptions,
  McpClientDecorator,
  McpClientErrorCode,
  McpClientErrorReason,
  McpOAuthErrorCode,
  McpClientForOptions,
  McpClientPluginOptions,
  McpOAuthClient,
  McpOAuthClientOptions,
  McpOAuthGrant,
  PreRegisteredClient,
  PreRegisteredClients,
  SignOutOptions,
  SignOutResult,
  StoreLock,
  StoredRecord,
} from './types/client.js'
export { mcpClient } from './plugins/client/mcp-client.js'
