// An app running mcpAuthorizationServer on a free 127.0.0.1 port (the issuer
// embeds the port, so the port is chosen first), closed at the end of the test,
// and the oauth4webapi view of it.
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { developmentInteractions, mcpAuthorizationServer } from '../../authorization-server.js'
import { completeAuthorization } from '../../testing.js'
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

export const REDIRECT_URI = 'http://127.0.0.1/callback'

/** Registers a public client through RFC 7591 (the way MCP clients do). */
export async function registerPublicClient (as: oauth.AuthorizationServer, metadata: Record<string, unknown> = {}): Promise<oauth.Client> {
  const res = await oauth.dynamicClientRegistrationRequest(as, {
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...metadata,
  }, insecure)
  return oauth.processDynamicClientRegistrationResponse(res)
}

/** An authorization URL with PKCE S256; `params` adds or (with undefined) removes parameters. */
export async function authorizationUrl (as: oauth.AuthorizationServer, client: oauth.Client, params: Record<string, string | undefined> = {}): Promise<{ url: URL, verifier: string }> {
  const verifier = oauth.generateRandomCodeVerifier()
  const url = new URL(as.authorization_endpoint as string)
  const all: Record<string, string | undefined> = {
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: RESOURCE,
    state: oauth.generateRandomState(),
    ...params,
  }
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value)
  return { url, verifier }
}

/**
 * A cookie-carrying walk to the interaction page of a fresh authorization
 * request. `via` (an origin) sends every request to that instance instead of
 * the issuer's (the URLs the server builds keep the issuer's).
 */
export async function openInteraction (as: oauth.AuthorizationServer, client: oauth.Client, params: Record<string, string | undefined> = {}, via?: string) {
  const cookies = new Map<string, string>()
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
  }
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const route = (url: URL): URL => via === undefined ? url : new URL(url.pathname + url.search, via)
  const { url: authorization } = await authorizationUrl(as, client, params)
  const start = await fetch(route(authorization), { redirect: 'manual' })
  keep(start)
  const url = route(new URL(String(start.headers.get('location')), authorization))
  const page = await fetch(url, { headers: { cookie: jar() } })
  keep(page)
  const html = await page.text()
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie: jar(), ...headers }, body: new URLSearchParams(fields) })
  return { url, page, html, csrf, post, jar, keep, startHeaders: start.headers }
}

/**
 * The authorization-code flow of a public client through the development pages
 * (or the host's), to the processed token response; `params` go on the
 * authorization request (undefined removes one, e.g. `resource`).
 */
export async function codeFlowTokens (running: Pick<RunningAs, 'as'>, client: oauth.Client, params: Record<string, string | undefined>) {
  const { url, verifier } = await authorizationUrl(running.as, client, params)
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback, url.searchParams.get('state') ?? undefined)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, insecure)
  return oauth.processAuthorizationCodeResponse(running.as, client, res)
}
