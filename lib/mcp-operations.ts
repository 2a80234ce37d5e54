// Per-operation scopes for MCP JSON-RPC: `tools/call` by tool name,
// `resources/read` by URI, `prompts/get` by prompt name, other methods by
// name, else a default. When the request mirrors the body in the 2026-07-28
// `Mcp-Method` / `Mcp-Name` headers, they must agree with the body
// (Streamable HTTP "Server Validation"): a router may have acted on the
// headers, so a disagreement is refused rather than guessed at.
import { McpAuthError } from './errors.js'

export interface McpOperationScopesMap {
  /** `tools/call` by `params.name`. */
  readonly tools?: Readonly<Record<string, readonly string[]>>
  /** `resources/read` by `params.uri`. */
  readonly resources?: Readonly<Record<string, readonly string[]>>
  /** `prompts/get` by `params.name`. */
  readonly prompts?: Readonly<Record<string, readonly string[]>>
  /** Any JSON-RPC method (e.g. 'tools/list'), when no name-specific entry matched. */
  readonly methods?: Readonly<Record<string, readonly string[]>>
  /**
   * Everything else, including requests without a body (default: no scope beyond
   * a valid token). A body that is not parsed JSON must satisfy every scope in the map.
   */
  readonly default?: readonly string[]
}

export interface McpOperationRequest {
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: unknown
}

/** JSON-RPC -32020: the HTTP headers do not match the request body. */
export class McpHeaderMismatchError extends McpAuthError {
  readonly jsonRpcId: string | number | null

  constructor (message: string, id: string | number | null) {
    super('FST_MCP_AUTH_HEADER_MISMATCH', 'mcp.header_mismatch', { message })
    this.jsonRpcId = id
  }

  /** The JSON-RPC error response the transport specification asks for. */
  toJsonRpc (): { jsonrpc: '2.0', id: string | number | null, error: { code: -32020, message: string } } {
    return { jsonrpc: '2.0', id: this.jsonRpcId, error: { code: -32020, message: this.message } }
  }
}

const NAMED: Readonly<Record<string, { param: 'name' | 'uri', table: 'tools' | 'resources' | 'prompts' }>> = {
  'tools/call': { param: 'name', table: 'tools' },
  'resources/read': { param: 'uri', table: 'resources' },
  'prompts/get': { param: 'name', table: 'prompts' },
}
// Own properties only: a method named 'toString' or '__proto__' is just an unknown method.
function namedOperation (method: string): (typeof NAMED)[string] | undefined {
  return Object.hasOwn(NAMED, method) ? NAMED[method] : undefined
}

// The first revision whose clients must send Mcp-Method / Mcp-Name.
const HEADERS_REQUIRED_FROM = '2026-07-28'
const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/

function header (headers: McpOperationRequest['headers'], name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** Decodes the `=?base64?…?=` sentinel form of Mcp-Name. */
export function decodeHeaderValue (value: string): string {
  const match = BASE64_SENTINEL.exec(value)
  return match === null ? value : Buffer.from(match[1] as string, 'base64').toString('utf8')
}

function copyTable (table: Readonly<Record<string, readonly string[]>> | undefined): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>()
  for (const [key, scopes] of Object.entries(table ?? {})) {
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) {
      throw new TypeError(`mcpOperationScopes: the scopes for ${JSON.stringify(key)} must be an array of strings`)
    }
    map.set(key, Object.freeze([...scopes]))
  }
  return map
}

/**
 * Builds the scopes function for requireScopes:
 * `preHandler: requireScopes(mcpOperationScopes({ tools: { delete_file: ['files:write'] }, default: ['files:read'] }))`.
 * Throws McpHeaderMismatchError (→ 400, JSON-RPC -32020) on a header/body disagreement.
 */
export function mcpOperationScopes (map: McpOperationScopesMap): (request: McpOperationRequest) => readonly string[] {
  const tables = { tools: copyTable(map.tools), resources: copyTable(map.resources), prompts: copyTable(map.prompts) }
  const methods = copyTable(map.methods)
  const fallback = Object.freeze([...map.default ?? []])
  // A body that was not parsed as JSON (text, bytes) cannot be read: it must
  // satisfy every scope configured here, so a content type never opens a door.
  const every = Object.freeze([...new Set([...fallback, ...[tables.tools, tables.resources, tables.prompts, methods].flatMap((table) => [...table.values()].flat())])])

  function scopesFor (message: unknown): readonly string[] {
    if (typeof message !== 'object' || message === null) return fallback
    const { method, params } = message as { method?: unknown, params?: unknown }
    if (typeof method !== 'string') return fallback
    const named = namedOperation(method)
    const value = named === undefined || typeof params !== 'object' || params === null
      ? undefined
      : (params as Record<string, unknown>)[named.param]
    if (named !== undefined && typeof value === 'string') {
      const scopes = tables[named.table].get(value)
      if (scopes !== undefined) return scopes
    }
    return methods.get(method) ?? fallback
  }

  return function scopesForOperation (request) {
    const body = request.body
    if (body === undefined || body === null) return fallback
    if (typeof body !== 'object' || ArrayBuffer.isView(body)) return every
    if (Array.isArray(body)) {
      // JSON-RPC batches (2025-03-26): every message's scopes.
      return [...new Set(body.flatMap((message) => [...scopesFor(message)]))]
    }
    checkHeaders(request.headers, body)
    return scopesFor(body)
  }
}

function checkHeaders (headers: McpOperationRequest['headers'], body: unknown): void {
  const message = typeof body === 'object' && body !== null ? body as { id?: unknown, method?: unknown, params?: unknown } : {}
  const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null
  const methodHeader = header(headers, 'mcp-method')
  const nameHeader = header(headers, 'mcp-name')
  const version = header(headers, 'mcp-protocol-version')
  const required = version !== undefined && version >= HEADERS_REQUIRED_FROM
  const method = typeof message.method === 'string' ? message.method : undefined
  if (methodHeader === undefined) {
    if (required && method !== undefined) throw new McpHeaderMismatchError('Header mismatch: the Mcp-Method header is required', id)
  } else if (methodHeader !== method) {
    throw new McpHeaderMismatchError('Header mismatch: the Mcp-Method header does not match the body method', id)
  }
  const named = method === undefined ? undefined : namedOperation(method)
  if (named === undefined) return
  const params = typeof message.params === 'object' && message.params !== null ? message.params as Record<string, unknown> : {}
  const value = params[named.param]
  if (nameHeader === undefined) {
    if (required) throw new McpHeaderMismatchError('Header mismatch: the Mcp-Name header is required', id)
  } else if (decodeHeaderValue(nameHeader) !== value) {
    throw new McpHeaderMismatchError(`Header mismatch: the Mcp-Name header does not match the body ${named.param}`, id)
  }
}
