// Scope matching (RFC 6749 §3.3, MCP 2026-07-28 §11.1.2 "servers MUST account
// for scope hierarchies"): a granted `a:b` satisfies a required `a:b:c`.
// Matching respects ":" boundaries and case. Wildcards only when enabled: a
// granted `*` covers every scope and a granted `a:*` every scope below `a:`.

export type ScopeMatchMode = 'hierarchical' | 'exact'

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

export interface ScopesSatisfyOptions {
  /** 'all' (default): every required scope; 'any': at least one. */
  match?: 'all' | 'any'
  /** 'hierarchical' (default) or 'exact'. */
  mode?: ScopeMatchMode
  /** Honour `*` and `prefix:*` in granted scopes (default false). */
  wildcards?: boolean
}

/** MCP scope conventions. */
export const McpScopes = Object.freeze({
  toolsRead: 'mcp:tools:read',
  toolsCall: 'mcp:tools:call',
  resourcesRead: 'mcp:resources:read',
  promptsRead: 'mcp:prompts:read',
  /** A server-specific scope: `McpScopes.server('search', 'tools:call') === 'search:mcp:tools:call'`. */
  server: (server: string, scope: string): string => `${server}:mcp:${scope}`,
})

/** True when one granted scope covers the required one. */
export function scopeGrants (granted: string, required: string, mode: ScopeMatchMode = 'hierarchical', wildcards = false): boolean {
  if (granted === required) return true
  if (wildcards && granted.endsWith('*') && (granted === '*' || granted.endsWith(':*'))) {
    return granted === '*' || (required.length >= granted.length && required.startsWith(granted.slice(0, -1)))
  }
  return mode === 'hierarchical' &&
    required.length > granted.length &&
    required.charCodeAt(granted.length) === 58 /* : */ &&
    required.startsWith(granted)
}

function isGranted (granted: readonly string[], required: string, mode: ScopeMatchMode, wildcards: boolean): boolean {
  for (const g of granted) if (scopeGrants(g, required, mode, wildcards)) return true
  return false
}

export function scopesSatisfy (granted: readonly string[], required: readonly string[], options: ScopesSatisfyOptions = {}): boolean {
  const mode = options.mode ?? 'hierarchical'
  const wildcards = options.wildcards === true
  if (required.length === 0) return true
  if (options.match === 'any') return required.some((r) => isGranted(granted, r, mode, wildcards))
  return required.every((r) => isGranted(granted, r, mode, wildcards))
}
