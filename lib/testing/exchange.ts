// The shape of one HTTP exchange as the helpers see it: light-my-request's
// (app.inject), which the node:https transport produces too.
/** What the helpers read from a response: the shape of light-my-request's (app.inject). */
export interface HttpResponseLike {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>
  readonly body: string
}

export type InjectPayload = string | Buffer | object

export interface InjectRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: InjectPayload
}

/** Anything with Fastify's `inject(options)`: a Fastify instance, or a light-my-request wrapper. */
export interface Injectable {
  inject (options: InjectRequest): PromiseLike<HttpResponseLike>
}
