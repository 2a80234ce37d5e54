// The answers around @fastify/rate-limit: the body of a rate-limited answer
// (an OAuth-style error object, clients read `error`, with the status and
// headers @fastify/rate-limit decided), the plugin's options for a context
// (counters on redisAdapter's Redis when there is one), and the 503 for a
// counter that could not be read.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import { RateLimitStoreUnavailable } from '../../lib/authorization-server/rate-limit-store.js'
import type { RateLimitStoreClass } from '../../lib/authorization-server/rate-limit-store.js'
import { describeError } from '../../lib/logger.js'

export function rateLimitedBody (_request: unknown, context: { statusCode: number, after: string }): Record<string, unknown> {
  return {
    statusCode: context.statusCode,
    error: 'temporarily_unavailable',
    error_description: `rate limit exceeded, retry in ${context.after}`,
  }
}

/** @fastify/rate-limit's options for one of the plugin's contexts: route limits only. */
export function rateLimitOptions (store: RateLimitStoreClass | undefined): RateLimitPluginOptions {
  const options: RateLimitPluginOptions = { global: false, errorResponseBuilder: rateLimitedBody }
  if (store !== undefined) options.store = store as unknown as NonNullable<RateLimitPluginOptions['store']>
  return options
}

export function isRateLimitStoreFailure (error: unknown): boolean {
  return error instanceof RateLimitStoreUnavailable
}

/** Infrastructure failure: 503 with Retry-After, never a pass and never a 500. */
export function rateLimitStoreUnavailable (request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  request.log.error({ err: describeError(error) }, 'mcp-authorization-server: rate-limit counters unavailable')
  return reply.code(503).header('retry-after', '5').header('cache-control', 'no-store')
    .send({ error: 'temporarily_unavailable', error_description: 'the authorization server is unavailable, retry later' })
}
