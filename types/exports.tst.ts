// The value exports of each entry point, pinned at the type level (the full
// list, types included, is pinned by test/exports.test.ts).
import { expect, test } from 'tstyche'
import type * as root from '../index.js'
import type * as testing from '../testing.js'
import type * as schemas from '../schemas.js'
import type * as authorizationServer from '../authorization-server.js'
import type * as client from '../client.js'

test('fastify-mcp-auth', () => {
  expect<keyof typeof root>().type.toBe<
    | 'default' | 'mcpAuth' | 'mcpContext' | 'requireScopes' | 'McpScopes' | 'scopesSatisfy' | 'mcpOperationScopes'
    | 'MemoryReplayStore' | 'RedisReplayStore' | 'MemorySessionStore' | 'RedisSessionStore' | 'createHmacNonceProvider' | 'McpAuthError' | 'protectedResourceMetadata'
    | 'buildProtectedResourceMetadata' | 'buildAuthorizationServerMetadata'
  >()
})

test('fastify-mcp-auth/testing', () => {
  expect<keyof typeof testing>().type.toBe<
    | 'createTestIssuer' | 'startTestIssuer' | 'createDpopKey' | 'createDpopProof' | 'createTestCa' | 'parseWwwAuthenticate'
    | 'assertChallenge' | 'assertDpopBoundBearerRejected' | 'assertDpopProofAccepted' | 'assertReplayRejected'
    | 'assertDpopProofChecksEnforced' | 'assertTokenValidationEnforced' | 'assertMtlsBindingEnforced' | 'completeAuthorization'
  >()
})

test('fastify-mcp-auth/schemas', () => {
  expect<keyof typeof schemas>().type.toBe<'AuthorizationServerMetadataSchema' | 'OAuthErrorBodySchema' | 'ProtectedResourceMetadataSchema'>()
})

test('fastify-mcp-auth/authorization-server', () => {
  expect<keyof typeof authorizationServer>().type.toBe<'mcpAuthorizationServer' | 'redisAdapter' | 'developmentInteractions'>()
})

test('fastify-mcp-auth/client', () => {
  expect<keyof typeof client>().type.toBe<
    | 'createMcpOAuthClient' | 'memoryCredentialStore' | 'redisCredentialStore' | 'loopbackAuthorizer' | 'mcpClient'
    | 'McpClientError' | 'McpAuthorizationRequiredError' | 'isMcpClientError'
  >()
})
