// Public type surface of fastify-mcp-auth/client: the client and its options,
// the stores, the authorizer, the errors and the `fastify.mcpClient` augmentation.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { describe, expect, test } from 'tstyche'
import {
  createMcpOAuthClient,
  isMcpClientError,
  loopbackAuthorizer,
  McpAuthorizationRequiredError,
  mcpClient,
  McpClientError,
  memoryCredentialStore,
  redisCredentialStore,
} from '../client.js'
import type { AssertionContext, Authorizer, CredentialStore, IdentityProvider, IdJagGrantOptions, McpClientErrorCode, McpClientErrorReason, McpOAuthClient, McpOAuthClientOptions, McpOAuthErrorCode, SignOutResult } from '../client.js'

describe('createMcpOAuthClient', () => {
  test('returns { fetch, signOut } with fetch shaped for the MCP SDK transports', () => {
    const oauth = createMcpOAuthClient({ grant: { type: 'client_credentials' } })
    expect(oauth).type.toBe<McpOAuthClient>()
    expect(oauth.fetch).type.toBe<(input: string | URL | Request, init?: RequestInit) => Promise<Response>>()
    expect(oauth.fetch).type.toBeAssignableTo<typeof fetch>()
    expect(oauth.signOut()).type.toBe<Promise<SignOutResult>>()
    expect(oauth.signOut({ resource: 'https://mcp.example.com/mcp' })).type.toBe<Promise<SignOutResult>>()
  })

  test('takes the options of the issue\'s example', () => {
    const options: McpOAuthClientOptions = {
      preRegistered: { 'https://auth.example.com': { clientId: 'id', auth: { method: 'client_secret_basic', secret: 's' } } },
      clientMetadataUrl: 'https://agent.example.com/oauth/client.json',
      clientMetadata: { client_name: 'agent', application_type: 'native', redirect_uris: ['http://127.0.0.1:8914/callback'], grant_types: ['authorization_code', 'refresh_token'] },
      authorize: loopbackAuthorizer({ port: 8914, open: () => {} }),
      store: memoryCredentialStore(),
      dpop: { key: 'generate' },
    }
    expect(createMcpOAuthClient(options)).type.toBe<McpOAuthClient>()
  })

  test('grants: client credentials, jwt-bearer with an assertion callback; nothing else', () => {
    expect(createMcpOAuthClient({ grant: { type: 'jwt-bearer', assertion: async (context) => context.issuer } })).type.toBe<McpOAuthClient>()
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'password' } })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'jwt-bearer' } })
  })

  test('the id-jag grant: the identity provider, its client authentication and an ID-token source', () => {
    const idp = { issuer: 'https://idp.example.com', tokenEndpoint: 'https://idp.example.com/token', clientId: 'app' }
    expect(createMcpOAuthClient({
      grant: { type: 'id-jag', idp: { ...idp, auth: { method: 'private_key_jwt', key: '-----BEGIN PRIVATE KEY-----' } }, idToken: async (context) => context.resource },
      preRegistered: { 'https://auth.example.com': { clientId: 'enterprise-app', auth: { method: 'client_secret_basic', secret: 's' } } },
    })).type.toBe<McpOAuthClient>()
    expect<IdJagGrantOptions['idp']>().type.toBe<IdentityProvider>()
    expect<Parameters<IdJagGrantOptions['idToken']>[0]>().type.toBe<AssertionContext>()
    expect<AssertionContext['partition']>().type.toBe<string>()
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'id-jag', idp } })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'id-jag', idToken: () => 'x' } })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'id-jag', idp: { issuer: 'https://idp.example.com', clientId: 'app' }, idToken: () => 'x' } })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ grant: { type: 'id-jag', idp: { ...idp, auth: { method: 'client_secret_post' } }, idToken: () => 'x' } })
  })

  test('client authentication methods are a closed union', () => {
    expect(createMcpOAuthClient).type.toBeCallableWith({ grant: { type: 'client_credentials' }, preRegistered: () => ({ clientId: 'c', auth: { method: 'private_key_jwt', key: '-----BEGIN PRIVATE KEY-----' } }) })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ preRegistered: { 'https://as': { clientId: 'c', auth: { method: 'client_secret_basic' } } } })
    expect(createMcpOAuthClient).type.not.toBeCallableWith({ preRegistered: { 'https://as': { clientId: 'c', auth: { method: 'tls_client_auth' } } } })
  })
})

