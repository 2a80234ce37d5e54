// createMcpOAuthClient: the framework-free MCP OAuth client. One engine, one
// credential space; `fetch` goes straight into the MCP SDK's transports.
import type { McpOAuthClient, McpOAuthClientOptions } from '../../types/client.js'
import { createEngine } from './engine.js'
import type { Session } from './engine.js'
import { resolveClientOptions } from './options.js'

const SESSION: Session = Object.freeze({ partition: '', authorization: Object.freeze({ mode: 'interactive' }) })

export function createMcpOAuthClient (options: McpOAuthClientOptions): McpOAuthClient {
  const engine = createEngine(resolveClientOptions(options, { owner: 'createMcpOAuthClient', allowPrivateNetworksByDefault: true, authorizationDeferred: false }))
  return Object.freeze({
    fetch: (input: string | URL | Request, init?: RequestInit) => engine.fetch(SESSION, input, init),
    signOut: (signOutOptions?: { resource?: string }) => engine.signOut(SESSION.partition, signOutOptions),
  })
}
