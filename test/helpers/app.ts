// Shared test fixtures: a real issuer (real keys), and an app with a protected
// /mcp route and a public route. Not a test file (see .taprc include).
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestIssuer, parseWwwAuthenticate } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'

export const RESOURCE = 'https://mcp.example.com/mcp'
export const ORIGIN = 'https://mcp.example.com'
export const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

export interface Teardown { teardown (fn: () => unknown): void }

export interface TestApp {
  app: FastifyInstance
  issuer: TestIssuer
}

/** An app with GET/POST /mcp (POST needs mcp:tools:call) and GET /public (opted out). */
export async function buildApp (
  t: Teardown,
  options: Partial<McpAuthOptions> = {},
  issuer?: TestIssuer,
  addRoutes?: (app: FastifyInstance) => void,
  logs?: string[]
): Promise<TestApp> {
  const iss = issuer ?? await createTestIssuer({ audience: RESOURCE })
  const stream = new Writable({ write (chunk, _encoding, done) { logs?.push(chunk.toString()); done() } })
  const app = Fastify({ logger: logs === undefined ? false : { level: 'debug', stream } })
  t.teardown(() => app.close())
  await app.register(mcpAuth, {
    resource: RESOURCE,
    authorizationServers: [iss.issuer],
    jwks: { keys: iss.jwks.keys },
    ...options,
  } as McpAuthOptions)
  app.get('/mcp', async (request) => ({ mcp: request.mcp, principal: request.mcp?.principal ?? null, auth: authInfo(request.raw) }))
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, async (request) => ({ subject: request.mcp?.subject }))
  app.get('/public', { config: { mcpAuth: false } }, async (request) => ({ mcp: request.mcp }))
  addRoutes?.(app)
  await app.ready()
  return { app, issuer: iss }
}

function authInfo (raw: object): unknown {
  const auth = (raw as { auth?: { resource?: URL } }).auth
  return auth === undefined ? null : { ...auth, resource: auth.resource?.href }
}

/** The `reason` of each 'mcp-auth: request rejected' line among pino's JSON lines (docs/errors.md). */
export function rejectedReasons (logs: readonly string[]): Array<string | undefined> {
  return logs.map((line) => JSON.parse(line) as { msg?: string, reason?: string })
    .filter((line) => line.msg === 'mcp-auth: request rejected')
    .map((line) => line.reason)
}

export interface Challenge { scheme: string, params: Record<string, string> }

/** Parses WWW-Authenticate with the shipped toolkit's parser (dogfooding fastify-mcp-auth/testing). */
export function parseChallenges (header: string | string[] | undefined): Challenge[] {
  return parseWwwAuthenticate(header).map((c) => ({ scheme: c.scheme, params: { ...c.params } }))
}