describe('stores and authorizer', () => {
  test('both stores are CredentialStores; redisCredentialStore needs an encryption key', () => {
    expect(memoryCredentialStore()).type.toBe<CredentialStore>()
    expect(redisCredentialStore(new Redis(), { encryptionKey: Buffer.alloc(32) })).type.toBe<CredentialStore>()
    expect(redisCredentialStore(createClient(), { encryptionKey: { current: 'k', previous: ['o'] } })).type.toBe<CredentialStore>()
    expect(redisCredentialStore).type.not.toBeCallableWith(new Redis(), {})
    expect(redisCredentialStore).type.not.toBeCallableWith(new Redis())
  })

  test('loopbackAuthorizer is an Authorizer that knows its redirect URI', () => {
    const authorizer = loopbackAuthorizer({ port: 8914, open: async () => {} })
    expect(authorizer).type.toBe<Authorizer>()
    expect(authorizer.redirectUri).type.toBe<string | undefined>()
    expect(loopbackAuthorizer).type.not.toBeCallableWith({ port: 8914 })
  })
})

describe('errors', () => {
  test('McpAuthorizationRequiredError carries authorizationUrl; codes are a closed union', () => {
    const err = new McpAuthorizationRequiredError('https://as.example.com/authorize')
    expect(err.authorizationUrl).type.toBe<string>()
    expect(err).type.toBeAssignableTo<McpClientError>()
    expect(err.code).type.toBe<McpClientErrorCode>()
    const value: unknown = err
    if (isMcpClientError(value)) expect(value).type.toBe<McpClientError>()
  })

  test('oauthError names the OAuth codes a caller branches on, and passes others as strings', () => {
    const err = new McpClientError('FST_MCP_CLIENT_TOKEN', 'token.exchange_error', 'refused', { oauthError: 'invalid_grant' })
    expect(err.oauthError).type.toBe<McpOAuthErrorCode | undefined>()
    expect<'invalid_grant' | 'invalid_scope' | 'unauthorized_client'>().type.toBeAssignableTo<McpOAuthErrorCode>()
    expect<string>().type.toBeAssignableTo<McpOAuthErrorCode>()
    expect<McpClientErrorReason>().type.toBeAssignableFrom<'token.exchange_error' | 'token.exchange_invalid_response' | 'token.id_token_failed'>()
  })
})

describe('mcpClient plugin', () => {
  test('decorates fastify.mcpClient; for(request) gives a client', async () => {
    const app = Fastify()
    await app.register(mcpClient, { baseUrl: 'https://app.example.com', partition: (request) => request.id })
    app.get('/', async (request) => {
      expect(app.mcpClient.for(request)).type.toBe<McpOAuthClient>()
      expect(app.mcpClient.for(request, { returnTo: '/back' }).fetch).type.toBe<McpOAuthClient['fetch']>()
      expect(app.mcpClient.redirectUri).type.toBe<string>()
      return null
    })
  })

  test('partition is required; the plugin owns authorize and redirectUri', () => {
    const app = Fastify()
    expect(app.register).type.not.toBeCallableWith(mcpClient, { baseUrl: 'https://app.example.com' })
    expect(app.register).type.not.toBeCallableWith(mcpClient, { baseUrl: 'https://app.example.com', partition: () => 'p', authorize: async () => 'x' })
  })

  test('route config mcpAuth: false type-checks with only the client entry imported', () => {
    const app = Fastify()
    app.get('/public', { config: { mcpAuth: false } }, async () => 'ok')
    expect(app.get).type.not.toBeCallableWith('/x', { config: { mcpAuth: true } }, async () => 'ok')
  })
})
