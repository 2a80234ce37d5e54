// Quick start: a protected MCP-style route in front of a local test
// authorization server, so it runs on a fresh machine with no network.
//
//   npm run quickstart            starts the server and prints a token and curl commands
//   npm run quickstart -- --check makes the requests itself and exits (used by npm test)
//
// In your server, replace the test issuer with your authorization server:
//   authorizationServers: ['https://auth.example.com'] (its jwks_uri is discovered).
import { createServer } from 'node:net'
import Fastify from 'fastify'
import mcpAuth, { mcpContext, requireScopes, McpScopes } from 'fastify-mcp-auth'
import { startTestIssuer } from 'fastify-mcp-auth/testing'

const check = process.argv.includes('--check')
const port = check ? await freePort() : Number(process.env.PORT ?? 3000)
const resource = `http://127.0.0.1:${port}/mcp`

// A loopback authorization server publishing RFC 8414 metadata and a JWKS.
const issuer = await startTestIssuer({ audience: resource })

const app = Fastify({ logger: { level: check ? 'warn' : 'info' } })
await app.register(mcpAuth, {
  resource, // the canonical resource URI (RFC 8707): tokens must name it in `aud`
  authorizationServers: [issuer.issuer], // accepted issuers; jwks_uri is discovered
})
app.post('/mcp', { preHandler: requireScopes([McpScopes.toolsCall]) }, async (request) => {
  const { subject, scopes, sender } = mcpContext(request) // the verified context, never null here
  return { jsonrpc: '2.0', id: 1, result: { subject, scopes, binding: sender.binding } }
})
app.addHook('onClose', () => issuer.close())
await app.listen({ port, host: '127.0.0.1' })

const base = `http://127.0.0.1:${port}`
const token = await issuer.mintAccessToken({ aud: resource, scope: 'mcp:tools:call' })

if (!check) {
  console.log(`
MCP route:  POST ${base}/mcp   (needs ${McpScopes.toolsCall})
Metadata:   GET  ${base}/.well-known/oauth-protected-resource/mcp

  curl -i -X POST ${base}/mcp
  curl -i -X POST ${base}/mcp -H 'authorization: Bearer ${token}'
`)
} else {
  const url = `${base}/mcp`
  const steps = [
    ['no token', await fetch(url, { method: 'POST' }), 401],
    ['metadata', await fetch(`${base}/.well-known/oauth-protected-resource/mcp`), 200],
    ['valid token', await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } }), 200],
    ['missing scope', await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await issuer.mintAccessToken({ aud: resource, scope: 'mcp:tools:read' })}` } }), 403],
  ]
  let ok = true
  for (const [name, res, expected] of steps) {
    const pass = res.status === expected
    ok &&= pass
    console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}: ${res.status}${res.headers.get('www-authenticate') ? `  WWW-Authenticate: ${res.headers.get('www-authenticate').slice(0, 90)}…` : ''}`)
  }
  await app.close()
  process.exitCode = ok ? 0 : 1
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}
