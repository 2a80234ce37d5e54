// The app the runner fixtures test: an MCP route behind mcpAuth trusting a test
// issuer, and the same route left open (the server every helper must fail on).
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import mcpAuth, { McpScopes, requireScopes } from '../../../index.js'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertDpopProofChecksEnforced,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  assertTokenValidationEnforced,
  createTestCa,
  createTestIssuer,
} from '../../../testing.js'

export const RESOURCE = 'https://mcp.example.com/mcp'
export const issuer = await createTestIssuer({ audience: RESOURCE })
export const ca = await createTestCa()
const tls = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })

/** The request an MCP client makes, and the scope its token carries. */
export const toolsList = {
  url: '/mcp',
  method: 'POST',
  payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  issuer,
  claims: { scope: McpScopes.toolsCall },
}

/** Listening on a loopback HTTPS port (for the mTLS helper); `open` leaves the route unprotected. */
export async function buildServer (open = false): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify({
    https: { key: tls.keyPem, cert: tls.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false },
  }) as unknown as FastifyInstance
  if (open) {
    app.post('/mcp', async () => ({ jsonrpc: '2.0', id: 1, result: {} }))
  } else {
    await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks })
    app.post('/mcp', { preHandler: requireScopes([McpScopes.toolsCall]) }, async () => ({ jsonrpc: '2.0', id: 1, result: {} }))
  }
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: `${origin}/mcp` }
}

/** Every helper, against the app at `url` (its HTTPS address, for mTLS). */
export async function everyHelper (app: FastifyInstance, url: string): Promise<void> {
  assertChallenge(await app.inject({ method: 'POST', url: '/mcp' }), { status: 401, scheme: 'Bearer', first: true, error: null })
  await assertDpopBoundBearerRejected(app, toolsList)
  await assertDpopProofAccepted(app, toolsList)
  await assertReplayRejected(app, toolsList)
  await assertDpopProofChecksEnforced(app, toolsList)
  await assertTokenValidationEnforced(app, toolsList)
  await assertMtlsBindingEnforced({ ...toolsList, url, ca })
}
