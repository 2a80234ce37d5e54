// The "A complete test file" example of docs/testing.md, verbatim except for the import
// paths (the page imports 'fastify-mcp-auth' and 'fastify-mcp-auth/testing').
// Keep the two in sync.
import Fastify from 'fastify'
import t from 'tap'
import mcpAuth, { McpScopes, requireScopes } from '../../index.js'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  createTestCa,
  createTestIssuer,
} from '../../testing.js'

const RESOURCE = 'https://mcp.example.com/mcp'

// A test authorization server: real keys, tokens with aud = RESOURCE.
const issuer = await createTestIssuer({ audience: RESOURCE })

// Your server, built as in production, trusting the test issuer's keys.
async function buildServer (fastifyOptions = {}) {
  const app = Fastify(fastifyOptions)
  await app.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [issuer.issuer],
    jwks: issuer.jwks,
  })
  app.post('/mcp', { preHandler: requireScopes([McpScopes.toolsCall]) }, async (request) => ({
    jsonrpc: '2.0',
    id: 1,
    result: { subject: request.mcp?.subject },
  }))
  return app
}

// The request an MCP client makes, and the scope its token carries.
const toolsList = {
  url: '/mcp',
  method: 'POST',
  payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  issuer,
  claims: { scope: McpScopes.toolsCall },
}

t.test('no token: 401 with a challenge a client can follow', async (t) => {
  const app = await buildServer()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/mcp' })
  assertChallenge(res, {
    status: 401,
    scheme: 'Bearer',
    error: null,
    scope: [McpScopes.toolsCall],
    resourceMetadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
  })
})

t.test('missing scope: 403 insufficient_scope naming the scope', async (t) => {
  const app = await buildServer()
  t.teardown(() => app.close())
  const token = await issuer.mintAccessToken({ scope: McpScopes.toolsRead })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` } })
  assertChallenge(res, { status: 403, error: 'insufficient_scope', scope: [McpScopes.toolsCall] })
})

t.test('DPoP: a bound token needs its proof, and a proof works once', async (t) => {
  const app = await buildServer()
  t.teardown(() => app.close())
  await assertDpopBoundBearerRejected(app, toolsList)
  await assertDpopProofAccepted(app, toolsList)
  await assertReplayRejected(app, toolsList)
})

t.test('mTLS: a certificate-bound token needs that certificate', async (t) => {
  const ca = await createTestCa()
  const tls = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })
  const app = await buildServer({
    // rejectUnauthorized: false lets a client without a certificate reach the plugin (which answers 401).
    https: { key: tls.keyPem, cert: tls.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false },
  })
  t.teardown(() => app.close())
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  await assertMtlsBindingEnforced({ ...toolsList, url: `${origin}/mcp`, ca })
})
