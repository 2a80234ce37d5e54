// The principal registry (the @fastify/jwt FastifyJWT pattern). Kept in its own
// file: the augmentation applies to the whole program it is part of.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import mcpAuth from '../index.js'
import type { McpAuthContext, McpPrincipal } from '../index.js'

declare module '../index.js' {
  interface McpAuthTypes {
    principal: { id: string }
  }
}

test('McpAuthTypes.principal types request.mcp.principal', () => {
  expect<McpPrincipal>().type.toBe<{ id: string }>()
  const app = Fastify()
  app.get('/mcp', async (request) => {
    expect(request.mcp).type.toBe<McpAuthContext<{ id: string }> | null>()
    if (request.mcp !== null) expect(request.mcp.principal).type.toBe<{ id: string }>()
    return null
  })
})

test('the principal option must return the registered type', () => {
  const app = Fastify()
  expect(app.register(mcpAuth, {
    resource: 'https://mcp.example.com/mcp',
    principal: (claims) => ({ id: String(claims.sub) }),
  })).type.not.toRaiseError()
  expect(app.register(mcpAuth, {
    resource: 'https://mcp.example.com/mcp',
    principal: async () => ({ id: 'x' }),
  })).type.not.toRaiseError()
  expect(app.register(mcpAuth, {
    resource: 'https://mcp.example.com/mcp',
    principal: () => ({ name: 'x' }),
  })).type.toRaiseError("is not assignable to type 'PrincipalFunction<{ id: string; }>'")
})
