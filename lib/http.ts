// The one outbound HTTP helper (discovery, JWKS, introspection): Node's fetch
// with a hard timeout, no redirects and a response size cap. Any throw here is
// an infrastructure failure (a FetchFailure naming its cause); callers turn it
// into 503, never into 401.
import { FetchFailure, failureCause } from './fetch-failure.js'

export interface FetchJsonOptions {
  readonly method?: 'GET' | 'POST'
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly timeoutMs: number
  readonly maxBytes?: number
  /** Aborts the request early (the app is closing). */
  readonly signal?: AbortSignal
}

export interface JsonResponse {
  readonly status: number
  /** Parsed JSON, or undefined when the body is not JSON. */
  readonly json: unknown
}

const DEFAULT_MAX_BYTES = 1024 * 1024

export async function fetchJson (url: string, options: FetchJsonOptions): Promise<JsonResponse> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  let response: Response
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: { accept: 'application/json', ...options.headers },
      body: options.body,
      redirect: 'error',
      signal: options.signal === undefined ? AbortSignal.timeout(options.timeoutMs) : AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]),
    })
  } catch (cause) {
    throw new FetchFailure(failureCause(cause), `request to ${url} failed`, { cause })
  }
  let text: string
  try {
    text = (await readCapped(response, maxBytes)).toString('utf8')
  } catch (cause) {
    throw new FetchFailure(failureCause(cause), `reading the response from ${url} failed`, { cause })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, json }
}

/** Reads a whole response body, refusing (and cancelling) one larger than maxBytes. */
export async function readCapped (response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > maxBytes) {
    await response.body?.cancel()
    throw new FetchFailure('too_large', `response larger than ${maxBytes} bytes`)
  }
  if (response.body === null) return Buffer.alloc(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      throw new FetchFailure('too_large', `response larger than ${maxBytes} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

export function isJsonObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
