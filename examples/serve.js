// Starts the development authorization server and the example MCP server together,
// so you can point any MCP client at them (e.g. the MCP Inspector). Ctrl+C stops both.
//
//   npm start                               (builds first; or: node examples/serve.js)
//   MCP_PORT=4000 AUTH_PORT=4001 npm start  other ports
//
// Everything listens on 127.0.0.1 and the authorization server (mcpAuthorizationServer with
// its development pages) signs in demo-user / demo: for trying things on your machine only.
import { startAuthorizationServer } from './authorization-server.js'
import { startMcpServer, NOTES_SCOPES } from './mcp-server.js'

const host = '127.0.0.1'
const mcpPort = port('MCP_PORT', 3000)
const authPort = port('AUTH_PORT', 3001)
const resource = `http://${host}:${mcpPort}/mcp`

// The authorization server issues tokens for this one MCP resource, with its scopes.
const authServer = await startAuthorizationServer({ host, port: authPort, resources: [{ uri: resource, scopes: NOTES_SCOPES }] })
let mcp
try {
  mcp = await startMcpServer({ host, port: mcpPort, authorizationServer: authServer.issuer, logger: { level: process.env.LOG_LEVEL ?? 'info' } })
} catch (err) {
  await authServer.close()
  throw err
}

console.log(`
MCP server (Streamable HTTP)   ${mcp.url}
  tools: read_notes (notes:read), write_note (notes:write), whoami (notes:read)
  protected-resource metadata  http://${host}:${mcpPort}/.well-known/oauth-protected-resource/mcp
Authorization server           ${authServer.issuer}
  metadata                     ${authServer.issuer}/.well-known/oauth-authorization-server

Point an MCP client at ${mcp.url}; it finds everything else from the 401.
Sign in as demo-user with the password demo. docs/connecting-clients.md has the details.
  MCP Inspector:  npx @modelcontextprotocol/inspector
                  transport Streamable HTTP, URL ${mcp.url}, then Connect (it runs the OAuth flow)
  By hand:        curl -i -X POST ${mcp.url}
  The scripted story (starts its own servers): npm run demo

Ctrl+C to stop.
`)

let stopping = false
async function stop (signal) {
  if (stopping) return
  stopping = true
  console.log(`\n${signal}: stopping`)
  await Promise.allSettled([mcp.close(), authServer.close()])
  process.exit(0)
}
process.once('SIGINT', () => stop('SIGINT'))
process.once('SIGTERM', () => stop('SIGTERM'))

function port (name, fallback) {
  const value = process.env[name]
  if (value === undefined || value === '') return fallback
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1 || number > 65535) throw new TypeError(`${name} must be a port number (1-65535); got ${JSON.stringify(value)}`)
  return number
}
