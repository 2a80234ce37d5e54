// The body of a rate-limited answer: an OAuth-style error object (clients read
// `error`), with the status @fastify/rate-limit decided (429) and its headers.
export function rateLimitedBody (_request: unknown, context: { statusCode: number, after: string }): Record<string, unknown> {
  return {
    statusCode: context.statusCode,
    error: 'temporarily_unavailable',
    error_description: `rate limit exceeded, retry in ${context.after}`,
  }
}
