// Types for mcp-server.js (a plain ESM example, run with node).
import type { FastifyInstance, FastifyServerOptions } from 'fastify'

/** The scopes the notes server understands: ['notes:read', 'notes:write']. */
export declare const NOTES_SCOPES: string[]

export interface McpServerOptions {
  /** Default 0: a free port, chosen before the resource URI is built. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** The issuer whose tokens are accepted; its jwks_uri is discovered from its metadata. */
  authorizationServer: string
  /** The canonical resource URI (the tokens' `aud`). Default: this server's own /mcp URL. */
  resource?: string
  /** Fastify's logger option. Default false. */
  logger?: FastifyServerOptions['logger']
}

export interface NotesMcpServer {
  /** Where the MCP endpoint listens, e.g. http://127.0.0.1:3000/mcp */
  url: string
  /** The canonical resource URI (equal to `url` unless given). */
  resource: string
  app: FastifyInstance
  close (): Promise<void>
}

/** Identity as the `whoami` tool reports it (its structuredContent). */
export interface WhoamiResult {
  subject?: string
  clientId?: string
  scopes?: string[]
  issuer?: string
  binding?: 'bearer' | 'dpop' | 'mtls'
}

export function startMcpServer (options: McpServerOptions): Promise<NotesMcpServer>

/** A free port on `host` (default 127.0.0.1). */
export function freePort (host?: string): Promise<number>
