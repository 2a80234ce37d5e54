// Public type surface of sessionBinding: the option, the two stores, the SessionStore
// contract a custom store implements, and the error code and status it adds.
import Fastify from 'fastify'
import { describe, expect, test } from 'tstyche'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import mcpAuth, { MemorySessionStore, RedisReplayStore, RedisSessionStore } from '../index.js'
import type { McpAuthErrorCode, McpAuthOptions, McpAuthStatus, SessionBindingOptions, SessionStore } from '../index.js'

const app = Fastify()
const base = { resource: 'https://mcp.example.com/mcp', authorizationServers: ['https://auth.example.com'] }

describe('sessionBinding', () => {
  test('true, false, or { store, idleTtl }', () => {
    expect(app.register(mcpAuth, { ...base, sessionBinding: true })).type.not.toRaiseError()
    expect(app.register(mcpAuth, { ...base, sessionBinding: { store: new RedisSessionStore({ client: new Redis({ lazyConnect: true }) }), idleTtl: 1800 } })).type.not.toRaiseError()
    expect<McpAuthOptions['sessionBinding']>().type.toBe<boolean | SessionBindingOptions | undefined>()
    expect<SessionBindingOptions>().type.toBeAssignableFrom({})
    expect<SessionBindingOptions>().type.toBeAssignableFrom({ store: new MemorySessionStore({ maxEntries: 10 }) })
  })

  test('not a string, not an unknown key, not a replay store', () => {
    expect<McpAuthOptions['sessionBinding']>().type.not.toBeAssignableFrom('memory')
    expect<SessionBindingOptions>().type.not.toBeAssignableFrom({ idleTTL: 60 })
    expect<SessionBindingOptions>().type.not.toBeAssignableFrom({ store: new RedisReplayStore({ client: createClient() }) })
  })

  test('a custom store answers synchronously or with promises', () => {
    const sync: SessionStore = { create: () => true, get: () => undefined, refresh: () => {}, delete: () => {} }
    const async: SessionStore = {
      create: async () => true,
      get: async () => 'value',
      refresh: async () => {},
      delete: async () => {},
      ping: async () => {},
      close: async () => {},
    }
    expect(sync).type.toBe<SessionStore>()
    expect(async).type.toBe<SessionStore>()
    expect<SessionStore>().type.not.toBeAssignableFrom({ create: () => 'OK', get: () => undefined, refresh: () => {}, delete: () => {} })
  })
})

describe('the stores', () => {
  test('RedisSessionStore takes an ioredis or a node-redis client', () => {
    const store = new RedisSessionStore({ client: createClient(), prefix: 'p:', timeout: 0.5 })
    expect(store.get('k')).type.toBe<Promise<string | undefined>>()
    expect(store.create('k', 'v', 60)).type.toBe<Promise<boolean>>()
    expect(store.ping()).type.toBe<Promise<void>>()
    expect(store).type.toBeAssignableTo<SessionStore>()
    expect(new RedisSessionStore({ client: {} })).type.toRaiseError()
  })

  test('MemorySessionStore answers synchronously', () => {
    const store = new MemorySessionStore()
    expect(store.get('k')).type.toBe<string | undefined>()
    expect(store.maxEntries).type.toBe<number>()
    expect(store).type.toBeAssignableTo<SessionStore>()
    expect(new MemorySessionStore({ maxEntries: '10' })).type.toRaiseError()
  })
})

describe('errors', () => {
  test('the 404 of a session that is not the requester\'s', () => {
    expect<McpAuthErrorCode>().type.toBeAssignableFrom('FST_MCP_AUTH_SESSION_MISMATCH' as const)
    expect<McpAuthStatus>().type.toBeAssignableFrom(404 as const)
  })
})
