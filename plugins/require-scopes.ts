// requireScopes(): a preHandler that answers 403 insufficient_scope with a
// challenge naming every scope the operation needs (MCP 2026-07-28 §11.1.1).
// It runs after authentication; with no verified context it fails closed.
import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  preHandlerAsyncHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface,
} from 'fastify'
import { notRegistered, reject } from '../lib/errors.js'
import { McpHeaderMismatchError } from '../lib/mcp-operations.js'
import { SCOPE_TOKEN, scopesSatisfy } from '../lib/scopes.js'
import { sendOAuthError } from './reply.js'
import type { McpAuthState } from './state.js'
import { kMcpAuth } from './state.js'

/** Static scopes, or a function of the request (its type is the route's request type). */
export type RequiredScopes<Request = FastifyRequest> = readonly string[] | ((request: Request) => readonly string[] | Promise<readonly string[]>)

export interface RequireScopesOptions {
  /** 'all' (default): every scope; 'any': at least one. */
  match?: 'all' | 'any'
  /**
   * The scopes this route's 401 challenge asks for. Default: the static scopes,
   * or (function form) the resource's scopesSupported. Set it to ask a client
   * for less up front and step up per operation with 403s.
   */
  challengeScopes?: readonly string[]
}

// The scopes each static guard declares, for the 401 challenge of the route it guards
// (read by declaredScopes when the route is registered).
const declared = new WeakMap<object, readonly string[]>()

function checkScopes (scopes: unknown, where: string): readonly string[] {
  // The copy is what is checked and kept: an array's own iterator or getters cannot show
  // the check one list and the guard another.
  const list: unknown[] | undefined = Array.isArray(scopes) ? [...scopes as unknown[]] : undefined
  if (list === undefined || list.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))) {
    throw new TypeError(`${where} must be an array of scope tokens (no spaces, quotes or backslashes)`)
  }
  return Object.freeze(list as string[])
}

/**
 * The generics are inferred from the route the guard is given to, so the function
 * form sees the route's typed request (`app.post<{ Body: … }>(…)`). Type providers
 * infer the body from the route's schema, which TypeScript does not carry into a call
 * inside the route options: pass the route generic there (`requireScopes<{ Body: … }>`).
 */
export function requireScopes<
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  SchemaCompiler extends FastifySchema = FastifySchema,
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
  RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
  ContextConfig = ContextConfigDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger
> (
  scopes: RequiredScopes<FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>>,
  options: RequireScopesOptions = {}
): preHandlerAsyncHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger> {
  const match = options.match ?? 'all'
  if (match !== 'all' && match !== 'any') throw new TypeError(`requireScopes match must be "all" or "any"; got ${String(match)}`)
  const fixed = typeof scopes === 'function' ? undefined : checkScopes(scopes, 'requireScopes scopes')

  async function mcpRequireScopes (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const state = (this as unknown as Record<symbol, McpAuthState | undefined>)[kMcpAuth]
    if (state === undefined) throw notRegistered('requireScopes needs the fastify-mcp-auth plugin registered in this context')
    const context = request.mcp
    if (context === null) {
      request.log.error({ method: request.method, route: request.routeOptions.url }, 'mcp-auth: requireScopes on a route that is not authenticated (config.mcpAuth: false)')
      throw notRegistered('requireScopes on a route that is not authenticated')
    }
    let required = fixed
    if (required === undefined) {
      try {
        required = checkScopes(await (scopes as (request: FastifyRequest) => readonly string[] | Promise<readonly string[]>)(request), 'the requireScopes function result')
      } catch (err) {
        if (!(err instanceof McpHeaderMismatchError)) throw err
        request.log.debug({ code: err.code }, 'mcp-auth: MCP headers disagree with the body')
        return reply.code(400).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(JSON.stringify(err.toJsonRpc()))
      }
    }
    if (scopesSatisfy(context.scopes, required, { match, mode: state.options.scopeMatching, wildcards: state.options.scopeWildcards })) return undefined
    // The resource authentication chose for this request.
    const resource = state.resourceByUri(context.resource)
    return sendOAuthError(state, request, reply, reject.insufficientScope(required), resource, required)
  }
  const challenge = options.challengeScopes === undefined ? fixed : checkScopes(options.challengeScopes, 'requireScopes challengeScopes')
  if (challenge !== undefined) declared.set(mcpRequireScopes, challenge)
  return mcpRequireScopes as unknown as preHandlerAsyncHookHandler<RawServer, RawRequest, RawReply, RouteGeneric, ContextConfig, SchemaCompiler, TypeProvider, Logger>
}

/** The scopes a route declares through a static requireScopes preHandler, for its 401 challenge. */
export function declaredScopes (preHandler: unknown): readonly string[] | undefined {
  const handlers = Array.isArray(preHandler) ? preHandler : [preHandler]
  const found: string[] = []
  for (const handler of handlers) {
    const scopes = typeof handler === 'function' ? declared.get(handler) : undefined
    if (scopes !== undefined) found.push(...scopes)
  }
  return found.length === 0 ? undefined : Object.freeze([...new Set(found)])
}
