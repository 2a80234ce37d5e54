// Why a fetch of a remote document (issuer metadata, a JWKS, introspection) or
// a store call failed, as one short code: what the health route reports and
// the error log names beside the error itself. Codes carry no message, URL or
// response text, so they are safe to show anyone who can reach the health route.

/**
 * `dns`, `refused`, `reset`, `tls`, `timeout`, `network` (the connection);
 * `http_<status>`, `redirect`, `too_large`, `invalid_response` (the answer);
 * `issuer_mismatch`, `insecure_jwks_uri`, `insecure_introspection_endpoint`,
 * `no_jwks_uri` (issuer metadata); `offline` (a store's client has no connection);
 * `aborted` (the app closed); `failed` (anything else).
 */
export type FailureCause =
  | 'dns' | 'refused' | 'reset' | 'tls' | 'timeout' | 'network'
  | `http_${number}` | 'redirect' | 'too_large' | 'invalid_response'
  | 'issuer_mismatch' | 'insecure_jwks_uri' | 'insecure_introspection_endpoint' | 'no_jwks_uri'
  | 'offline' | 'aborted' | 'failed'

/** A failure whose cause is known where it happens (a status, an issuer mismatch…). */
export class FetchFailure extends Error {
  readonly failure: FailureCause
  constructor (failure: FailureCause, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FetchFailure'
    this.failure = failure
  }
}

const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME'])
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const TIMEOUT = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
const TLS = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)/
// node-redis's errors for a client without a connection (their class names), and
// ioredis's refusal to queue a command while disconnected.
const OFFLINE = new Set(['ClientOfflineError', 'ClientClosedError', 'SocketClosedUnexpectedlyError'])

/** The cause of `err`, from our own FetchFailure or the codes and names along its `cause` chain. */
export function failureCause (err: unknown): FailureCause {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof FetchFailure) return current.failure
    if (typeof current !== 'object') break
    const { code, name, message } = current as { code?: unknown, name?: unknown, message?: unknown }
    if (name === 'TimeoutError') return 'timeout'
    if (name === 'AbortError') return 'aborted'
    if (typeof code === 'string') {
      if (DNS.has(code)) return 'dns'
      if (code === 'ECONNREFUSED') return 'refused'
      if (RESET.has(code)) return 'reset'
      if (TIMEOUT.has(code)) return 'timeout'
      if (TLS.test(code)) return 'tls'
    }
    if (OFFLINE.has(current.constructor.name)) return 'offline'
    if (typeof message === 'string') {
      // undici refuses a redirect (redirect: 'error') with this message and no code.
      if (message === 'unexpected redirect') return 'redirect'
      if (message.startsWith('Stream isn\'t writeable')) return 'offline'
    }
    current = (current as { cause?: unknown }).cause
  }
  return err instanceof Error && err.name === 'TypeError' && err.message === 'fetch failed' ? 'network' : 'failed'
}
