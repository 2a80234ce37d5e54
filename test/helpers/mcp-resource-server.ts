// An MCP server protected by this package's own mcpAuth, for the client's
// tests: POST /mcp answers JSON-RPC, tools/call needs `mcp:tools:call`, every
// other method `mcp:tools:read`; it records the credentials it saw.
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { freePort } from './net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

export const SCOPES = ['mcp:tools:read', 'mcp:tools:call'] as const

export interface McpServerOptions {
  /** The trusted issuer; 'same-origin' for an authorization server on this server's origin. */
  issuer: string
  /** Require DPoP server nonces (RFC 9449 §9). */
  dpopNonces?: boolean
  /** Requests for paths other than /mcp and its metadata go here (an authorization server on the same origin). */
  otherPaths?: () => ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  /** The resource's scopes_supported, also the 401 challenge's scope (default both SCOPES). */
  scopesSupported?: readonly string[]
  /** Path of the MCP endpoint (default /mcp). */
  path?: string
  /** Default: a free port. */
  port?: number
}

export interface McpServer {
  readonly url: string
  readonly origin: string
  readonly app: FastifyInstance
  /** The Authorization header of every request to the MCP endpoint (undefined: none). */
  readonly authorizations: Array<string | undefined>
  /** 401 use_dpop_nonce answers sent. */
  readonly nonceChallenges: { count: number }
}

export async function startMcpServer (t: Test, options: McpServerOptions): Promise<McpServer> {
  const path = options.path ?? '/mcp'
  const authorizations: Array<string | undefined> = []
  const nonceChallenges = { count: 0 }
  const ownPath = (url: string): boolean => url.startsWith(path) || url.startsWith('/.well-known/oauth-protected-resource')
  const app = Fastify({
    serverFactory: (handler) => createServer((req, res) => {
      const other = options.otherPaths?.()
      if (other !== undefined && !ownPath(req.url ?? '/')) other(req, res)
      else handler(req, res)
    }),
  })
  // The resource URL embeds the port: listen on a fixed free port chosen first.
  const port = options.port ?? await freePort()
  const origin = `http://127.0.0.1:${port}`
  const url = `${origin}${path}`
  const issuer = options.issuer === 'same-origin' ? origin : options.issuer

  await app.register(mcpAuth, {
    resource: [{ resource: url, scopesSupported: [...(options.scopesSupported ?? SCOPES)] }],
    authorizationServers: [issuer],
    ...(options.dpopNonces === true ? { dpop: { nonce: { secret: randomBytes(32), step: 3600 } } } : {}),
  } as McpAuthOptions)
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith(path)) authorizations.push(request.headers.authorization)
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 401 && String(reply.getHeader('www-authenticate') ?? '').includes('use_dpop_nonce')) nonceChallenges.count++
    return payload
  })
  app.post(path, {
    preHandler: requireScopes((request) => ((request.body as { method?: string } | undefined)?.method === 'tools/call' ? ['mcp:tools:call'] : ['mcp:tools:read'])),
  }, async (request) => {
    const { subject, clientId, resource, scopes, sender } = request.mcp!
    const { id = null } = (request.body ?? {}) as { id?: unknown }
    return { jsonrpc: '2.0', id, result: { subject, clientId, resource, scopes, sender } }
  })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url, origin, app, authorizations, nonceChallenges }
}

/** A JSON-RPC request body for the MCP endpoint. */
export function rpc (method: string, params: Record<string, unknown> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) }
}
