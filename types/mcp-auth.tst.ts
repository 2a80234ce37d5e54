// Public type surface: request.mcp, the sender union, route config, options
// and requireScopes. The principal registry is tested alone in principal.tst.ts
// (an augmentation there would leak into this file's expectations).
import Fastify from 'fastify'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { describe, expect, test } from 'tstyche'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Static } from 'typebox'
import mcpAuth, { mcpContext, McpScopes, mcpOperationScopes, RedisReplayStore, requireScopes, scopesSatisfy } from '../index.js'
import type { McpAuthContext, McpAuthErrorCode, McpAuthEvent, McpAuthOptions, McpAuthRejectReason, McpAuthStatus, McpSender, OAuthErrorCode } from '../index.js'

const app = Fastify()

describe('request.mcp', () => {
  test('is McpAuthContext | null on every request', () => {
    app.get('/mcp', async (request) => {
      expect(request.mcp).type.toBe<McpAuthContext | null>()
      if (request.mcp !== null) {
        expect(request.mcp.scopes).type.toBe<readonly string[]>()
        expect(request.mcp.clientId).type.toBe<string | undefined>()
        expect(request.mcp.expiresAt).type.toBe<number | undefined>()
        expect(request.mcp.resource).type.toBe<string>()
        expect(request.mcp.sender).type.toBe<McpSender>()
      }
      return null
    })
  })

  test('is read-only', () => {
    app.get('/ro', async (request) => {
      if (request.mcp !== null) {
        expect(() => { (request.mcp as McpAuthContext).subject = 'x' }).type.toRaiseError('read-only')
      }
      return null
    })
  })
})

describe('McpSender', () => {
  test('narrowing on binding gives the confirmation value', () => {
    const sender = {} as McpSender
    if (sender.binding === 'dpop') {
      expect(sender.jkt).type.toBe<string>()
      expect(sender).type.not.toHaveProperty('x5t')
    } else if (sender.binding === 'mtls') {
      expect(sender.x5t).type.toBe<string>()
    } else {
      expect(sender).type.toBe<{ readonly binding: 'bearer' }>()
      expect(sender).type.not.toHaveProperty('jkt')
    }
  })

  test('jkt is not readable before narrowing', () => {
    const sender = {} as McpSender
    expect(sender).type.not.toHaveProperty('jkt')
  })
})

describe('mcpContext', () => {
  test('gives a non-null context, so a handler needs no `!`', () => {
    app.get('/who', async (request) => {
      expect(mcpContext(request)).type.toBe<McpAuthContext>()
      expect(mcpContext(request).subject).type.toBe<string | undefined>()
      return mcpContext(request).scopes
    })
  })
})

describe('route config', () => {
  test('mcpAuth: false opts a route out', () => {
    expect(app.get('/public', { config: { mcpAuth: false } }, async () => 'ok')).type.not.toRaiseError()
  })

  test('mcpAuth: true is a type error', () => {
    expect(app.get('/x', { config: { mcpAuth: true } }, async () => 'ok')).type.toRaiseError("Type '{ mcpAuth: true; }' is not assignable")
  })
})

describe('McpAuthOptions', () => {
  test('the documented usage type-checks', () => {
    expect(app.register(mcpAuth, {
      resource: 'https://mcp.example.com/mcp',
      authorizationServers: ['https://auth.example.com'],
      dpop: { nonce: { secret: 'x'.repeat(32) } },
    })).type.not.toRaiseError()
    expect<McpAuthOptions>().type.toBeAssignableFrom({ resource: 'https://mcp.example.com/mcp', dpop: false as const })
    expect<McpAuthOptions>().type.toBeAssignableFrom({
      resource: [{ resource: 'https://mcp.example.com/mcp', scopesSupported: ['mcp:tools:read'], authorizationServers: ['https://a.example'] }],
      jwks: { uri: 'https://auth.example.com/jwks', cooldown: 30 },
    })
  })

  test('resource is required', () => {
    expect<McpAuthOptions>().type.not.toBeAssignableFrom({ authorizationServers: ['https://auth.example.com'] })
  })

  test('unknown keys in an object literal are rejected (excess property check)', () => {
    expect(app.register(mcpAuth, {
      resource: 'https://mcp.example.com/mcp',
      authorisationServers: ['https://auth.example.com'],
    })).type.toRaiseError("'authorisationServers' does not exist")
    const options: McpAuthOptions = {
      resource: 'https://mcp.example.com/mcp',
      // @ts-expect-error Object literal may only specify known properties
      jwk: { keys: [] },
    }
    expect(options).type.toBe<McpAuthOptions>()
  })

  test('dpop is false or an options object, never true', () => {
    expect<McpAuthOptions['dpop']>().type.toBeAssignableFrom(false as const)
    expect<McpAuthOptions['dpop']>().type.toBeAssignableFrom({})
    expect<McpAuthOptions['dpop']>().type.not.toBeAssignableFrom(true as const)
  })

  test('scopeMatching is a closed set', () => {
    expect<McpAuthOptions['scopeMatching']>().type.toBe<'hierarchical' | 'exact' | undefined>()
  })
})

