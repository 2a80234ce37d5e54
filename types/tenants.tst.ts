// The resolver form of `resource` and `fastify.mcpAuth`: the resolver's
// parameters and request are typed, a descriptor is a resource's options less
// the metadata URL, and invalidate takes the route parameters.
import Fastify from 'fastify'
import type { FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import mcpAuth from '../index.js'
import type { McpAuthDecorator, McpAuthOptions, TenantDescriptor, TenantParams, TenantResolverOptions } from '../index.js'

const app = Fastify()

describe('resource: { origin, path, resolve }', () => {
  test('is accepted by mcpAuth, with every tuning option', () => {
    expect(app.register(mcpAuth, {
      resource: {
        origin: 'https://mcp.example.com',
        path: '/t/:tenant/mcp',
        async resolve (params, request) {
          expect(params).type.toBe<TenantParams>()
          expect(request).type.toBe<FastifyRequest>()
          return params.tenant === 'acme' ? { scopesSupported: ['mcp:tools:read'] } : undefined
        },
        cacheTtl: 60,
        negativeCacheTtl: 10,
        maxEntries: 100_000,
        timeout: 5,
        tenantPattern: /^[a-z]+$/,
        maxIssuers: 1000,
        maxConcurrentDiscovery: 8,
      },
      authorizationServers: ['https://login.example.com/{tenant}/v2.0'],
    })).type.not.toRaiseError()
  })

  test('resolve may be synchronous and may answer null', () => {
    expect<TenantResolverOptions>().type.toBeAssignableFrom({ origin: 'https://x.example', path: '/t/:t', resolve: () => null })
    expect<TenantResolverOptions>().type.toBeAssignableFrom({ origin: 'https://x.example', path: '/t/:t', resolve: () => ({ resourceName: 'T' }) })
  })

  test('needs origin, path and resolve; resolve must answer a descriptor', () => {
    expect<TenantResolverOptions>().type.not.toBeAssignableFrom({ path: '/t/:t', resolve: () => undefined })
    expect<TenantResolverOptions>().type.not.toBeAssignableFrom({ origin: 'https://x.example', path: '/t/:t', resolve: () => 'acme' })
    expect<McpAuthOptions['resource']>().type.toBeAssignableFrom({ origin: 'https://x.example', path: '/t/:t', resolve: async () => undefined })
  })

  test('a descriptor has no resourceMetadataUrl (the route serves the document)', () => {
    expect<TenantDescriptor>().type.toBeAssignableFrom({ resource: 'https://x.example/t/a', authorizationServers: ['https://as.example'], audiences: ['api://a'], metadata: { x: 1 } })
    expect<TenantDescriptor>().type.not.toHaveProperty('resourceMetadataUrl')
  })
})

describe('fastify.mcpAuth', () => {
  test('invalidate takes the route parameters', () => {
    expect(app.mcpAuth).type.toBe<McpAuthDecorator>()
    expect(app.mcpAuth.invalidate({ tenant: 'acme' })).type.toBe<void>()
    expect(app.mcpAuth.invalidate).type.not.toBeCallableWith('acme')
  })
})
