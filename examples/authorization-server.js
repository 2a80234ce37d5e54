// A DEVELOPMENT authorization server for MCP: fastify-mcp-auth's mcpAuthorizationServer
// with its development login and consent pages, in memory, signing with a key made at
// start. Run it next to your MCP server to try the whole OAuth flow on one machine; it
// listens on loopback only and must never face a network.
//
//   import { startAuthorizationServer } from './authorization-server.js'
//   const as = await startAuthorizationServer({
//     resources: [{ uri: 'http://127.0.0.1:3000/mcp', scopes: ['mcp:tools:read', 'mcp:tools:call'] }],
//   })
//   // mcpAuth({ resource: 'http://127.0.0.1:3000/mcp', authorizationServers: [as.issuer] })
//
// Sign in as demo-user with the password demo. What an MCP client gets: dynamic client
// registration, Client ID Metadata Documents, authorization code + PKCE (S256 only), PAR,
// client credentials, refresh tokens (offline_access), and RFC 9068 JWT access tokens
// whose `aud` is the requested resource (RFC 8707), DPoP-bound when the client uses DPoP.
// A request that names no scope gets the resource's default scopes.
import { createServer } from 'node:net'
import Fastify from 'fastify'
import { developmentInteractions, mcpAuthorizationServer } from 'fastify-mcp-auth/authorization-server'
import { completeAuthorization } from 'fastify-mcp-auth/testing'
import { randomBytes } from 'node:crypto'

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
export const DEMO_PASSWORD = 'demo'

/**
 * Starts the development authorization server on a loopback address.
 * Resolves with { issuer, url, app, provider, close() }.
 */
export async function startAuthorizationServer (options = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    path = '',
    resources = [],
    demoUser = { sub: 'demo-user', name: 'Demo User' },
    clients = [],
    nonces = false,
    quiet = false,
    unsafeFetch,
  } = options
  if (!LOOPBACK.has(host)) {
    throw new TypeError(`the development authorization server listens on loopback only (127.0.0.1, ::1 or localhost); got host ${JSON.stringify(host)}`)
  }
  if (!Array.isArray(resources) || resources.length === 0 || resources.some((r) => typeof r?.uri !== 'string' || !Array.isArray(r.scopes) || !(r.defaultScopes === undefined || Array.isArray(r.defaultScopes)))) {
    throw new TypeError('resources must be a non-empty array of { uri: string, scopes: string[], defaultScopes?: string[] }')
  }
  if (unsafeFetch !== undefined && typeof unsafeFetch !== 'function') {
    throw new TypeError('unsafeFetch must be a function (url, init) => Promise<Response>')
  }

  // The issuer embeds the port: choose it before listening.
  const listenPort = port === 0 ? await freePort(host) : port
  const issuer = `http://${host === '::1' ? '[::1]' : host}:${listenPort}${path}`
  const app = Fastify({ logger: quiet ? false : { level: 'warn' } })
  await app.register(mcpAuthorizationServer, {
    issuer,
    // A scope-less request gets `defaultScopes`, else every scope of the resource.
    resources: resources.map((r) => ({ uri: r.uri, scopes: r.scopes, defaultScopes: r.defaultScopes ?? r.scopes })),
    accounts: {
      find: async (sub) => sub === demoUser.sub ? { accountId: sub, claims: async () => ({ ...demoUser, sub }) } : undefined,
    },
    claims: { profile: ['name'] },
    interactions: developmentInteractions({ users: [{ accountId: demoUser.sub, password: DEMO_PASSWORD }] }),
    clients: { static: clients, registration: { perIpPerHour: 1000 } },
    dpop: nonces ? { nonce: { secret: randomBytes(32) } } : undefined,
    // Tests only: the guarded fetch cannot reach a loopback CIMD server.
    configure: unsafeFetch === undefined ? undefined : (configuration) => { configuration.fetch = unsafeFetch },
  })
  await app.listen({ port: listenPort, host })

  if (!quiet) {
    console.warn([
      '',
      '!!! DEVELOPMENT AUTHORIZATION SERVER — NOT FOR PRODUCTION !!!',
      `!!! ${issuer} signs in "${demoUser.sub}" (password "${DEMO_PASSWORD}"), accepts any`,
      '!!! client registration, signs with a key made at start and forgets everything on restart.',
      '',
    ].join('\n'))
  }

  return {
    issuer,
    url: issuer,
    app,
    provider: app.mcpAuthorizationServer.provider,
    close: () => app.close(),
  }
}

/**
 * Drives an authorization request through the development login (as the demo user) and
 * consent the way a browser would, and resolves with the redirect-URI URL carrying the
 * code. For demos and tests: completeAuthorization from fastify-mcp-auth/testing.
 */
export function completeDevAuthorization (authorizationUrl, redirectUri) {
  return completeAuthorization(authorizationUrl, redirectUri, { username: 'demo-user', password: DEMO_PASSWORD })
}

/** A free port on `host`. */
function freePort (host) {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
