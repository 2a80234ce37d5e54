// The caller's request, made resendable: the URL, method, headers without any
// credentials the caller put there (Authorization, DPoP, cookies: the client
// sets its own and never forwards someone else's), the body as bytes or text,
// and the MCP operation it carries (JSON-RPC method and tool), which step-up
// attempts are counted by.

// Credentials are the client's to set; framing headers belong to the connection
// fetch opens (headers copied from an incoming request would otherwise misframe it).
const OWNED_HEADERS = ['authorization', 'dpop', 'cookie', 'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-authorization']

export interface McpRequest {
  readonly url: URL
  readonly method: string
  readonly headers: Headers
  readonly body: string | Uint8Array | undefined
  readonly signal: AbortSignal | undefined
  /** `POST tools/call:search`, `GET` …: what the server might demand more scope for. */
  readonly operation: string
}

function jsonRpcOperation (body: string | undefined): string | undefined {
  if (body === undefined) return undefined
  let message: unknown
  try {
    message = JSON.parse(body)
  } catch {
    return undefined
  }
  const messages = Array.isArray(message) ? message : [message]
  const names = messages.map((m) => {
    const { method, params } = (typeof m === 'object' && m !== null ? m : {}) as { method?: unknown, params?: { name?: unknown } }
    if (typeof method !== 'string') return undefined
    return method === 'tools/call' && typeof params?.name === 'string' ? `${method}:${params.name}` : method
  }).filter((name) => name !== undefined)
  return names.length === 0 ? undefined : names.join(',')
}

async function bytes (body: NonNullable<RequestInit['body']>, headers: Headers): Promise<string | Uint8Array> {
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return body
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  // Streams, blobs, forms, search params: read once here so a retry can send them again.
  const response = new Response(body)
  const type = response.headers.get('content-type')
  if (type !== null && !headers.has('content-type')) headers.set('content-type', type)
  return new Uint8Array(await response.arrayBuffer())
}

export async function prepareRequest (input: string | URL | Request, init: RequestInit = {}): Promise<McpRequest> {
  const request = input instanceof Request ? input : undefined
  const url = new URL(request?.url ?? String(input))
  const method = (init.method ?? request?.method ?? 'GET').toUpperCase()
  const headers = new Headers(init.headers ?? request?.headers)
  for (const name of OWNED_HEADERS) headers.delete(name)
  let raw: RequestInit['body'] = init.body
  if (raw === undefined && request?.body != null) raw = await request.arrayBuffer()
  const body = raw === undefined || raw === null ? undefined : await bytes(raw, headers)
  const text = typeof body === 'string' ? body : body === undefined ? undefined : Buffer.from(body).toString('utf8')
  const operation = [method, jsonRpcOperation(text)].filter((part) => part !== undefined).join(' ')
  return Object.freeze({ url, method, headers, body, signal: init.signal ?? request?.signal ?? undefined, operation })
}
