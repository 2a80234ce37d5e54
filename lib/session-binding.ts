// Binds an MCP session (Mcp-Session-Id) to the identity that opened it, so a
// session ID leaked or guessed by someone else is useless (MCP security best
// practices, "Session Hijacking"): what to record, what to compare, and when to
// refresh, framework-free. The store sees digests only: SHA-256 of the session ID
// as the key, SHA-256 of the identity in the value.
import { hash } from 'node:crypto'
import type { Clock } from './clock.js'
import { reject } from './errors.js'
import type { McpAuthError } from './errors.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import type { SessionStore } from './stores/session-store.js'
import type { McpAuthContext } from '../types/index.js'

/** The header a Streamable HTTP server (revisions 2025-03-26 to 2025-11-25) names its session in. */
export const SESSION_HEADER = 'mcp-session-id'

/** The MCP transport's own answer for an unknown session: a legitimate client re-initializes on it. */
export const SESSION_NOT_FOUND_BODY = '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}'

/** The store key of a session: its ID itself is never stored, logged or put in an event. */
export function sessionKey (sessionId: string): string {
  return hash('sha256', sessionId, 'base64url')
}

/**
 * The digest of who a request is: issuer, subject, client ID, resource, binding
 * kind and the bound key (DPoP `jkt` / mTLS `x5t`). Every part takes part, so a
 * refreshed token of the same identity matches and nothing else does. Undefined
 * for a token that names neither a subject nor a client: every such token of an
 * issuer would be the same identity, so it cannot own a session.
 */
export function sessionIdentity (context: McpAuthContext): string | undefined {
  const subject = context.subject === '' ? undefined : context.subject
  const clientId = context.clientId === '' ? undefined : context.clientId
  if (subject === undefined && clientId === undefined) return undefined
  const sender = context.sender
  const key = sender.binding === 'dpop' ? sender.jkt : sender.binding === 'mtls' ? sender.x5t : null
  // A JSON array of strings and nulls: one spelling per tuple, and no two tuples share one.
  const tuple = JSON.stringify([context.issuer, subject ?? null, clientId ?? null, context.resource, sender.binding, key])
  return hash('sha256', tuple, 'base64url')
}

// A record is "1 <last written, seconds since the epoch> <identity digest>": the
// time lets every instance tell when the record is due for a refresh.
const RECORD = /^1 (\d{1,15}) ([\w-]{43})$/

function formatRecord (identity: string, now: number): string {
  return `1 ${now} ${identity}`
}

function parseRecord (value: string | undefined): { writtenAt: number, identity: string } | undefined {
  const match = typeof value === 'string' ? RECORD.exec(value) : null
  return match === null ? undefined : { writtenAt: Number(match[1]), identity: match[2] as string }
}

export interface SessionBinderOptions {
  readonly store: SessionStore
  /** Seconds a session's record lives without use. */
  readonly idleTtl: number
  readonly clock: Clock
  readonly logger: Logger
}

export interface SessionBinder {
  /**
   * Resolves when the session's record holds this identity (refreshing the record
   * when due). Rejects with FST_MCP_AUTH_SESSION_MISMATCH (404) when it holds
   * another or none, and with a 503 when the store fails.
   */
  check (sessionId: string, identity: string): Promise<void>
  /**
   * Records the identity that opened a session. Rejects with a 503 when the store
   * fails, or when the session ID is already bound to another identity.
   */
  open (sessionId: string, identity: string): Promise<void>
  /** Removes a session's record (the session ended). Rejects when the store fails. */
  end (sessionId: string): Promise<void>
}

export function createSessionBinder (options: SessionBinderOptions): SessionBinder {
  const { store, idleTtl, clock, logger } = options
  // Writing on every request would cost a store write per request; a record
  // refreshed once per tenth of its life never expires while in use.
  const refreshAfter = idleTtl / 10

  function storeFailure (err: unknown): McpAuthError {
    logger.error({ err: describeError(err) }, 'mcp-auth: the session store failed')
    return reject.unavailable('session_store.failed', err)
  }

  async function call<T> (operation: () => T | Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (err) {
      throw storeFailure(err)
    }
  }

  async function check (sessionId: string, identity: string): Promise<void> {
    const key = sessionKey(sessionId)
    const record = parseRecord(await call(() => store.get(key)))
    // Digests of identities, not secrets: comparing them in variable time tells an
    // attacker nothing a token of the session's owner would not.
    if (record === undefined || record.identity !== identity) throw reject.sessionMismatch()
    const now = Math.floor(clock() / 1000)
    if (now - record.writtenAt >= refreshAfter) await call(() => store.refresh(key, formatRecord(identity, now), idleTtl))
  }

  async function open (sessionId: string, identity: string): Promise<void> {
    const key = sessionKey(sessionId)
    const created = await call(() => store.create(key, formatRecord(identity, Math.floor(clock() / 1000)), idleTtl))
    if (created === true) return
    if (created !== false) throw storeFailure(new TypeError(`the session store's create() answered ${typeof created}, not a boolean`))
    // Opened again by the same identity (a server that derives session IDs) is fine;
    // binding another identity's session ID to this one is not.
    const record = parseRecord(await call(() => store.get(key)))
    if (record?.identity === identity) return
    logger.error({}, 'mcp-auth: the server issued a session ID that is bound to another identity; the response is refused and the ID not sent')
    throw reject.unavailable('session.conflict')
  }

  async function end (sessionId: string): Promise<void> {
    const key = sessionKey(sessionId)
    await call(() => store.delete(key))
  }

  return { check, open, end }
}

/**
 * True for a JSON-RPC `initialize` request, alone or in a batch (2025-03-26): the
 * request that opens a session.
 */
export function opensSession (body: unknown): boolean {
  if (Array.isArray(body)) return body.some(isInitialize)
  return isInitialize(body)
}

function isInitialize (message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { method?: unknown }).method === 'initialize'
}
