// sessionBinding wiring: after authentication, a request naming a session must
// come from the identity that opened it (else 404 before the handler runs); a
// response that first carries Mcp-Session-Id is held until that identity is
// recorded — through onSend for Fastify replies, and on the raw response for
// hijacked ones (MCP SDK transports), which no hook sees.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { isMcpAuthError, reject } from '../lib/errors.js'
import type { McpAuthError } from '../lib/errors.js'
import { holdResponseHead } from '../lib/held-response.js'
import type { ResponseHead } from '../lib/held-response.js'
import { describeError } from '../lib/logger.js'
import type { ResolvedResource, ResolvedSessionBinding } from '../lib/options.js'
import { createSessionBinder, opensSession, SESSION_HEADER, SESSION_NOT_FOUND_BODY, sessionIdentity } from '../lib/session-binding.js'
import type { SessionBinder } from '../lib/session-binding.js'
import type { RouteConfig } from './authenticate.js'
import { emitDenied } from './events.js'
import { sendOAuthError } from './reply.js'
import type { McpAuthState } from './state.js'
import { kRouteScopes } from './state.js'

const kSession = Symbol('fastify-mcp-auth.session')

/** What the response hooks need to know about an authenticated request. */
interface RequestSession {
  /** The Mcp-Session-Id the request carried (already checked), if any. */
  readonly id: string | undefined
  /** The requester's identity digest; undefined when the token cannot own a session. */
  readonly identity: string | undefined
  readonly resource: ResolvedResource
  /** Set once the response's head has been looked at (by onSend or on the raw response). */
  decided: boolean
}

type SessionRequest = FastifyRequest & { [kSession]: RequestSession | null }

/** Called only when the option is on. */
export function registerSessionBinding (fastify: FastifyInstance, state: McpAuthState): void {
  const options = state.options.sessionBinding as ResolvedSessionBinding
  const binder = createSessionBinder({ store: options.store, idleTtl: options.idleTtl, clock: Date.now, logger: state.logger })
  const hooks = createSessionHooks(state, binder)
  fastify.decorateRequest(kSession, null)
  // Registered right after the authentication hook (mcp-auth.ts): it runs once request.mcp is set.
  fastify.addHook('onRequest', hooks.checkSession)
  fastify.addHook('preHandler', hooks.refuseUnbindableInitialize)
  fastify.addHook('onSend', hooks.captureOnSend)
  fastify.addHook('onClose', async () => { await closeOwnedStore(options) })
}

async function closeOwnedStore (options: ResolvedSessionBinding): Promise<void> {
  if (options.ownsStore) await options.store.close?.()
}

function headerValue (value: unknown): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