describe('requireScopes', () => {
  test('returns a preHandler usable in route options', () => {
    expect(requireScopes([McpScopes.toolsCall])).type.toBe<preHandlerAsyncHookHandler>()
    expect(app.post('/mcp', { preHandler: requireScopes([McpScopes.toolsCall]) }, async () => 'ok')).type.not.toRaiseError()
    expect(app.post('/mcp2', { preHandler: [requireScopes(['a'], { match: 'any' })] }, async () => 'ok')).type.not.toRaiseError()
  })

  test('takes a function of the request, sync or async', () => {
    expect(requireScopes).type.toBeCallableWith((request: FastifyRequest) => [String(request.method)])
    expect(requireScopes).type.toBeCallableWith(async () => ['mcp:tools:call'])
  })

  test('the function form sees the route\'s typed body', () => {
    type JsonRpc = { method: string, params?: { name?: string } }
    expect(app.post<{ Body: JsonRpc | undefined }>('/typed', {
      preHandler: requireScopes((request) => request.body?.method === 'tools/call' && request.body.params?.name === 'delete_file' ? ['files:write'] : ['files:read']),
    }, async () => 'ok')).type.not.toRaiseError()
    expect(app.post<{ Body: JsonRpc }>('/typed2', {
      preHandler: requireScopes((request) => [request.body.nope]),
    }, async () => 'ok')).type.toRaiseError('Property \'nope\' does not exist')
  })

  test('with @fastify/type-provider-typebox, the route generic passed to requireScopes', () => {
    const Body = Type.Object({ method: Type.String() })
    const typed = app.withTypeProvider<TypeBoxTypeProvider>()
    expect(typed.post('/tb', {
      schema: { body: Body },
      preHandler: requireScopes<{ Body: Static<typeof Body> }>((request) => request.body.method === 'tools/call' ? ['mcp:tools:call'] : ['mcp:tools:read']),
    }, async (request) => request.body.method)).type.not.toRaiseError()
    expect(typed.post('/tb2', { schema: { body: Body }, preHandler: requireScopes(['a']) }, async (request) => request.body.method)).type.not.toRaiseError()
  })

  test('fits an https server\'s routes and hooks too', () => {
    const secure = Fastify({ https: { key: '', cert: '' } })
    expect(secure.post('/mcp', { preHandler: requireScopes(['a']) }, async () => 'ok')).type.not.toRaiseError()
    expect(secure.addHook('preHandler', requireScopes(['a']))).type.not.toRaiseError()
  })

  test('match is all | any', () => {
    expect(requireScopes).type.toBeCallableWith(['a'], { match: 'all' })
    expect(requireScopes).type.not.toBeCallableWith(['a'], { match: 'some' })
    expect(requireScopes).type.not.toBeCallableWith('mcp:tools:call')
  })
})

describe('scope helpers', () => {
  test('McpScopes and scopesSatisfy', () => {
    expect(McpScopes.server('search', 'tools:call')).type.toBe<string>()
    expect(McpScopes.toolsCall).type.toBe<'mcp:tools:call'>()
    expect(scopesSatisfy(['a'], ['a'], { match: 'any', mode: 'exact' })).type.toBe<boolean>()
    expect(scopesSatisfy).type.not.toBeCallableWith(['a'], ['a'], { mode: 'fuzzy' })
  })
})

