// fastify-mcp-auth/authorization-server: an MCP-ready OAuth authorization
// server on oidc-provider (an optional peer dependency imported only here).
export { mcpAuthorizationServer } from './plugins/authorization-server.js'
export { redisAdapter } from './lib/authorization-server/redis-adapter.js'
export type { RedisAdapterOptions } from './lib/authorization-server/redis-adapter.js'
export { developmentInteractions } from './lib/authorization-server/development-interactions.js'
export type { DevelopmentInteractionsOptions, DevelopmentUser } from './lib/authorization-server/development-interactions.js'
export type {
  AccountsOptions,
  AuthorizationServerAccount,
  AuthorizationServerEvent,
  AuthorizationServerHealth,
  AuthorizationServerResource,
  AuthorizationServerStore,
  CimdOptions,
  ClientsOptions,
  ConsentDetails,
  IdJagClaims,
  IdJagOptions,
  IdJagTrustedIssuer,
  InteractionClient,
  InteractionHandler,
  InteractionsOptions,
  LoginDetails,
  McpAuthorizationServerDecorator,
  McpAuthorizationServerOptions,
  OidcProviderInstance,
  RateLimitOptions,
  RegistrationOptions,
  StaticClientMetadata,
} from './types/authorization-server.js'