function createSessionHooks (state: McpAuthState, binder: SessionBinder) {
  /** What the head of a response means for the session: nothing, a new session to record, or an ended one to forget. */
  function onHead (request: FastifyRequest, session: RequestSession, statusCode: number, responseId: string | undefined): Promise<void> | undefined {
    if (session.decided) return undefined
    session.decided = true
    if (responseId !== undefined && responseId !== session.id) {
      if (session.identity === undefined) return Promise.reject(reject.invalidToken('session.unbindable_identity'))
      return binder.open(responseId, session.identity)
    }
    if (request.method === 'DELETE' && session.id !== undefined && statusCode >= 200 && statusCode < 300) {
      // The transport ended the session. A record the store fails to drop only lets
      // its owner reach a transport that no longer knows the session: log, never refuse.
      return binder.end(session.id).catch((err: unknown) => {
        request.log.error({ err: describeError(err) }, 'mcp-auth: removing an ended session\'s record failed; it expires after idleTtl')
      })
    }
    return undefined
  }

  /** The status, headers and body that replace a response whose session could not be recorded. */
  async function refusal (request: FastifyRequest, session: RequestSession, error: unknown): Promise<{ statusCode: number, headers: Record<string, string>, body: string }> {
    const routeScopes = (request.routeOptions.config as RouteConfig)[kRouteScopes]
    const rejection = await state.reject(isMcpAuthError(error) ? error : reject.unavailable('session_store.failed', error), {
      resource: session.resource,
      routeScopes,
      authorization: request.headers.authorization,
      crossOrigin: request.headers.origin !== undefined,
      request,
      log: request.log,
    })
    const err = rejection.error
    request.log.debug({ code: err.code, reason: err.reason }, 'mcp-auth: response refused')
    emitDenied(state, request, err, session.resource)
    const body = rejection.body
    return {
      statusCode: rejection.statusCode,
      headers: { ...rejection.headers, 'content-type': 'application/json; charset=utf-8' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }
  }

  function writeRefusal (request: FastifyRequest, session: RequestSession, res: ServerResponse, error: unknown): void {
    refusal(request, session, error).then(({ statusCode, headers, body }) => {
      // The session ID was never sent, and never will be; the handler's length is not this body's.
      res.removeHeader(SESSION_HEADER)
      res.writeHead(statusCode, { ...headers, 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    }).catch((err: unknown) => {
      request.log.error({ err: describeError(err) }, 'mcp-auth: refusing a response failed')
      res.destroy()
    })
  }

  return {
    async checkSession (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      const context = request.mcp
      // Not authenticated here (opted out, a preflight): nothing to bind.
      if (context === null) return undefined
      const resource = state.resourceByUri(context.resource) as ResolvedResource
      const id = headerValue(request.headers[SESSION_HEADER])
      const identity = sessionIdentity(context)
      if (id !== undefined) {
        try {
          // An identity that cannot own a session owns none.
          if (identity === undefined) throw reject.sessionMismatch()
          await binder.check(id, identity)
        } catch (err) {
          if (!isMcpAuthError(err)) throw err
          if (err.code !== 'FST_MCP_AUTH_SESSION_MISMATCH') return sendOAuthError(state, request, reply, err, resource, undefined)
          return sendSessionNotFound(state, request, reply, err, resource)
        }
      }
      const session: RequestSession = { id, identity, resource, decided: false }
      ;(request as SessionRequest)[kSession] = session
      holdResponseHead(
        reply.raw,
        (head: ResponseHead) => onHead(request, session, head.statusCode, head.header(SESSION_HEADER)),
        (err) => { writeRefusal(request, session, reply.raw, err) }
      )
      return undefined
    },

    // Refused before the transport opens a session nobody could be bound to.
    async refuseUnbindableInitialize (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
      const session = (request as SessionRequest)[kSession]
      if (session === null || session.identity !== undefined || session.id !== undefined || !opensSession(request.body)) return undefined
      const routeScopes = (request.routeOptions.config as RouteConfig)[kRouteScopes]
      return sendOAuthError(state, request, reply, reject.invalidToken('session.unbindable_identity'), session.resource, routeScopes)
    },

    captureOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void {
      const session = (request as SessionRequest)[kSession]
      const pending = session === null ? undefined : onHead(request, session, reply.statusCode, headerValue(reply.getHeader(SESSION_HEADER)))
      if (pending === undefined) {
        done(null, payload)
        return
      }
      pending.then(() => { done(null, payload) }, async (error: unknown) => {
        const { statusCode, headers, body } = await refusal(request, session as RequestSession, error)
        // A stream the handler sent is not sent: release it.
        if (typeof (payload as { destroy?: unknown } | null)?.destroy === 'function') (payload as { destroy: () => void }).destroy()
        reply.removeHeader(SESSION_HEADER)
        reply.code(statusCode).headers(headers)
        done(null, body)
      }).catch((err: unknown) => { done(err as Error) })
    },
  }
}

/** 404 with the transport's JSON-RPC body (not errorRenderer's): the client opens a new session. */
function sendSessionNotFound (state: McpAuthState, request: FastifyRequest, reply: FastifyReply, err: McpAuthError, resource: ResolvedResource): FastifyReply {
  request.log.debug({ code: err.code, reason: err.reason }, 'mcp-auth: request rejected')
  emitDenied(state, request, err, resource)
  return reply.code(404)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(SESSION_NOT_FOUND_BODY)
}
