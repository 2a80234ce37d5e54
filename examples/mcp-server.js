// A real MCP server behind fastify-mcp-auth: the official MCP SDK's McpServer with
// three tools, its Streamable HTTP transport on POST /mcp, OAuth 2.1 in front.
//
//   import { startMcpServer } from './mcp-server.js'
//   const mcp = await startMcpServer({ port: 3000, authorizationServer: 'http://127.0.0.1:3001' })
//
// Tools and the scopes they need (checked before the SDK sees the request):
//   read_notes  notes:read    list the notes
//   write_note  notes:write   add a note
//   whoami      notes:read    the verified identity the tool handler received
//
// Copy the route into your server and replace the issuer with your authorization server.
import { createServer } from 'node:net'
import Fastify from 'fastify'
import mcpAuth, { requireScopes, mcpOperationScopes } from 'fastify-mcp-auth'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'

/** The scopes this server understands (register them with your authorization server). */
export const NOTES_SCOPES = ['notes:read', 'notes:write']

// Which scopes each JSON-RPC request needs: tools/call by tool name, anything else
// (initialize, tools/list, …) the default. A request lacking them gets 403
// insufficient_scope naming the scopes, so the client knows what to ask for.
const operationScopes = mcpOperationScopes({
  tools: {
    read_notes: ['notes:read'],
    write_note: ['notes:write'],
  },
  default: ['notes:read'],
})

/**
 * Starts the notes MCP server. Resolves with { url, resource, app, close() }.
 * `authorizationServer` is the issuer whose tokens are accepted (its keys are discovered);
 * `resource` is the canonical resource URI, by default this server's own /mcp URL.
 */
export async function startMcpServer ({ port = 0, host = '127.0.0.1', authorizationServer, resource, logger = false } = {}) {
  if (typeof authorizationServer !== 'string') throw new TypeError('authorizationServer (the issuer URL) is required')
  // The resource URI embeds the port, so pick a free one first when asked for any.
  const listenPort = port === 0 ? await freePort(host) : port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${listenPort}/mcp`
  resource ??= url

  const app = Fastify({ logger })
  // Audit: one event per decision. Here: a log line per denial and a counter by reason
  // (swap the Map for a prom-client Counter). Events never carry tokens or proofs.
  const denials = new Map()
  await app.register(mcpAuth, {
    resource: {
      resource, // tokens must carry this in `aud` (RFC 8707)
      scopesSupported: NOTES_SCOPES, // advertised in the metadata and in 401 challenges
      resourceName: 'Notes (fastify-mcp-auth example)',
    },
    authorizationServers: [authorizationServer], // a token's `iss` must be one of these
    dpop: {}, // DPoP-bound tokens need a valid proof; plain Bearer tokens still work
    onEvent (event, request) {
      if (event.type !== 'denied') return
      denials.set(event.reason, (denials.get(event.reason) ?? 0) + 1)
      request.log.info({ reason: event.reason, status: event.status, client: event.clientId }, 'authorization denied')
    },
    underPressure: true, // shed load (503) before spending signature work
    healthRoute: '/health', // JWKS freshness and replay-store reachability
  })
  // The counters, for a scraper (unauthenticated here for the demo; protect it in production).
  app.get('/metrics', { config: { mcpAuth: false } }, async () => ({ denials: Object.fromEntries(denials) }))

  const notes = [] // shared by every request: the per-request McpServer only wraps it

  app.post('/mcp', { preHandler: requireScopes(operationScopes) }, async (request, reply) => {
    // Stateless Streamable HTTP: a fresh server and transport per request. The plugin has
    // already verified the token and set request.raw.auth, which the transport hands to
    // tool handlers as `extra.authInfo`.
    const server = createNotesServer(notes)
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    reply.hijack() // the transport writes the response itself (JSON or an SSE stream)
    reply.raw.on('close', () => {
      transport.close()
      server.close()
    })
    try {
      await server.connect(transport)
      await transport.handleRequest(request.raw, reply.raw, request.body)
    } catch (err) {
      request.log.error(err, 'MCP request failed')
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' })
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } }))
      }
    }
  })

  // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
  const methodNotAllowed = async (request, reply) => reply.code(405).header('allow', 'POST')
    .send({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed.' } })
  app.get('/mcp', methodNotAllowed)
  app.delete('/mcp', methodNotAllowed)

  await app.listen({ port: listenPort, host })
  return { url, resource, app, close: () => app.close() }
}

/** The MCP server: tools only. Scopes were checked by the route's preHandler already. */
function createNotesServer (notes) {
  const server = new McpServer({ name: 'notes', version: '1.0.0' })

  server.registerTool('read_notes', {
    description: 'List the notes (needs notes:read).',
    annotations: { readOnlyHint: true },
  }, async () => ({
    content: [{ type: 'text', text: notes.length === 0 ? 'No notes yet.' : notes.map((n, i) => `${i + 1}. ${n.text} (by ${n.author})`).join('\n') }],
  }))

  server.registerTool('write_note', {
    description: 'Add a note (needs notes:write).',
    inputSchema: { text: z.string().min(1).max(500) },
  }, async ({ text }, extra) => {
    notes.push({ text, author: extra.authInfo?.extra?.subject ?? 'unknown' })
    return { content: [{ type: 'text', text: `Saved note ${notes.length}.` }] }
  })

  server.registerTool('whoami', {
    description: 'The verified identity behind this call.',
    annotations: { readOnlyHint: true },
  }, async (extra) => {
    // authInfo is the SDK's AuthInfo, built by fastify-mcp-auth from the verified token.
    const { clientId, scopes, extra: { subject, issuer, sender } = {} } = extra.authInfo ?? {}
    const identity = { subject, clientId, scopes, issuer, binding: sender?.binding }
    return { content: [{ type: 'text', text: JSON.stringify(identity) }], structuredContent: identity }
  })

  return server
}

/** A free port on `host` (the resource URI embeds the port, so it is chosen before listening). */
export function freePort (host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, host, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}