describe('operations surface', () => {
  test('mcpOperationScopes plugs into requireScopes, with challengeScopes', () => {
    const scopes = mcpOperationScopes({ tools: { delete: ['files:write'] }, default: ['files:read'] })
    expect(requireScopes(scopes, { challengeScopes: ['files:read'] })).type.toBe<preHandlerAsyncHookHandler>()
    expect(mcpOperationScopes({ tools: { x: 'a' } })).type.toRaiseError()
  })

  test('onEvent receives a discriminated McpAuthEvent', () => {
    const options: McpAuthOptions = {
      resource: 'https://mcp.example.com/mcp',
      authorizationServers: ['https://auth.example.com'],
      onEvent (event) {
        if (event.type === 'denied') expect(event.reason).type.toBe<string>()
        else expect(event.binding).type.toBe<'bearer' | 'dpop' | 'mtls'>()
      },
      underPressure: true,
      healthRoute: '/health',
    }
    expect(options.onEvent).type.toBe<((event: McpAuthEvent, request: FastifyRequest) => void) | undefined>()
  })

  test('RedisReplayStore takes an ioredis or a node-redis client', () => {
    const store = new RedisReplayStore({ client: new Redis({ lazyConnect: true }), prefix: 'x:', timeout: 1 })
    expect(store.claim('k', 1)).type.toBe<Promise<boolean>>()
    expect(store.ping()).type.toBe<Promise<void>>()
    expect(new RedisReplayStore({ client: createClient() })).type.toBe<RedisReplayStore>()
    expect(new RedisReplayStore({ client: {} })).type.toRaiseError()
    expect(new RedisReplayStore({ client: { set: async () => 'OK' } })).type.toRaiseError()
  })
})

describe('McpAuthError surface', () => {
  test('errorRenderer sees every status, 500 server_error included', () => {
    const options: McpAuthOptions = {
      resource: 'https://mcp.example.com/mcp',
      errorRenderer (error) {
        expect(error.statusCode).type.toBe<McpAuthStatus>()
        expect(error.oauthError).type.toBe<OAuthErrorCode | undefined>()
        return { status: error.statusCode }
      },
    }
    expect(options).type.toBe<McpAuthOptions>()
    expect<McpAuthStatus>().type.toBeAssignableFrom(500 as const)
    expect<OAuthErrorCode>().type.toBeAssignableFrom('server_error' as const)
    expect<McpAuthErrorCode>().type.toBeAssignableFrom('FST_MCP_AUTH_INTERNAL' as const)
    expect<McpAuthRejectReason>().type.toBeAssignableFrom('principal.failed' as const)
    expect<McpAuthRejectReason>().type.toBeAssignableFrom('resource.unmatched' as const)
  })
})

describe('tokenCache', () => {
  test('maxEntries and maxAge, or false', () => {
    expect<McpAuthOptions['tokenCache']>().type.toBeAssignableFrom({ maxEntries: 10, maxAge: 60 })
    expect<McpAuthOptions['tokenCache']>().type.toBeAssignableFrom(false as const)
    expect<McpAuthOptions['tokenCache']>().type.not.toBeAssignableFrom({ maxAge: '60' })
  })
})

describe('introspection limits', () => {
  test('negativeCacheTtl, negativeCacheMaxEntries and maxConcurrent are numbers', () => {
    expect<McpAuthOptions['introspection']>().type.toBeAssignableFrom({
      clientId: 'rs',
      clientSecret: 's',
      negativeCacheTtl: 0,
      negativeCacheMaxEntries: 100,
      maxConcurrent: 8,
    })
    expect<McpAuthOptions['introspection']>().type.not.toBeAssignableFrom({ clientId: 'rs', clientSecret: 's', maxConcurrent: '8' })
  })
})

describe('jwks.warmUp', () => {
  test('background, required or false', () => {
    expect<McpAuthOptions['jwks']>().type.toBeAssignableFrom({ warmUp: 'required' as const })
    expect<McpAuthOptions['jwks']>().type.toBeAssignableFrom({ uri: 'https://a.example/jwks', warmUp: false as const })
    expect<McpAuthOptions['jwks']>().type.not.toBeAssignableFrom({ warmUp: true as const })
  })
})
