// An app running mcpAuthorizationServer on a free 127.0.0.1 port (the issuer
// embeds the port, so the port is chosen first), closed at the end of the test,
// and the oauth4webapi view of it.
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { developmentInteractions, mcpAuthorizationServer } from '../../authorization-server.js'
import type { McpAuthorizationServerOptions } from '../../authorization-server.js'
import { freePort } from './net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

export const RESOURCE = 'https://mcp.example.com/mcp'
export const SCOPES = ['mcp:tools:read', 'mcp:tools:call']
export const COOKIE_KEYS = ['cookie-key-0123456789-0123456789-abcdef']
export const insecure = { [oauth.allowInsecureRequests]: true } as const

export interface RunningAs {
  app: FastifyInstance
  issuer: string
  port: number
  as: oauth.AuthorizationServer
}

export function asOptions (issuer: string, overrides: Partial<McpAuthorizationServerOptions> = {}): McpAuthorizationServerOptions {
  return {
    issuer,
    resources: [{ uri: RESOURCE, scopes: SCOPES, defaultScopes: ['mcp:tools:read'] }],
    accounts: { find: async (subject) => subject === 'demo-user' || subject === 'other-user' ? { accountId: subject, claims: async () => ({ sub: subject, name: 'Demo' }) } : undefined },
    interactions: developmentInteractions({ users: [{ accountId: 'demo-user', password: 'demo' }, { accountId: 'other-user', password: 'other' }] }),
    cookies: { keys: COOKIE_KEYS },
    ...overrides,
  }
}

/** Registers the plugin (before `setup` adds more) and listens; `path` is the issuer path. */
export async function startAs (t: Test, overrides: Partial<McpAuthorizationServerOptions> = {}, settings: { path?: string, port?: number, fastify?: FastifyServerOptions, setup?: (app: FastifyInstance, issuer: string) => Promise<void> | void } = {}): Promise<RunningAs> {
  const port = settings.port ?? await freePort()
  const issuer = `http://127.0.0.1:${port}${settings.path ?? ''}`
  const app = Fastify(settings.fastify ?? {})
  t.teardown(() => app.close())
  await app.register(mcpAuthorizationServer, asOptions(issuer, overrides))
  await settings.setup?.(app, issuer)
  await app.listen({ port, host: '127.0.0.1' })
  const url = new URL(issuer)
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }))
  return { app, issuer, port, as }
}
