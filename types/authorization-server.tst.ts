// Public type surface of fastify-mcp-auth/authorization-server and of the
// testing kit's completeAuthorization: options, interaction details, the
// fastify.mcpAuthorizationServer decoration and its use as mcpAuth's jwks.
import Fastify from 'fastify'
import type { JWK, JWTVerifyGetKey } from 'jose'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { describe, expect, test } from 'tstyche'
import mcpAuth from '../index.js'
import { developmentInteractions, mcpAuthorizationServer, redisAdapter } from '../authorization-server.js'
import type { AuthorizationServerHealth, ConsentDetails, IdJagClaims, IdJagOptions, IdJagTrustedIssuer, LoginDetails, McpAuthorizationServerDecorator, McpAuthorizationServerOptions, OidcProviderInstance } from '../authorization-server.js'
import { completeAuthorization } from '../testing.js'
import type { CompleteAuthorizationOptions } from '../testing.js'

const app = Fastify()

describe('mcpAuthorizationServer', () => {
  test('registers with the documented options', () => {
    expect(app.register(mcpAuthorizationServer, {
      issuer: 'https://auth.example.com',
      resources: [{ uri: 'https://mcp.example.com/mcp', scopes: ['mcp:tools:read'], defaultScopes: ['mcp:tools:read'] }],
      accounts: { find: async (sub) => ({ accountId: sub, claims: async () => ({ sub }) }) },
      interactions: developmentInteractions(),
      clients: { static: [], cimd: { allowFetch: (url) => url.hostname.endsWith('.example.com') }, registration: { enabled: true, idleTtl: 86400 } },
      dpop: { nonce: { secret: 'x'.repeat(32) } },
      store: redisAdapter(new Redis({ lazyConnect: true })),
      onEvent: (event) => { expect(event.type).type.toBeAssignableTo<string>() },
    })).type.not.toRaiseError()
  })

  test('idJag: trusted identity providers with a JWKS or a jwks_uri, algorithms and an account mapping', () => {
    const base = { issuer: 'https://auth.example.com', resources: [{ uri: 'https://mcp.example.com/mcp', scopes: ['mcp:tools:read'] }], accounts: { find: async (sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }) }, interactions: developmentInteractions() }
    expect(app.register(mcpAuthorizationServer, {
      ...base,
      idJag: {
        trustedIssuers: [
          { issuer: 'https://idp.example.com', jwks: 'https://idp.example.com/jwks', algorithms: ['ES256'], accountId: (claims) => `${claims.iss}|${claims.sub}` },
          { issuer: 'https://idp-two.example.com', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, accountId: async (claims) => claims.email === undefined ? undefined : String(claims.email) },
        ],
        maxLifetime: 300,
        clockTolerance: 10,
      },
    })).type.not.toRaiseError()
    expect<Parameters<NonNullable<IdJagTrustedIssuer['accountId']>>[0]>().type.toBe<IdJagClaims>()
    expect<IdJagClaims['resource']>().type.toBe<string | string[] | undefined>()
    expect<McpAuthorizationServerOptions>().type.not.toBeAssignableFrom({ ...base, idJag: {} })
    expect<IdJagOptions>().type.not.toBeAssignableFrom({ trustedIssuers: [{ issuer: 'https://idp.example.com' }] })
    expect<IdJagOptions>().type.not.toBeAssignableFrom({ trustedIssuers: [{ issuer: 'https://idp.example.com', jwks: [] }] })
  })

  test('refuses options it does not know', () => {
    expect<McpAuthorizationServerOptions>().type.not.toBeAssignableFrom({ issuer: 'x', resources: [], accounts: { find: async () => undefined }, interactions: developmentInteractions(), issuers: [] })
  })

  test('redisAdapter takes ioredis and node-redis clients', () => {
    expect(redisAdapter(new Redis({ lazyConnect: true }))).type.not.toRaiseError()
    expect(redisAdapter(createClient())).type.not.toRaiseError()
    expect(redisAdapter).type.not.toBeCallableWith({})
  })

  test('interaction details are typed for login and consent', () => {
    expect(app.register(mcpAuthorizationServer, {
      issuer: 'https://auth.example.com',
      resources: [{ uri: 'https://mcp.example.com/mcp', scopes: ['s'] }],
      accounts: { find: async () => undefined },
      cookies: { keys: ['k'.repeat(32)] },
      interactions: {
        login: async (_request, _reply, details) => {
          expect(details).type.toBe<LoginDetails>()
          expect(details.complete).type.toBeCallableWith({ accountId: 'a' })
          expect(details.client.redirectHost).type.toBe<string>()
        },
        consent: async (_request, _reply, details) => {
          expect(details).type.toBe<ConsentDetails>()
          expect(details.grant).type.toBeCallableWith({ scopes: ['s'] })
          expect(details.accountId).type.toBe<string>()
        },
      },
    })).type.not.toRaiseError()
  })

  test('the escape hatches: provider (events), jwks(), health() and configure', () => {
    expect(app.mcpAuthorizationServer.jwks()).type.toBe<{ keys: JWK[] }>()
    expect(app.mcpAuthorizationServer.health()).type.toBe<Promise<AuthorizationServerHealth>>()
    expect<AuthorizationServerHealth['store']>().type.toBe<{ reachable: boolean, error?: string }>()
    expect<AuthorizationServerHealth['keys']>().type.toBe<{ count: number, kids: readonly string[] }>()
    expect(app.mcpAuthorizationServer.provider).type.toBe<OidcProviderInstance>()
    expect(app.mcpAuthorizationServer.provider.issuer).type.toBe<string>()
    expect(app.mcpAuthorizationServer.provider.on('server_error', () => {})).type.toBe<OidcProviderInstance>()
    expect<McpAuthorizationServerOptions['configure']>().type.toBe<((configuration: Record<string, unknown>) => void) | undefined>()
    expect(app.register(mcpAuthorizationServer, {
      issuer: 'https://auth.example.com',
      resources: [{ uri: 'https://mcp.example.com/mcp', scopes: ['s'] }],
      accounts: { find: async () => undefined },
      interactions: developmentInteractions(),
      configure: (configuration) => { configuration.fetch = globalThis.fetch },
    })).type.not.toRaiseError()
  })

  test('fastify.mcpAuthorizationServer feeds mcpAuth without a JWKS request', () => {
    expect(app.mcpAuthorizationServer).type.toBe<McpAuthorizationServerDecorator>()
    expect(app.mcpAuthorizationServer.issuer).type.toBe<string>()
    expect(app.mcpAuthorizationServer.keys).type.toBe<JWTVerifyGetKey>()
    expect(app.register(mcpAuth, { resource: 'https://mcp.example.com/mcp', authorizationServers: [app.mcpAuthorizationServer.issuer], jwks: app.mcpAuthorizationServer.keys })).type.not.toRaiseError()
  })
})

describe('completeAuthorization', () => {
  test('takes an authorization URL and a redirect URI, and resolves with the redirect URL', () => {
    expect(completeAuthorization('https://auth.example.com/authorize?x', 'https://app.example/cb')).type.toBe<Promise<URL>>()
    expect(completeAuthorization(new URL('https://auth.example.com/authorize'), 'https://app.example/cb', { username: 'u', password: 'p', consent: 'deny' })).type.toBe<Promise<URL>>()
    expect<CompleteAuthorizationOptions>().type.not.toBeAssignableFrom({ consent: 'maybe' })
    expect(completeAuthorization).type.not.toBeCallableWith('https://auth.example.com/authorize')
  })
})
