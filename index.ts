// fastify-mcp-auth: the public entry (DESIGN.md "Package surface"). Explicit
// named exports only; test/docs/exports.test.ts pins the list.
import { mcpAuth } from './plugins/mcp-auth.js'

export default mcpAuth
export { mcpAuth }
export { mcpContext } from './plugins/context.js'
export { requireScopes } from './plugins/require-scopes.js'
export type { RequiredScopes, RequireScopesOptions } from './plugins/require-scopes.js'
export { McpScopes, scopesSatisfy } from './lib/scopes.js'
export type { ScopesSatisfyOptions, ScopeMatchMode } from './lib/scopes.js'
export { mcpOperationScopes } from './lib/mcp-operations.js'
export type { McpOperationScopesMap, McpOperationRequest } from './lib/mcp-operations.js'
export { MemoryReplayStore } from './lib/stores/memory-replay-store.js'
export type { MemoryReplayStoreOptions } from './lib/stores/memory-replay-store.js'
export { RedisReplayStore } from './lib/stores/redis-replay-store.js'
export type { RedisReplayStoreOptions } from './lib/stores/redis-replay-store.js'
export type { RedisClient } from './lib/stores/redis-client.js'
export { MemorySessionStore } from './lib/stores/memory-session-store.js'
export type { MemorySessionStoreOptions } from './lib/stores/memory-session-store.js'
export { RedisSessionStore } from './lib/stores/redis-session-store.js'
export type { RedisSessionStoreOptions } from './lib/stores/redis-session-store.js'
export { createHmacNonceProvider } from './lib/dpop/nonce.js'
export type { HmacNonceOptions } from './lib/dpop/nonce.js'
export { McpAuthError } from './lib/errors.js'
export { protectedResourceMetadata } from './plugins/protected-resource-metadata.js'
export type { ProtectedResourceMetadataOptions } from './plugins/protected-resource-metadata.js'
export { buildProtectedResourceMetadata, buildAuthorizationServerMetadata } from './lib/metadata.js'
export type { ProtectedResourceMetadataInput, AuthorizationServerMetadataInput } from './lib/metadata.js'
export type { ProtectedResourceMetadata, AuthorizationServerMetadata, OAuthErrorBody } from './types/metadata.js'
export type {
  AccessTokenClaims,
  CertificateInput,
  ConfirmationClaim,
  DpopNonceOptions,
  DpopNonceProvider,
  DpopOptions,
  ErrorRenderer,
  IntrospectionOptions,
  JwksOption,
  JwksTuning,
  McpAuthContext,
  McpAuthEvent,
  OnEventFunction,
  McpAuthErrorCode,
  McpAuthErrorOptions,
  McpAuthInfo,
  McpAuthOptions,
  McpAuthRejectionCode,
  McpAuthRejectReason,
  McpAuthStatus,
  McpAuthTypes,
  McpPrincipal,
  McpSender,
  MetadataOptions,
  MtlsOptions,
  NonceVerdict,
  OAuthErrorCode,
  PrincipalFunction,
  ReplayStore,
  ResourceOptions,
  SessionBindingOptions,
  SessionStore,
  TokenCacheOptions,
  VerifyTokenContext,
  VerifyTokenFunction,
} from './types/index.js'
