// A stateful MCP server for the session-binding tests: the official MCP SDK's
// McpServer and Streamable HTTP transport with session IDs, mounted on POST, GET and
// DELETE /mcp the way examples/mcp-server.js mounts the stateless one (reply.hijack(),
// then transport.handleRequest on the raw request and response). The transports live
// in a `SessionTransports` that several Fastify instances may share, standing in for a
// deployment whose session state every instance can reach. Not a test file.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import { createDpopProof } from '../../testing.js'
import type { DpopKey } from '../../testing.js'

export class SessionTransports {
  readonly transports = new Map<string, StreamableHTTPServerTransport>()
  /** The access token of every request handed to a transport: a refused one must never be here. */
  readonly handledTokens: string[] = []
  /** Sessions the SDK opened (onsessioninitialized). */
  opened = 0
}

function createWhoamiServer (): McpServer {
  const server = new McpServer({ name: 'sessions', version: '1.0.0' })
  server.registerTool('whoami', { description: 'The verified subject.' }, async (extra) => ({
    content: [{ type: 'text', text: String(extra.authInfo?.extra?.subject ?? 'unknown') }],
  }))
  return server
}

function jsonRpcError (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ jsonrpc: '2.0', id: null, error: { code: -32000, message } })
}

/** Mounts the stateful MCP endpoint on `app`. */
export function mountSessionServer (app: FastifyInstance, sessions: SessionTransports): void {
  async function handle (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const id = request.headers['mcp-session-id']
    let transport = typeof id === 'string' ? sessions.transports.get(id) : undefined
    if (transport === undefined) {
      if (id !== undefined) return reply.code(404).send({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } })
      if (request.method !== 'POST' || !isInitializeRequest(request.body)) return jsonRpcError(reply, 400, 'Bad Request: no valid session ID')
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => {
          sessions.opened++
          sessions.transports.set(sessionId, created)
        },
      })
      created.onclose = () => {
        if (created.sessionId !== undefined) sessions.transports.delete(created.sessionId)
      }
      await createWhoamiServer().connect(created)
      transport = created
    }
    sessions.handledTokens.push(request.mcp?.token ?? '')
    reply.hijack() // the transport writes the response itself (JSON or an SSE stream)
    await transport.handleRequest(request.raw, reply.raw, request.body)
    return undefined
  }
  app.post('/mcp', handle)
  app.get('/mcp', handle)
  app.delete('/mcp', handle)
}

/** A fetch for the SDK client that sends a Bearer token, to `target` whatever URL it is given. */
export function bearerFetch (token: string, target?: () => string): FetchLike {
  return async (url, init) => {
    const headers = new Headers(init?.headers)
    headers.set('authorization', `Bearer ${token}`)
    return fetch(target?.() ?? url, { ...init, headers })
  }
}

/** A fetch that sends a DPoP-bound token with a fresh proof for `htu` on every request. */
export function dpopFetch (token: string, key: DpopKey, htu: string, target?: () => string): FetchLike {
  return async (url, init) => {
    const headers = new Headers(init?.headers)
    headers.set('authorization', `DPoP ${token}`)
    headers.set('dpop', await createDpopProof(key, { method: init?.method ?? 'GET', url: htu, accessToken: token }))
    return fetch(target?.() ?? url, { ...init, headers })
  }
}
