// The logging surface lib/ needs; pino (Fastify's logger) satisfies it.
// Callers pass facts (codes, reasons, URLs), never tokens, proofs or secrets.
export interface Logger {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

const noop = (): void => {}
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/** A loggable view of an error: name, code and message, never `cause` payloads. */
export function describeError (err: unknown): { name?: string, code?: string, message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
    return { name: err.name, code: typeof code === 'string' ? code : undefined, message: err.message + cause }
  }
  return { message: String(err) }
}
