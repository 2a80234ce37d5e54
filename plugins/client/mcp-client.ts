// mcpClient: a Fastify app acting as an MCP client for its users. Wiring only:
// the OAuth callback route, the hosted client metadata document, and
// `fastify.mcpClient.for(request)`, a client whose credentials belong to the
// request's user (a gateway gets its own tokens per upstream server and never
// forwards the user's).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { invalidRegistration } from '../../lib/errors.js'
import { createEngine } from '../../lib/client/engine.js'
import type { Session } from '../../lib/client/engine.js'
import { isMcpClientError } from '../../lib/client/errors.js'
import type { McpClientError } from '../../lib/client/errors.js'
import { resolvePluginOptions } from '../../lib/client/plugin-options.js'
import { sameOriginPath } from '../../lib/client/return-to.js'
import type { McpClientDecorator, McpClientForOptions, McpClientPluginOptions, McpOAuthClient, SignOutOptions } from '../../types/client.js'

async function partitionOf (partition: McpClientPluginOptions['partition'], request: FastifyRequest): Promise<string> {
  const value = await partition(request)
  if (typeof value !== 'string' || value === '') throw new TypeError('mcpClient partition(request) must return a non-empty string')
  return value
}

function callbackFailure (reply: FastifyReply, request: FastifyRequest, err: McpClientError): FastifyReply {
  request.log.warn({ code: err.code, reason: err.reason }, 'mcpClient: the authorization callback failed')
  // The authorization server or the store being unreachable is not the user's fault.
  const unavailable = err.code === 'FST_MCP_CLIENT_OUTBOUND' || err.code === 'FST_MCP_CLIENT_STORE'
  return reply.code(unavailable ? 503 : 400).header('cache-control', 'no-store').send({
    error: unavailable ? 'temporarily_unavailable' : err.oauthError ?? 'invalid_request',
    error_description: err.message,
  })
}

const mcpClientPlugin: FastifyPluginAsync<McpClientPluginOptions> = async function mcpClient (fastify: FastifyInstance, options) {
  const resolved = resolvePluginOptions(options)
  // The redirect URI and the document URL are built from the root: a prefix would move the routes.
  if (fastify.prefix !== '') {
    throw invalidRegistration(`mcpClient must be registered without a prefix (its routes are ${resolved.callbackPath}${resolved.document === undefined ? '' : ` and ${resolved.document.path}`}); got prefix ${fastify.prefix}`)
  }
  const engine = createEngine(resolved.client)

  const decorator: McpClientDecorator = Object.freeze({
    redirectUri: resolved.redirectUri,
    clientMetadataUrl: resolved.document?.url,
    for (request: FastifyRequest, forOptions: McpClientForOptions = {}): McpOAuthClient {
      const returnTo = sameOriginPath(forOptions.returnTo ?? (request.method === 'GET' ? request.url : '/'))
      const session = async (): Promise<Session> => ({ partition: await partitionOf(resolved.partition, request), authorization: { mode: 'deferred', returnTo } })
      return Object.freeze({
        fetch: async (input: string | URL | Request, init?: RequestInit) => engine.fetch(await session(), input, init),
        signOut: async (signOutOptions?: SignOutOptions) => engine.signOut((await session()).partition, signOutOptions),
      })
    },
  })
  fastify.decorate('mcpClient', decorator)

  fastify.get(resolved.callbackPath, { config: { mcpAuth: false } }, async function mcpClientCallback (request, reply) {
    const partition = await partitionOf(resolved.partition, request)
    try {
      const { returnTo } = await engine.completeDeferred(partition, new URL(request.url, resolved.baseUrl))
      return await reply.header('cache-control', 'no-store').redirect(sameOriginPath(returnTo))
    } catch (err) {
      if (isMcpClientError(err)) return callbackFailure(reply, request, err)
      throw err
    }
  })

  const document = resolved.document
  if (document !== undefined) {
    fastify.get(document.path, { config: { mcpAuth: false } }, async function mcpClientMetadataDocument (_request, reply) {
      return await reply.type('application/json').header('cache-control', document.cacheControl).send(document.body)
    })
  }
}

export const mcpClient = fp(mcpClientPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-client' })
